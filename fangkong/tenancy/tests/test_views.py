"""The organisation pages for alice (org admin), bob (unit leader of workshop 1), charlie (another tenant) and the
county officer."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from fangkong.core.models import AuditEvent
from fangkong.people.idgen import synthetic_id_number
from fangkong.tenancy import services
from fangkong.tenancy.models import Membership, Organization, Taskforce, TaskforceMember, Unit

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def factory_urls(world) -> dict[str, str]:
    """Every page of the factory, for the cross-tenant checks."""
    leading = Taskforce.objects.get(organization=world.factory, kind=Taskforce.Kind.LEADING)
    member = services.taskforce_member_add(taskforce=leading, name="王建国", role="leader", actor=world.admin)
    alice_m = Membership.objects.get(user=world.alice)
    return {
        "detail": reverse("tenancy:org_detail", args=[world.factory.pk]),
        "edit": reverse("tenancy:org_edit", args=[world.factory.pk]),
        "units": reverse("tenancy:unit_tree", args=[world.factory.pk]),
        "unit_add": reverse("tenancy:unit_add", args=[world.factory.pk]),
        "unit_rename": reverse("tenancy:unit_rename", args=[world.workshop1.pk]),
        "unit_leader": reverse("tenancy:unit_leader", args=[world.workshop1.pk]),
        "taskforces": reverse("tenancy:taskforce_list", args=[world.factory.pk]),
        "apply": reverse("tenancy:taskforce_apply_template", args=[world.factory.pk]),
        "tf_edit": reverse("tenancy:taskforce_edit", args=[leading.pk]),
        "tf_member_add": reverse("tenancy:taskforce_member_add", args=[leading.pk]),
        "tf_member_edit": reverse("tenancy:taskforce_member_edit", args=[member.pk]),
        "tf_member_remove": reverse("tenancy:taskforce_member_remove", args=[member.pk]),
        "members": reverse("tenancy:membership_list", args=[world.factory.pk]),
        "revoke": reverse("tenancy:membership_revoke", args=[alice_m.pk]),
    }


# --- alice: organisation admin ---------------------------------------------------------------------------------------


def test_my_organization_redirects_to_the_active_organization(client, world):
    login(client, world.alice)
    r = client.get(reverse("tenancy:org_home"))
    assert r.status_code == 302 and r.url == reverse("tenancy:org_detail", args=[world.factory.pk])
    page = client.get(r.url)
    body = page.content.decode()
    assert "长子县示范机械厂" in body and "长子县工信局" in body and "长子县疫情防控指挥部" in body
    assert page.context["figures"].units == 3
    assert 'id="org-edit"' in body


def test_alice_edits_the_organization(client, world):
    login(client, world.alice)
    r = client.post(reverse("tenancy:org_edit", args=[world.factory.pk]), {
        "name": "长子县示范机械厂", "industry": "通用设备制造", "address": "丹朱镇工业园区 8 号",
        "contact_phone": "0355-8526601", "authority": world.bureau.pk,
    })
    assert r.status_code == 302
    world.factory.refresh_from_db()
    assert world.factory.address == "丹朱镇工业园区 8 号"
    event = AuditEvent.objects.get(action="organization.update", organization_id=world.factory.pk)
    assert event.changes["address"] == ["", "丹朱镇工业园区 8 号"] and event.actor == world.alice


def test_alice_builds_the_unit_tree_with_htmx(client, world):
    login(client, world.alice)
    url = reverse("tenancy:unit_add", args=[world.factory.pk])
    form = client.get(url + f"?parent={world.team1.pk}", HTTP_HX_REQUEST="true")
    assert form.status_code == 200 and "<html" not in form.content.decode()  # a partial for the row's slot
    r = client.post(url, {"parent": world.team1.pk, "name": "数控岗", "kind": "post"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and 'id="unit-tree"' in r.content.decode() and "数控岗" in r.content.decode()
    post = Unit.objects.get(name="数控岗")
    assert post.parent == world.team1 and post.path.startswith(world.team1.path)
    # The tree lists it below its parent, indented one level deeper.
    tree = client.get(reverse("tenancy:unit_tree", args=[world.factory.pk])).context["units"]
    levels = {u.name: u.level for u in tree}
    assert [u.name for u in tree].index("数控岗") == [u.name for u in tree].index("一班") + 1
    assert (levels["一车间"], levels["一班"], levels["数控岗"]) == (0, 1, 2)

    # A refused name comes back into the form's slot, not over the tree.
    dup = client.post(url, {"parent": world.team1.pk, "name": "数控岗", "kind": "post"}, HTTP_HX_REQUEST="true")
    assert dup["HX-Retarget"] == f"#unit-slot-{world.team1.pk}" and "名称重复" in dup.content.decode()


def test_alice_renames_and_sets_the_grid_leader_without_javascript(client, world):
    login(client, world.alice)
    r = client.post(reverse("tenancy:unit_rename", args=[world.workshop2.pk]), {"name": "二车间（装配）"})
    assert r.status_code == 302
    r = client.post(reverse("tenancy:unit_leader", args=[world.workshop2.pk]), {"grid_leader": world.bob.pk})
    assert r.status_code == 302
    world.workshop2.refresh_from_db()
    assert (world.workshop2.name, world.workshop2.grid_leader) == ("二车间（装配）", world.bob)
    # charlie is not a user of the factory, so he is not offered and a forged choice is refused.
    form = client.get(reverse("tenancy:unit_leader", args=[world.workshop2.pk])).context["form"]
    assert world.charlie not in form.fields["grid_leader"].queryset
    r = client.post(reverse("tenancy:unit_leader", args=[world.workshop2.pk]), {"grid_leader": world.charlie.pk})
    assert r.status_code == 200
    world.workshop2.refresh_from_db()
    assert world.workshop2.grid_leader == world.bob


def test_alice_manages_the_taskforce(client, world):
    login(client, world.alice)
    leading = Taskforce.objects.get(organization=world.factory, kind=Taskforce.Kind.LEADING)
    r = client.post(reverse("tenancy:taskforce_member_add", args=[leading.pk]),
                    {"role": "leader", "name": "王建国", "title": "厂长", "phone": "0355-8521001"})
    assert r.status_code == 302
    member = TaskforceMember.objects.get(taskforce=leading, name="王建国")
    r = client.post(reverse("tenancy:taskforce_member_edit", args=[member.pk]),
                    {"role": "leader", "name": "王建国", "title": "董事长", "phone": "0355-8521001"})
    member.refresh_from_db()
    assert member.title == "董事长"
    r = client.post(reverse("tenancy:taskforce_edit", args=[leading.pk]),
                    {"name": leading.name, "duty_phone": "0355-8521234", "duties": "统一领导全厂疫情防控工作。"})
    leading.refresh_from_db()
    assert (leading.duty_phone, leading.duties) == ("0355-8521234", "统一领导全厂疫情防控工作。")
    page = client.get(reverse("tenancy:taskforce_list", args=[world.factory.pk]))
    body = page.content.decode()
    assert "王建国" in body and "董事长" in body and "综合协调组" in body and "data-confirm" in body
    client.post(reverse("tenancy:taskforce_member_remove", args=[member.pk]))
    assert not TaskforceMember.objects.filter(pk=member.pk).exists()


def test_apply_template_when_the_organization_has_none(client, world, django_user_model):
    other = services.organization_create(name="长子县某学校", kind="school", region_code="140428",
                                         jurisdiction=world.county, actor=world.admin)
    services.membership_grant(user=world.alice, role="org_admin", organization=other, actor=world.admin)
    login(client, world.alice)
    page = client.get(reverse("tenancy:taskforce_list", args=[other.pk]))
    assert 'id="apply-template"' in page.content.decode()
    client.post(reverse("tenancy:taskforce_apply_template", args=[other.pk]), {"template": "enterprise"})
    assert Taskforce.objects.filter(organization=other).count() == 5
    # A second time is refused and creates nothing.
    client.post(reverse("tenancy:taskforce_apply_template", args=[other.pk]), {"template": "enterprise"})
    assert Taskforce.objects.filter(organization=other).count() == 5


def test_alice_grants_and_revokes_roles(client, world):
    login(client, world.alice)
    url = reverse("tenancy:membership_list", args=[world.factory.pk])
    r = client.post(url, {"username": "dave", "role": "unit_leader", "unit": world.workshop2.pk,
                          "display_name": "李德华", "phone": "13912345678", "password": "a-long-password"})
    assert r.status_code == 302
    dave = get_user_model().objects.get(username="dave")
    m = Membership.objects.get(user=dave)
    assert (m.role, m.organization, m.unit) == ("unit_leader", world.factory, world.workshop2)
    page = client.get(url)
    assert "李德华" in page.content.decode() and "data-confirm" in page.content.decode()
    # Unit leader without a unit: refused with the reason on the form.
    r = client.post(url, {"username": "bob", "role": "unit_leader"})
    assert r.status_code == 200 and "部门负责人必须指定部门" in r.content.decode()
    client.post(reverse("tenancy:membership_revoke", args=[m.pk]))
    assert not Membership.objects.filter(pk=m.pk).exists()
    assert AuditEvent.objects.filter(action="membership.revoke", actor=world.alice).exists()
    # Her own role cannot be revoked by herself (she would lock herself out).
    own = Membership.objects.get(user=world.alice)
    client.post(reverse("tenancy:membership_revoke", args=[own.pk]))
    assert Membership.objects.filter(pk=own.pk).exists()


# --- bob: unit leader of workshop 1 ----------------------------------------------------------------------------------


def test_bob_sees_his_units_only_and_cannot_edit(client, world):
    urls = factory_urls(world)
    login(client, world.bob)
    assert client.get(urls["detail"]).status_code == 200
    tree = client.get(urls["units"])
    names = [u.name for u in tree.context["units"]]
    assert names == ["一车间", "一班"]
    assert "添加下级" not in tree.content.decode()
    assert client.get(urls["edit"]).status_code == 403
    for name in ("unit_add", "unit_rename", "unit_leader", "tf_edit", "tf_member_add", "members"):
        assert client.post(urls[name], {"name": "x", "role": "member"}).status_code == 403, name
    assert client.post(urls["revoke"]).status_code == 403
    assert Membership.objects.filter(user=world.alice).exists()
    assert Unit.objects.get(pk=world.workshop1.pk).name == "一车间"


# --- charlie: another tenant ----------------------------------------------------------------------------------------


def test_charlie_gets_404_on_every_factory_page_and_changes_nothing(client, world):
    urls = factory_urls(world)
    login(client, world.charlie)
    before = (AuditEvent.objects.count(), Unit.objects.count(), TaskforceMember.objects.count(),
              Membership.objects.count())
    for name, url in urls.items():
        assert client.get(url).status_code in (404, 405), name
        r = client.post(url, {"name": "黑客", "role": "member", "username": "mallory", "password": "x" * 12,
                              "template": "enterprise", "kind": "team"})
        assert r.status_code == 404, name
    after = (AuditEvent.objects.count(), Unit.objects.count(), TaskforceMember.objects.count(),
             Membership.objects.count())
    assert after == before
    assert not get_user_model().objects.filter(username="mallory").exists()
    world.factory.refresh_from_db()
    assert world.factory.name == "长子县示范机械厂"
    # His own list shows only his organisation.
    listed = [o.name for o in client.get(reverse("tenancy:org_list")).context["page"]]
    assert listed == ["太原某医院"]


# --- the county officer ---------------------------------------------------------------------------------------------


def test_officer_lists_searches_and_filters_organizations(client, world):
    login(client, world.officer)
    r = client.get(reverse("tenancy:org_home"))
    assert r.url == reverse("tenancy:org_list")
    page = client.get(reverse("tenancy:org_list"))
    assert [o.name for o in page.context["page"]] == ["长子县示范机械厂"]  # not 太原某医院 (other jurisdiction)
    assert 'id="org-create"' in page.content.decode()
    assert [o.name for o in client.get(reverse("tenancy:org_list"), {"q": "机械"}).context["page"]] == ["长子县示范机械厂"]
    assert list(client.get(reverse("tenancy:org_list"), {"kind": "hospital"}).context["page"]) == []
    assert "fk-empty" in client.get(reverse("tenancy:org_list"), {"q": "不存在"}).content.decode()
    assert client.get(reverse("tenancy:org_detail", args=[world.other_org.pk])).status_code == 404
    # The factory is in the county: the officer opens and may manage it.
    detail = client.get(reverse("tenancy:org_detail", args=[world.factory.pk]))
    assert detail.status_code == 200 and detail.context["can_change"] and detail.context["can_members"]


def test_refused_edit_shows_the_reason_and_keeps_the_saved_name(client, world):
    login(client, world.alice)
    r = client.post(reverse("tenancy:org_edit", args=[world.factory.pk]), {
        "name": "长子县示范机械厂", "authority": "999999",
    })
    assert r.status_code == 200 and "authority" in r.context["form"].errors
    world.factory.refresh_from_db()
    assert world.factory.authority == world.bureau


def test_officer_creates_an_organization_with_the_template_for_its_kind(client, world):
    login(client, world.officer)
    form = client.get(reverse("tenancy:org_create")).context["form"]
    assert set(form.fields["jurisdiction"].queryset) == {world.county}
    assert {r.code for r in form.fields["region"].queryset} == {"140428"}
    r = client.post(reverse("tenancy:org_create"), {
        "name": "长子县中医医院", "kind": "hospital", "jurisdiction": world.county.pk, "region": "140428",
        "authority": "", "industry": "", "address": "", "contact_phone": "", "taskforce_template": "hospital",
    })
    org = Organization.objects.get(name="长子县中医医院")
    assert r.status_code == 302 and r.url == reverse("tenancy:org_detail", args=[org.pk])
    assert Taskforce.objects.filter(organization=org, name="消毒隔离组").exists()
    # An organisation admin may not create organisations.
    login(client, world.alice)
    assert client.get(reverse("tenancy:org_create")).status_code == 403


def test_pagination_of_the_organization_list(client, world):
    for i in range(30):
        Organization.objects.create(name=f"长子县商铺{i:02d}", kind="venue_operator", region_id="140428",
                                    jurisdiction=world.county)
    login(client, world.officer)
    first = client.get(reverse("tenancy:org_list"), {"kind": "venue_operator"})
    assert len(first.context["page"]) == 25 and "kind=venue_operator&amp;page=2" in first.content.decode()
    second = client.get(reverse("tenancy:org_list"), {"kind": "venue_operator", "page": 2})
    assert len(second.context["page"]) == 5


def test_unit_tree_counts_people_of_the_whole_subtree(client, world, make_person, rng):
    for unit in (world.workshop1, world.team1, world.team1):
        # Born after 1985, when 140428 became 长子县's code (an older birth date with it fails the ID check).
        make_person(unit=unit, id_number=synthetic_id_number(rng, "140428", born_from=1986))
    login(client, world.alice)
    tree = {u.name: u for u in client.get(reverse("tenancy:unit_tree", args=[world.factory.pk])).context["units"]}
    assert (tree["一车间"].people_count, tree["一车间"].subtree_people) == (1, 3)
    assert (tree["一班"].people_count, tree["一班"].subtree_people) == (2, 2)
    # A child of a workshop is offered as a team.
    form = client.get(reverse("tenancy:unit_add", args=[world.factory.pk]), {"parent": world.workshop1.pk})
    assert form.context["form"]["kind"].initial == "team"


def test_dashboard_cards(rf, world):
    from fangkong.tenancy.dashboard import cards

    request = rf.get("/")
    request.user, request.membership = world.alice, Membership.objects.get(user=world.alice)
    alice_cards = cards(request)
    assert alice_cards[0]["value"] == 3 and alice_cards[0]["url"] == reverse("tenancy:unit_tree",
                                                                            args=[world.factory.pk])
    request.user, request.membership = world.officer, Membership.objects.get(user=world.officer)
    assert cards(request) == [{"title": "辖区单位", "value": 1, "url": reverse("tenancy:org_list")}]
    request.user, request.membership = world.charlie, Membership.objects.get(user=world.charlie)
    # charlie's hospital has no leading group yet: the card says so.
    assert any(c["value"] == "未建立" for c in cards(request))


def test_a_superuser_without_any_membership_gets_pages_not_errors(client, world):
    """The menu reads the acting organisation from a lazy membership that wraps None for such a user."""
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("bare-root", password="x")
    client.force_login(root)
    page = client.get("/")
    assert page.status_code == 200
    assert page.context["acting_organization_id"] is None


def test_org_create_offers_the_templates_in_english_and_creates_chinese_groups(client, world):
    from django.conf import settings

    login(client, world.officer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("tenancy:org_create")).content.decode()
    assert "Enterprise (four working groups)" in page and "企业（四个工作组）" not in page
    assert "医院（领导小组" not in page
    client.post(reverse("tenancy:org_create"), {
        "name": "长子县人民医院", "kind": "hospital", "jurisdiction": world.county.pk, "region": "140428",
        "authority": "", "industry": "", "address": "", "contact_phone": "", "taskforce_template": "hospital",
    })
    # The groups a template creates are data: named as the seed names them, whatever the page's language.
    assert Taskforce.objects.filter(organization__name="长子县人民医院", name="消毒隔离组").exists()
