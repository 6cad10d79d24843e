from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from fangkong.core.access import api_permission
from fangkong.core.errors import ServiceError
from fangkong.tracing import selectors, services
from fangkong.tracing.models import AssistList, Case, InvestigationTask

router = Router(tags=["tracing"])

CaseStatus = Literal["suspected", "confirmed", "asymptomatic", "excluded"]
Source = Literal["positive_result", "clinic", "notice"]


class CaseIn(Schema):
    person_id: int
    status: CaseStatus = "suspected"
    onset_date: date | None = None
    sample_date: date | None = None
    report_date: date | None = None
    isolated_at: datetime | None = None
    source: Source = "clinic"
    source_reference: str = ""
    window_days: int = 2


class CasePatch(Schema):
    status: CaseStatus | None = None
    onset_date: date | None = None
    sample_date: date | None = None
    report_date: date | None = None
    isolated_at: datetime | None = None
    source: Source | None = None
    source_reference: str | None = None
    window_days: int | None = None


class CaseOut(Schema):
    id: int
    person_id: int
    organization_id: int
    status: str
    onset_date: date | None
    sample_date: date | None
    report_date: date
    isolated_at: datetime | None
    source: str
    source_reference: str
    window_days: int


class TraceIn(Schema):
    window_days: int | None = None
    min_minutes: dict[str, int] | None = None
    secondary: bool = True
    team_max: int | None = None
    run_async: bool = False


class TraceOut(Schema):
    snapshot_id: int | None
    close: int
    secondary: int
    new: int
    queued: bool = False


class ContactOut(Schema):
    person_id: int
    name: str
    degree: int
    via_person_id: int | None
    is_new: bool
    last_exposure_at: datetime | None
    evidence: list[dict[str, Any]]
    co_presences: int | None = Field(None, description=(
        "Secondary contacts (degree 2): how many times they were co-present with the close contact via_person_id "
        "(null for close contacts, whose evidence is complete)"))
    minutes_together: int | None = Field(None, description=(
        "Secondary contacts: the whole minutes of those co-presences added up (null for close contacts)"))
    evidence_complete: bool = Field(True, description=(
        "False when evidence lists only the longest co-presences (a secondary contact keeps at most 3)"))


class TaskOut(Schema):
    id: int
    kind: str
    case_id: int | None
    assist_id: int | None
    person_id: int | None
    organization_id: int
    due_at: datetime
    status: str
    overdue: bool
    assignee_id: int | None


class AssistOut(Schema):
    id: int
    direction: str
    title: str
    deadline: datetime
    counts: dict[str, int]
    rows: list[dict[str, Any]]


def case_out(case: Case) -> dict[str, Any]:
    return {f: getattr(case, f) for f in (
        "id", "person_id", "organization_id", "status", "onset_date", "sample_date", "report_date", "isolated_at",
        "source", "source_reference", "window_days")}


def _case(request: HttpRequest, case_id: int, perm: str) -> Case:
    return get_object_or_404(Case.objects.visible_to(request.user, perm).select_related("person"), pk=case_id)


@router.post("/cases", response={201: CaseOut}, summary="Record a case for a person in the caller's scope")
@api_permission("cases.change")
def create_case(request: HttpRequest, data: CaseIn) -> Any:
    case = services.case_create(actor=request.user, **data.dict())
    return Status(201, case_out(case))


@router.patch("/cases/{case_id}", response=CaseOut, summary="Change a case's dates, source or status")
@api_permission("cases.change")
def update_case(request: HttpRequest, case_id: int, data: CasePatch) -> Any:
    case = _case(request, case_id, "cases.change")
    values = {k: v for k, v in data.dict(exclude_unset=True).items()}
    return case_out(services.case_update(case=case, actor=request.user, **values))


@router.post("/cases/{case_id}/trace", response=TraceOut,
             summary="Find the case's close and secondary contacts now (or queue it) and store a snapshot")
@api_permission("tracing.run")
def trace_case(request: HttpRequest, case_id: int, data: TraceIn) -> Any:
    case = _case(request, case_id, "tracing.run")
    params = {k: v for k, v in data.dict(exclude={"run_async"}).items() if v is not None}
    if data.run_async:
        services.trace_check(case=case, params=params)  # refuse now what the worker would refuse
        from fangkong.tracing.tasks import trace_cases

        trace_cases([case.pk], request.user.pk, params)
        return {"snapshot_id": None, "close": 0, "secondary": 0, "new": 0, "queued": True}
    snap = services.trace_run(case=case, actor=request.user, params=params)
    return {"snapshot_id": snap.pk, "close": snap.counts["close"], "secondary": snap.counts["secondary"],
            "new": snap.counts["new"]}


@router.get("/cases/{case_id}/contacts", response=list[ContactOut], summary="The case's contacts with evidence")
@api_permission("tracing.view")
def case_contacts(request: HttpRequest, case_id: int, degree: int | None = None) -> Any:
    case = _case(request, case_id, "tracing.view")
    if degree not in (None, 1, 2):
        raise ServiceError(gettext("degree 应为 1（密接）或 2（次密接），收到 %(degree)s") % {"degree": degree},
                           {"degree": [gettext("应为 1 或 2")]})
    return [{"person_id": c.person_id, "name": c.person.name, "degree": c.degree, "via_person_id": c.via_person_id,
             "is_new": c.is_new, "last_exposure_at": c.last_exposure_at, "evidence": c.evidence,
             "co_presences": c.co_presences, "minutes_together": c.minutes_together,
             "evidence_complete": c.co_presences is None or c.co_presences <= len(c.evidence)}
            for c in selectors.contact_list(case=case, degree=degree)]


@router.get("/investigations", response=list[TaskOut], summary="Investigation tasks in scope, by deadline")
@api_permission("investigations.view")
def investigation_tasks(request: HttpRequest, status: str = "", overdue: bool = False, limit: int = 200,
                        offset: int = 0) -> Any:
    now = timezone.now()
    qs = InvestigationTask.objects.visible_to(request.user, "investigations.view").select_related("investigation")
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(status="open", due_at__lt=now)
    limit = max(1, min(limit, 1000))
    return [{"id": t.pk, "kind": t.kind, "case_id": t.investigation.case_id if t.investigation is not None else None,
             "assist_id": t.assist_list_id, "person_id": t.person_id, "organization_id": t.organization_id,
             "due_at": t.due_at, "status": t.status, "overdue": t.status == "open" and t.due_at < now,
             "assignee_id": t.assignee_id} for t in qs[offset:offset + limit]]


@router.post("/assists/import", response={201: AssistOut},
             summary="Import an incoming assist list (.xlsx: 姓名, 身份证号, 手机号) and create verification tasks",
             description="One verification task per person found, however many rows name them. The deadline must "
                         "lie ahead (default: in 24 hours); one without a UTC offset is read in local time.")
@api_permission("assists.manage")
def assist_import(request: HttpRequest, file: File[UploadedFile], organization_id: Form[int],
                  deadline: Form[datetime | None] = None) -> Any:
    from fangkong.tenancy.models import Organization

    org = get_object_or_404(Organization.objects.visible_to(request.user, "assists.manage"), pk=organization_id)
    assist = services.assist_import(
        data=file.read(), filename=file.name or "", organization_id=org.pk, actor=request.user,
        deadline=deadline or timezone.now() + timedelta(hours=24))
    return Status(201, {"id": assist.pk, "direction": assist.direction, "title": assist.title,
                        "deadline": timezone.localtime(assist.deadline), "counts": assist.counts, "rows": assist.rows})


@router.get("/assists/{assist_id}/export", summary="The assist list (outgoing) or its report (incoming) as .xlsx")
@api_permission("assists.view")
def assist_export(request: HttpRequest, assist_id: int) -> HttpResponse:
    assist = get_object_or_404(AssistList.objects.visible_to(request.user, "assists.view"), pk=assist_id)
    content = services.assist_workbook(assist=assist, actor=request.user)
    response = HttpResponse(content,
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="assist-{assist.pk}.xlsx"'
    return response


class HouseholdIn(Schema):
    organization_id: int
    name: str
    person_ids: list[int]


class MeetingIn(Schema):
    organization_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    venue_id: int | None = None
    person_ids: list[int] = []


class GroupOut(Schema):
    id: int
    person_ids: list[int]


@router.post("/households", response={201: GroupOut},
             summary="Declare people living together (close contacts of each other when one is a case)")
@api_permission("cases.change")
def declare_household(request: HttpRequest, data: HouseholdIn) -> Any:
    h = services.household_declare(actor=request.user, **data.dict())
    return Status(201, {"id": h.pk, "person_ids": sorted(h.members.values_list("pk", flat=True))})


@router.post("/meetings", response={201: GroupOut},
             summary="Declare a meeting: attendee list and/or room (people admitted there during it attended)")
@api_permission("cases.change")
def declare_meeting(request: HttpRequest, data: MeetingIn) -> Any:
    m = services.meeting_declare(actor=request.user, **data.dict())
    return Status(201, {"id": m.pk, "person_ids": sorted(m.attendees.values_list("pk", flat=True))})
