"""Check-ins of people absent through illness are waived, not missed.

A person on sick leave (an open `Absence`) is followed up daily by the unit instead of checking in (seed 001, school
section: 因病缺勤追踪). Without this, every absent person would turn overdue at the deadline, remind themselves and
their leader, and count as "missing" on the compliance page. The waiver names the absence, so the obligation list
still shows why nobody checked in.

It runs when an absence is registered (for its days up to today), right after each day's generation, and in the
overdue sweep before deadlines are applied (covering absences registered between the two).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from fangkong.health.models import Absence
from fangkong.obligations.models import Obligation
from fangkong.obligations.services import OPEN, obligations_waive_bulk

CHECKIN_KINDS = Q(kind__startswith="checkin")


def open_absences_on(day: date) -> Any:
    """Absences that cover `day`: started on or before it and not returned by it."""
    return Absence.objects.filter(started_on__lte=day).filter(Q(returned_on__isnull=True) | Q(returned_on__gt=day))


def waiver_reason(absence: Absence) -> str:
    return f"因病缺勤（{absence.reason}，{absence.started_on} 起），改为每日随访"


def checkins_waive_for_absence(*, absence: Absence, actor: Any = None, until: date | None = None) -> int:
    """Waive the open check-in obligations of one absence, from its first day up to `until` (default today)."""
    until = until or timezone.localdate()
    last = min(until, absence.returned_on - timedelta(days=1)) if absence.returned_on else until
    if last < absence.started_on:
        return 0
    obligations = Obligation.objects.filter(
        CHECKIN_KINDS, person_id=absence.person_id, day__gte=absence.started_on, day__lte=last, status__in=OPEN,
    )
    return obligations_waive_bulk(obligations=obligations, reason=waiver_reason(absence), actor=actor)


def checkins_waive_for_day(*, day: date | None = None, actor: Any = None) -> int:
    """Waive the day's open check-in obligations of everyone whose absence covers it (one query to find them)."""
    day = day or timezone.localdate()
    waived = 0
    absences = open_absences_on(day).order_by("person_id", "-started_on")
    seen: set[int] = set()
    person_ids = Obligation.objects.filter(
        CHECKIN_KINDS, day=day, status__in=OPEN, person_id__in=absences.values("person_id"),
    ).values_list("person_id", flat=True).distinct()
    wanted = set(person_ids)
    if not wanted:
        return 0
    for absence in absences.filter(person_id__in=wanted):
        if absence.person_id in seen:
            continue
        seen.add(absence.person_id)
        waived += checkins_waive_for_absence(absence=absence, actor=actor, until=day)
    return waived
