"""The one table that says what each role may do. Scope (which rows) comes from where the membership sits.

Permission names are `<area>.<action>`. Apps of later issues read this table; they add their permissions here.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PLATFORM_ADMIN = "platform_admin", _("平台管理员")
    JURISDICTION_OFFICER = "jurisdiction_officer", _("属地防控办人员")
    AUTHORITY_OFFICER = "authority_officer", _("行业主管部门人员")
    ORG_ADMIN = "org_admin", _("单位管理员")
    UNIT_LEADER = "unit_leader", _("部门负责人")
    GATEKEEPER = "gatekeeper", _("门岗")
    MEMBER = "member", _("成员")


# What a member may do concerns only themselves; services check "self" where it matters.
_MEMBER = {
    "self.checkin", "self.view", "notify.inbox", "travel.request", "visits.host",
}
_GATE = _MEMBER | {
    "org.view", "people.view", "venues.view", "scans.create", "scans.view", "visits.view", "visits.admit",
    "vehicles.view", "vehicles.change",
}
_UNIT_LEADER = _MEMBER | {
    "org.view", "people.view", "people.change", "people.export", "checkins.view", "checkins.submit_others",
    "compliance.view", "obligations.view", "health.flags", "absences.change", "travel.approve", "measures.view",
    "tests.view", "vaccinations.view", "venues.view", "scans.view", "visits.view", "visits.approve",
}
_ORG_ADMIN = _UNIT_LEADER | _GATE | {
    "org.change", "units.change", "taskforce.change", "memberships.change", "people.import", "people.delete",
    "people.unmask",
    "audit.view", "checkins.settings", "obligations.change", "venues.change", "vehicles.change",
    "riskareas.view", "policy.view", "stays.change", "measures.change", "measures.release", "tests.change",
    "vaccinations.change", "cases.view", "cases.change", "tracing.view", "investigations.view",
    "assists.view", "notify.webhooks",
}
# "org.govern": change what ties an organisation into the reporting chains (its industry bureau, whether it is active).
# It counts only where it is held on a jurisdiction (or platform-wide): see scope.may_govern.
_OFFICER = (_ORG_ADMIN - {"self.checkin"}) | {
    "org.create", "org.govern", "riskareas.change", "policy.change", "measures.confirm", "cases.confirm", "tracing.run",
    "investigations.change", "assists.manage", "jurisdiction.view",
}
_AUTHORITY = {
    "org.view", "people.view", "people.export", "checkins.view", "compliance.view", "obligations.view",
    "audit.view", "riskareas.view", "policy.view", "measures.view", "tests.view", "vaccinations.view",
    "venues.view", "scans.view", "cases.view", "notify.inbox",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.MEMBER: frozenset(_MEMBER),
    Role.GATEKEEPER: frozenset(_GATE),
    Role.UNIT_LEADER: frozenset(_UNIT_LEADER),
    Role.ORG_ADMIN: frozenset(_ORG_ADMIN),
    Role.AUTHORITY_OFFICER: frozenset(_AUTHORITY),
    Role.JURISDICTION_OFFICER: frozenset(_OFFICER),
}
ALL_PERMISSIONS: frozenset[str] = frozenset().union(*ROLE_PERMISSIONS.values())


def role_grants(role: str, perm: str) -> bool:
    if role == Role.PLATFORM_ADMIN:
        return True
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


def roles_granting(perm: str) -> list[str]:
    return [Role.PLATFORM_ADMIN] + [r for r, perms in ROLE_PERMISSIONS.items() if perm in perms]
