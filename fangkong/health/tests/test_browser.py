"""In the browser: a member checks in on a phone; a fever raises the alert the unit leader then sees."""

from __future__ import annotations

import pytest
from django.conf import settings

from fangkong.conftest import make_user
from fangkong.health.models import Checkin, CheckinSetting
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member(world, make_person):
    CheckinSetting.objects.create(organization=world.factory)
    user = make_user("ann")
    tenancy.membership_grant(user=user, role=Role.MEMBER, organization=world.factory, actor=world.admin)
    make_person(unit=world.workshop1, name="安安", user=user)
    return user


def test_member_checks_in_on_phone_then_leader_sees_fever(live_server, phone_page, page, browser_login, world,
                                                         member):
    browser_login(phone_page, live_server, "ann", "pw-ann")
    phone_page.goto(f"{live_server.url}/health/checkin/")
    button = phone_page.locator("#all-normal")
    box = button.bounding_box()
    assert box is not None and box["width"] > 300  # a thumb-sized button across the phone screen
    button.click()
    phone_page.wait_for_selector("#checkin-ok")
    assert Checkin.objects.filter(person__user=member, abnormal=False).count() == 1

    phone_page.goto(f"{live_server.url}/health/checkin/")
    phone_page.fill("input[name=temperature]", "38.2")
    phone_page.locator("label.form-selectgroup-item", has_text="干咳").click()
    phone_page.click("#submit-details")
    alert = phone_page.wait_for_selector("#checkin-alert")
    assert "发热门诊" in alert.inner_text()

    browser_login(page, live_server, "bob", "pw-bob")
    page.goto(f"{live_server.url}/health/flags/")
    row = page.locator("#flags-table tbody tr", has_text="安安")
    assert "38.2" in row.inner_text() and "干咳" in row.inner_text()
    row.locator("input[name=reason]").fill("发热门诊排除")
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        row.locator("button").click()
    assert page.locator("#flags-table", has_text="没有症状标记").count() == 1


def test_a_member_reading_english_is_told_in_english_and_the_leader_reads_chinese(live_server, phone_page, page,
                                                                                 browser_login, world, member):
    member.language = "en"  # kept on the account: signing in restores it
    member.save(update_fields=["language"])
    browser_login(phone_page, live_server, "ann", "pw-ann")
    phone_page.goto(f"{live_server.url}/health/checkin/")
    phone_page.fill("input[name=temperature]", "38.4")
    phone_page.locator("label.form-selectgroup-item", has_text="Dry cough").click()
    phone_page.click("#submit-details")
    alert = phone_page.wait_for_selector("#checkin-alert").inner_text()
    assert "go to the fever clinic" in alert and "发热门诊" not in alert, alert
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390

    browser_login(page, live_server, "bob", "pw-bob")
    page.goto(f"{live_server.url}/health/flags/")
    row = page.locator("#flags-table tbody tr", has_text="安安").inner_text()
    assert "38.4" in row and "干咳" in row and "Dry cough" not in row


def test_roll_call_fits_a_phone_in_english(live_server, phone_page, browser_login, world, make_person):
    """A unit leader takes the roll call on a phone: in English (longer words than Chinese) the page still fits
    the screen's width, and the symptom drop-down is wide enough to read."""
    CheckinSetting.objects.create(organization=world.factory)
    make_person(unit=world.workshop1, name="安安")
    make_person(unit=world.team1, name="欧阳娜娜")
    world.bob.language = "en"
    world.bob.save(update_fields=["language"])
    browser_login(phone_page, live_server, "bob", "pw-bob")
    phone_page.goto(f"{live_server.url}/health/rollcall/?unit={world.workshop1.pk}")
    phone_page.wait_for_load_state("networkidle")
    assert "Submit all" in phone_page.content()  # the page is in English
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    # The rows fit as well: no sideways scrolling inside the table to reach a column.
    assert phone_page.evaluate("(() => { const t = document.querySelector('.table-responsive');"
                               " return t.scrollWidth <= t.clientWidth; })()")
    select = phone_page.locator("select[name^=symptom_]").first.bounding_box()
    assert select is not None and select["width"] >= 120, select
    # Chinese still fits too.
    phone_page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "zh-hans",
                                     "url": live_server.url}])
    phone_page.goto(f"{live_server.url}/health/rollcall/?unit={world.workshop1.pk}")
    assert "提交全部" in phone_page.content()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
