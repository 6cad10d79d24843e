"""Testing and vaccination API: samples, results (single and batch, for labs), vaccinations and coverage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from django.http import Http404, HttpRequest
from django.utils.translation import gettext
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from fangkong.core.access import api_permission
from fangkong.core.api_support import paginate
from fangkong.core.errors import ServiceError
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization, Unit
from fangkong.testing import selectors, services
from fangkong.testing.models import Vaccination

router = Router(tags=["testing"])

Kind = Literal["nat", "antigen", "antibody"]
ResultValue = Literal["negative", "positive", "invalid"]


def _organization(request: HttpRequest, perm: str, organization_id: int | None) -> Organization:
    """The organisation the caller acts for: the given one (in scope), the header's, or their only one."""
    orgs = Organization.objects.visible_to(request.user, perm)
    if organization_id is None:
        membership = getattr(request, "membership", None)
        organization_id = membership.organization_id if membership else None
        if organization_id is None and orgs.count() == 1:
            organization_id = orgs.get().pk
        if organization_id is None:
            raise HttpError(400, gettext("organization_id 必填"))
    org = orgs.filter(pk=organization_id).first()
    if org is None:
        raise Http404
    return org


class SampleIn(Schema):
    organization_id: int | None = None
    tube_code: str
    kind: Kind = "nat"
    pooled: bool | None = None
    member_ids: list[int]
    sampled_at: datetime | None = None
    site: str = ""


class SampleOut(Schema):
    id: int
    tube_code: str
    kind: str
    pooled: bool
    sampled_at: datetime
    member_ids: list[int]


@router.post("/samples", response={201: SampleOut}, summary="Register a single or pooled tube (default 10-in-1)")
@api_permission("tests.change")
def create_sample(request: HttpRequest, data: SampleIn) -> Status:
    org = _organization(request, "tests.change", data.organization_id)
    people = {p.pk: p for p in Person.objects.visible_to(request.user, "tests.change").filter(
        organization=org, is_active=True, pk__in=data.member_ids)}
    unknown = [str(i) for i in data.member_ids if i not in people]
    if unknown:
        raise ServiceError(gettext("未知的人员编号：%(ids)s") % {"ids": services.listed(unknown)},
                           {"member_ids": [gettext("人员不存在或不在本单位")]})
    sample = services.sample_register(
        organization=org, tube_code=data.tube_code, members=[people[i] for i in data.member_ids], kind=data.kind,
        pooled=data.pooled, sampled_at=data.sampled_at, site=data.site, actor=request.user,
    )
    return Status(201, {"id": sample.pk, "tube_code": sample.tube_code, "kind": sample.kind, "pooled": sample.pooled,
                        "sampled_at": sample.sampled_at, "member_ids": list(data.member_ids)})


class ResultIn(Schema):
    organization_id: int | None = None
    tube_code: str = ""
    person_id: int | None = None
    kind: Kind | None = None
    result: ResultValue
    sampled_at: datetime | None = None
    reported_at: datetime | None = None
    lab: str = ""


class BatchIn(Schema):
    organization_id: int | None = None
    valid_only: bool = False
    items: list[ResultIn]


class ReportOut(Schema):
    total: int
    applied: int
    counts: dict[str, int]
    fulfilled: int
    retests: int
    findings: list[int]
    errors: list[str]
    batch: str


def _report(report: services.ApplyReport) -> dict[str, Any]:
    return {"total": report.total, "applied": report.applied, "counts": report.counts, "fulfilled": report.fulfilled,
            "retests": report.retests, "findings": report.findings, "errors": report.error_lines(),
            "batch": report.batch}


def _row(line: int, item: ResultIn) -> services.ResultRow:
    return services.ResultRow(line=line, result=item.result, tube_code=item.tube_code, person_id=item.person_id,
                              kind=item.kind or "", sampled_at=item.sampled_at, reported_at=item.reported_at,
                              lab=item.lab)


@router.post("/results", response={201: ReportOut}, summary="One result by tube code or person")
@api_permission("tests.change")
def create_result(request: HttpRequest, data: ResultIn) -> Status:
    org = _organization(request, "tests.change", data.organization_id)
    report = services.result_record(
        organization=org, actor=request.user, result=data.result, tube_code=data.tube_code,
        person_id=data.person_id, kind=data.kind or "", sampled_at=data.sampled_at, reported_at=data.reported_at,
        lab=data.lab,
    )
    return Status(201, _report(report))


@router.post("/results/batch", response={201: ReportOut}, summary="Many results; all or nothing unless valid_only")
@api_permission("tests.change")
def create_results(request: HttpRequest, data: BatchIn) -> Status:
    org = _organization(request, "tests.change", data.organization_id)
    if not data.items:
        raise ServiceError(gettext("items 不能为空"), {"items": [gettext("至少 1 条")]})
    # Errors name the item by its position, counted from 1.
    rows = [_row(i, item) for i, item in enumerate(data.items, start=1)]
    report = services.results_apply(organization=org, rows=rows, actor=request.user, valid_only=data.valid_only)
    return Status(201, _report(report))


class VaccinationIn(Schema):
    person_id: int
    dose_number: int
    product: str
    manufacturer: str = ""
    vaccinated_on: date
    site: str = ""


class VaccinationOut(Schema):
    id: int
    person_id: int
    dose_number: int
    product: str
    manufacturer: str
    vaccinated_on: date
    site: str


class VaccinationPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[VaccinationOut]


@router.get("/vaccinations", response=VaccinationPage, summary="Dose records in the caller's scope")
@api_permission("vaccinations.view")
def list_vaccinations(request: HttpRequest, person_id: int | None = None, limit: int = 100,
                      offset: int = 0) -> dict:
    qs = Vaccination.objects.visible_to(request.user, "vaccinations.view").order_by("person_id", "dose_number")
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    items, page = paginate(qs, limit, offset)
    return {**page, "items": items}


@router.post("/vaccinations", response={201: VaccinationOut}, summary="Record a dose (in order: dose 2 needs dose 1)")
@api_permission("vaccinations.change")
def create_vaccination(request: HttpRequest, data: VaccinationIn) -> Status:
    person = Person.objects.visible_to(request.user, "vaccinations.change").filter(pk=data.person_id).first()
    if person is None:
        raise Http404
    record = services.vaccination_record(
        person=person, dose_number=data.dose_number, product=data.product, manufacturer=data.manufacturer,
        vaccinated_on=data.vaccinated_on, site=data.site, actor=request.user,
    )
    return Status(201, record)


class CoverageOut(Schema):
    key: int | None
    name: str
    people: int
    vaccinated: int
    complete: int
    booster: int
    unvaccinated: int
    vaccinated_rate: float
    complete_rate: float


@router.get("/vaccinations/coverage", response=list[CoverageOut], summary="Coverage by unit, organisation or jurisdiction")
@api_permission("vaccinations.view")
def vaccination_coverage(request: HttpRequest, unit: int | None = None,
                         by: Literal["unit", "organization", "jurisdiction"] = "unit",
                         organization_id: int | None = None) -> list:
    unit_path = ""
    if unit is not None:
        found = Unit.objects.visible_to(request.user, "vaccinations.view").filter(pk=unit).first()
        if found is None:
            raise Http404
        unit_path = found.path
    return selectors.coverage(user=request.user, by=by, organization_id=organization_id, unit_path=unit_path)
