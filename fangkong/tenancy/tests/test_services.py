from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from fangkong.core import crypto
from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.tenancy import services
from fangkong.tenancy.models import Membership, Taskforce, TaskforceMember, Unit
from fangkong.tenancy.roles import Role
from fangkong.tenancy.scope import has_perm
from fangkong.tenancy.taskforce_templates import HOSPITAL

pytestmark = pytest.mark.django_db


def test_organization_create_applies_the_offered_template(world):
    org = services.organization_create(
        name="长子县示范医院", kind="hospital", region_code="140428", jurisdiction=world.county, actor=world.officer,
        taskforce_template="hospital",
    )
    leading = Taskforce.objects.get(organization=org, kind=Taskforce.Kind.LEADING)
    assert leading.name == HOSPITAL.leading.name
    groups = list(Taskforce.objects.filter(organization=org, kind=Taskforce.Kind.WORKING).order_by("position"))
    assert [g.name for g in groups] == [g.name for g in HOSPITAL.groups]
    assert all(g.parent_id == leading.pk and g.duties for g in groups)
    actions = set(AuditEvent.objects.filter(organization_id=org.pk).values_list("action", flat=True))
    assert {"organization.create", "taskforce.apply_template"} <= actions


def test_organization_outside_the_jurisdiction_is_refused(world):
    with pytest.raises(ServiceError, match="不在 长子县疫情防控指挥部 的辖区内"):
        services.organization_create(name="太原某厂", kind="enterprise", region_code="140105",
                                     jurisdiction=world.county, actor=world.officer)


def test_refusals_in_english(world):
    with translation.override("en"):
        with pytest.raises(ServiceError, match=r"^The organisation's division .+ is outside the area of 长子县疫情防控指挥部$"):
            services.organization_create(name="太原某厂", kind="enterprise", region_code="140105",
                                         jurisdiction=world.county, actor=world.officer)
        with pytest.raises(ServiceError, match=r"^There is already a unit named “一班” under the same parent$") as caught:
            services.unit_create(organization=world.factory, parent=world.workshop1, name="一班", actor=world.alice)
        assert caught.value.field_errors == {"name": ["Name already used"]}


def test_unit_tree_paths_nest(world):
    child = services.unit_create(organization=world.factory, parent=world.team1, name="数控岗", kind="post",
                                 actor=world.alice)
    assert world.workshop1.path == f"/{world.workshop1.pk}/"
    assert world.team1.path == f"{world.workshop1.path}{world.team1.pk}/"
    assert child.path == f"{world.team1.path}{child.pk}/"
    assert (world.workshop1.depth, world.team1.depth, child.depth) == (0, 1, 2)
    below_ws1 = set(Unit.objects.filter(path__startswith=world.workshop1.path).values_list("pk", flat=True))
    assert below_ws1 == {world.workshop1.pk, world.team1.pk, child.pk}


def test_unit_names_are_unique_under_one_parent(world):
    with pytest.raises(ServiceError, match="同一上级下已有名为“一班”的部门"):
        services.unit_create(organization=world.factory, parent=world.workshop1, name="一班", actor=world.alice)
    # The same name under another parent is fine.
    services.unit_create(organization=world.factory, parent=world.workshop2, name="一班", actor=world.alice)
    with pytest.raises(ServiceError, match="名为“二车间”"):
        services.unit_update(unit=world.workshop1, name="二车间", actor=world.alice)


def test_rename_keeps_the_grid_leader_and_leader_must_belong_to_the_organization(world):
    services.unit_update(unit=world.workshop1, grid_leader=world.bob, actor=world.alice)
    services.unit_update(unit=world.workshop1, name="一车间（机加工）", actor=world.alice)
    world.workshop1.refresh_from_db()
    assert (world.workshop1.name, world.workshop1.grid_leader) == ("一车间（机加工）", world.bob)
    with pytest.raises(ServiceError, match="不是 长子县示范机械厂 的用户"):
        services.unit_update(unit=world.workshop1, grid_leader=world.charlie, actor=world.alice)
    services.unit_update(unit=world.workshop1, grid_leader=None, actor=world.alice)
    world.workshop1.refresh_from_db()
    assert world.workshop1.grid_leader is None
    changes = [e.changes for e in AuditEvent.objects.filter(action="unit.update", object_id=str(world.workshop1.pk))]
    assert {"grid_leader": [None, "bob"]} in changes
    assert {"name": ["一车间", "一车间（机加工）"]} in changes


def test_grant_creates_a_user_and_revoke_is_audited(world):
    m = services.membership_grant_at_organization(
        organization=world.factory, username="dave", role=Role.GATEKEEPER, display_name="门岗老王",
        phone="13912345678", password="a-long-password", actor=world.alice,
    )
    dave = get_user_model().objects.get(username="dave")
    assert dave.check_password("a-long-password")
    assert dave.phone == "13912345678" and dave.phone_hash == crypto.lookup_hash("13912345678")
    assert has_perm(dave, "scans.create") and not has_perm(dave, "org.change")
    created = AuditEvent.objects.get(action="user.create", object_id=str(dave.pk))
    assert created.changes["phone"] == [None, "139****5678"]  # never in clear
    grant = AuditEvent.objects.get(action="membership.grant", object_id=str(m.pk))
    assert grant.organization_id == world.factory.pk and grant.actor == world.alice

    m_pk = m.pk  # delete() clears it
    services.membership_revoke(membership=m, actor=world.alice)
    assert not Membership.objects.filter(pk=m_pk).exists()
    revoke = AuditEvent.objects.get(action="membership.revoke", object_id=str(m_pk))
    assert revoke.changes == {"role": ["gatekeeper", None], "user": ["dave", None]}
    assert not has_perm(get_user_model().objects.get(pk=dave.pk), "scans.create")  # a fresh load, no cache


def test_grant_to_an_existing_user_and_refusals(world):
    m = services.membership_grant_at_organization(organization=world.factory, username="charlie", role=Role.MEMBER,
                                                  actor=world.alice)
    assert m.user == world.charlie and m.organization == world.factory
    with pytest.raises(ServiceError, match="已有该角色"):
        services.membership_grant_at_organization(organization=world.factory, username="charlie", role=Role.MEMBER,
                                                  actor=world.alice)
    with pytest.raises(ServiceError, match="部门负责人必须指定部门"):
        services.membership_grant_at_organization(organization=world.factory, username="bob", role=Role.UNIT_LEADER,
                                                  actor=world.alice)
    with pytest.raises(ServiceError, match="单位不能分配角色"):
        services.membership_grant_at_organization(organization=world.factory, username="bob",
                                                  role=Role.JURISDICTION_OFFICER, actor=world.alice)
    with pytest.raises(ServiceError, match="新用户必须设置密码"):
        services.membership_grant_at_organization(organization=world.factory, username="eve", role=Role.MEMBER,
                                                  actor=world.alice)
    with pytest.raises(ServiceError, match="部门不属于本单位"):
        other_unit = services.unit_create(organization=world.other_org, name="内科", actor=world.charlie)
        services.membership_grant_at_organization(organization=world.factory, username="bob", role=Role.MEMBER,
                                                  unit=other_unit, actor=world.alice)
    assert not get_user_model().objects.filter(username="eve").exists()


def test_taskforce_members_add_update_remove_are_audited(world):
    leading = Taskforce.objects.get(organization=world.factory, kind=Taskforce.Kind.LEADING)
    member = services.taskforce_member_add(taskforce=leading, name="王建国", role="leader", title="厂长",
                                           phone="0355-8521001", actor=world.alice)
    services.taskforce_member_update(member=member, title="董事长", actor=world.alice)
    member.refresh_from_db()
    assert member.title == "董事长"
    with pytest.raises(ServiceError, match="未知的小组职务"):
        services.taskforce_member_update(member=member, role="boss", actor=world.alice)
    member_pk = member.pk  # delete() clears it
    services.taskforce_member_remove(member=member, actor=world.alice)
    assert not TaskforceMember.objects.filter(pk=member_pk).exists()
    actions = list(AuditEvent.objects.filter(object_id=str(member_pk), action__startswith="taskforce.member")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["taskforce.member_add", "taskforce.member_update", "taskforce.member_remove"]


def test_model_validation_becomes_a_service_error_on_the_field(world):
    other_bureau = services.authority_create(name="太原市工信局", jurisdiction=world.other_jurisdiction,
                                             sector="industry", actor=world.admin)
    with pytest.raises(ServiceError) as caught:
        services.organization_update(organization=world.factory, authority=other_bureau, actor=world.alice)
    assert "行业主管部门" in caught.value.message and "authority" in caught.value.field_errors
    with pytest.raises(ServiceError, match="名称"):
        services.organization_update(organization=world.factory, name="", actor=world.alice)
