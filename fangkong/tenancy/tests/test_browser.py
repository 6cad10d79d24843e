"""The unit tree's inline HTMX forms and the confirmation on revoking a role, in a real browser."""

from __future__ import annotations

import pytest

from fangkong.tenancy.models import Membership, Unit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_unit_tree_inline_forms_and_revoke_confirmation(page, live_server, world, browser_login):
    browser_login(page, live_server, "alice", "pw-alice")
    tree_url = f"{live_server.url}/org/{world.factory.pk}/units/"
    page.goto(tree_url)

    # Add a post under 一班 without leaving the page: the form opens in the row's slot, the tree is swapped in place.
    page.locator(f"#unit-{world.team1.pk}").get_by_text("添加下级").click()
    form = page.locator(f"#unit-slot-{world.team1.pk} form")
    form.locator("input[name=name]").fill("数控岗")
    assert form.locator("select[name=kind]").input_value() == "post"  # offered from the parent's kind
    form.get_by_role("button", name="保存").click()
    page.get_by_text("已添加：数控岗").wait_for()
    assert page.url == tree_url
    post = Unit.objects.get(name="数控岗")
    assert post.parent_id == world.team1.pk
    assert page.locator(f"#unit-{post.pk}").is_visible()

    # A duplicate name is refused inside the slot and the tree stays.
    page.locator(f"#unit-{world.team1.pk}").get_by_text("添加下级").click()
    form = page.locator(f"#unit-slot-{world.team1.pk} form")
    form.locator("input[name=name]").fill("数控岗")
    form.get_by_role("button", name="保存").click()
    page.locator(f"#unit-slot-{world.team1.pk}").get_by_text("名称重复").wait_for()
    assert Unit.objects.filter(name="数控岗").count() == 1

    # Rename inline.
    page.locator(f"#unit-{world.workshop2.pk}").get_by_text("改名").click()
    form = page.locator(f"#unit-slot-{world.workshop2.pk} form")
    form.locator("input[name=name]").fill("二车间（装配）")
    form.get_by_role("button", name="保存").click()
    page.get_by_text("已将“二车间”改名为“二车间（装配）”").wait_for()

    # Revoking asks first; dismissing keeps the role, accepting removes it.
    page.goto(f"{live_server.url}/org/{world.factory.pk}/members/")
    bob_row = page.locator("#membership-table tr", has_text="bob")
    page.once("dialog", lambda d: d.dismiss())
    bob_row.get_by_role("button", name="撤销").click()
    page.wait_for_timeout(300)  # time for a submission to land, had the dismissal not stopped it
    assert Membership.objects.filter(user=world.bob).exists()
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        bob_row.get_by_role("button", name="撤销").click()
    assert not Membership.objects.filter(user=world.bob).exists()
