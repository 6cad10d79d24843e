"""Who may change an organisation's place in the reporting chains, edits that leave fields out, and updates that
change nothing (they write no audit event)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fangkong.conftest import make_user
from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.tenancy import services
from fangkong.tenancy.models import Membership, Organization, Taskforce
from fangkong.tenancy.roles import Role
from fangkong.tenancy.scope import may_govern

pytestmark = pytest.mark.django_db

CONTACT = {"name": "长子县示范机械厂", "industry": "通用设备制造", "address": "丹朱镇工业园区 8 号",
           "contact_phone": "0355-8526601"}


def _edit_url(world) -> str:
    return reverse("tenancy:org_edit", args=[world.factory.pk])


def _org_events(world) -> int:
    return AuditEvent.objects.filter(action="organization.update", organization_id=world.factory.pk).count()


@pytest.fixture
def second_bureau(world):
    return services.authority_create(name="长子县卫健局", jurisdiction=world.county, sector="health", actor=world.admin)


@pytest.fixture
def filled(world):
    """The factory with its contact fields filled in, so a blanked field shows."""
    services.organization_update(organization=world.factory, actor=world.admin, **{
        k: v for k, v in CONTACT.items() if k != "name"})
    world.factory.refresh_from_db()
    return world.factory


# --- the organisation's own administrator -------------------------------------------------------------------------


def test_org_admin_cannot_detach_the_organization_from_its_bureau(client, world, filled):
    client.force_login(world.alice)
    before = _org_events(world)
    r = client.post(_edit_url(world), {**CONTACT, "authority": ""})
    assert r.status_code == 403
    assert "authority" in r.context["form"].errors
    assert "只有单位所在属地的防控办或平台管理员可以更改：行业主管部门" in r.content.decode()
    world.factory.refresh_from_db()
    assert world.factory.authority == world.bureau
    assert _org_events(world) == before
    # The bureau still sees its organisation.
    bureau_officer = make_user("bureau-officer")
    services.membership_grant(user=bureau_officer, role=Role.AUTHORITY_OFFICER, authority=world.bureau,
                              actor=world.admin)
    assert Organization.objects.visible_to(bureau_officer).filter(pk=world.factory.pk).exists()


def test_org_admin_cannot_reassign_the_organization_to_another_bureau(client, world, filled, second_bureau):
    client.force_login(world.alice)
    r = client.post(_edit_url(world), {**CONTACT, "address": "新地址", "authority": second_bureau.pk})
    assert r.status_code == 403
    world.factory.refresh_from_db()
    # Refused as a whole: not even the address of the same submission is saved.
    assert (world.factory.authority, world.factory.address) == (world.bureau, CONTACT["address"])


def test_org_admin_still_edits_the_contact_fields(client, world, filled):
    client.force_login(world.alice)
    form = client.get(_edit_url(world)).context["form"]
    assert form.fields["authority"].widget.attrs.get("disabled")  # shown read-only
    # What the browser sends: a disabled select is not submitted, so the bureau is kept.
    r = client.post(_edit_url(world), {**CONTACT, "contact_phone": "0355-8526602"})
    assert r.status_code == 302
    world.factory.refresh_from_db()
    assert (world.factory.contact_phone, world.factory.authority) == ("0355-8526602", world.bureau)
    # Sending the bureau it already has is no change, so it is allowed.
    r = client.post(_edit_url(world), {**CONTACT, "contact_phone": "0355-8526602", "address": "丹朱镇 9 号",
                                       "authority": world.bureau.pk})
    assert r.status_code == 302
    event = AuditEvent.objects.filter(action="organization.update", actor=world.alice).latest("id")
    assert event.changes == {"address": [CONTACT["address"], "丹朱镇 9 号"]}


def test_the_service_refuses_the_org_admin_whatever_calls_it(world, second_bureau):
    for change in ({"authority": None}, {"authority": second_bureau}, {"is_active": False}):
        with pytest.raises(ServiceError) as caught:
            services.organization_update(organization=world.factory, actor=world.alice, **change)
        assert caught.value.status == 403 and set(caught.value.field_errors) == set(change)
    world.factory.refresh_from_db()
    assert (world.factory.authority, world.factory.is_active) == (world.bureau, True)
    services.organization_update(organization=world.factory, actor=world.alice, address="丹朱镇 1 号")
    world.factory.refresh_from_db()
    assert world.factory.address == "丹朱镇 1 号"


def test_an_officer_role_held_on_the_organization_does_not_govern_it(world):
    """Only a role held on a jurisdiction over the organisation (or platform-wide) counts."""
    odd = make_user("odd")
    Membership.objects.create(user=odd, role=Role.JURISDICTION_OFFICER, organization=world.factory)
    assert not may_govern(odd, world.factory)
    with pytest.raises(ServiceError):
        services.organization_update(organization=world.factory, actor=odd, authority=None)
    # Nor does one of another jurisdiction, nor a bureau's own officer.
    other_officer, bureau_officer = make_user("taiyuan-officer"), make_user("bureau-officer")
    services.membership_grant(user=other_officer, role=Role.JURISDICTION_OFFICER,
                              jurisdiction=world.other_jurisdiction, actor=world.admin)
    services.membership_grant(user=bureau_officer, role=Role.AUTHORITY_OFFICER, authority=world.bureau,
                              actor=world.admin)
    assert not may_govern(other_officer, world.factory) and not may_govern(bureau_officer, world.factory)
    assert not may_govern(world.alice, world.factory) and not may_govern(world.bob, world.factory)


# --- the prevention office and the platform -------------------------------------------------------------------------


def test_county_and_city_offices_and_the_platform_may_change_the_bureau(client, world, filled, second_bureau):
    city_officer, platform = make_user("city-officer"), make_user("platform")
    services.membership_grant(user=city_officer, role=Role.JURISDICTION_OFFICER, jurisdiction=world.city,
                              actor=world.admin)
    services.membership_grant(user=platform, role=Role.PLATFORM_ADMIN, actor=world.admin)
    for user in (world.officer, city_officer, platform, world.admin):
        assert may_govern(user, world.factory), user

    client.force_login(world.officer)
    assert not client.get(_edit_url(world)).context["form"].fields["authority"].widget.attrs.get("disabled")
    r = client.post(_edit_url(world), {**CONTACT, "authority": second_bureau.pk})
    assert r.status_code == 302
    world.factory.refresh_from_db()
    assert world.factory.authority == second_bureau
    event = AuditEvent.objects.filter(action="organization.update", actor=world.officer).latest("id")
    assert event.changes == {"authority": ["长子县工信局", "长子县卫健局"]}

    client.force_login(city_officer)
    assert client.post(_edit_url(world), {**CONTACT, "authority": ""}).status_code == 302
    world.factory.refresh_from_db()
    assert world.factory.authority is None

    client.force_login(platform)
    assert client.post(_edit_url(world), {**CONTACT, "authority": world.bureau.pk}).status_code == 302
    world.factory.refresh_from_db()
    assert world.factory.authority == world.bureau


# --- fields left out of the submission ------------------------------------------------------------------------------


def test_a_post_with_only_the_name_keeps_every_other_field(client, world, filled):
    client.force_login(world.officer)
    r = client.post(_edit_url(world), {"name": "长子县示范机械厂（总厂）"})
    assert r.status_code == 302
    world.factory.refresh_from_db()
    assert (world.factory.name, world.factory.industry, world.factory.address, world.factory.contact_phone,
            world.factory.authority) == ("长子县示范机械厂（总厂）", CONTACT["industry"], CONTACT["address"],
                                         CONTACT["contact_phone"], world.bureau)
    event = AuditEvent.objects.filter(action="organization.update", actor=world.officer).latest("id")
    assert event.changes == {"name": ["长子县示范机械厂", "长子县示范机械厂（总厂）"]}


def test_fields_sent_empty_are_cleared_and_a_missing_required_field_is_an_error(client, world, filled):
    client.force_login(world.officer)
    # Sent empty on purpose: cleared (that is an edit, not an omission).
    r = client.post(_edit_url(world), {**CONTACT, "address": "", "authority": ""})
    assert r.status_code == 302
    world.factory.refresh_from_db()
    assert (world.factory.address, world.factory.authority, world.factory.industry) == ("", None, CONTACT["industry"])
    # The name left out: the form comes back with the error and nothing is saved.
    before = _org_events(world)
    r = client.post(_edit_url(world), {"industry": "机械"})
    assert r.status_code == 200 and "name" in r.context["form"].errors
    world.factory.refresh_from_db()
    assert (world.factory.name, world.factory.industry) == ("长子县示范机械厂", CONTACT["industry"])
    assert _org_events(world) == before


def test_an_update_that_changes_nothing_writes_no_event(world):
    before = _org_events(world)
    services.organization_update(organization=world.factory, actor=world.alice, name=world.factory.name,
                                 authority=world.bureau)
    assert _org_events(world) == before


# --- updates that change nothing ------------------------------------------------------------------------------------


def _unit_events(unit) -> list[dict]:
    return list(AuditEvent.objects.filter(action="unit.update", object_id=str(unit.pk)).values_list("changes",
                                                                                                   flat=True))


def test_unit_update_without_a_change_writes_no_audit_event(world):
    services.unit_update(unit=world.workshop1, grid_leader=world.bob, actor=world.alice)
    assert _unit_events(world.workshop1) == [{"grid_leader": [None, "bob"]}]
    services.unit_update(unit=world.workshop1, grid_leader=world.bob, actor=world.alice)  # the leader it has
    services.unit_update(unit=world.workshop1, name="一车间", kind="workshop", actor=world.alice)
    services.unit_update(unit=world.workshop1, actor=world.alice)
    assert _unit_events(world.workshop1) == [{"grid_leader": [None, "bob"]}]
    assert not AuditEvent.objects.filter(action="unit.update", changes={}).exists()
    services.unit_update(unit=world.workshop2, grid_leader=None, actor=world.alice)  # has none already
    assert _unit_events(world.workshop2) == []


def test_setting_the_grid_leader_it_already_has_in_the_page_writes_no_event(client, world):
    services.unit_update(unit=world.workshop2, grid_leader=world.bob, actor=world.alice)
    client.force_login(world.alice)
    r = client.post(reverse("tenancy:unit_leader", args=[world.workshop2.pk]), {"grid_leader": world.bob.pk})
    assert r.status_code == 302
    assert _unit_events(world.workshop2) == [{"grid_leader": [None, "bob"]}]


def test_taskforce_saves_without_a_change_write_no_event(client, world):
    leading = Taskforce.objects.get(organization=world.factory, kind=Taskforce.Kind.LEADING)
    client.force_login(world.alice)
    r = client.post(reverse("tenancy:taskforce_edit", args=[leading.pk]),
                    {"name": leading.name, "duty_phone": leading.duty_phone, "duties": leading.duties})
    assert r.status_code == 302
    member = services.taskforce_member_add(taskforce=leading, name="王建国", role="leader", actor=world.alice)
    services.taskforce_member_update(member=member, name="王建国", role="leader", actor=world.alice)
    assert not AuditEvent.objects.filter(action__in=["taskforce.update", "taskforce.member_update"]).exists()
