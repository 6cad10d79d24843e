"""Writes for testing and vaccination.

- Programmes generate test obligations with ONE INSERT … SELECT each (obligations_generate_for_people), idempotent
  through the obligations' unique window.
- Results are applied set-based (`results_apply`): a single entry, an API batch and a 100,000-row import take the
  same path, so they behave alike. What a result means for the people in the tube is `rules.outcome`.
- Vaccination records keep `VaccinationState` (doses per person) current in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from fangkong.core import crypto
from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import enumeration as listed
from fangkong.core.rule_errors import worded
from fangkong.obligations.models import Obligation
from fangkong.obligations.services import obligations_generate_for_people
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization, Unit
from fangkong.testing import rules
from fangkong.testing.models import (
    Contraindication,
    PositiveFinding,
    Result,
    Sample,
    SampleMember,
    TestKind,
    TestProgram,
    Vaccination,
    VaccinationState,
    obligation_kind,
)

OPEN = (Obligation.Status.DUE, Obligation.Status.OVERDUE)
RESULT_WORDS = {
    "negative": "negative", "阴性": "negative", "阴": "negative", "-": "negative",
    "positive": "positive", "阳性": "positive", "阳": "positive", "+": "positive",
    "invalid": "invalid", "无效": "invalid", "无效样本": "invalid",
}
KIND_WORDS = {"nat": "nat", "核酸": "nat", "核酸检测": "nat", "antigen": "antigen", "抗原": "antigen",
              "抗原检测": "antigen", "antibody": "antibody", "抗体": "antibody", "抗体检测": "antibody"}
CHUNK = 10_000
# The columns that row errors name (the import template's Chinese headers), worded for the reader.
COLUMN_LABELS = {
    "管码": gettext_lazy("管码"), "身份证号": gettext_lazy("身份证号"), "人员": gettext_lazy("人员"),
    "结果": gettext_lazy("结果"), "检测类型": gettext_lazy("检测类型"), "采样时间": gettext_lazy("采样时间"),
    "报告时间": gettext_lazy("报告时间"), "剂次": gettext_lazy("剂次"), "疫苗名称": gettext_lazy("疫苗名称"),
    "接种日期": gettext_lazy("接种日期"),
}


def complete_doses() -> int:
    """Doses that make a course complete: 2 for the usual inactivated vaccines (settings.FANGKONG_VACCINE_COMPLETE_DOSES)."""
    return int(getattr(settings, "FANGKONG_VACCINE_COMPLETE_DOSES", 2))


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


# ----- programmes ---------------------------------------------------------------------------------------------------


def _clean_program(organization: Organization, values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    kind = values.get("kind")
    if kind not in TestProgram.Kind.values:
        errors["kind"] = [gettext("未知的计划方式“%(kind)s”") % {"kind": kind}]
    if values.get("test_kind", "nat") not in TestKind.values:
        errors["test_kind"] = [gettext("未知的检测类型“%(kind)s”") % {"kind": values.get("test_kind")}]
    cats = list(values.get("post_categories") or [])
    bad = [c for c in cats if c not in Person.PostCategory.values]
    if bad:
        errors["post_categories"] = [gettext("未知的重点岗位类别：%(categories)s") % {"categories": listed(bad)}]
    unit = values.get("unit")
    if isinstance(unit, int):
        unit = Unit.objects.filter(pk=unit, organization=organization).first()
        if unit is None:
            errors["unit"] = [gettext("部门不存在或不属于本单位")]
    elif unit is not None and unit.organization_id != organization.pk:
        errors["unit"] = [gettext("部门不属于本单位")]
    if kind == TestProgram.Kind.EVERY_N_DAYS and not cats and unit is None:
        errors["post_categories"] = [gettext("每 N 天检测需要指定重点岗位类别或部门")]
    if kind == TestProgram.Kind.BATCH and unit is None:
        errors["unit"] = [gettext("分批检测需要指定部门")]
    if int(values.get("interval_days") or 3) < 1:
        errors["interval_days"] = [gettext("间隔天数至少为 1")]
    if int(values.get("per_day") or 100) < 1:
        errors["per_day"] = [gettext("每日人数至少为 1")]
    if not (values.get("name") or "").strip():
        errors["name"] = [gettext("必填")]
    if not values.get("start_date"):
        errors["start_date"] = [gettext("必填")]
    if values.get("end_date") and values.get("start_date") and values["end_date"] < values["start_date"]:
        errors["end_date"] = [gettext("结束日期不能早于开始日期")]
    if errors:
        msgs = next(iter(errors.values()))
        raise ServiceError(gettext("检测计划有误：%(error)s") % {"error": msgs[0]}, errors)
    return {**values, "unit": unit, "post_categories": cats, "name": values["name"].strip()}


@transaction.atomic
def program_create(*, organization: Organization, actor: Any, **values: Any) -> TestProgram:
    cleaned = _clean_program(organization, values)
    program = TestProgram.objects.create(organization=organization, created_by=actor if getattr(
        actor, "is_authenticated", False) else None, **cleaned)
    audit_record(actor=actor, action="testprogram.create", obj=program, organization_id=organization.pk,
                 changes={"kind": [None, program.kind], "test_kind": [None, program.test_kind],
                          "source_note": [None, program.source_note]})
    return program


@transaction.atomic
def program_set_active(*, program: TestProgram, active: bool, actor: Any) -> TestProgram:
    if program.active != active:
        audit_record(actor=actor, action="testprogram.activate" if active else "testprogram.deactivate",
                     obj=program, organization_id=program.organization_id, changes={"active": [program.active, active]})
        program.active = active
        program.save(update_fields=["active", "updated_at"])
    return program


def program_people(program: TestProgram, day: dt.date) -> QuerySet[Person] | None:
    """Who the programme tests on `day` (a QuerySet compiled into the INSERT), or None when it is not a test day."""
    if not program.active or day < program.start_date or (program.end_date and day > program.end_date):
        return None
    people = Person.objects.filter(organization_id=program.organization_id, is_active=True)
    if program.unit is not None:
        people = people.filter(unit__path__startswith=program.unit.path)
    if program.kind == TestProgram.Kind.EVERY_N_DAYS:
        if not rules.every_n_days_due(start=program.start_date, interval=program.interval_days, day=day):
            return None
        if program.post_categories:
            people = people.filter(post_category__in=program.post_categories)
        return people
    if program.kind == TestProgram.Kind.BATCH:
        # A unit's staff in a stable order (by id), N a day from the start date: the batch is small enough to pick
        # in Python, the insert itself stays one statement.
        ids = list(people.order_by("id").values_list("id", flat=True))
        batch = rules.batch_of_day(ids, program.per_day, start=program.start_date, day=day)
        return people.filter(pk__in=batch) if batch else None
    # On admission (seed 001): new inpatients and escorts registered that day are tested at once.
    start = _start_of(day)
    return people.filter(kind__in=(Person.Kind.PATIENT, Person.Kind.ESCORT), created_at__gte=start,
                         created_at__lt=start + dt.timedelta(days=1))


def program_generate(*, program: TestProgram, day: dt.date) -> int:
    people = program_people(program, day)
    if people is None:
        return 0
    start = _start_of(day)
    # Every-N-days: a test anywhere in the cycle counts, so the window spans the interval; others are due that day.
    span = program.interval_days if program.kind == TestProgram.Kind.EVERY_N_DAYS else 1
    return obligations_generate_for_people(
        organization=program.organization, people=people, kind=obligation_kind(program.test_kind), day=day,
        due_from=start, due_until=start + dt.timedelta(days=span), source=program.source,
    )


def programs_generate(*, day: dt.date, organization: Organization | None = None,
                      kinds: Sequence[str] | None = None) -> int:
    """Every active programme's obligations for `day`; idempotent (a second run inserts nothing)."""
    qs = TestProgram.objects.filter(active=True).select_related("organization", "unit")
    if organization is not None:
        qs = qs.filter(organization=organization)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return sum(program_generate(program=p, day=day) for p in qs)


# ----- samples ------------------------------------------------------------------------------------------------------


@transaction.atomic
def sample_register(
    *, organization: Organization, tube_code: str, members: Sequence[Person], kind: str = "nat",
    pooled: bool | None = None, sampled_at: dt.datetime | None = None, site: str = "", actor: Any,
    pool_size: int = rules.DEFAULT_POOL_SIZE,
) -> Sample:
    tube_code = (tube_code or "").strip()
    if not tube_code:
        raise ServiceError(gettext("管码必填"), {"tube_code": [gettext("必填")]})
    if kind not in TestKind.values:
        raise ServiceError(gettext("未知的检测类型“%(kind)s”") % {"kind": kind}, {"kind": [gettext("可选：nat、antigen、antibody")]})
    pooled = len(members) > 1 if pooled is None else pooled
    if not pooled and len(members) != 1:
        raise ServiceError(gettext("单管样本必须恰好 1 人，实为 %(n)d 人") % {"n": len(members)},
                           {"members": [gettext("单管只能 1 人")]})
    try:
        rules.check_pool([p.pk for p in members], pool_size)
    except ValueError as exc:
        raise ServiceError(gettext("管码 %(code)s：%(error)s") % {"code": tube_code, "error": worded(exc)},
                           {"members": [worded(exc)]}) from None
    strangers = [p.name for p in members if p.organization_id != organization.pk]
    if strangers:
        raise ServiceError(gettext("管码 %(code)s：%(people)s 不属于本单位") % {"code": tube_code, "people": listed(strangers)},
                           {"members": [gettext("人员不属于本单位")]})
    if Sample.objects.filter(tube_code=tube_code).exists():
        raise ServiceError(gettext("管码 %(code)s 已登记，不能重复使用") % {"code": tube_code},
                           {"tube_code": [gettext("管码已登记")]})
    if sampled_at is not None and sampled_at > timezone.now() + dt.timedelta(minutes=10):
        at = f"{timezone.localtime(sampled_at):%Y-%m-%d %H:%M}"
        raise ServiceError(gettext("管码 %(code)s：采样时间 %(at)s 晚于现在") % {"code": tube_code, "at": at},
                           {"sampled_at": [gettext("采样时间不能晚于现在")]})
    sampled_at = sampled_at or timezone.now()
    sample = Sample.objects.create(
        organization=organization, tube_code=tube_code, kind=kind, pooled=pooled, sampled_at=sampled_at,
        sampled_on=timezone.localdate(sampled_at), site=site,
        sampled_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    SampleMember.objects.bulk_create([SampleMember(sample=sample, person=p) for p in members])
    audit_record(actor=actor, action="sample.register", obj=sample, organization_id=organization.pk,
                 changes={"members": [None, [p.pk for p in members]], "pooled": [None, pooled], "kind": [None, kind]})
    return sample


# ----- results ------------------------------------------------------------------------------------------------------


@dataclass
class ResultRow:
    """One result to apply. `line` names the row in error messages (an Excel row number, or 1 for a single entry)."""

    line: int
    result: str
    tube_code: str = ""
    id_number: str = ""
    person_id: int | None = None
    kind: str = ""
    sampled_at: dt.datetime | None = None
    reported_at: dt.datetime | None = None
    lab: str = ""


def row_error_line(error: dict[str, Any]) -> str:
    """'第 17 行，身份证号：…' for an error {"row", "column", "message"} (the message already worded)."""
    return gettext("第 %(row)d 行，%(column)s：%(message)s") % {
        "row": error["row"], "column": COLUMN_LABELS.get(error["column"], error["column"]), "message": error["message"]}


def nothing_saved(errors: Sequence[dict[str, Any]], *, numbered: bool = True) -> str:
    """The refusal of a file or batch with errors: its first problem (with its row number unless `numbered` is
    False, for a single entry), how many there are, and that nothing was stored."""
    first = errors[0]
    problem = row_error_line(first) if numbered else gettext("%(column)s：%(message)s") % {
        "column": COLUMN_LABELS.get(first["column"], first["column"]), "message": first["message"]}
    if len(errors) > 1:
        return gettext("%(problem)s（共 %(n)d 处问题），未保存任何结果") % {"problem": problem, "n": len(errors)}
    return gettext("%(problem)s，未保存任何结果") % {"problem": problem}


class _Refused(ServiceError):
    """Rows with errors, nothing stored; `errors` keeps them as dicts for `result_record`'s plain message."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(nothing_saved(errors), {"rows": [row_error_line(e) for e in errors]})
        self.errors = errors


@dataclass
class ApplyReport:
    total: int = 0
    applied: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"negative": 0, "positive": 0, "invalid": 0})
    fulfilled: int = 0
    retests: int = 0
    findings: list[int] = field(default_factory=list)
    batch: str = ""

    def error_lines(self) -> list[str]:
        return [row_error_line(e) for e in self.errors]


def _norm_result(value: str) -> str | None:
    found = RESULT_WORDS.get(value)  # a lab sheet says "阴性" 100,000 times: the exact word first
    return found if found is not None else RESULT_WORDS.get((value or "").strip().lower())


_SAMPLE_FIELDS = ("id", "tube_code", "kind", "pooled", "organization_id", "sampled_ts", "result__id")


def _samples_by_code(codes: list[str]) -> dict[str, dict[str, Any]]:
    """The tubes with these codes (and whether they have a result). On PostgreSQL ONE query joining the codes as an
    array (`unnest`): a 100,000-row import used to send ten 10,000-parameter IN lists, which cost more to build
    and to plan than to run; elsewhere the ORM in chunks."""
    if not codes:
        return {}
    if connection.vendor == "postgresql":
        smp, res = Sample._meta.db_table, Result._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                # The sampling time as epoch seconds: only compared, and loading 100,000 timestamptz values
                # through Django's time-zone-aware loader cost 2 s of Python.
                f"SELECT s.id, s.tube_code, s.kind, s.pooled, s.organization_id, "
                f"extract(epoch FROM s.sampled_at)::float8, r.id "
                f"FROM unnest(%s::text[]) AS c(code) JOIN {smp} s ON s.tube_code = c.code "
                f"LEFT JOIN {res} r ON r.sample_id = s.id", [codes])
            return {row[1]: dict(zip(_SAMPLE_FIELDS, row, strict=True)) for row in cursor.fetchall()}
    samples: dict[str, dict[str, Any]] = {}
    fields = [f for f in _SAMPLE_FIELDS if f != "sampled_ts"]
    for i in range(0, len(codes), CHUNK):
        for found in Sample.objects.filter(tube_code__in=codes[i : i + CHUNK]).values(*fields, "sampled_at"):
            found["sampled_ts"] = found.pop("sampled_at").timestamp()
            samples[found["tube_code"]] = found
    return samples


def validate_results(organization: Organization, rows: Sequence[ResultRow]) -> tuple[list[dict], list[dict[str, Any]]]:
    """Resolve each row to a sample (existing by tube code, or a new single tube for a person); collect errors."""
    errors: list[dict[str, Any]] = []

    def err(row: ResultRow, column: str, message: str) -> None:
        errors.append({"row": row.line, "column": column, "message": message})

    codes = {r.tube_code.strip() for r in rows if r.tube_code.strip()}
    samples = _samples_by_code(list(codes))
    hashes = {crypto.lookup_hash(r.id_number) for r in rows if not r.tube_code.strip() and r.id_number.strip()}
    by_hash: dict[str, int] = {}
    if hashes:
        hash_list = list(hashes)
        for i in range(0, len(hash_list), CHUNK):
            by_hash.update(Person.objects.filter(organization=organization, id_number_hash__in=hash_list[i : i + CHUNK])
                           .values_list("id_number_hash", "id"))
    person_ids = {r.person_id for r in rows if r.person_id and not r.tube_code.strip()}
    known_people = set(Person.objects.filter(organization=organization, pk__in=person_ids).values_list("id", flat=True)
                       ) if person_ids else set()

    resolved: list[dict] = []
    seen_codes: set[str] = set()
    now = timezone.now()
    latest = now + dt.timedelta(minutes=10)
    org_pk = organization.pk
    for row in rows:
        bad = False
        result = _norm_result(row.result)
        if result is None:
            err(row, "结果", gettext("无法识别的结果“%(value)s”，应为 阴性、阳性 或 无效") % {"value": row.result})
            bad = True
        reported_at = row.reported_at or now
        if row.reported_at and row.reported_at > latest:
            err(row, "报告时间", gettext("报告时间 %(at)s 晚于现在") % {
                "at": f"{timezone.localtime(row.reported_at):%Y-%m-%d %H:%M}"})
            bad = True
        code = row.tube_code.strip()
        if code:
            s = samples.get(code)
            if s is None or s["organization_id"] != org_pk:
                # Another organisation's tube looks exactly like an unknown one: nothing leaks across tenants.
                err(row, "管码", gettext("未知的管码 %(code)s") % {"code": code})
                continue
            if s["result__id"] is not None:
                err(row, "管码", gettext("管码 %(code)s 已有检测结果，不能重复录入") % {"code": code})
                continue
            if code in seen_codes:
                err(row, "管码", gettext("管码 %(code)s 在本批中重复出现") % {"code": code})
                continue
            kind = KIND_WORDS.get((row.kind or "").strip().lower(), "") if row.kind else s["kind"]
            if row.kind and kind != s["kind"]:
                err(row, "检测类型", gettext("管码 %(code)s 登记为 %(registered)s，结果却是 %(kind)s") % {
                    "code": code, "registered": s["kind"], "kind": row.kind})
                bad = True
            # Always against the registered sampling time: a result entered by hand names no sampling time, and was
            # stored with any report time before (a report dated 2000 for a tube sampled today).
            if reported_at.timestamp() < s["sampled_ts"]:
                err(row, "报告时间", gettext("报告时间 %(reported)s 早于该管登记的采样时间 %(sampled)s") % {
                    "reported": f"{timezone.localtime(reported_at):%Y-%m-%d %H:%M}",
                    "sampled": f"{timezone.localtime(dt.datetime.fromtimestamp(s['sampled_ts'], dt.UTC)):%Y-%m-%d %H:%M}"})
                bad = True
            seen_codes.add(code)
            if not bad:
                resolved.append({"row": row, "sample_id": s["id"], "pooled": s["pooled"], "kind": s["kind"],
                                 "result": result, "reported_at": reported_at, "new": None})
            continue
        # No tube code: a single-tube result for a person named by ID number (HMAC lookup) or by id.
        person_id = None
        if row.id_number.strip():
            person_id = by_hash.get(crypto.lookup_hash(row.id_number))
            if person_id is None:
                err(row, "身份证号", gettext("本单位没有证件号码为 %(id)s 的人员") % {"id": crypto.mask_id_number(row.id_number)})
                continue
        elif row.person_id:
            if row.person_id not in known_people:
                err(row, "人员", gettext("未知的人员编号 %(id)s") % {"id": row.person_id})
                continue
            person_id = row.person_id
        else:
            err(row, "管码", gettext("管码和身份证号至少填写一项"))
            continue
        kind = KIND_WORDS.get((row.kind or "nat").strip().lower())
        if kind is None:
            err(row, "检测类型", gettext("未知的检测类型“%(kind)s”") % {"kind": row.kind})
            continue
        if row.sampled_at is None:
            err(row, "采样时间", gettext("按身份证号录入结果时采样时间必填"))
            continue
        if reported_at < row.sampled_at:
            err(row, "报告时间", gettext("报告时间早于采样时间"))
            continue
        if not bad:
            resolved.append({"row": row, "sample_id": None, "pooled": False, "kind": kind, "result": result,
                             "reported_at": reported_at, "new": (person_id, row.sampled_at)})
    return resolved, errors


def _insert_results(resolved: list[dict], *, batch: str, entered_by: Any) -> None:
    """On PostgreSQL one INSERT … SELECT FROM unnest(arrays): a 100,000-row import skips building 100,000 model
    objects and 20 statements (the largest Python cost of an import); elsewhere bulk_create."""
    if connection.vendor != "postgresql":
        Result.objects.bulk_create(
            [Result(sample_id=r["sample_id"], result=r["result"], reported_at=r["reported_at"], lab=r["row"].lab[:100],
                    entered_by=entered_by, batch=batch) for r in resolved],
            batch_size=5000,
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Result._meta.db_table} (sample_id, result, reported_at, lab, entered_by_id, batch, created_at)"
            " SELECT s, r, t, l, %s, %s, now() FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::text[])"
            " AS x(s, r, t, l)",
            [entered_by.pk if entered_by else None, batch, [r["sample_id"] for r in resolved],
             [r["result"] for r in resolved], [r["reported_at"] for r in resolved],
             [r["row"].lab[:100] for r in resolved]],
        )


def _recipients(organization: Organization) -> list[Any]:
    from fangkong.notify.recipients import jurisdiction_officers, org_admins

    return org_admins(organization) + jurisdiction_officers(organization.jurisdiction)


def _alert(organization: Organization, recipients: list[Any], *, title: str, body: str, key: str) -> None:
    from fangkong.notify.services import notify_send

    notify_send(recipients=recipients, title={"zh-hans": title}, body={"zh-hans": body}, level="alert",
                organization_id=organization.pk, event="testing.positive", dedupe_key=key, link=reverse("testing:findings"))


@transaction.atomic
def results_apply(*, organization: Organization, rows: Sequence[ResultRow], actor: Any,
                  valid_only: bool = False) -> ApplyReport:
    """Apply results set-based. With errors: nothing is stored unless `valid_only` (then the bad rows are skipped).

    One transaction: results, fulfilments (one UPDATE for the batch's negatives), re-test obligations, findings,
    alerts and the audit trail commit together or not at all.
    """
    report = ApplyReport(total=len(rows))
    resolved, report.errors = validate_results(organization, rows)
    if report.errors and not valid_only:
        raise _Refused(report.errors)
    if not resolved:
        return report
    batch = uuid.uuid4().hex
    report.batch = batch
    actor_user = actor if getattr(actor, "is_authenticated", False) else None

    # Results named by person: a single tube each, code "P<person>-<time>" so a re-import finds it again.
    fresh = [r for r in resolved if r["new"]]
    if fresh:
        new_samples = []
        for r in fresh:
            person_id, sampled_at = r["new"]
            new_samples.append(Sample(
                organization=organization, tube_code=f"P{person_id}-{timezone.localtime(sampled_at):%Y%m%d%H%M%S}",
                kind=r["kind"], pooled=False, sampled_at=sampled_at, sampled_on=timezone.localdate(sampled_at),
                sampled_by=actor_user,
            ))
        codes = [s.tube_code for s in new_samples]
        taken = set(Sample.objects.filter(tube_code__in=codes).values_list("tube_code", flat=True))
        dupes = taken | {c for c, n in Counter(codes).items() if n > 1}
        if dupes:
            raise ServiceError(gettext("同一人同一采样时间已有样本（%(codes)s），未保存任何结果")
                               % {"codes": listed(sorted(dupes)[:3])},
                               {"rows": [gettext("样本 %(code)s 已存在") % {"code": c} for c in sorted(dupes)[:20]]})
        Sample.objects.bulk_create(new_samples, batch_size=5000)
        SampleMember.objects.bulk_create(
            [SampleMember(sample=s, person_id=r["new"][0]) for s, r in zip(new_samples, fresh, strict=True)],
            batch_size=5000,
        )
        for s, r in zip(new_samples, fresh, strict=True):
            r["sample_id"] = s.pk

    _insert_results(resolved, batch=batch, entered_by=actor_user)
    report.applied = len(resolved)
    for r in resolved:
        report.counts[r["result"]] += 1

    now = timezone.now()
    # Negatives: every member's open test obligation of that kind due on or before the sampling day is fulfilled by
    # the sample — one UPDATE joining this batch's results to the tubes' members.
    if report.counts["negative"]:
        ob, mem, smp, res = (Obligation._meta.db_table, SampleMember._meta.db_table, Sample._meta.db_table,
                             Result._meta.db_table)
        if connection.vendor == "postgresql":
            # The negative tubes as one array parameter, joined by primary key: no index on the batch key needed.
            tubes = f"unnest(%s::bigint[]) AS n(id) JOIN {smp} s ON s.id = n.id"
            params: list[Any] = [[r["sample_id"] for r in resolved if r["result"] == "negative"]]
        else:
            tubes = f"{res} r JOIN {smp} s ON s.id = r.sample_id"
            tubes += " AND r.batch = %s AND r.result = %s"
            params = [batch, "negative"]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {ob} SET status = %s, evidence_type = %s, evidence_id = x.sample_id, abnormal = %s,
                        fulfilled_at = %s
                    FROM (SELECT m.person_id, s.id AS sample_id, s.sampled_on, 'test_' || s.kind AS kind
                          FROM {tubes} JOIN {mem} m ON m.sample_id = s.id) x
                    WHERE {ob}.person_id = x.person_id AND {ob}.kind = x.kind AND {ob}.day <= x.sampled_on
                      AND {ob}.status IN (%s, %s)""",
                [Obligation.Status.FULFILLED, "sample", False, now, *params, *OPEN],
            )
            report.fulfilled = max(cursor.rowcount, 0)

    # Positives and invalids: members of those tubes, then what rules.outcome says for each tube.
    flagged = [r for r in resolved if r["result"] != "negative"]
    if flagged:
        members: dict[int, list[int]] = defaultdict(list)
        for sid, pid in SampleMember.objects.filter(sample_id__in=[r["sample_id"] for r in flagged]).values_list(
            "sample_id", "person_id"
        ).order_by("sample_id", "id"):
            members[sid].append(pid)
        people = {p.pk: p for p in Person.objects.filter(
            pk__in={pid for ids in members.values() for pid in ids}).only("id", "name", "unit_id", "organization_id")}
        retests: list[Obligation] = []
        findings: list[PositiveFinding] = []
        recipients = _recipients(organization)
        today = timezone.localdate()
        for r in flagged:
            sid, ids = r["sample_id"], members[r["sample_id"]]
            out = rules.outcome(r["result"], ids, pooled=r["pooled"])
            code = r["row"].tube_code or f"#{sid}"
            for pid, why in [(p, "retest") for p in out.retest_individually] + [(p, "resample") for p in
                                                                                  out.resample_pool]:
                p = people[pid]
                retests.append(Obligation(
                    organization_id=organization.pk, subject_type="person", subject_id=pid, person_id=pid,
                    unit_id=p.unit_id, kind=obligation_kind(r["kind"]), day=today, due_from=now,
                    due_until=now + dt.timedelta(days=1), source=f"{why}:sample:{sid}",
                ))
            for pid in out.propose_case:
                findings.append(PositiveFinding(
                    organization=organization, person_id=pid, sample_id=sid, kind=r["kind"],
                    sampled_at=r["row"].sampled_at or now, reported_at=r["reported_at"],
                ))
            if out.alert:
                names = "、".join(people[p].name for p in ids)
                if r["pooled"]:
                    _alert(organization, recipients, title=f"混采阳性：管码 {code}",
                           body=f"{organization.name} 混采管 {code}（{len(ids)} 人：{names}）检测阳性，"
                                f"已为每人生成立即单检任务，请立即组织单人单管复核。",
                           key=f"testing:pool:{sid}")
                else:
                    _alert(organization, recipients, title=f"阳性结果：{names}",
                           body=f"{organization.name} {names}（管码 {code}）检测阳性，请立即处置并启动流调。",
                           key=f"testing:positive:{sid}")
            audit_record(actor=actor, action="result.record", object_type="testing.sample", object_id=str(sid),
                         object_repr=code, organization_id=organization.pk,
                         changes={"result": [None, r["result"]], "members": [None, ids],
                                  "retest": [None, list(out.retest_individually)],
                                  "resample": [None, list(out.resample_pool)],
                                  "propose_case": [None, list(out.propose_case)]})
        if retests:
            Obligation.objects.bulk_create(retests, ignore_conflicts=True)
            report.retests = len(retests)
        if findings:
            PositiveFinding.objects.bulk_create(findings)
            report.findings = [f.pk for f in findings]

    negatives = [r for r in resolved if r["result"] == "negative"]
    if len(resolved) == 1 and negatives:
        r = negatives[0]
        audit_record(actor=actor, action="result.record", object_type="testing.sample", object_id=str(r["sample_id"]),
                     object_repr=r["row"].tube_code, organization_id=organization.pk,
                     changes={"result": [None, "negative"], "fulfilled": [None, report.fulfilled]})
    elif negatives:
        # A batch's negatives: one event for the batch (its key finds every result), not one per row.
        audit_record(actor=actor, action="result.record", object_type="testing.result_batch", object_id=batch,
                     object_repr=f"{len(negatives)} negative results", organization_id=organization.pk,
                     changes={"negative": [None, len(negatives)], "fulfilled": [None, report.fulfilled]})
    return report


def result_record(*, organization: Organization, actor: Any, result: str, tube_code: str = "",
                  person_id: int | None = None, id_number: str = "", kind: str = "",
                  sampled_at: dt.datetime | None = None, reported_at: dt.datetime | None = None,
                  lab: str = "") -> ApplyReport:
    """One result by hand or from a lab; any problem refuses it whole."""
    row = ResultRow(line=1, result=result, tube_code=tube_code, person_id=person_id, id_number=id_number, kind=kind,
                    sampled_at=sampled_at, reported_at=reported_at, lab=lab)
    try:
        return results_apply(organization=organization, rows=[row], actor=actor)
    except _Refused as exc:
        # A single entry has no "row 1": give the plain message.
        raise ServiceError(nothing_saved(exc.errors, numbered=False), exc.field_errors) from None


@transaction.atomic
def finding_mark(*, finding: PositiveFinding, status: str, actor: Any) -> PositiveFinding:
    """Tracing (or the office) marks a finding handled: case_proposed when a case was opened from it, or closed."""
    if status not in PositiveFinding.Status.values:
        raise ServiceError(gettext("未知的状态“%(status)s”") % {"status": status})
    old = finding.status
    finding.status = status
    finding.save(update_fields=["status"])
    audit_record(actor=actor, action="finding.status", obj=finding, organization_id=finding.organization_id,
                 changes={"status": [old, status]})
    return finding


# ----- vaccination --------------------------------------------------------------------------------------------------


def _doses(person: Person) -> int:
    state = VaccinationState.objects.filter(person=person).first()
    return state.doses if state else 0


def person_vaccination_status(person: Person) -> str:
    return rules.vaccination_status(_doses(person), complete_doses=complete_doses())


def vaccinated_lookup(person_ids: Sequence[int]) -> dict[int, bool]:
    """For the policy engine's facts: complete course (or more) → True; recorded fewer doses or none → False."""
    from fangkong.testing.models import VaccinationState

    ids = list(person_ids)
    done = complete_doses()
    found = {pid: False for pid in ids}
    for i in range(0, len(ids), 10_000):
        found.update({pid: doses >= done for pid, doses in VaccinationState.objects.filter(
            person_id__in=ids[i : i + 10_000]).values_list("person_id", "doses")})
    return found


def check_post_assignment(person: Person, post_category: str | None) -> None:
    """Seed 003: people who have not completed vaccination may not be put on cold-chain or fever-clinic posts."""
    if post_category in rules.RESTRICTED_POSTS and not rules.vaccinated_for_post(
        _doses(person), complete_doses=complete_doses()
    ):
        raise ServiceError(gettext("未完成疫苗接种的人员不能安排到进口冷链/发热门诊岗位"),
                           {"post_category": [gettext("未完成疫苗接种")]})


@transaction.atomic
def vaccination_record(*, person: Person, dose_number: int, product: str, vaccinated_on: dt.date, actor: Any,
                       manufacturer: str = "", site: str = "") -> Vaccination:
    if not (product or "").strip():
        raise ServiceError(gettext("%(person)s：疫苗名称必填") % {"person": person.name}, {"product": [gettext("必填")]})
    if vaccinated_on > timezone.localdate():
        raise ServiceError(gettext("%(person)s：接种日期 %(day)s 晚于今天") % {"person": person.name, "day": vaccinated_on},
                           {"vaccinated_on": [gettext("不能晚于今天")]})
    # Lock the person's summary so two entries of the same dose cannot both pass the order check.
    state, _ = VaccinationState.objects.select_for_update().get_or_create(person=person)
    existing = list(Vaccination.objects.filter(person=person).values_list("dose_number", "vaccinated_on"))
    try:
        rules.check_dose([n for n, _d in existing], dose_number)
    except ValueError as exc:
        raise ServiceError(gettext("%(person)s：%(error)s") % {"person": person.name, "error": worded(exc)},
                           {"dose_number": [worded(exc)]}) from None
    earlier = [d for n, d in existing if n < dose_number and d > vaccinated_on]
    if earlier:
        raise ServiceError(gettext("%(person)s：第 %(dose)s 剂的接种日期早于前一剂（%(earlier)s）")
                           % {"person": person.name, "dose": dose_number, "earlier": max(earlier)},
                           {"vaccinated_on": [gettext("早于前一剂")]})
    record = Vaccination.objects.create(
        organization_id=person.organization_id, person=person, dose_number=dose_number, product=product.strip(),
        manufacturer=manufacturer.strip(), vaccinated_on=vaccinated_on, site=site.strip(),
        entered_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    old_status = rules.vaccination_status(state.doses, complete_doses=complete_doses())
    state.doses = max(state.doses, dose_number)
    state.last_on = max(filter(None, [state.last_on, vaccinated_on]))
    state.save()
    audit_record(actor=actor, action="vaccination.record", obj=record, organization_id=person.organization_id,
                 changes={"dose_number": [None, dose_number], "product": [None, record.product],
                          "status": [old_status, rules.vaccination_status(state.doses,
                                                                           complete_doses=complete_doses())]})
    return record


@transaction.atomic
def contraindication_record(*, person: Person, reason: str, actor: Any, until: dt.date | None = None
                            ) -> Contraindication:
    if not (reason or "").strip():
        raise ServiceError(gettext("%(person)s：禁忌原因必填") % {"person": person.name}, {"reason": [gettext("必填")]})
    row = Contraindication.objects.create(
        organization_id=person.organization_id, person=person, reason=reason.strip()[:200], until=until,
        entered_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(actor=actor, action="contraindication.record", obj=row, organization_id=person.organization_id,
                 changes={"reason": [None, row.reason], "until": [None, until.isoformat() if until else None]})
    return row


@dataclass
class VaccinationRow:
    line: int
    id_number: str
    dose_number: str
    product: str
    vaccinated_on: str
    manufacturer: str = ""
    site: str = ""


def vaccinations_import(*, organization: Organization, rows: Iterable[VaccinationRow], actor: Any,
                        valid_only: bool = False) -> ApplyReport:
    """Excel rows of dose records; the same checks as one entry, with row-level errors ('第 N 行，剂次：…')."""
    rows = list(rows)
    report = ApplyReport(total=len(rows))
    hashes = {crypto.lookup_hash(r.id_number) for r in rows if r.id_number.strip()}
    people = {p.id_number_hash: p for p in Person.objects.filter(organization=organization,
                                                                   id_number_hash__in=list(hashes))}
    parsed: list[tuple[VaccinationRow, Person, int, dt.date]] = []
    for r in rows:
        def err(column: str, message: str, r: VaccinationRow = r) -> None:
            report.errors.append({"row": r.line, "column": column, "message": message})

        person = people.get(crypto.lookup_hash(r.id_number)) if r.id_number.strip() else None
        if person is None:
            err("身份证号", gettext("身份证号必填") if not r.id_number.strip() else
                gettext("本单位没有证件号码为 %(id)s 的人员") % {"id": crypto.mask_id_number(r.id_number)})
            continue
        try:
            dose = int(float(r.dose_number))
        except ValueError:
            err("剂次", gettext("剂次应为数字，实为“%(value)s”") % {"value": r.dose_number})
            continue
        try:
            on = dt.date.fromisoformat(r.vaccinated_on[:10])
        except ValueError:
            err("接种日期", gettext("日期格式应为 YYYY-MM-DD，实为“%(value)s”") % {"value": r.vaccinated_on})
            continue
        parsed.append((r, person, dose, on))
    # Order rows per person by dose so a file listing dose 2 before dose 1 still imports.
    parsed.sort(key=lambda t: (t[1].pk, t[2]))
    try:
        with transaction.atomic():
            for r, person, dose, on in parsed:
                try:
                    with transaction.atomic():
                        vaccination_record(person=person, dose_number=dose, product=r.product, vaccinated_on=on,
                                           manufacturer=r.manufacturer, site=r.site, actor=actor)
                    report.applied += 1
                except ServiceError as exc:
                    column = {"dose_number": "剂次", "product": "疫苗名称", "vaccinated_on": "接种日期"}.get(
                        next(iter(exc.field_errors), ""), "剂次")
                    report.errors.append({"row": r.line, "column": column, "message": exc.message})
            if report.errors and not valid_only:
                raise _Rollback
    except _Rollback:
        report.applied = 0
    report.errors.sort(key=lambda e: e["row"])
    return report


class _Rollback(Exception):
    pass


def unvaccinated_q() -> Q:
    return Q(vaccination_state__isnull=True) | Q(vaccination_state__doses=0)
