"""Check-ins, obligations and compliance over the API."""

from __future__ import annotations

import datetime as dt
import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema, Status

from fangkong.core.access import api_permission, user_has_perm
from fangkong.core.api_support import paginate
from fangkong.core.context import client_ip
from fangkong.health import checkin_fast, selectors, services
from fangkong.health.models import Checkin
from fangkong.obligations.selectors import compliance_by_unit, obligation_list
from fangkong.people.models import Person

# A check-in never needs the person's ID or phone number: skip loading and decrypting them.
NO_PII_SELF = ("id_number", "phone")
CHECKIN_PERSON_FIELDS = ("id", "organization_id", "unit_id", "name", "kind", "measure_kind", "is_active")

router = Router(tags=["health"])


class CheckinIn(Schema):
    person_id: int | None = None
    date: dt.date | None = None
    slot: str | None = None
    temperature: Decimal | None = None
    symptoms: list[str] = []
    region_code: str = ""
    note: str = ""
    client_key: str = ""
    device_id: str = ""


class CheckinOut(Schema):
    id: int
    person_id: int
    person_name: str
    unit_id: int | None
    date: dt.date
    slot: str
    temperature: Decimal | None
    symptoms: list[str]
    region_code: str | None
    note: str
    abnormal: bool
    proxy: bool
    submitted_at: str
    replayed: bool = False
    instruction: str = ""


class CheckinPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[CheckinOut]


class ObligationOut(Schema):
    id: int
    organization_id: int
    subject_type: str
    subject_id: int
    person_id: int | None
    unit_id: int | None
    kind: str
    day: date
    due_from: str
    due_until: str
    status: str
    waived_reason: str
    source: str
    evidence_type: str
    evidence_id: int | None
    abnormal: bool
    fulfilled_at: str | None


class ObligationPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ObligationOut]


class UnitComplianceOut(Schema):
    unit_id: int | None
    name: str
    expected: int
    done: int
    missing: int
    abnormal: int


def checkin_out(c: Checkin, *, replayed: bool = False, instruction: str = "") -> dict[str, Any]:
    return {
        "id": c.pk, "person_id": c.person_id, "person_name": c.person.name, "unit_id": c.unit_id, "date": c.date,
        "slot": c.slot, "temperature": c.temperature, "symptoms": c.symptoms, "region_code": c.region_id,
        "note": c.note, "abnormal": c.abnormal, "proxy": c.proxy,
        "submitted_at": timezone.localtime(c.submitted_at).isoformat(), "replayed": replayed,
        "instruction": instruction,
    }


def _common_response(c: checkin_fast.CommonCheckin) -> HttpResponse:
    """CheckinOut for the common check-in, serialised directly: every field is known and plain (ADR 0010)."""
    body = {
        "id": c.id, "person_id": c.person_id, "person_name": c.person_name, "unit_id": c.unit_id,
        "date": c.date.isoformat(), "slot": "day", "temperature": None if c.temperature is None else str(c.temperature),
        "symptoms": [], "region_code": None, "note": c.note, "abnormal": False, "proxy": False,
        "submitted_at": timezone.localtime(c.submitted_at).isoformat(), "replayed": not c.created,
        "instruction": "",
    }
    return HttpResponse(json.dumps(body, ensure_ascii=False), status=201 if c.created else 200,
                        content_type="application/json")


def _iso(dt: Any) -> str | None:
    return timezone.localtime(dt).isoformat() if dt else None


@router.post("/checkins", response={201: CheckinOut, 200: CheckinOut},
             summary="Check in (yourself, or a person in scope); the same client_key stores once")
@api_permission("self.checkin")
def create_checkin(request: HttpRequest, data: CheckinIn) -> Any:
    user = request.user
    if data.person_id is None:
        common = checkin_fast.checkin_submit_common(
            user=user, day=data.date, slot=data.slot, temperature=data.temperature, symptoms=data.symptoms,
            region_code=data.region_code, note=data.note, client_key=data.client_key, device_id=data.device_id,
            ip=client_ip.get() or None,
        )
        if common is not None:
            return _common_response(common)
        # Hot path: only the columns a normal check-in reads (the rest load lazily on the abnormal path).
        person = Person.objects.only(*CHECKIN_PERSON_FIELDS).filter(user_id=user.pk or 0, is_active=True).first()
        if person is None:
            raise Http404
        proxy = False
    else:
        own = Person.objects.filter(pk=data.person_id, user_id=user.pk or 0).exists()
        if own:
            person = Person.objects.select_related("unit", "organization").defer(*NO_PII_SELF).get(pk=data.person_id)
            proxy = False
        else:
            if not user_has_perm(user, "checkins.submit_others"):
                raise Http404
            person = (Person.objects.visible_to(user, "checkins.submit_others").select_related("unit", "organization").defer(*NO_PII_SELF)
                      .filter(pk=data.person_id, is_active=True).first())
            if person is None:
                raise Http404
            proxy = True
    result = services.checkin_submit(
        actor=user, person=person, day=data.date, slot=data.slot, temperature=data.temperature,
        symptoms=data.symptoms, region_code=data.region_code, note=data.note, client_key=data.client_key,
        device_id=data.device_id, ip=client_ip.get() or None, proxy=proxy,
    )
    body = checkin_out(result.checkin, replayed=not result.created, instruction=result.instruction)
    return Status(201 if result.created else 200, body)


@router.get("/checkins", response=CheckinPage, summary="Check-ins in the caller's scope")
@api_permission("checkins.view")
def list_checkins(request: HttpRequest, date: date | None = None, unit: int | None = None, status: str = "",
                  limit: int = 100, offset: int = 0) -> dict:
    qs = selectors.checkin_list(user=request.user, day=date, unit_id=unit, status=status)
    items, page = paginate(qs, limit, offset)
    return {**page, "items": [checkin_out(c) for c in items]}


@router.get("/obligations", response=ObligationPage, summary="Obligations in the caller's scope")
@api_permission("obligations.view")
def list_obligations(request: HttpRequest, status: str = "", kind: str = "", unit: int | None = None,
                     day: date | None = None, limit: int = 100, offset: int = 0) -> dict:
    qs = obligation_list(user=request.user, status=status, kind=kind, unit_id=unit, day=day).select_related(
        None).defer(None)
    items, page = paginate(qs, limit, offset)
    return {**page, "items": [
        {"id": o.pk, "organization_id": o.organization_id, "subject_type": o.subject_type,
         "subject_id": o.subject_id, "person_id": o.person_id, "unit_id": o.unit_id, "kind": o.kind, "day": o.day,
         "due_from": _iso(o.due_from), "due_until": _iso(o.due_until), "status": o.status,
         "waived_reason": o.waived_reason, "source": o.source, "evidence_type": o.evidence_type,
         "evidence_id": o.evidence_id, "abnormal": o.abnormal, "fulfilled_at": _iso(o.fulfilled_at)}
        for o in items
    ]}


@router.get("/compliance", response=list[UnitComplianceOut], summary="Check-in compliance per unit for a day")
@api_permission("compliance.view")
def compliance(request: HttpRequest, date: date | None = None, unit: int | None = None) -> list[dict]:
    day = date or timezone.localdate()
    rows = compliance_by_unit(user=request.user, day=day, kind="checkin", unit_id=unit)
    return [{"unit_id": r.unit_id, "name": r.name, "expected": r.expected, "done": r.done, "missing": r.missing,
             "abnormal": r.abnormal} for r in rows]
