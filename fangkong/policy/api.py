"""API for risk areas, stays, travel requests and policies (the what-if tester included)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language, gettext
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangkong.core.access import api_permission
from fangkong.people.models import Person
from fangkong.policy import rules, selectors, services
from fangkong.policy.models import Policy, RiskArea, Stay, TravelRequest
from fangkong.tenancy.scope import jurisdiction_scope_q

router = Router(tags=["policy"])

Level = Literal["high", "medium", "low"]


# --- shared shapes ----------------------------------------------------------------------------------------------


class StayIn(Schema):
    region_code: str
    locality: str = ""
    from_date: date
    to_date: date


class StayOut(Schema):
    id: int
    region_code: str
    region_name: str
    locality: str
    from_date: date
    to_date: date
    source: str
    arrival_id: int | None


class TestOut(Schema):
    __test__ = False
    kind: str
    day: int | None = None
    due_date: date


class PolicyRef(Schema):
    number: str
    clause: str


class DecisionOut(Schema):
    rule_key: str
    kind: str
    start_date: date
    end_date: date | None
    tests: list[TestOut]
    followups: list[str]
    policy: PolicyRef
    explanation: str
    explanation_en: str
    matched: str


class DecisionsOut(Schema):
    decisions: list[DecisionOut]


def decision_out(d: Any) -> dict[str, Any]:
    english = (get_language() or "zh-hans").lower().startswith("en")
    return {
        "rule_key": d.rule_key, "kind": d.measure_kind, "start_date": d.start_date, "end_date": d.end_date,
        "tests": [{"kind": t.kind, "day": t.day, "due_date": t.due_date} for t in d.tests],
        "followups": [str(f) for f in d.followups], "policy": {"number": d.policy_number, "clause": d.clause},
        "explanation": d.explanation_en if english else d.explanation_zh, "explanation_en": d.explanation_en,
        "matched": d.matched,
    }


def stay_out(s: Stay) -> dict[str, Any]:
    return {"id": s.pk, "region_code": s.region_id, "region_name": s.region.full_name, "locality": s.locality,
            "from_date": s.from_date, "to_date": s.to_date, "source": s.source, "arrival_id": s.arrival_id}


def person_or_404(request: HttpRequest, person_id: int, perm: str) -> Person:
    return get_object_or_404(Person.objects.visible_to(request.user, perm).select_related("organization"),
                             pk=person_id)


# --- risk areas -------------------------------------------------------------------------------------------------


class RiskAreaIn(Schema):
    region_code: str
    locality: str = ""
    level: Level
    effective_from: date
    effective_until: date | None = None
    source: str = ""
    jurisdiction_id: int | None = None


class RiskAreaOut(Schema):
    id: int
    region_code: str
    region_name: str
    locality: str
    level: str
    effective_from: date
    effective_until: date | None
    jurisdiction_id: int
    jurisdiction: str
    source: str
    supersedes_id: int | None
    created_at: datetime


class LevelChangeIn(Schema):
    level: Level
    effective_from: date
    source: str = ""


class EndIn(Schema):
    ended_on: date
    source: str = ""


def area_out(a: RiskArea) -> dict[str, Any]:
    return {
        "id": a.pk, "region_code": a.region_id, "region_name": a.region.full_name, "locality": a.locality,
        "level": a.level, "effective_from": a.effective_from, "effective_until": a.effective_until,
        "jurisdiction_id": a.jurisdiction_id, "jurisdiction": a.jurisdiction.name, "source": a.source,
        "supersedes_id": a.supersedes_id, "created_at": a.created_at,
    }


def _area_for_change(request: HttpRequest, area_id: int) -> RiskArea:
    """Officers change only the areas their own jurisdiction (or one below) announced; others get 404."""
    qs = RiskArea.objects.filter(jurisdiction_scope_q(request.user, "riskareas.change", field_prefix="jurisdiction"))
    return get_object_or_404(qs.select_related("jurisdiction", "region"), pk=area_id)


@router.post("/risk-areas", response={201: RiskAreaOut}, summary="Announce a risk area for the caller's jurisdiction")
@api_permission("riskareas.change")
def announce_area(request: HttpRequest, data: RiskAreaIn) -> Status:
    jurisdiction = selectors.jurisdiction_for(request.user, "riskareas.change", data.jurisdiction_id)
    if jurisdiction is None:
        raise HttpError(400, gettext("请指定发布的防控办（jurisdiction_id），且须在您的辖区内"))
    area = services.risk_area_announce(
        jurisdiction=jurisdiction, region_code=data.region_code, locality=data.locality, level=data.level,
        effective_from=data.effective_from, effective_until=data.effective_until, source=data.source,
        actor=request.user,
    )
    return Status(201, area_out(area))


@router.get("/risk-areas", response=list[RiskAreaOut], summary="Risk areas in force on a date (default today)")
@api_permission("riskareas.view")
def list_areas(request: HttpRequest, as_of: date | None = None, level: Level | None = None,
               region_code: str = "") -> list[dict[str, Any]]:
    from django.utils import timezone

    qs = RiskArea.objects.visible_to(request.user, "riskareas.view").as_of(as_of or timezone.localdate())
    if level:
        qs = qs.filter(level=level)
    if region_code:
        qs = qs.filter(region__code__startswith=region_code)
    return [area_out(a) for a in qs.select_related("region", "jurisdiction")[:2000]]


@router.get("/risk-areas/{area_id}/history", response=list[RiskAreaOut], summary="One area's records, newest first")
@api_permission("riskareas.view")
def area_history(request: HttpRequest, area_id: int) -> list[dict[str, Any]]:
    area = get_object_or_404(RiskArea.objects.visible_to(request.user, "riskareas.view"), pk=area_id)
    latest = area
    while (nxt := RiskArea.objects.filter(supersedes=latest).first()) is not None:
        latest = nxt
    return [area_out(a) for a in latest.chain()]


@router.post("/risk-areas/{area_id}/level", response={201: RiskAreaOut}, summary="Raise or lower from a date")
@api_permission("riskareas.change")
def change_level(request: HttpRequest, area_id: int, data: LevelChangeIn) -> Status:
    area = _area_for_change(request, area_id)
    new = services.risk_area_change_level(area=area, level=data.level, effective_from=data.effective_from,
                                          source=data.source, actor=request.user)
    return Status(201, area_out(new))


@router.post("/risk-areas/{area_id}/end", response={201: RiskAreaOut}, summary="Lift an area from a date")
@api_permission("riskareas.change")
def end_area(request: HttpRequest, area_id: int, data: EndIn) -> Status:
    area = _area_for_change(request, area_id)
    new = services.risk_area_end(area=area, ended_on=data.ended_on, source=data.source, actor=request.user)
    return Status(201, area_out(new))


# --- stays ------------------------------------------------------------------------------------------------------


@router.post("/people/{person_id}/stays", response={201: StayOut}, summary="Add a stay (旅居史) to a person")
@api_permission("stays.change")
def add_stay(request: HttpRequest, person_id: int, data: StayIn) -> Status:
    person = person_or_404(request, person_id, "stays.change")
    stay = services.stay_add(person=person, region_code=data.region_code, locality=data.locality,
                             from_date=data.from_date, to_date=data.to_date, actor=request.user)
    return Status(201, stay_out(stay))


@router.get("/people/{person_id}/stays", response=list[StayOut], summary="A person's stays, latest first")
@api_permission("people.view")
def list_stays(request: HttpRequest, person_id: int) -> list[dict[str, Any]]:
    person = person_or_404(request, person_id, "people.view")
    return [stay_out(s) for s in Stay.objects.filter(person=person).select_related("region")]


# --- travel requests --------------------------------------------------------------------------------------------


class TravelIn(Schema):
    person_id: int | None = None
    destination_code: str
    locality: str = ""
    from_date: date
    to_date: date
    companions: str = ""
    purpose: str


class TravelPatch(Schema):
    destination_code: str | None = None
    locality: str | None = None
    from_date: date | None = None
    to_date: date | None = None
    companions: str | None = None
    purpose: str | None = None


class TravelOut(Schema):
    id: int
    person_id: int
    person_name: str
    destination_code: str
    destination_name: str
    locality: str
    from_date: date
    to_date: date
    companions: str
    purpose: str
    status: str
    reason: str
    decided_at: datetime | None
    arrival_id: int | None


class DecideIn(Schema):
    reason: str = ""


class ReturnIn(Schema):
    returned_on: date
    stays: list[StayIn] = []


def travel_out(t: TravelRequest) -> dict[str, Any]:
    return {
        "id": t.pk, "person_id": t.person_id, "person_name": t.person.name, "destination_code": t.destination_id,
        "destination_name": t.destination.full_name, "locality": t.locality, "from_date": t.from_date,
        "to_date": t.to_date, "companions": t.companions, "purpose": t.purpose, "status": t.status,
        "reason": t.reason, "decided_at": t.decided_at, "arrival_id": t.arrival_id,
    }


def travel_visible(request: HttpRequest) -> Any:
    """Own requests (a member's) and those of the people the caller may approve: what the caller may read.

    Changing, withdrawing and reporting the return are the requester's alone; the services refuse anyone else (403),
    so an approver who can see a request can still only approve or refuse it.
    """
    from django.db.models import Q

    own = Q(person__user=request.user) if request.user.is_authenticated else Q(pk__in=[])
    approvable = TravelRequest.objects.visible_to(request.user, "travel.approve").values("pk")
    return TravelRequest.objects.filter(own | Q(pk__in=approvable)).select_related("person", "destination")


def _own_or_managed_person(request: HttpRequest, person_id: int | None) -> Person:
    own = Person.objects.filter(user=request.user, is_active=True).first() if request.user.is_authenticated else None
    if person_id is None or (own is not None and own.pk == person_id):
        if own is None:
            raise HttpError(400, gettext("您的账号未关联人员台账，请填写 person_id"))
        return own
    return person_or_404(request, person_id, "people.change")


@router.post("/travel-requests", response={201: TravelOut}, summary="Request to leave the city (own or for a person)")
@api_permission("travel.request")
def create_travel(request: HttpRequest, data: TravelIn) -> Status:
    person = _own_or_managed_person(request, data.person_id)
    tr = services.travel_request_create(
        person=person, destination_code=data.destination_code, locality=data.locality, from_date=data.from_date,
        to_date=data.to_date, companions=data.companions, purpose=data.purpose, actor=request.user,
    )
    return Status(201, travel_out(tr))


@router.get("/travel-requests", response=list[TravelOut], summary="Own requests and those the caller may approve")
@api_permission("travel.request")
def list_travel(request: HttpRequest, status: str = "") -> list[dict[str, Any]]:
    qs = travel_visible(request)
    if status:
        qs = qs.filter(status=status)
    return [travel_out(t) for t in qs[:500]]


@router.get("/travel-requests/{request_id}", response=TravelOut)
@api_permission("travel.request")
def get_travel(request: HttpRequest, request_id: int) -> dict[str, Any]:
    return travel_out(get_object_or_404(travel_visible(request), pk=request_id))


@router.patch("/travel-requests/{request_id}", response=TravelOut,
              summary="Change a request still waiting (the requester only)")
@api_permission("travel.request")
def patch_travel(request: HttpRequest, request_id: int, data: TravelPatch) -> dict[str, Any]:
    tr = get_object_or_404(travel_visible(request), pk=request_id)
    tr = services.travel_request_update(request=tr, actor=request.user, **data.dict(exclude_unset=True))
    return travel_out(tr)


@router.delete("/travel-requests/{request_id}", response={204: None},
               summary="Withdraw a request still waiting (the requester only); it is kept with status withdrawn")
@api_permission("travel.request")
def delete_travel(request: HttpRequest, request_id: int) -> Status:
    tr = get_object_or_404(travel_visible(request), pk=request_id)
    services.travel_request_withdraw(request=tr, actor=request.user)
    return Status(204, None)


@router.post("/travel-requests/{request_id}/approve", response=TravelOut)
@api_permission("travel.approve")
def approve_travel(request: HttpRequest, request_id: int, data: DecideIn) -> dict[str, Any]:
    tr = get_object_or_404(TravelRequest.objects.visible_to(request.user, "travel.approve"), pk=request_id)
    return travel_out(services.travel_request_approve(request=tr, reason=data.reason, actor=request.user))


@router.post("/travel-requests/{request_id}/refuse", response=TravelOut)
@api_permission("travel.approve")
def refuse_travel(request: HttpRequest, request_id: int, data: DecideIn) -> dict[str, Any]:
    tr = get_object_or_404(TravelRequest.objects.visible_to(request.user, "travel.approve"), pk=request_id)
    return travel_out(services.travel_request_refuse(request=tr, reason=data.reason, actor=request.user))


@router.post("/travel-requests/{request_id}/return", response=DecisionsOut,
             summary="Return report (the requester only): becomes an arrival with its stays; returns the decisions")
@api_permission("travel.request")
def return_travel(request: HttpRequest, request_id: int, data: ReturnIn) -> dict[str, Any]:
    tr = get_object_or_404(travel_visible(request), pk=request_id)
    result = services.travel_request_return(request=tr, returned_on=data.returned_on,
                                            stays=[s.dict() for s in data.stays], actor=request.user)
    return {"decisions": [decision_out(d) for d in result.decisions]}


# --- policies ---------------------------------------------------------------------------------------------------


class WhatIfIn(Schema):
    evaluation_date: date
    arrived_on: date | None = None
    stays: list[StayIn] = []
    flags: dict[str, Any] = {}


class RuleOut(Schema):
    id: int
    key: str
    clause: str
    sentence: str
    enabled: bool
    local_setting: bool
    note: str


class PolicyOut(Schema):
    id: int
    title: str
    number: str
    issuer: str
    jurisdiction_id: int
    effective_from: date
    effective_until: date | None
    pack_key: str
    rules: list[RuleOut]


class ActivationIn(Schema):
    enabled: bool
    jurisdiction_id: int | None = None


def policy_out(p: Policy) -> dict[str, Any]:
    lang = "en" if (get_language() or "").lower().startswith("en") else "zh"
    return {
        "id": p.pk, "title": p.title, "number": p.number, "issuer": p.issuer, "jurisdiction_id": p.jurisdiction_id,
        "effective_from": p.effective_from, "effective_until": p.effective_until, "pack_key": p.pack_key,
        "rules": [{"id": r.pk, "key": r.key, "clause": r.clause, "enabled": r.enabled,
                   "local_setting": r.local_setting, "note": r.note,
                   "sentence": rules.describe_rule(rules.rule_from_dict(selectors.rule_dict(r)), lang)}
                  for r in p.rules.all()],
    }


@router.post("/policy/evaluate", response=DecisionsOut,
             summary="What-if: decisions for the given stays and flags under the caller's policies; stores nothing")
@api_permission("policy.view")
def what_if(request: HttpRequest, data: WhatIfIn) -> dict[str, Any]:
    jurisdiction = selectors.jurisdiction_for(request.user, "policy.view")
    if jurisdiction is None:
        raise HttpError(400, gettext("您的账号不属于任何防控办或单位，无法确定适用的政策"))
    checked = services.stays_validate(person=None, stays=[s.dict() for s in data.stays],
                                      today=max(data.evaluation_date, data.arrived_on or data.evaluation_date),
                                      arrived_on=data.arrived_on)
    flags = selectors.flags_from_dict(data.flags)
    decisions = selectors.evaluate_what_if(
        jurisdiction=jurisdiction, on=data.evaluation_date, arrived_on=data.arrived_on, flags=flags,
        stays=[rules.StayFact(region_code=s.region_code, from_date=s.from_date, to_date=s.to_date,
                              locality=s.locality) for s, _r in checked],
    )
    return {"decisions": [decision_out(d) for d in decisions]}


@router.get("/policy/policies", response=list[PolicyOut], summary="Policies of the caller's jurisdictions")
@api_permission("policy.view")
def list_policies(request: HttpRequest) -> list[dict[str, Any]]:
    qs = Policy.objects.visible_to(request.user, "policy.view").prefetch_related("rules")
    return [policy_out(p) for p in qs]


@router.post("/policy/packs/{pack_key}/install", response={201: PolicyOut}, summary="Install a built-in pack")
@api_permission("policy.change")
def install_pack(request: HttpRequest, pack_key: str, jurisdiction_id: int | None = None) -> Status:
    jurisdiction = selectors.jurisdiction_for(request.user, "policy.change", jurisdiction_id)
    if jurisdiction is None:
        raise Http404
    policy = services.policy_pack_install(pack_key=pack_key, jurisdiction=jurisdiction, actor=request.user)
    return Status(201, policy_out(policy))


@router.post("/policy/policies/{policy_id}/activation", response=PolicyOut,
             summary="Put a policy in force (or out of force) for a jurisdiction and everyone under it")
@api_permission("policy.change")
def set_activation(request: HttpRequest, policy_id: int, data: ActivationIn) -> dict[str, Any]:
    jurisdiction = selectors.jurisdiction_for(request.user, "policy.change", data.jurisdiction_id)
    if jurisdiction is None:
        raise Http404
    policy = get_object_or_404(Policy.objects.visible_to(request.user, "policy.view"), pk=policy_id)
    services.policy_activation_set(jurisdiction=jurisdiction, policy=policy, enabled=data.enabled, actor=request.user)
    return policy_out(policy)
