"""Reads of entry control: the scan log, occupancy across venues, visits waiting for a host."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from fangkong.access.models import Scan, Venue, Visit

# The days a list can be filtered by: around the first and the last day a date can name, a day's bounds (and their
# UTC equivalents, which SQLite stores) fall outside what a datetime holds.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
# Ids in a query string beyond the databases' integer range name no row: they become this id, which matches none
# (rather than an OverflowError when the value is handed to the database).
ID_MAX = 2**63 - 1
NO_ID = -1


def day_in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def query_id(value: str | None) -> int | None:
    """An id typed into a query string: None when it is not a number (the filter is ignored), NO_ID when it is
    beyond any stored id (the filter matches nothing, as for an unknown id)."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= ID_MAX else NO_ID


def stored_id(value: int | None) -> int | None:
    """An id the API parsed as an integer: beyond any stored id it matches nothing, like an unknown id."""
    return value if value is None or abs(value) <= ID_MAX else NO_ID


def day_bounds(day: date) -> tuple[datetime, datetime]:
    if not day_in_range(day):
        raise ValueError(f"day out of range: {day}")
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def scan_list(*, user: Any, venue_id: int | None = None, person_id: int | None = None,
              start: datetime | None = None, end: datetime | None = None, day: date | None = None,
              decision: str = "", organization_id: int | None = None) -> QuerySet[Scan]:
    # The log never shows ID numbers or phones: leave the encrypted columns unread (and undecrypted).
    qs = (Scan.objects.visible_to(user, "scans.view").select_related("venue", "person")
          .defer("person__id_number", "person__phone"))
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if venue_id:
        qs = qs.filter(venue_id=venue_id)
    if person_id:
        qs = qs.filter(person_id=person_id)
    if day:
        start, end = day_bounds(day)
    if start:
        qs = qs.filter(at__gte=start)
    if end:
        qs = qs.filter(at__lt=end)
    if decision in ("admit", "refuse"):
        qs = qs.filter(decision=decision)
    return qs.order_by("-at", "-id")


def occupancy_by_venue(venues: QuerySet[Venue], now: datetime | None = None) -> dict[int, int]:
    """{venue id: people inside} for many venues in one query (open entries younger than the longest stay)."""
    now = now or timezone.now()
    longest = max((v.max_stay_minutes for v in venues), default=0)
    rows = (
        Scan.objects.filter(venue__in=venues, direction="entry", decision="admit", left_at__isnull=True,
                            at__gte=now - timedelta(minutes=longest), at__lte=now)
        .values("venue_id", "at", "venue__max_stay_minutes")
    )
    counts: dict[int, int] = {}
    for row in rows:
        if row["at"] >= now - timedelta(minutes=row["venue__max_stay_minutes"]):
            counts[row["venue_id"]] = counts.get(row["venue_id"], 0) + 1
    return counts


def pending_visits_for(user: Any) -> QuerySet[Visit]:
    """Visits waiting for a decision that this user may take: as an approver in scope, or as the host."""
    approver = Visit.objects.visible_to(user, "visits.approve")
    hosted = Q(host__user=user)
    return (Visit.objects.filter(Q(pk__in=approver.values("pk")) | hosted)
            .filter(status=Visit.Status.PENDING).select_related("visitor", "host"))


def refused_today(*, organization_id: int) -> dict[str, int]:
    start, end = day_bounds(timezone.localdate())
    qs = Scan.objects.filter(organization_id=organization_id, at__gte=start, at__lt=end)
    return qs.aggregate(total=Count("id"), refused=Count("id", filter=Q(decision="refuse")))
