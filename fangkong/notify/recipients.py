"""Who to tell: the users behind a unit, an organisation, a jurisdiction or a person. Callers pass these to
`notify_send(recipients=...)`; each returns active users, each once, in a stable order."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from fangkong.tenancy.models import Jurisdiction, Organization, Unit
from fangkong.tenancy.roles import Role


def _users(**membership_filter: Any) -> list[Any]:
    user_model = get_user_model()
    return list(
        user_model.objects.filter(is_active=True, **{f"memberships__{k}": v for k, v in membership_filter.items()})
        .distinct()
        .order_by("id")
    )


def _ancestor_ids(unit: Unit) -> list[int]:
    """The unit and its ancestors, read from its materialised path ('/3/17/42/')."""
    ids = [int(part) for part in unit.path.strip("/").split("/") if part.isdigit()]
    return ids or [unit.pk]


def unit_leaders(unit: Unit) -> list[Any]:
    """Leaders of the unit or of any unit above it (a team's problem is also its workshop's)."""
    return _users(role=Role.UNIT_LEADER, unit_id__in=_ancestor_ids(unit))


def org_admins(organization: Organization) -> list[Any]:
    """The organisation's administrators: its prevention office (防疫办)."""
    return _users(role=Role.ORG_ADMIN, organization=organization, unit__isnull=True)


def jurisdiction_officers(jurisdiction: Jurisdiction) -> list[Any]:
    """Officers with a membership at this jurisdiction itself (not the ones above it)."""
    return _users(role=Role.JURISDICTION_OFFICER, jurisdiction=jurisdiction)


def person_user(person: Any) -> list[Any]:
    """The person's own account, when the ledger row is linked to one."""
    user = getattr(person, "user", None) if getattr(person, "user_id", None) else None
    return [user] if user is not None and user.is_active else []
