"""Reads of the health app."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Prefetch

from fangkong.health.models import Absence, Checkin, ClusterWarning, IntegrityFlag, SymptomFlag
from fangkong.people.models import Person
from fangkong.tenancy.models import Unit

# Lists show names only: never load (and decrypt) the people's ID and phone numbers.
NO_PII = ("person__id_number", "person__phone")


def _unit_filter(qs: Any, unit_id: int | None, field: str = "unit") -> Any:
    if not unit_id:
        return qs
    unit = Unit.objects.filter(pk=unit_id).first()
    return qs.filter(**{f"{field}__path__startswith": unit.path}) if unit else qs.none()


def checkin_list(*, user: Any, day: date | None = None, unit_id: int | None = None, status: str = "",
                 q: str = "", organization_id: int | None = None) -> Any:
    qs = Checkin.objects.visible_to(user, "checkins.view").select_related("person", "unit", "submitted_by").defer(
        *NO_PII
    )
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if day:
        qs = qs.filter(date=day)
    qs = _unit_filter(qs, unit_id)
    if status == "abnormal":
        qs = qs.filter(abnormal=True)
    elif status == "normal":
        qs = qs.filter(abnormal=False)
    elif status == "proxy":
        qs = qs.filter(proxy=True)
    if q:
        qs = qs.filter(person__name__contains=q.strip())
    return qs


def flag_list(*, user: Any, state: str = "open", q: str = "", organization_id: int | None = None) -> Any:
    qs = SymptomFlag.objects.visible_to(user, "health.flags").select_related("person", "person__unit", "cleared_by").defer(
        *NO_PII
    )
    if organization_id:
        qs = qs.filter(person__organization_id=organization_id)
    if state == "open":
        qs = qs.filter(cleared_at__isnull=True)
    elif state == "cleared":
        qs = qs.filter(cleared_at__isnull=False)
    if q:
        qs = qs.filter(person__name__contains=q.strip())
    return qs


def absence_list(*, user: Any, state: str = "open", unit_id: int | None = None, q: str = "",
                 organization_id: int | None = None) -> Any:
    qs = Absence.objects.visible_to(user, "checkins.view").select_related("person", "unit").defer(*NO_PII)
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if state == "open":
        qs = qs.filter(returned_on__isnull=True)
    elif state == "returned":
        qs = qs.filter(returned_on__isnull=False)
    qs = _unit_filter(qs, unit_id)
    if q:
        qs = qs.filter(person__name__contains=q.strip())
    return qs


def cluster_list(*, user: Any, state: str = "", organization_id: int | None = None) -> Any:
    qs = ClusterWarning.objects.visible_to(user, "checkins.view").select_related("unit").prefetch_related(
        Prefetch("people", queryset=Person.objects.only("id", "name"))
    )
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if state:
        qs = qs.filter(status=state)
    return qs


def integrity_list(*, user: Any, state: str = "open", reason: str = "", organization_id: int | None = None) -> Any:
    qs = IntegrityFlag.objects.visible_to(user, "checkins.view").select_related("person", "unit").defer(*NO_PII)
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if state == "open":
        qs = qs.filter(resolved_at__isnull=True)
    elif state == "resolved":
        qs = qs.filter(resolved_at__isnull=False)
    if reason:
        qs = qs.filter(reason=reason)
    return qs


def fever_threshold_for(organization_id: int) -> Any:
    """The organisation's fever threshold (℃, a Decimal) as its check-in settings define it: the lowest of its
    active settings (a fever under any of them is a fever), else the default 37.3 ℃. Read-only; other apps (the
    entry decision at the gate) read it here so the number is configured once."""
    from fangkong.health.models import CheckinSetting
    from fangkong.health.services import active_settings

    thresholds = [s.fever_threshold for s in active_settings(organization_id) if s.fever_threshold is not None]
    return min(thresholds) if thresholds else CheckinSetting._meta.get_field("fever_threshold").default
