"""Entry-control API for gate hardware and apps: scans (one, or a batch from an offline gate), venues, visits,
vehicles. Objects outside the caller's scope are 404, including a venue named in a scan."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from ninja.responses import NinjaJSONEncoder
from pydantic import BaseModel, ValidationError

from fangkong.access import scan_fast, selectors, services, visitors
from fangkong.access.models import Scan, VehiclePass, Venue, Visit
from fangkong.core import fastsql
from fangkong.core.access import api_permission
from fangkong.core.api_support import paginate
from fangkong.core.validation_messages import pydantic_message
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization

router = Router(tags=["access"])

VenueKind = Literal["gate", "building", "canteen", "dormitory", "meeting_room", "workshop", "ward", "other"]
HealthCode = Literal["green", "yellow", "red"]


class ScanIn(BaseModel):
    """A plain pydantic model (not a Ninja Schema): a batch validates up to 1,000 of them one by one, and Ninja's
    wrapper for reading ORM objects, which input never needs, doubled the cost of each."""

    venue_id: int | None = None
    venue_token: str | None = None
    person_id: int
    direction: Literal["entry", "exit"] = "entry"
    at: datetime
    temperature: Decimal | None = None
    health_code: HealthCode | None = None
    device_id: str = ""
    client_key: str | None = None


class Reason(Schema):
    code: str
    text: str
    en: str = ""
    blocking: bool = False


class ScanOut(Schema):
    id: int
    venue_id: int
    person_id: int
    direction: str
    at: datetime
    temperature: Decimal | None
    health_code: str
    decision: str
    reasons: list[Reason]
    left_at: datetime | None
    estimated_exit: bool
    device_id: str
    client_key: str | None
    replay: bool = False


class BatchIn(Schema):
    # Items are validated one by one below, so one malformed item does not reject the whole upload.
    items: list[dict[str, Any]]


class BatchItemOut(Schema):
    index: int
    ok: bool
    id: int | None = None
    decision: str | None = None
    reasons: list[Reason] = []
    replay: bool = False
    message: str = ""
    errors: dict[str, list[str]] = {}


class BatchOut(Schema):
    stored: int
    replayed: int
    failed: int
    results: list[BatchItemOut]


class ScanPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ScanOut]


def scan_out(scan: Scan, replay: bool = False) -> dict[str, Any]:
    return {
        "id": scan.pk, "venue_id": scan.venue_id, "person_id": scan.person_id, "direction": scan.direction,
        "at": scan.at, "temperature": scan.temperature, "health_code": scan.health_code, "decision": scan.decision,
        "reasons": scan.reasons, "left_at": scan.left_at, "estimated_exit": scan.estimated_exit,
        "device_id": scan.device_id, "client_key": scan.client_key, "replay": replay,
    }


def _input(data: ScanIn) -> services.ScanInput:
    return services.ScanInput(
        person_id=data.person_id, at=data.at, venue_id=data.venue_id, venue_token=data.venue_token or "",
        direction=data.direction, temperature=data.temperature, health_code=data.health_code or "",
        device_id=data.device_id, client_key=data.client_key,
    )


def _scopes(request: HttpRequest) -> dict[str, Any]:
    # The person must belong to the venue's organisation (checked per item), so the venue scope is the gate.
    return {"venues": Venue.objects.visible_to(request.user, "scans.create"), "people": Person.objects.all()}


def scan_response(scan: Scan, replay: bool) -> HttpResponse:
    """`ScanOut` for a scan the fast path stored, rendered as Ninja renders it but without validating it against the
    schema again: every value is already the schema's type, and the reasons are `Reason`s' dicts (reasons_json).
    Validation was a sixth of the single scan's Python (bench/README.md); a test compares the bytes with Ninja's."""
    return HttpResponse(json.dumps(scan_out(scan, replay), cls=NinjaJSONEncoder), status=200 if replay else 201,
                        content_type="application/json; charset=utf-8")


@router.post("/scans", response={200: ScanOut, 201: ScanOut}, summary="Record one scan with its entry decision")
@api_permission("scans.create")
def create_scan(request: HttpRequest, data: ScanIn) -> Any:
    item = _input(data)
    common = scan_fast.scan_entry_common(item, actor=request.user, perm="scans.create")
    if common is not None:
        return scan_response(*common)
    scan, replay = services.scan_record(actor=request.user, **_scopes(request), **item.__dict__)
    return Status(200 if replay else 201, scan_out(scan, replay))


_BATCH_ITEM_DEFAULTS: dict[str, Any] = {"id": None, "decision": None, "reasons": [], "replay": False, "message": "",
                                        "errors": {}}


@router.post("/scans/batch", response=BatchOut, summary="Up to 1,000 scans from an offline gate; per-item results")
@api_permission("scans.create")
def create_scans_batch(request: HttpRequest, data: BatchIn) -> Any:
    if len(data.items) > services.BATCH_LIMIT:
        raise HttpError(400, gettext("一次最多上传 %(limit)d 条，实为 %(n)d 条，请分批上传")
                        % {"limit": services.BATCH_LIMIT, "n": len(data.items)})
    parsed: list[services.ScanInput] = []
    positions: list[int] = []
    failures: list[dict[str, Any]] = []
    for index, raw in enumerate(data.items):
        try:
            parsed.append(_input(ScanIn.model_validate(raw)))
            positions.append(index)
        except ValidationError as exc:
            errors: dict[str, list[str]] = {}
            for err in exc.errors():
                errors.setdefault(".".join(str(p) for p in err["loc"]) or "item", []).append(pydantic_message(err))
            first_field, first_msgs = next(iter(errors.items()))
            failures.append({"index": index, "ok": False, "message": gettext("第 %(n)d 条，%(field)s：%(error)s") % {
                "n": index + 1, "field": first_field, "error": first_msgs[0]},
                             "errors": errors})
    user = request.user
    # The same scopes as _scopes() gives as QuerySets, read faster (a batch names hundreds of venues and people):
    # venues from the per-process cache, people in one prepared statement.
    people: Any = scan_fast.people_for_decision if fastsql.available() else Person.objects.all()
    results = services.scans_record(
        items=parsed, actor=user, venues=lambda ids: scan_fast.venues_visible(user, "scans.create", ids),
        people=people,
    ) if parsed else []
    out = list(failures)
    for res in results:
        index = positions[res.index]
        if res.ok and res.scan is not None:
            out.append({"index": index, "ok": True, "id": res.scan.pk, "decision": res.scan.decision,
                        "reasons": res.scan.reasons, "replay": res.replay})
        else:
            out.append({"index": index, "ok": False, "message": gettext("第 %(n)d 条：%(error)s") % {"n": index + 1, "error": res.message},
                        "errors": res.errors})
    out.sort(key=lambda r: r["index"])
    out = [{**_BATCH_ITEM_DEFAULTS, **r} for r in out]
    replayed = sum(1 for r in out if r.get("replay"))
    failed = sum(1 for r in out if not r["ok"])
    body = {"stored": len(out) - failed - replayed, "replayed": replayed, "failed": failed, "results": out}
    # Built to BatchOut's shape here: validating 1,000 items again on the way out cost ~0.1 s of a batch's CPU.
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


@router.get("/scans", response=ScanPage, summary="Scans in scope, filtered by venue, person and time")
@api_permission("scans.view")
def list_scans(request: HttpRequest, venue: int | None = None, person: int | None = None,
               from_: datetime | None = None, to: datetime | None = None, limit: int = 100, offset: int = 0) -> dict:
    # `from` is a Python keyword: accept it from the query string as well as `from_`.
    raw_from = request.GET.get("from")
    if raw_from and from_ is None:
        from_ = parse_datetime(raw_from)
        if from_ is None:
            raise HttpError(400, gettext("from：无法识别的时间“%(value)s”，请用 ISO 8601 格式") % {"value": raw_from})
    for name, value in (("from", from_), ("to", to)):
        if value is not None and not selectors.day_in_range(value.date()):
            raise HttpError(400, gettext("%(field)s：时间应在 %(first)s 至 %(last)s 之间") % {
                "field": name, "first": selectors.FIRST_DAY.isoformat(), "last": selectors.LAST_DAY.isoformat()})
    qs = selectors.scan_list(user=request.user, venue_id=selectors.stored_id(venue),
                             person_id=selectors.stored_id(person), start=from_, end=to)
    items, page = paginate(qs, limit, offset, max_limit=1000)
    return {**page, "items": [scan_out(s) for s in items]}


# --- venues --------------------------------------------------------------------------------------------------------


class VenueIn(Schema):
    organization_id: int | None = None
    name: str
    kind: VenueKind = "gate"
    capacity: int | None = None
    max_stay_minutes: int = 720
    fever_threshold: Decimal | None = None
    active: bool = True


class VenuePatch(Schema):
    name: str | None = None
    kind: VenueKind | None = None
    capacity: int | None = None
    max_stay_minutes: int | None = None
    fever_threshold: Decimal | None = None
    active: bool | None = None


class VenueOut(Schema):
    id: int
    organization_id: int
    name: str
    kind: str
    capacity: int | None
    max_stay_minutes: int
    fever_threshold: Decimal | None
    code_version: int
    active: bool
    token: str


class OccupancyOut(Schema):
    venue_id: int
    inside: int
    capacity: int | None
    state: str


def venue_out(venue: Venue) -> dict[str, Any]:
    return {"id": venue.pk, "organization_id": venue.organization_id, "name": venue.name, "kind": venue.kind,
            "capacity": venue.capacity, "max_stay_minutes": venue.max_stay_minutes,
            "fever_threshold": venue.fever_threshold, "code_version": venue.code_version, "active": venue.active, "token": services.venue_token(venue)}


def _acting_org(request: HttpRequest, perm: str, organization_id: int | None) -> Organization:
    orgs = Organization.objects.visible_to(request.user, perm)
    if organization_id is None:
        membership = getattr(request, "membership", None)
        organization_id = membership.organization_id if membership else None
        if organization_id is None and orgs.count() == 1:
            organization_id = orgs.get().pk
        if organization_id is None:
            raise HttpError(400, gettext("organization_id 必填"))
    return get_object_or_404(orgs, pk=organization_id)


@router.get("/venues", response=list[VenueOut], summary="Venues in scope")
@api_permission("venues.view")
def list_venues(request: HttpRequest, organization_id: int | None = None, kind: str = "") -> list[dict]:
    qs = Venue.objects.visible_to(request.user, "venues.view")
    if organization_id:
        qs = qs.filter(organization_id=selectors.stored_id(organization_id))
    if kind:
        qs = qs.filter(kind=kind)
    return [venue_out(v) for v in qs[:2000]]


@router.post("/venues", response={201: VenueOut}, summary="Create a venue")
@api_permission("venues.change")
def create_venue(request: HttpRequest, data: VenueIn) -> Status:
    org = _acting_org(request, "venues.change", data.organization_id)
    values = data.dict()
    values.pop("organization_id")
    return Status(201, venue_out(services.venue_create(organization=org, actor=request.user, **values)))


@router.get("/venues/{venue_id}", response=VenueOut, summary="One venue")
@api_permission("venues.view")
def get_venue(request: HttpRequest, venue_id: int) -> dict:
    return venue_out(get_object_or_404(Venue.objects.visible_to(request.user, "venues.view"), pk=venue_id))


@router.patch("/venues/{venue_id}", response=VenueOut, summary="Change a venue (empty threshold: the org's)")
@api_permission("venues.change")
def update_venue(request: HttpRequest, venue_id: int, data: VenuePatch) -> dict:
    venue = get_object_or_404(Venue.objects.visible_to(request.user, "venues.change"), pk=venue_id)
    return venue_out(services.venue_update(venue=venue, actor=request.user, **data.dict(exclude_unset=True)))


@router.get("/venues/{venue_id}/occupancy", response=OccupancyOut, summary="People inside now")
@api_permission("venues.view")
def venue_occupancy(request: HttpRequest, venue_id: int) -> dict:
    venue = get_object_or_404(Venue.objects.visible_to(request.user, "venues.view"), pk=venue_id)
    inside = services.occupancy(venue)
    from fangkong.access.rules import occupancy_state

    return {"venue_id": venue.pk, "inside": inside, "capacity": venue.capacity,
            "state": occupancy_state(inside, venue.capacity)}


# --- visits --------------------------------------------------------------------------------------------------------


class VisitIn(Schema):
    organization_id: int | None = None
    host_id: int
    name: str
    id_number: str
    phone: str
    company: str = ""
    purpose: str
    starts_at: datetime
    ends_at: datetime
    places_14d: str = ""
    health_code: HealthCode | None = None


class VisitOut(Schema):
    id: int
    organization_id: int
    visitor_id: int
    visitor_name: str
    host_id: int
    host_name: str
    company: str
    purpose: str
    starts_at: datetime
    ends_at: datetime
    places_14d: str
    health_code: str
    status: str
    decision_note: str
    arrived_at: datetime | None
    walk_in: bool = False
    venue_id: int | None = None


class VisitPatch(Schema):
    host_id: int | None = None
    company: str | None = None
    purpose: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    places_14d: str | None = None
    health_code: HealthCode | None = None


class VisitDecisionIn(Schema):
    approve: bool
    note: str = ""


def visit_out(v: Visit) -> dict[str, Any]:
    return {"id": v.pk, "organization_id": v.organization_id, "visitor_id": v.visitor_id,
            "visitor_name": v.visitor.name, "host_id": v.host_id, "host_name": v.host.name, "company": v.company,
            "purpose": v.purpose, "starts_at": v.starts_at, "ends_at": v.ends_at, "places_14d": v.places_14d,
            "health_code": v.health_code, "status": v.status, "decision_note": v.decision_note,
            "arrived_at": v.arrived_at, "walk_in": v.walk_in, "venue_id": v.venue_id}


@router.get("/visits", response=list[VisitOut], summary="Visits in scope")
@api_permission("visits.view")
def list_visits(request: HttpRequest, status: str = "", limit: int = 100, offset: int = 0) -> list[dict]:
    qs = Visit.objects.visible_to(request.user, "visits.view").select_related("visitor", "host")
    if status:
        qs = qs.filter(status=status)
    items, _ = paginate(qs, limit, offset)
    return [visit_out(v) for v in items]


@router.post("/visits", response={201: VisitOut}, summary="Register a visit (approval still needed)")
@api_permission("visits.view")
def create_visit(request: HttpRequest, data: VisitIn) -> Status:
    org = _acting_org(request, "visits.view", data.organization_id)
    host = get_object_or_404(Person.objects.filter(organization=org), pk=data.host_id)
    values = data.dict()
    for key in ("organization_id", "host_id"):
        values.pop(key)
    values["health_code"] = values["health_code"] or ""
    visit = services.visit_book(organization=org, host=host, actor=request.user, **values)
    return Status(201, visit_out(visit))


class WalkInIn(Schema):
    venue_id: int
    host_id: int
    name: str
    id_number: str
    phone: str
    purpose: str
    company: str = ""
    temperature: Decimal | None = None
    health_code: HealthCode | None = None


class WalkInOut(Schema):
    visit: VisitOut | None = None
    scan: ScanOut | None = None


@router.post("/visits/walk-in", response={201: WalkInOut, 200: WalkInOut},
             summary="A visitor without an appointment at the gate: a visit waiting for the host's approval "
                     "(201), or a refusal at once for a fever or a yellow/red code (200, the scan)")
@api_permission("scans.create")
def create_walkin(request: HttpRequest, data: WalkInIn) -> Status:
    venue = get_object_or_404(Venue.objects.visible_to(request.user, "scans.create").select_related("organization"),
                              pk=data.venue_id)
    host = get_object_or_404(Person.objects.filter(organization_id=venue.organization_id), pk=data.host_id)
    result = visitors.walkin_register(
        venue=venue, host=host, name=data.name, id_number=data.id_number, phone=data.phone, purpose=data.purpose,
        company=data.company, temperature=data.temperature, health_code=data.health_code or "", actor=request.user)
    if result.scan is not None:
        return Status(200, {"visit": None, "scan": scan_out(result.scan)})
    assert result.visit is not None
    visit = Visit.objects.select_related("visitor", "host").get(pk=result.visit.pk)
    return Status(201, {"visit": visit_out(visit), "scan": None})


@router.get("/visits/{visit_id}", response=VisitOut, summary="One visit")
@api_permission("visits.view")
def get_visit(request: HttpRequest, visit_id: int) -> dict:
    qs = Visit.objects.visible_to(request.user, "visits.view").select_related("visitor", "host")
    return visit_out(get_object_or_404(qs, pk=visit_id))


@router.patch("/visits/{visit_id}", response=VisitOut, summary="Change a pending or approved visit")
@api_permission("visits.approve")
def update_visit(request: HttpRequest, visit_id: int, data: VisitPatch) -> dict:
    qs = Visit.objects.visible_to(request.user, "visits.approve").select_related("visitor", "host")
    visit = get_object_or_404(qs, pk=visit_id)
    values = data.dict(exclude_unset=True)
    if "host_id" in values:
        values["host"] = get_object_or_404(Person.objects.filter(organization_id=visit.organization_id),
                                           pk=values.pop("host_id"))
    return visit_out(visitors.visit_update(visit=visit, actor=request.user, **values))


@router.post("/visits/{visit_id}/decision", response=VisitOut, summary="Approve or refuse a visit")
@api_permission("visits.approve")
def decide_visit(request: HttpRequest, visit_id: int, data: VisitDecisionIn) -> dict:
    qs = Visit.objects.visible_to(request.user, "visits.approve").select_related("visitor", "host")
    visit = get_object_or_404(qs, pk=visit_id)
    return visit_out(services.visit_decide(visit=visit, approve=data.approve, note=data.note, actor=request.user))


@router.delete("/visits/{visit_id}", response=VisitOut, summary="Cancel a visit (kept, marked cancelled)")
@api_permission("visits.approve")
def cancel_visit(request: HttpRequest, visit_id: int) -> dict:
    qs = Visit.objects.visible_to(request.user, "visits.approve").select_related("visitor", "host")
    return visit_out(services.visit_cancel(visit=get_object_or_404(qs, pk=visit_id), actor=request.user))


# --- vehicles ------------------------------------------------------------------------------------------------------


class VehicleIn(Schema):
    organization_id: int | None = None
    plate: str
    driver_id: int
    origin: str = ""
    destination: str = ""
    cargo: str = ""
    time_in: datetime | None = None
    time_out: datetime | None = None
    disinfected: bool = False
    disinfected_by: str = ""
    disinfectant: str = ""
    disinfected_at: datetime | None = None


class VehiclePatch(Schema):
    origin: str | None = None
    destination: str | None = None
    cargo: str | None = None
    time_out: datetime | None = None
    disinfected: bool | None = None
    disinfected_by: str | None = None
    disinfectant: str | None = None
    disinfected_at: datetime | None = None


class VehicleOut(Schema):
    id: int
    organization_id: int
    plate: str
    driver_id: int
    driver_name: str
    origin: str
    destination: str
    cargo: str
    time_in: datetime
    time_out: datetime | None
    disinfected: bool
    disinfected_by: str
    disinfectant: str
    disinfected_at: datetime | None


def vehicle_out(v: VehiclePass) -> dict[str, Any]:
    return {"id": v.pk, "organization_id": v.organization_id, "plate": v.plate, "driver_id": v.driver_id,
            "driver_name": v.driver.name, "origin": v.origin, "destination": v.destination, "cargo": v.cargo,
            "time_in": v.time_in, "time_out": v.time_out, "disinfected": v.disinfected,
            "disinfected_by": v.disinfected_by, "disinfectant": v.disinfectant, "disinfected_at": v.disinfected_at}


@router.get("/vehicles", response=list[VehicleOut], summary="Vehicle passes in scope")
@api_permission("vehicles.view")
def list_vehicles(request: HttpRequest, plate: str = "", limit: int = 100, offset: int = 0) -> list[dict]:
    qs = VehiclePass.objects.visible_to(request.user, "vehicles.view").select_related("driver")
    if plate:
        qs = qs.filter(plate__icontains=plate.strip().upper())
    items, _ = paginate(qs, limit, offset)
    return [vehicle_out(v) for v in items]


@router.post("/vehicles", response={201: VehicleOut}, summary="Register a vehicle entering")
@api_permission("vehicles.change")
def create_vehicle(request: HttpRequest, data: VehicleIn) -> Status:
    org = _acting_org(request, "vehicles.change", data.organization_id)
    values = data.dict()
    values.pop("organization_id")
    values["driver"] = Person.objects.filter(organization=org, pk=values.pop("driver_id")).first()
    if values["time_in"] is None:
        values.pop("time_in")
    return Status(201, vehicle_out(services.vehicle_create(organization=org, actor=request.user, **values)))


@router.get("/vehicles/{vehicle_id}", response=VehicleOut, summary="One vehicle pass")
@api_permission("vehicles.view")
def get_vehicle(request: HttpRequest, vehicle_id: int) -> dict:
    qs = VehiclePass.objects.visible_to(request.user, "vehicles.view").select_related("driver")
    return vehicle_out(get_object_or_404(qs, pk=vehicle_id))


@router.patch("/vehicles/{vehicle_id}", response=VehicleOut, summary="Record time out or disinfection")
@api_permission("vehicles.change")
def update_vehicle(request: HttpRequest, vehicle_id: int, data: VehiclePatch) -> dict:
    qs = VehiclePass.objects.visible_to(request.user, "vehicles.change").select_related("driver")
    vehicle = get_object_or_404(qs, pk=vehicle_id)
    values = data.dict(exclude_unset=True)
    return vehicle_out(services.vehicle_update(vehicle=vehicle, actor=request.user, **values))


@router.delete("/vehicles/{vehicle_id}", response={204: None}, summary="Delete a mistaken vehicle pass")
@api_permission("vehicles.change")
def delete_vehicle(request: HttpRequest, vehicle_id: int) -> Status:
    vehicle = get_object_or_404(VehiclePass.objects.visible_to(request.user, "vehicles.change"), pk=vehicle_id)
    services.vehicle_delete(vehicle=vehicle, actor=request.user)
    return Status(204, None)
