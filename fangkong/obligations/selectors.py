"""Reads over obligations: lists with filters and compliance figures by unit and by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext

from fangkong.obligations.models import Obligation
from fangkong.tenancy.models import Unit


@dataclass
class UnitCompliance:
    unit_id: int | None
    name: str
    path: str
    expected: int
    done: int
    missing: int
    abnormal: int
    waived: int

    @property
    def rate(self) -> float:
        return round(100.0 * self.done / self.expected, 1) if self.expected else 100.0


def obligation_list(
    *, user: Any, organization_id: int | None = None, status: str = "", kind: str = "", unit_id: int | None = None,
    day: date | None = None, person_id: int | None = None, perm: str = "obligations.view",
) -> Any:
    # Lists show names only: never load (and decrypt) the people's ID and phone numbers.
    qs = Obligation.objects.visible_to(user, perm).select_related("person", "unit").defer(
        "person__id_number", "person__phone"
    )
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    if status == "open":
        qs = qs.open()
    elif status == "abnormal":
        qs = qs.filter(abnormal=True)
    elif status:
        qs = qs.filter(status=status)
    if kind:
        # "checkin" covers the slot kinds (checkin_morning …) too.
        qs = qs.filter(Q(kind=kind) | Q(kind__startswith=kind + "_"))
    if unit_id:
        unit = Unit.objects.filter(pk=unit_id).first()
        qs = qs.filter(unit__path__startswith=unit.path) if unit else qs.none()
    if day:
        qs = qs.filter(day=day)
    if person_id:
        qs = qs.filter(person_id=person_id)
    return qs


def compliance_by_unit(
    *, user: Any, day: date, kind: str, organization_id: int | None = None, unit_id: int | None = None,
    perm: str = "compliance.view",
) -> list[UnitCompliance]:
    """Per unit: expected (all but waived), done, missing (due or overdue) and abnormal, in one GROUP BY."""
    qs = obligation_list(
        user=user, organization_id=organization_id, kind=kind, unit_id=unit_id, day=day, perm=perm
    ).select_related(None).defer(None)
    rows = (
        qs.order_by()
        .values("unit_id")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=Obligation.Status.FULFILLED)),
            missing=Count("id", filter=Q(status__in=[Obligation.Status.DUE, Obligation.Status.OVERDUE])),
            waived=Count("id", filter=Q(status=Obligation.Status.WAIVED)),
            abnormal=Count("id", filter=Q(abnormal=True)),
        )
    )
    rows = list(rows)
    units = {u.pk: u for u in Unit.objects.filter(pk__in=[r["unit_id"] for r in rows if r["unit_id"]])}
    out = []
    for r in rows:
        unit = units.get(r["unit_id"])
        out.append(UnitCompliance(
            unit_id=r["unit_id"], name=unit.name if unit else gettext("（未分配部门）"), path=unit.path if unit else "~",
            expected=r["total"] - r["waived"], done=r["done"], missing=r["missing"], abnormal=r["abnormal"],
            waived=r["waived"],
        ))
    return sorted(out, key=lambda c: c.path)


def compliance_by_day(
    *, user: Any, start: date, end: date, kind: str, organization_id: int | None = None,
    perm: str = "compliance.view",
) -> list[dict[str, Any]]:
    """Per day between start and end (inclusive): expected, done, missing, abnormal."""
    qs = obligation_list(user=user, organization_id=organization_id, kind=kind, perm=perm).filter(
        day__gte=start, day__lte=end
    )
    rows = (
        qs.select_related(None).defer(None).order_by("day").values("day")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(status=Obligation.Status.FULFILLED)),
            missing=Count("id", filter=Q(status__in=[Obligation.Status.DUE, Obligation.Status.OVERDUE])),
            waived=Count("id", filter=Q(status=Obligation.Status.WAIVED)),
            abnormal=Count("id", filter=Q(abnormal=True)),
        )
    )
    return [
        {"day": r["day"], "expected": r["total"] - r["waived"], "done": r["done"], "missing": r["missing"],
         "abnormal": r["abnormal"]}
        for r in rows
    ]
