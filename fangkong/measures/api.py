"""API for arrivals (which run the engine) and a person's measures."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext
from ninja import Router, Schema, Status

from fangkong.core.access import api_permission
from fangkong.core.api_support import Page, paginate
from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import enumeration
from fangkong.measures import rules, selectors, services
from fangkong.measures.models import Measure, MeasureCustodian
from fangkong.policy import services as policy_services
from fangkong.policy.api import DecisionOut, PolicyRef, StayIn, decision_out, person_or_404

router = Router(tags=["measures"])


class ArrivalIn(Schema):
    arrived_on: date
    stays: list[StayIn] = []
    from_region_code: str | None = None


class ArrivalOut(Schema):
    arrival_id: int
    decisions: list[DecisionOut]
    measure_ids: list[int]


class MeasureTestOut(Schema):
    kind: str
    due_date: date


class MeasureOut(Schema):
    id: int
    kind: str
    status: str
    start_date: date
    end_date: date | None
    tests: list[MeasureTestOut]
    policy: PolicyRef
    explanation: str
    supersedes_id: int | None
    evaluation_date: date
    person_id: int
    place: str
    extended_days: int
    escalation_reason: str


def measure_out(m: Measure) -> dict[str, Any]:
    return {
        "id": m.pk, "kind": m.kind, "status": m.status, "start_date": m.start_date, "end_date": m.end_date,
        "tests": [{"kind": t.kind, "due_date": t.due_date} for t in m.tests.all()],
        "policy": {"number": m.policy_number, "clause": m.clause},
        "explanation": m.explanation,
        "supersedes_id": m.supersedes_id, "evaluation_date": m.evaluation_date, "person_id": m.person_id,
        "place": m.place, "extended_days": m.extended_days, "escalation_reason": m.escalation_reason,
    }


@router.post("/people/{person_id}/arrivals", response={201: ArrivalOut},
             summary="Record an arrival with its stays; the engine decides and the decisions become proposed measures")
@api_permission("stays.change")
def record_arrival(request: HttpRequest, person_id: int, data: ArrivalIn) -> Status:
    person = person_or_404(request, person_id, "stays.change")
    result = policy_services.arrival_record(
        person=person, arrived_on=data.arrived_on, stays=[s.dict() for s in data.stays],
        from_region_code=data.from_region_code, actor=request.user,
    )
    return Status(201, {"arrival_id": result.arrival.pk, "decisions": [decision_out(d) for d in result.decisions],
                        "measure_ids": [m.pk for m in result.measures]})


@router.get("/people/{person_id}/measures", response=list[MeasureOut], summary="A person's measures, latest first")
@api_permission("measures.view")
def list_measures(request: HttpRequest, person_id: int, status: str = "") -> list[dict[str, Any]]:
    person = person_or_404(request, person_id, "measures.view")
    qs = Measure.objects.visible_to(request.user, "measures.view").filter(person=person).prefetch_related("tests")
    if status:
        qs = qs.filter(status=status)
    return [measure_out(m) for m in qs]


@router.post("/measures/{measure_id}/confirm", response=MeasureOut,
             summary="Confirm a proposed measure; the person's current measure changes only now")
@api_permission("measures.change")
def confirm_measure(request: HttpRequest, measure_id: int) -> dict[str, Any]:
    measure = get_object_or_404(Measure.objects.visible_to(request.user, "measures.change"), pk=measure_id)
    return measure_out(services.measure_confirm(measure=measure, actor=request.user))


class MeasureListOut(MeasureOut):
    unit_id: int | None
    day: int
    days: int | None
    overdue_tests: int


class MeasurePage(Page):
    items: list[MeasureListOut]


def _choices(values: Any) -> str:
    """A field error listing the accepted values."""
    return gettext("可选：%(choices)s") % {"choices": enumeration(values)}


@router.get("/measures", response=MeasurePage,
            summary="Measures in the caller's scope: status (a status, or active | overdue | all), kind, unit (with "
                    "its sub-units), jurisdiction (with its sub-jurisdictions), place; day N of M and overdue tests")
@api_permission("measures.view")
def list_all_measures(
    request: HttpRequest, status: str = "all", kind: str = "", unit: int | None = None,
    jurisdiction: int | None = None, place: str = "", limit: int = 50, offset: int = 0,
) -> dict[str, Any]:
    from fangkong.tenancy.models import Jurisdiction, Unit

    status = status or "all"
    if status not in selectors.VIEWS and status not in Measure.Status.values:
        raise ServiceError(gettext("未知的状态“%(status)s”") % {"status": status}, {"status": [_choices(selectors.VIEWS)]})
    if kind and kind not in Measure.Kind.values:
        raise ServiceError(gettext("未知的措施“%(kind)s”") % {"kind": kind}, {"kind": [_choices(Measure.Kind.values)]})
    unit_path = get_object_or_404(Unit.objects.visible_to(request.user, "measures.view"), pk=unit).path \
        if unit is not None else ""
    jurisdiction_path = get_object_or_404(Jurisdiction, pk=jurisdiction).path if jurisdiction is not None else ""
    qs = selectors.measure_list(user=request.user, view=status, kind=kind, place=place, unit_path=unit_path,
                                jurisdiction_path=jurisdiction_path).prefetch_related("tests")
    items, page = paginate(qs, limit, offset)
    today = timezone.localdate()
    out = []
    for m in items:
        day, days = rules.day_of_measure(m.start_date, m.end_date, today)
        out.append({**measure_out(m), "unit_id": m.person.unit_id, "day": day, "days": days,
                    "overdue_tests": m.overdue_tests})
    return {**page, "items": out}


class CountOut(Schema):
    id: int | None
    name: str
    parent: str
    total: int
    by_kind: dict[str, int]
    other: int
    confirmed: int
    in_progress: int
    ready_for_release: int
    with_overdue_tests: int


@router.get("/measures/counts", response=list[CountOut],
            summary="Active measures (confirmed, in progress, ready for release) counted by unit, organization or "
                    "jurisdiction: per kind, per status, and how many have an overdue test")
@api_permission("measures.view")
def measure_counts(request: HttpRequest, by: str = "unit", kind: str = "", unit: int | None = None,
                   jurisdiction: int | None = None) -> list[dict[str, Any]]:
    from fangkong.tenancy.models import Jurisdiction, Unit

    if by not in selectors.GROUPS:
        raise ServiceError(gettext("未知的分组“%(by)s”") % {"by": by},
                           {"by": [_choices(("unit", "organization", "jurisdiction"))]})
    unit_path = get_object_or_404(Unit.objects.visible_to(request.user, "measures.view"), pk=unit).path \
        if unit is not None else ""
    jurisdiction_path = get_object_or_404(Jurisdiction, pk=jurisdiction).path if jurisdiction is not None else ""
    rows = selectors.measure_counts(user=request.user, by=by, kind=kind, unit_path=unit_path,
                                    jurisdiction_path=jurisdiction_path)
    return [{"id": r.key, "name": r.name, "parent": r.parent, "total": r.total, "by_kind": r.by_kind, "other": r.other,
             "confirmed": r.confirmed, "in_progress": r.in_progress, "ready_for_release": r.ready,
             "with_overdue_tests": r.with_overdue} for r in rows]


def _measure_or_404(request: HttpRequest, measure_id: int, perm: str) -> Measure:
    return get_object_or_404(Measure.objects.visible_to(request.user, perm), pk=measure_id)


class StartIn(Schema):
    place: str


class ReleaseOut(Schema):
    measure_id: int
    blockers: list[str]


class ExtendIn(Schema):
    days: int
    reason: str


class EscalateIn(Schema):
    reason: str


@router.post("/measures/{measure_id}/start", response=MeasureOut,
             summary="Start a confirmed measure at a place (a centralized site's name, or \"home\")")
@api_permission("measures.change")
def start_measure(request: HttpRequest, measure_id: int, data: StartIn) -> dict[str, Any]:
    measure = _measure_or_404(request, measure_id, "measures.change")
    return measure_out(services.measure_start(measure=measure, place=data.place, actor=request.user))


@router.get("/measures/{measure_id}/release-blockers", response=ReleaseOut,
            summary="What still stands in the way of releasing the measure today (empty: it can be released)")
@api_permission("measures.view")
def release_blockers(request: HttpRequest, measure_id: int) -> dict[str, Any]:
    measure = get_object_or_404(
        Measure.objects.visible_to(request.user, "measures.view").select_related("person"), pk=measure_id)
    return {"measure_id": measure.pk, "blockers": services.measure_release_blockers(measure=measure)}


@router.post("/measures/{measure_id}/release", response=MeasureOut,
             summary="Release the measure (the caller approves); refused (400) with the blockers in errors.release")
@api_permission("measures.release")
def release_measure(request: HttpRequest, measure_id: int) -> dict[str, Any]:
    measure = _measure_or_404(request, measure_id, "measures.release")
    return measure_out(services.measure_release(measure=measure, approver=request.user, actor=request.user))


@router.post("/measures/{measure_id}/extend", response=MeasureOut, summary="Extend the measure by some days, with a reason")
@api_permission("measures.change")
def extend_measure(request: HttpRequest, measure_id: int, data: ExtendIn) -> dict[str, Any]:
    measure = _measure_or_404(request, measure_id, "measures.change")
    return measure_out(services.measure_extend(measure=measure, days=data.days, reason=data.reason,
                                               actor=request.user))


@router.post("/measures/{measure_id}/escalate", response=MeasureOut,
             summary="Escalate (positive test, symptoms): the measure ends as escalated")
@api_permission("measures.change")
def escalate_measure(request: HttpRequest, measure_id: int, data: EscalateIn) -> dict[str, Any]:
    measure = _measure_or_404(request, measure_id, "measures.change")
    return measure_out(services.measure_escalate(measure=measure, reason=data.reason, actor=request.user))


class CustodianIn(Schema):
    role: str
    name: str
    phone: str = ""


class CustodianOut(Schema):
    id: int
    role: str
    name: str
    phone_masked: str


def custodian_out(c: MeasureCustodian) -> dict[str, Any]:
    return {"id": c.pk, "role": c.role, "name": c.name, "phone_masked": c.phone_masked}


@router.get("/measures/{measure_id}/custodians", response=list[CustodianOut],
            summary="The measure's custodians (四包一), phones masked")
@api_permission("measures.view")
def list_custodians(request: HttpRequest, measure_id: int) -> list[dict[str, Any]]:
    measure = _measure_or_404(request, measure_id, "measures.view")
    return [custodian_out(c) for c in measure.custodians.all()]


@router.post("/measures/{measure_id}/custodians", response={201: CustodianOut}, summary="Add a custodian")
@api_permission("measures.change")
def add_custodian(request: HttpRequest, measure_id: int, data: CustodianIn) -> Status:
    measure = _measure_or_404(request, measure_id, "measures.change")
    c = services.custodian_add(measure=measure, role=data.role, name=data.name, phone=data.phone, actor=request.user)
    return Status(201, custodian_out(c))


@router.delete("/measures/{measure_id}/custodians/{custodian_id}", response={204: None},
               summary="Remove a custodian")
@api_permission("measures.change")
def remove_custodian(request: HttpRequest, measure_id: int, custodian_id: int) -> Status:
    c = get_object_or_404(MeasureCustodian.objects.visible_to(request.user, "measures.change"),
                          pk=custodian_id, measure_id=measure_id)
    services.custodian_remove(custodian=c, actor=request.user)
    return Status(204, None)
