"""Reads over many measures: who is under a measure (by kind, place, unit, jurisdiction, day of measure, overdue
tests, ready for release) and counts by unit or jurisdiction. Every list is ONE query whatever its length: overdue
tests are a correlated COUNT subquery per row (backed by the obligations' (person, status, day, kind) index) and
"day N of M" is arithmetic on the row, not a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.measures import rules
from fangkong.measures.models import Measure
from fangkong.tenancy.unit_names import unit_full_names

ACTIVE = ("confirmed", "in_progress", "ready_for_release")
TEST_KINDS = ("test_nat", "test_antigen", "test_antibody")

# The list's views (tabs): which statuses each shows; "overdue" is active measures with at least one overdue test.
VIEWS: dict[str, tuple[str, ...]] = {
    "active": ACTIVE,
    "proposed": ("proposed",),
    "in_progress": ("in_progress",),
    "ready_for_release": ("ready_for_release",),
    "overdue": ACTIVE,
    "released": ("released",),
    "escalated": ("escalated",),
    "all": tuple(Measure.Status.values),
}


def _overdue_obligations(now: datetime) -> Any:
    """Open test obligations of the measure's person whose window has passed, from the measure's first day on
    (the measure's own tests, programme tests and re-tests alike: they all keep the person from release)."""
    from fangkong.obligations.models import Obligation

    return Obligation.objects.filter(
        person_id=OuterRef("person_id"), kind__in=TEST_KINDS, day__gte=OuterRef("start_date"),
    ).filter(Q(status=Obligation.Status.OVERDUE) | Q(status=Obligation.Status.DUE, due_until__lte=now))


def measure_list(
    *, user: Any, view: str = "active", kind: str = "", place: str = "", unit_path: str = "",
    jurisdiction_path: str = "", organization_id: int | None = None, q: str = "", now: datetime | None = None,
) -> QuerySet[Measure]:
    """Measures in the user's scope, each annotated with `overdue_tests` (how many of the person's test obligations
    are overdue). One query; `select_related` brings the person, unit, organisation and jurisdiction."""
    now = now or timezone.now()
    overdue = _overdue_obligations(now).order_by().values("person_id").annotate(n=Count("id")).values("n")
    qs = (Measure.objects.visible_to(user, "measures.view")
          .filter(status__in=VIEWS.get(view, (view,) if view in Measure.Status.values else ACTIVE))
          .select_related("person", "person__unit", "person__organization", "person__organization__jurisdiction")
          .annotate(overdue_tests=Coalesce(Subquery(overdue, output_field=IntegerField()), Value(0))))
    if view == "overdue":
        qs = qs.filter(Exists(_overdue_obligations(now)))
    if kind in Measure.Kind.values:
        qs = qs.filter(kind=kind)
    place = (place or "").strip()
    if place:
        qs = qs.filter(place="home") if place in ("home", "居家") else qs.filter(place__icontains=place)
    if unit_path:
        qs = qs.filter(person__unit__path__startswith=unit_path)
    if jurisdiction_path:
        qs = qs.filter(person__organization__jurisdiction__path__startswith=jurisdiction_path)
    if organization_id:
        qs = qs.filter(person__organization_id=organization_id)
    if q:
        qs = qs.filter(Q(person__name__contains=q) | Q(policy_number__contains=q) | Q(place__contains=q))
    return qs.order_by("-start_date", "-id")


def day_label(measure: Measure, today: date | None = None) -> str:
    """"第 N/M 天" (day N of M), "第 N 天" without an end, "未开始" before the first day, in the active language."""
    n, total = rules.day_of_measure(measure.start_date, measure.end_date, today or timezone.localdate())
    if n == 0:
        return gettext("未开始")
    if total:
        return gettext("第 %(n)d/%(total)d 天") % {"n": n, "total": total}
    return gettext("第 %(n)d 天") % {"n": n}


def place_label(place: str) -> str:
    """"home" in the active language; a centralized site's name (data) as it was typed."""
    return gettext("居家") if place == "home" else place


# ----- counts --------------------------------------------------------------------------------------------------------

GROUPS = {
    "unit": ("person__unit_id", "person__unit__name", "person__organization__name"),
    "organization": ("person__organization_id", "person__organization__name", None),
    "jurisdiction": ("person__organization__jurisdiction_id", "person__organization__jurisdiction__name", None),
}
COUNTED_KINDS = ("centralized_quarantine", "home_quarantine", "home_health_monitoring", "temperature_twice_daily",
                 "routine_testing")


@dataclass
class MeasureCount:
    key: int | None
    name: str
    parent: str
    total: int
    by_kind: dict[str, int]
    other: int
    confirmed: int
    in_progress: int
    ready: int
    with_overdue: int


def measure_counts(
    *, user: Any, by: str = "unit", kind: str = "", unit_path: str = "", jurisdiction_path: str = "",
    organization_id: int | None = None, now: datetime | None = None,
) -> list[MeasureCount]:
    """Active measures (confirmed, in progress, ready for release) grouped by unit, organisation or jurisdiction:
    per kind, per status, and how many have an overdue test — ONE aggregate query."""
    if by not in GROUPS:
        by = "unit"
    key, name, parent = GROUPS[by]
    now = now or timezone.now()
    qs = Measure.objects.visible_to(user, "measures.view").filter(status__in=ACTIVE)
    if kind in Measure.Kind.values:
        qs = qs.filter(kind=kind)
    if unit_path:
        qs = qs.filter(person__unit__path__startswith=unit_path)
    if jurisdiction_path:
        qs = qs.filter(person__organization__jurisdiction__path__startswith=jurisdiction_path)
    if organization_id:
        qs = qs.filter(person__organization_id=organization_id)
    fields = [key, name] + ([parent] if parent else [])
    aggregates: dict[str, Any] = {
        "total": Count("id"),
        "confirmed": Count("id", filter=Q(status="confirmed")),
        "in_progress": Count("id", filter=Q(status="in_progress")),
        "ready": Count("id", filter=Q(status="ready_for_release")),
        "with_overdue": Count("id", filter=Q(Exists(_overdue_obligations(now)))),
    }
    for k in COUNTED_KINDS:
        aggregates[f"k_{k}"] = Count("id", filter=Q(kind=k))
    rows = list(qs.order_by().values(*fields).annotate(**aggregates).order_by(*([parent] if parent else []), name))
    if by == "unit":  # '一车间/甲班': several workshops have a 甲班
        full = unit_full_names(r[key] for r in rows)
        for r in rows:
            r[name] = full.get(r[key], r[name])
        rows.sort(key=lambda r: (r[parent] or "", r[name] is None, r[name] or ""))
    out = []
    for r in rows:
        by_kind = {k: r[f"k_{k}"] for k in COUNTED_KINDS}
        out.append(MeasureCount(
            key=r[key], name=r[name] or gettext("（未分配）"), parent=(r[parent] or "") if parent else "", total=r["total"],
            by_kind=by_kind, other=r["total"] - sum(by_kind.values()), confirmed=r["confirmed"],
            in_progress=r["in_progress"], ready=r["ready"], with_overdue=r["with_overdue"]))
    return out


def counts_total(rows: list[MeasureCount]) -> MeasureCount:
    return MeasureCount(
        key=None, name=gettext("合计"), parent="", total=sum(r.total for r in rows),
        by_kind={k: sum(r.by_kind[k] for r in rows) for k in COUNTED_KINDS}, other=sum(r.other for r in rows),
        confirmed=sum(r.confirmed for r in rows), in_progress=sum(r.in_progress for r in rows),
        ready=sum(r.ready for r in rows), with_overdue=sum(r.with_overdue for r in rows))
