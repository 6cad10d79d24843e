"""Writes to the tenancy tree. Keyword-only, atomic, audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from fangkong.core import authcache
from fangkong.core.audit import audit_record, diff
from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import enumeration
from fangkong.geo.models import Region
from fangkong.tenancy.models import (
    Authority,
    Jurisdiction,
    Membership,
    Organization,
    Taskforce,
    TaskforceMember,
    Unit,
)
from fangkong.tenancy.roles import Role
from fangkong.tenancy.scope import forget_memberships, may_govern
from fangkong.tenancy.taskforce_templates import TEMPLATES


def _set_path(node: Jurisdiction | Unit) -> None:
    path = node.expected_path()
    if node.path != path:
        node.path = path
        type(node).objects.filter(pk=node.pk).update(path=path)
        # update() sends no signal, and paths decide scopes: drop the API auth cache (ADR 0009).
        authcache.invalidate()


def _region(code: str) -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        message = gettext("未知的行政区划代码：%(code)s") % {"code": code}
        raise ServiceError(message, {"region": [message]})
    return region


def _full_clean(obj: Any) -> None:
    """Model validation as a ServiceError, so pages and the API show it on the field instead of failing."""
    try:
        obj.full_clean()
    except ValidationError as e:
        labels = {f.name: str(f.verbose_name) for f in obj._meta.fields}
        errors = {k: [str(m) for m in v] for k, v in e.message_dict.items()}
        message = gettext("；").join(gettext("%(field)s：%(error)s") % {"field": labels.get(k, k), "error": " ".join(v)}
                                    for k, v in errors.items())
        raise ServiceError(message, errors) from None


@transaction.atomic
def jurisdiction_create(
    *, name: str, region_code: str, parent: Jurisdiction | None = None, actor: Any = None, duty_phone: str = ""
) -> Jurisdiction:
    region = _region(region_code)
    if parent and not region.code.startswith(parent.region_id):
        message = gettext("上级防控办的区划必须包含本区划")
        raise ServiceError(message, {"parent": [message]})
    j = Jurisdiction.objects.create(name=name, region=region, parent=parent, duty_phone=duty_phone)
    _set_path(j)
    audit_record(actor=actor, action="jurisdiction.create", obj=j, jurisdiction_path=j.path)
    return j


@transaction.atomic
def authority_create(
    *, name: str, jurisdiction: Jurisdiction, sector: str = Authority.Sector.OTHER, actor: Any = None
) -> Authority:
    a = Authority.objects.create(name=name, jurisdiction=jurisdiction, sector=sector)
    audit_record(actor=actor, action="authority.create", obj=a, jurisdiction_path=jurisdiction.path)
    return a


@transaction.atomic
def organization_create(
    *,
    name: str,
    kind: str,
    region_code: str,
    jurisdiction: Jurisdiction,
    actor: Any,
    authority: Authority | None = None,
    industry: str = "",
    address: str = "",
    contact_phone: str = "",
    taskforce_template: str | None = None,
) -> Organization:
    region = _region(region_code)
    if not region.code.startswith(jurisdiction.region_id):
        raise ServiceError(
            gettext("单位所在区划 %(region)s 不在 %(jurisdiction)s 的辖区内")
            % {"region": region.full_name, "jurisdiction": jurisdiction.name},
            {"region": [gettext("单位所在区划必须在属地防控办辖区内")]},
        )
    org = Organization(
        name=name, kind=kind, region=region, jurisdiction=jurisdiction, authority=authority, industry=industry,
        address=address, contact_phone=contact_phone,
    )
    _full_clean(org)
    org.save()
    audit_record(
        actor=actor, action="organization.create", obj=org, organization_id=org.pk,
        jurisdiction_path=jurisdiction.path,
    )
    if taskforce_template:
        taskforce_apply_template(organization=org, template_key=taskforce_template, actor=actor)
    return org


# What an organisation's own administrator may change: its name and contact details.
ORGANIZATION_OWN_FIELDS = frozenset({"name", "industry", "address", "contact_phone"})
# What ties it into the reporting chains: changed only by the prevention office over it or a platform administrator
# (scope.may_govern). Detaching an organisation from its bureau leaves the bureau blind to it. Its jurisdiction is
# not editable at all here (moving an organisation to another office is not a field edit).
ORGANIZATION_GOVERNED_FIELDS = frozenset({"authority", "is_active"})


@transaction.atomic
def organization_update(*, organization: Organization, actor: Any, **fields: Any) -> Organization:
    """Change the given fields; fields not passed keep their stored values. Nothing changed: no write, no event."""
    unknown = set(fields) - ORGANIZATION_OWN_FIELDS - ORGANIZATION_GOVERNED_FIELDS
    if unknown:
        raise ServiceError(gettext("不能修改字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))})
    old = {k: getattr(organization, k) for k in fields}
    changes = diff(old, fields)
    if not changes:
        return organization
    governed = sorted(ORGANIZATION_GOVERNED_FIELDS & set(changes))
    if governed and not may_govern(actor, organization):
        names = {f.name: str(f.verbose_name) for f in Organization._meta.fields}
        labels = enumeration(names[f] for f in governed)
        message = gettext("只有单位所在属地的防控办或平台管理员可以更改：%(fields)s") % {"fields": labels}
        raise ServiceError(message, {f: [gettext("只有属地防控办或平台管理员可以更改")] for f in governed}, status=403)
    for k, v in fields.items():
        setattr(organization, k, v)
    _full_clean(organization)
    organization.save()
    audit_record(
        actor=actor, action="organization.update", obj=organization, organization_id=organization.pk,
        jurisdiction_path=organization.jurisdiction.path, changes=changes,
    )
    return organization


@transaction.atomic
def unit_create(
    *, organization: Organization, name: str, actor: Any, parent: Unit | None = None, kind: str = Unit.Kind.DEPARTMENT,
    grid_leader: Any = None,
) -> Unit:
    if parent and parent.organization_id != organization.pk:
        message = gettext("上级部门必须属于同一单位")
        raise ServiceError(message, {"parent": [message]})
    if Unit.objects.filter(organization=organization, parent=parent, name=name).exists():
        raise ServiceError(gettext("同一上级下已有名为“%(name)s”的部门") % {"name": name},
                           {"name": [gettext("名称重复")]})
    unit = Unit.objects.create(organization=organization, parent=parent, name=name, kind=kind, grid_leader=grid_leader)
    _set_path(unit)
    audit_record(actor=actor, action="unit.create", obj=unit, organization_id=organization.pk)
    return unit


# "Leave this field as it is": None is a real value for the grid leader (nobody), so it cannot mean "unchanged".
KEEP: Any = object()


def organization_users(organization: Organization) -> Any:
    """Users who hold a role at the organisation or one of its units: the people a grid may be given to."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(memberships__organization=organization).distinct().order_by("username")


@transaction.atomic
def unit_update(*, unit: Unit, actor: Any, name: str | None = None, kind: str | None = None,
                grid_leader: Any = KEEP) -> Unit:
    name = name.strip() if name is not None else None
    if name is not None and not name:
        raise ServiceError(gettext("部门名称不能为空"), {"name": [gettext("必填")]})
    if name and name != unit.name and Unit.objects.filter(
        organization_id=unit.organization_id, parent_id=unit.parent_id, name=name
    ).exclude(pk=unit.pk).exists():
        raise ServiceError(gettext("同一上级下已有名为“%(name)s”的部门") % {"name": name},
                           {"name": [gettext("名称重复")]})
    if grid_leader is not KEEP and grid_leader is not None and not organization_users(
        unit.organization
    ).filter(pk=grid_leader.pk).exists():
        raise ServiceError(
            gettext("网格员 %(user)s 不是 %(organization)s 的用户，请先为其分配角色")
            % {"user": grid_leader, "organization": unit.organization.name},
            {"grid_leader": [gettext("网格员必须是本单位的用户")]},
        )
    old = {"name": unit.name, "kind": unit.kind, "grid_leader": unit.grid_leader}
    new = {
        "name": name or unit.name,
        "kind": kind or unit.kind,
        "grid_leader": unit.grid_leader if grid_leader is KEEP else grid_leader,
    }
    changes = diff(old, new)
    if not changes:
        return unit  # nothing changed: no write, no audit event with empty changes
    for k, v in new.items():
        setattr(unit, k, v)
    unit.save()
    audit_record(actor=actor, action="unit.update", obj=unit, organization_id=unit.organization_id, changes=changes)
    return unit


@transaction.atomic
def membership_grant(
    *,
    user: Any,
    role: str,
    actor: Any,
    jurisdiction: Jurisdiction | None = None,
    authority: Authority | None = None,
    organization: Organization | None = None,
    unit: Unit | None = None,
) -> Membership:
    if unit is not None:
        organization = unit.organization
    nodes = [n for n in (jurisdiction, authority, organization) if n is not None]
    if role != Role.PLATFORM_ADMIN and len(nodes) != 1:
        raise ServiceError(gettext("角色必须对应一个节点：属地、主管部门、单位或部门"))
    m, _created = Membership.objects.get_or_create(
        user=user, role=role, jurisdiction=jurisdiction, authority=authority, organization=organization, unit=unit
    )
    forget_memberships(user)
    audit_record(
        actor=actor, action="membership.grant", obj=m, organization_id=organization.pk if organization else None,
        changes={"role": [None, role], "user": [None, user.username]},
    )
    return m


@transaction.atomic
def membership_revoke(*, membership: Membership, actor: Any) -> None:
    audit_record(
        actor=actor, action="membership.revoke", obj=membership, organization_id=membership.organization_id,
        changes={"role": [membership.role, None], "user": [membership.user.username, None]},
    )
    forget_memberships(membership.user)
    membership.delete()


@transaction.atomic
def taskforce_apply_template(*, organization: Organization, template_key: str, actor: Any) -> Taskforce:
    template = TEMPLATES.get(template_key)
    if template is None:
        raise ServiceError(gettext("未知的领导小组模板：%(key)s") % {"key": template_key})
    if organization.taskforces.filter(kind=Taskforce.Kind.LEADING).exists():
        raise ServiceError(gettext("该单位已有领导小组"))
    leading = Taskforce.objects.create(
        organization=organization, kind=Taskforce.Kind.LEADING, name=template.leading.name,
        duties=template.leading.duties,
    )
    Taskforce.objects.bulk_create(
        Taskforce(
            organization=organization, parent=leading, kind=Taskforce.Kind.WORKING, name=g.name, duties=g.duties,
            position=i + 1,
        )
        for i, g in enumerate(template.groups)
    )
    audit_record(
        actor=actor, action="taskforce.apply_template", obj=leading, organization_id=organization.pk,
        changes={"template": [None, template.key]},
    )
    return leading


@transaction.atomic
def taskforce_member_add(
    *, taskforce: Taskforce, name: str, role: str, actor: Any, title: str = "", phone: str = "", user: Any = None
) -> TaskforceMember:
    member = TaskforceMember.objects.create(
        taskforce=taskforce, name=name, role=role, title=title, phone=phone, user=user
    )
    audit_record(
        actor=actor, action="taskforce.member_add", obj=member, organization_id=taskforce.organization_id,
        changes={"name": [None, name], "role": [None, role]},
    )
    return member


@transaction.atomic
def taskforce_update(*, taskforce: Taskforce, actor: Any, **fields: Any) -> Taskforce:
    allowed = {"name", "duties", "duty_phone"}
    old = {k: getattr(taskforce, k) for k in fields if k in allowed}
    changes = diff(old, {k: fields[k] for k in old})
    if not changes:
        return taskforce  # nothing changed: no write, no audit event with empty changes
    for k in old:
        setattr(taskforce, k, fields[k])
    taskforce.save()
    audit_record(actor=actor, action="taskforce.update", obj=taskforce, organization_id=taskforce.organization_id,
                 changes=changes)
    return taskforce


# Roles an organisation may hand out itself; officer, authority and platform roles are granted above it.
ORGANIZATION_ROLES = (Role.ORG_ADMIN, Role.UNIT_LEADER, Role.GATEKEEPER, Role.MEMBER)


@transaction.atomic
def user_create(*, username: str, actor: Any, display_name: str = "", phone: str = "", password: str = "",
                organization: Organization | None = None, is_superuser: bool = False) -> Any:
    """A new sign-in account. The phone is stored encrypted with its HMAC so it can be used to sign in."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError as DjangoValidationError

    from fangkong.core import crypto

    User = get_user_model()
    username = username.strip()
    if not username:
        raise ServiceError(gettext("用户名不能为空"), {"username": [gettext("必填")]})
    if User.objects.filter(username=username).exists():
        raise ServiceError(gettext("用户名“%(username)s”已被使用") % {"username": username},
                           {"username": [gettext("已被使用")]})
    phone = "".join(phone.split())
    if phone:
        if not (len(phone) == 11 and phone.isdigit() and phone.startswith("1")):
            raise ServiceError(gettext("手机号“%(phone)s”应为 11 位数字（以 1 开头）") % {"phone": phone},
                               {"phone": [gettext("手机号格式不正确")]})
        if User.objects.filter(phone_hash=crypto.lookup_hash(phone)).exists():
            raise ServiceError(gettext("该手机号已绑定其他账号"), {"phone": [gettext("已绑定其他账号")]})
    if not password:
        message = gettext("新用户必须设置密码")
        raise ServiceError(message, {"password": [message]})
    user = User(username=username, display_name=display_name.strip(), phone=phone,
                phone_hash=crypto.lookup_hash(phone) if phone else "", is_superuser=is_superuser,
                is_staff=is_superuser)
    try:
        validate_password(password, user)
    except DjangoValidationError as e:
        raise ServiceError(gettext("密码不符合要求：%(problems)s") % {"problems": gettext("；").join(e.messages)},
                           {"password": list(e.messages)}) from None
    user.set_password(password)
    user.save()
    audit_record(
        actor=actor, action="user.create", obj=user, organization_id=organization.pk if organization else None,
        changes={"username": [None, username], "phone": [None, crypto.mask_phone(phone) if phone else ""]},
    )
    return user


@transaction.atomic
def membership_grant_at_organization(
    *, organization: Organization, username: str, role: str, actor: Any, unit: Unit | None = None,
    display_name: str = "", phone: str = "", password: str = "",
) -> Membership:
    """Give a user a role at an organisation (or one of its units), creating the account when it is new."""
    from django.contrib.auth import get_user_model

    if role not in ORGANIZATION_ROLES:
        raise ServiceError(gettext("单位不能分配角色“%(role)s”") % {"role": role}, {"role": [gettext("不可分配的角色")]})
    if unit is not None and unit.organization_id != organization.pk:
        message = gettext("部门不属于本单位")
        raise ServiceError(message, {"unit": [message]})
    if role == Role.UNIT_LEADER and unit is None:
        message = gettext("部门负责人必须指定部门")
        raise ServiceError(message, {"unit": [message]})
    if role == Role.ORG_ADMIN and unit is not None:
        message = gettext("单位管理员不能限定在部门")
        raise ServiceError(message, {"unit": [message]})
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        user = user_create(username=username, display_name=display_name, phone=phone, password=password,
                           organization=organization, actor=actor)
    if Membership.objects.filter(user=user, role=role, organization=organization, unit=unit).exists():
        where = unit.name if unit else organization.name
        raise ServiceError(gettext("%(user)s 在 %(where)s 已有该角色") % {"user": user, "where": where},
                           {"username": [gettext("已有该角色")]})
    if unit is not None:
        return membership_grant(user=user, role=role, unit=unit, actor=actor)
    return membership_grant(user=user, role=role, organization=organization, actor=actor)


@transaction.atomic
def taskforce_member_update(*, member: TaskforceMember, actor: Any, **fields: Any) -> TaskforceMember:
    allowed = {"name", "role", "title", "phone"}
    unknown = set(fields) - allowed
    if unknown:
        raise ServiceError(gettext("不能修改字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if "name" in fields and not str(fields["name"]).strip():
        raise ServiceError(gettext("姓名不能为空"), {"name": [gettext("必填")]})
    if "role" in fields and fields["role"] not in TaskforceMember.Role.values:
        raise ServiceError(gettext("未知的小组职务：%(role)s") % {"role": fields["role"]},
                           {"role": [gettext("未知的职务")]})
    old = {k: getattr(member, k) for k in fields}
    changes = diff(old, fields)
    if not changes:
        return member  # nothing changed: no write, no audit event with empty changes
    for k, v in fields.items():
        setattr(member, k, v)
    member.save()
    audit_record(
        actor=actor, action="taskforce.member_update", obj=member, organization_id=member.taskforce.organization_id,
        changes=changes,
    )
    return member


@transaction.atomic
def taskforce_member_remove(*, member: TaskforceMember, actor: Any) -> None:
    audit_record(
        actor=actor, action="taskforce.member_remove", obj=member, organization_id=member.taskforce.organization_id,
        changes={"name": [member.name, None], "role": [member.role, None], "taskforce": [member.taskforce.name, None]},
    )
    member.delete()
