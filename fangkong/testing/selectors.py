"""Reads: programme completion per day, overdue tests, samples, findings, vaccination coverage and the unvaccinated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext

from fangkong.obligations.models import Obligation
from fangkong.people.models import Person
from fangkong.tenancy.unit_names import unit_full_names
from fangkong.testing import rules
from fangkong.testing.models import PositiveFinding, Sample, TestProgram, Vaccination
from fangkong.testing.services import complete_doses, unvaccinated_q

TEST_KINDS = ("test_nat", "test_antigen", "test_antibody")


def program_list(*, user: Any, organization_id: int | None = None, q: str = "") -> QuerySet[TestProgram]:
    qs = TestProgram.objects.visible_to(user, "tests.view").select_related("unit", "organization")
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs


@dataclass
class DayCompletion:
    day: date
    expected: int
    done: int
    waived: int

    @property
    def rate(self) -> float:
        base = self.expected - self.waived
        return round(100.0 * self.done / base, 1) if base > 0 else 100.0


def program_completion(*, program: TestProgram, days: int = 7, until: date | None = None) -> list[DayCompletion]:
    """Per day: obligations the programme generated, how many were fulfilled — one grouped query."""
    until = until or date.today()
    since = until - timedelta(days=days - 1)
    rows = (
        Obligation.objects.filter(organization_id=program.organization_id, source=program.source,
                                  day__gte=since, day__lte=until)
        .values("day")
        .annotate(expected=Count("id"), done=Count("id", filter=Q(status=Obligation.Status.FULFILLED)),
                  waived=Count("id", filter=Q(status=Obligation.Status.WAIVED)))
        .order_by("-day")
    )
    return [DayCompletion(r["day"], r["expected"], r["done"], r["waived"]) for r in rows]


def overdue_tests(*, user: Any, organization_id: int | None = None, unit_path: str = "",
                  today: date | None = None) -> QuerySet[Obligation]:
    """Open test obligations whose window has passed (status overdue, or still due with the deadline gone)."""
    from django.utils import timezone

    qs = Obligation.objects.visible_to(user, "tests.view").filter(kind__in=TEST_KINDS).filter(
        Q(status=Obligation.Status.OVERDUE) | Q(status=Obligation.Status.DUE, due_until__lte=timezone.now())
    ).select_related("person", "unit")
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if unit_path:
        qs = qs.filter(unit__path__startswith=unit_path)
    return qs.order_by("due_until", "id")


def sample_list(*, user: Any, organization_id: int | None = None, q: str = "", state: str = "") -> QuerySet[Sample]:
    qs = Sample.objects.visible_to(user, "tests.view").select_related("result").annotate(n=Count("members")).order_by("-sampled_at", "-id")
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if q:
        qs = qs.filter(tube_code__icontains=q)
    if state == "pending":
        qs = qs.filter(result__isnull=True)
    elif state in ("negative", "positive", "invalid"):
        qs = qs.filter(result__result=state)
    return qs


def finding_list(*, user: Any, organization_id: int | None = None, status: str = "open") -> QuerySet[PositiveFinding]:
    qs = PositiveFinding.objects.visible_to(user, "tests.view").select_related("person", "sample", "person__unit")
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def open_findings_for_tracing(*, organization_id: int | None = None) -> QuerySet[PositiveFinding]:
    """The hook for tracing: positive single-tube results not yet turned into a case (mark them case_proposed)."""
    qs = PositiveFinding.objects.filter(status=PositiveFinding.Status.OPEN).select_related("person", "sample")
    return qs.filter(organization_id=organization_id) if organization_id else qs


# ----- vaccination --------------------------------------------------------------------------------------------------

GROUPS = {
    "unit": ("unit_id", "unit__name"),
    "organization": ("organization_id", "organization__name"),
    "jurisdiction": ("organization__jurisdiction_id", "organization__jurisdiction__name"),
}


@dataclass
class Coverage:
    key: int | None
    name: str
    people: int
    vaccinated: int  # at least one dose
    complete: int  # complete course or more
    booster: int

    @property
    def unvaccinated(self) -> int:
        return self.people - self.vaccinated

    def rate(self, what: str) -> float:
        return round(100.0 * getattr(self, what) / self.people, 1) if self.people else 0.0

    @property
    def vaccinated_rate(self) -> float:
        return self.rate("vaccinated")

    @property
    def complete_rate(self) -> float:
        return self.rate("complete")

    @property
    def booster_rate(self) -> float:
        return self.rate("booster")


def coverage(*, user: Any, by: str = "unit", organization_id: int | None = None,
             unit_path: str = "") -> list[Coverage]:
    """Coverage of the people in scope, grouped by unit, organisation or jurisdiction: ONE aggregate query over
    people LEFT JOIN their vaccination summary, grouped by the person's own column (unit_id or organization_id),
    then the group names — a few hundred rows — in a second query.

    At a city's size (bench/testing_scale.py, 1,000,000 people) the plan that wins is a merge join of two
    index-only scans in person-id order: people's partial covering index (id) INCLUDE (organization_id, unit_id)
    WHERE is_active and the summary's (person_id) INCLUDE (doses) (migration testing 0002). The planner prefers a
    hash join of the million rows by its cost model, which measured 1.8× slower on the 2-core machine, and JIT
    compilation adds ~0.2 s to a query that runs once: both are switched off for this one transaction.
    """
    from django.db import connection, transaction

    from fangkong.tenancy.models import Organization

    if by not in GROUPS:
        by = "unit"
    column = "unit_id" if by == "unit" else "organization_id"
    full = complete_doses()
    qs = Person.objects.visible_to(user, "vaccinations.view").filter(is_active=True)
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if unit_path:
        qs = qs.filter(unit__path__startswith=unit_path)
    grouped = (
        qs.order_by().values(column)
        .annotate(
            people=Count("id"),
            vaccinated=Count("id", filter=Q(vaccination_state__doses__gte=1)),
            complete=Count("id", filter=Q(vaccination_state__doses__gte=full)),
            booster=Count("id", filter=Q(vaccination_state__doses__gt=full)),
        )
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_hashjoin = off")
                cursor.execute("SET LOCAL jit = off")
        rows = list(grouped)
    # Roll the groups up to the level asked for and name them: units or organisations (with their jurisdiction).
    if by == "unit":
        names = unit_full_names(r[column] for r in rows)  # '一车间/甲班': several workshops have a 甲班
        keyed = [(r[column], names.get(r[column], ""), r) for r in rows]
    else:
        orgs = {o[0]: o[1:] for o in Organization.objects.filter(pk__in=[r[column] for r in rows]).values_list(
            "id", "name", "jurisdiction_id", "jurisdiction__name")}
        if by == "organization":
            keyed = [(r[column], orgs.get(r[column], ("",))[0], r) for r in rows]
        else:
            keyed = [(orgs.get(r[column], ("", None, ""))[1], orgs.get(r[column], ("", None, ""))[2] or "", r)
                     for r in rows]
    merged: dict[Any, Coverage] = {}
    for key, name, r in keyed:
        c = merged.setdefault(key, Coverage(key, name or "", 0, 0, 0, 0))
        c.people += r["people"]
        c.vaccinated += r["vaccinated"]
        c.complete += r["complete"]
        c.booster += r["booster"]
    return sorted(merged.values(), key=lambda c: (c.name == "", c.name, c.key or 0))


def coverage_total(rows: list[Coverage]) -> Coverage:
    return Coverage(None, gettext("合计"), sum(r.people for r in rows), sum(r.vaccinated for r in rows),
                    sum(r.complete for r in rows), sum(r.booster for r in rows))


def unvaccinated(*, user: Any, organization_id: int | None = None, unit_path: str = "", q: str = "",
                 post_only: bool = False) -> QuerySet[Person]:
    """Seed 000 (应种尽种): people in scope with no dose, for mobilisation; contraindicated people are marked."""
    qs = (Person.objects.visible_to(user, "vaccinations.view").filter(is_active=True).filter(unvaccinated_q())
          .select_related("unit").annotate(contra=Count("contraindications")).order_by("name_sort", "id"))
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if unit_path:
        qs = qs.filter(unit__path__startswith=unit_path)
    if q:
        qs = qs.filter(name__icontains=q)
    if post_only:
        qs = qs.filter(post_category__in=rules.RESTRICTED_POSTS)
    return qs


def vaccinations_of(*, user: Any, person: Person) -> QuerySet[Vaccination]:
    return Vaccination.objects.visible_to(user, "vaccinations.view").filter(person=person).order_by("dose_number")
