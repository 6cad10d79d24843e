"""Writes for risk areas, policies, stays, arrivals and travel requests. Keyword-only, atomic, audited.

Risk-area changes that can add measures (a new area, a raised level) queue a re-evaluation after commit.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.core.audit import audit_record, diff
from fangkong.core.errors import ServiceError
from fangkong.geo.models import Region
from fangkong.people.models import Person
from fangkong.policy.models import (
    Arrival,
    Policy,
    PolicyActivation,
    ReevaluationRun,
    RiskArea,
    Rule,
    Stay,
    TravelRequest,
)
from fangkong.tenancy.models import Jurisdiction

LEVEL_ORDER = {"low": 0, "medium": 1, "high": 2}
LEVEL_LABELS = {"高": "high", "高风险": "high", "中": "medium", "中风险": "medium", "低": "low", "低风险": "low",
                "high": "high", "medium": "medium", "low": "low"}


def _fail(field: str, message: str, stay: int | None = None) -> ServiceError:
    """The error of one field; `stay` (1-based) names the stay of a list it belongs to ("第 2 条旅居史，…")."""
    if stay is None:
        return ServiceError(message, {field: [message]})
    return ServiceError(gettext("第 %(n)d 条旅居史，%(error)s") % {"n": stay, "error": message}, {field: [message]})


def _region(code: str, field: str = "region_code") -> Region:
    code = (code or "").strip()
    region = Region.objects.filter(code=code).first() if code else None
    if region is None:
        raise _fail(field, gettext("未知的行政区划代码：%(code)s") % {"code": code} if code
                    else gettext("未知的行政区划代码：（空）"))
    return region


def _as_date(value: Any, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise _fail(field, gettext("日期格式应为 YYYY-MM-DD，收到“%(value)s”") % {"value": value}) from None


# --- risk areas -------------------------------------------------------------------------------------------------


def _queue_reevaluation(area: RiskArea, on: date, also: Sequence[RiskArea] = ()) -> ReevaluationRun:
    run = ReevaluationRun.objects.create(risk_area=area, evaluation_date=on)
    if also:
        run.also_areas.set(also)

    def start() -> None:
        from fangkong.policy.tasks import reevaluate_task

        reevaluate_task(run.pk)

    transaction.on_commit(start)
    return run


def _evaluation_day(area: RiskArea) -> date:
    """Re-evaluate as of today, or as of the start date if the area is announced ahead."""
    return max(timezone.localdate(), area.effective_from)


@transaction.atomic
def risk_area_announce(
    *, jurisdiction: Jurisdiction, region_code: str, level: str, effective_from: date, actor: Any,
    effective_until: date | None = None, locality: str = "", source: str = "", reevaluate: bool = True,
) -> RiskArea:
    region = _region(region_code)
    if level not in LEVEL_ORDER:
        raise _fail("level", gettext("风险等级应为 high、medium 或 low，收到“%(level)s”") % {"level": level})
    if effective_until is not None and effective_until < effective_from:
        raise _fail("effective_until", gettext("截止日期 %(until)s 早于生效日期 %(start)s") % {
            "until": effective_until, "start": effective_from})
    locality = (locality or "").strip()
    clash = RiskArea.objects.filter(
        jurisdiction=jurisdiction, region=region, locality=locality, superseded_by__isnull=True,
    ).filter(Q(effective_until__isnull=True) | Q(effective_until__gte=effective_from)).first()
    if clash is not None:
        raise _fail("region_code", gettext(
            "%(place)s 已有 %(since)s 起的%(level)s记录，请用“调整等级”或“解除”而不是重复发布") % {
            "place": f"{region.full_name} {locality}" if locality else region.full_name,
            "since": clash.effective_from, "level": clash.get_level_display()})
    area = RiskArea.objects.create(
        region=region, locality=locality, level=level, effective_from=effective_from,
        effective_until=effective_until, jurisdiction=jurisdiction, source=source,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(actor=actor, action="riskarea.announce", obj=area, jurisdiction_path=jurisdiction.path,
                 changes={"level": [None, level], "effective_from": [None, effective_from.isoformat()]})
    if reevaluate and level in ("high", "medium"):
        _queue_reevaluation(area, _evaluation_day(area))
    return area


@transaction.atomic
def risk_area_change_level(
    *, area: RiskArea, level: str, effective_from: date, actor: Any, source: str = "",
) -> RiskArea:
    """A new record from `effective_from`; the old one is closed the day before (the only field that changes)."""
    area = RiskArea.objects.select_for_update().get(pk=area.pk)
    if area.superseded_by.exists():
        raise _fail("area", gettext("该记录（#%(pk)s）已被后续记录取代，请在最新记录上操作") % {"pk": area.pk})
    if level not in LEVEL_ORDER:
        raise _fail("level", gettext("风险等级应为 high、medium 或 low，收到“%(level)s”") % {"level": level})
    if effective_from <= area.effective_from:
        raise _fail("effective_from", gettext("调整日期 %(on)s 必须晚于原记录的生效日期 %(start)s") % {
            "on": effective_from, "start": area.effective_from})
    if area.effective_until is not None and effective_from > area.effective_until + timedelta(days=1):
        raise _fail("effective_from", gettext("原记录已于 %(until)s 结束，不能在其后调整") % {"until": area.effective_until})
    old_until = area.effective_until
    area.effective_until = effective_from - timedelta(days=1)
    area.save(update_fields=["effective_until"])
    audit_record(actor=actor, action="riskarea.close", obj=area, jurisdiction_path=area.jurisdiction.path,
                 changes={"effective_until": [old_until.isoformat() if old_until else None,
                                              area.effective_until.isoformat()]})
    new = RiskArea.objects.create(
        region_id=area.region_id, locality=area.locality, level=level, effective_from=effective_from,
        effective_until=old_until, jurisdiction=area.jurisdiction, source=source or area.source, supersedes=area,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(actor=actor, action="riskarea.change_level", obj=new, jurisdiction_path=area.jurisdiction.path,
                 changes={"level": [area.level, level], "effective_from": [None, effective_from.isoformat()]})
    if LEVEL_ORDER[level] > LEVEL_ORDER[area.level]:
        _queue_reevaluation(new, _evaluation_day(new))
    return new


@transaction.atomic
def risk_area_end(*, area: RiskArea, ended_on: date, actor: Any, source: str = "") -> RiskArea:
    """Lifting an area: from `ended_on` it is low risk (a new record); the old record is kept, closed the day before."""
    return risk_area_change_level(area=area, level="low", effective_from=ended_on, actor=actor, source=source)


@dataclass
class ImportResult:
    created: list[RiskArea]


def _import_rows(data: bytes, filename: str) -> list[dict[str, Any]]:
    """Rows as dicts keyed by the Chinese or English column names, from JSON (a list of objects) or Excel."""
    if filename.lower().endswith(".json"):
        try:
            rows = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _fail("file", gettext("JSON 无法解析：%(error)s") % {"error": e}) from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise _fail("file", gettext("JSON 应为对象数组，每个对象一行"))
        return rows
    if filename.lower().endswith((".xlsx", ".xlsm")):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises many kinds for a damaged file
            raise _fail("file", gettext("Excel 文件无法读取：%(error)s") % {"error": e}) from None
        sheet = wb.worksheets[0]
        values = list(sheet.iter_rows(values_only=True))
        if not values:
            return []
        header = [str(h or "").strip() for h in values[0]]
        return [dict(zip(header, row, strict=False)) for row in values[1:] if any(c not in (None, "") for c in row)]
    raise _fail("file", gettext("只支持 .xlsx 或 .json 文件"))


_COLUMNS = {
    "region_code": ("区划代码", "region_code"), "locality": ("具体地点", "locality"),
    "level": ("风险等级", "level"), "effective_from": ("生效日期", "effective_from"),
    "effective_until": ("截止日期", "effective_until"), "source": ("来源", "source"),
}


def _col(row: Mapping[str, Any], key: str) -> Any:
    for name in _COLUMNS[key]:
        if name in row and row[name] not in (None, ""):
            return row[name]
    return None


def _code_cell(value: Any) -> str:
    """A region code cell as text: Excel stores 130109 as a number (sometimes 130109.0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value if value is not None else "").strip()


@transaction.atomic
def risk_areas_import(
    *, jurisdiction: Jurisdiction, data: bytes, filename: str, actor: Any,
) -> ImportResult:
    """All or nothing: every row is checked first; any error → nothing stored, each error names its row."""
    rows = _import_rows(data, filename)
    if not rows:
        raise _fail("file", gettext("文件中没有数据行"))
    errors: dict[str, list[str]] = {}
    parsed: list[dict[str, Any]] = []
    regions = {r.code: r for r in Region.objects.filter(
        code__in=[_code_cell(_col(r, "region_code")) for r in rows])}
    first_line = 2 if filename.lower().endswith((".xlsx", ".xlsm")) else 1  # Excel row 1 is the header
    for i, row in enumerate(rows):
        n = i + first_line
        line = f"第 {n} 行"  # the key of the row's errors, as the file's users count rows
        row_errors: list[str] = []
        code = _code_cell(_col(row, "region_code"))
        if code not in regions:
            row_errors.append(gettext("第 %(row)d 行，区划代码：未知的行政区划代码 %(code)s") % {"row": n, "code": code}
                              if code else gettext("第 %(row)d 行，区划代码：未知的行政区划代码 （空）") % {"row": n})
        level = LEVEL_LABELS.get(str(_col(row, "level") or "").strip())
        if level is None:
            row_errors.append(gettext("第 %(row)d 行，风险等级：应为 高/中/低（high/medium/low）") % {"row": n})
        values: dict[str, Any] = {}
        for key, bad_date in (("effective_from", gettext("第 %(row)d 行，生效日期：日期格式应为 YYYY-MM-DD，收到“%(value)s”")),
                              ("effective_until", gettext("第 %(row)d 行，截止日期：日期格式应为 YYYY-MM-DD，收到“%(value)s”"))):
            raw = _col(row, key)
            if raw is None:
                if key == "effective_from":
                    row_errors.append(gettext("第 %(row)d 行，生效日期：必填") % {"row": n})
                values[key] = None
                continue
            try:
                values[key] = _as_date(raw, key)
            except ServiceError:
                row_errors.append(bad_date % {"row": n, "value": raw})
        if values.get("effective_from") and values.get("effective_until") and \
                values["effective_until"] < values["effective_from"]:
            row_errors.append(gettext("第 %(row)d 行，截止日期：早于生效日期") % {"row": n})
        if row_errors:
            errors[line] = row_errors
            continue
        parsed.append({"region_code": code, "level": level, "locality": str(_col(row, "locality") or ""),
                       "source": str(_col(row, "source") or ""), **values})
    if errors:
        first = next(iter(errors.values()))[0]
        raise ServiceError(gettext("导入失败，共 %(n)d 行有误，未导入任何记录。%(first)s") % {"n": len(errors), "first": first},
                           errors)
    created = []
    try:
        for values in parsed:
            created.append(risk_area_announce(jurisdiction=jurisdiction, actor=actor, reevaluate=False, **values))
    except ServiceError as e:
        n = len(created) + first_line
        raise ServiceError(gettext("导入失败，未导入任何记录。第 %(row)d 行：%(error)s") % {"row": n, "error": e.message},
                           {f"第 {n} 行": [e.message]}) from None
    # One re-evaluation per evaluation day for all the medium and high areas of the file, not one per row.
    by_day: dict[date, list[RiskArea]] = {}
    for area in created:
        if area.level in ("high", "medium"):
            by_day.setdefault(_evaluation_day(area), []).append(area)
    for on, areas in sorted(by_day.items()):
        _queue_reevaluation(areas[0], on, also=areas[1:])
    audit_record(actor=actor, action="riskarea.import", object_type="policy.riskarea",
                 object_repr=f"{filename}: {len(created)}", jurisdiction_path=jurisdiction.path)
    return ImportResult(created=created)


# --- policies ---------------------------------------------------------------------------------------------------


@transaction.atomic
def policy_pack_install(*, pack_key: str, jurisdiction: Jurisdiction, actor: Any) -> Policy:
    """Create the pack's Policy and Rules for a jurisdiction; installing again changes nothing."""
    from fangkong.policy import packs, rules

    pack = packs.PACKS.get(pack_key)
    if pack is None:
        raise _fail("pack_key", gettext("未知的规则包：%(key)s，可选：%(choices)s") % {
            "key": pack_key, "choices": ", ".join(sorted(packs.PACKS))})
    policy, created = Policy.objects.get_or_create(
        jurisdiction=jurisdiction, pack_key=pack_key,
        defaults={"title": pack.title, "number": pack.policy_number, "issuer": pack.issuer,
                  "effective_from": pack.effective_from, "effective_until": pack.effective_until,
                  "source": pack.source},
    )
    if not created:
        return policy
    for i, spec in enumerate(pack.rules):
        data = rules.rule_to_dict(spec)
        Rule.objects.create(
            policy=policy, key=data["key"], clause=data.get("clause", ""), condition=data.get("condition", {}),
            measure=data.get("measure", {}), precedence=data.get("precedence", (i + 1) * 10),
            note=data.get("note", ""), local_setting=bool(data.get("local_setting", False)),
        )
    audit_record(actor=actor, action="policy.install_pack", obj=policy, jurisdiction_path=jurisdiction.path,
                 changes={"pack_key": [None, pack_key], "rules": [None, len(pack.rules)]})
    return policy


@transaction.atomic
def policy_activation_set(*, jurisdiction: Jurisdiction, policy: Policy, enabled: bool, actor: Any) -> PolicyActivation:
    if not jurisdiction.path.startswith(policy.jurisdiction.path) and \
            not policy.jurisdiction.path.startswith(jurisdiction.path):
        raise _fail("policy", gettext("政策“%(policy)s”不属于 %(jurisdiction)s 或其上级，不能在此启用") % {
            "policy": policy, "jurisdiction": jurisdiction.name})
    activation, _created = PolicyActivation.objects.get_or_create(
        jurisdiction=jurisdiction, policy=policy,
        defaults={"enabled": enabled, "by": actor if getattr(actor, "is_authenticated", False) else None},
    )
    before = None if _created else activation.enabled
    if not _created and activation.enabled != enabled:
        activation.enabled = enabled
        activation.by = actor if getattr(actor, "is_authenticated", False) else None
        activation.save(update_fields=["enabled", "by", "at"])
    audit_record(actor=actor, action="policy.activation", obj=policy, jurisdiction_path=jurisdiction.path,
                 changes={"enabled": [before, enabled], "jurisdiction": [None, jurisdiction.name]})
    return activation


@transaction.atomic
def rule_set_enabled(*, rule: Rule, enabled: bool, actor: Any) -> Rule:
    if rule.enabled != enabled:
        audit_record(actor=actor, action="policy.rule_enabled", obj=rule,
                     jurisdiction_path=rule.policy.jurisdiction.path, changes={"enabled": [rule.enabled, enabled]})
        rule.enabled = enabled
        rule.save(update_fields=["enabled"])
    return rule


# --- stays and arrivals -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StayIn:
    region_code: str
    from_date: date
    to_date: date
    locality: str = ""


def _stay_in(raw: Any) -> StayIn:
    if isinstance(raw, StayIn):
        return raw
    get = raw.get if isinstance(raw, Mapping) else lambda k, d=None: getattr(raw, k, d)
    return StayIn(region_code=str(get("region_code", "") or "").strip(),
                  from_date=_as_date(get("from_date"), "from_date"), to_date=_as_date(get("to_date"), "to_date"),
                  locality=str(get("locality", "") or "").strip())


def stays_validate(*, person: Person | None, stays: Sequence[Any], today: date | None = None,
                   prefix: str = "stays") -> list[tuple[StayIn, Region]]:
    """Check every stay before anything is stored; the error names the stay (stays.2.to_date) and what is wrong."""
    today = today or timezone.localdate()
    items = [_stay_in(s) for s in stays]
    codes = {s.region_code for s in items}
    regions = {r.code: r for r in Region.objects.filter(code__in=codes)}
    out: list[tuple[StayIn, Region]] = []
    for i, s in enumerate(items):
        field = f"{prefix}.{i}"
        region = regions.get(s.region_code)
        if region is None:
            raise _fail(f"{field}.region_code", gettext("区划代码：未知的行政区划代码 %(code)s") % {"code": s.region_code}
                        if s.region_code else gettext("区划代码：未知的行政区划代码 （空）"), i + 1)
        if s.to_date < s.from_date:
            raise _fail(f"{field}.to_date", gettext("结束日期 %(end)s 早于开始日期 %(start)s") % {
                "end": s.to_date, "start": s.from_date}, i + 1)
        if s.from_date > today or s.to_date > today:
            raise _fail(f"{field}.to_date", gettext("旅居日期 %(end)s 在今天（%(today)s）之后，不能申报未来的旅居") % {
                "end": s.to_date, "today": today}, i + 1)
        for j, (other, _r) in enumerate(out):
            if other.region_code == s.region_code and other.locality == s.locality and \
                    other.from_date <= s.to_date and s.from_date <= other.to_date:
                raise _fail(f"{field}.from_date", gettext("与第 %(n)d 条（%(region)s %(start)s–%(end)s）时间重叠") % {
                    "n": j + 1, "region": region.full_name, "start": other.from_date, "end": other.to_date}, i + 1)
        out.append((s, region))
    if person is not None and out:
        existing = Stay.objects.filter(person=person, region_id__in=codes).values_list(
            "region_id", "locality", "from_date", "to_date")
        for i, (s, region) in enumerate(out):
            for code, locality, f, t in existing:
                if code == s.region_code and locality == s.locality and f <= s.to_date and s.from_date <= t:
                    raise _fail(f"{prefix}.{i}.from_date", gettext(
                        "与已登记的旅居史（%(region)s %(start)s–%(end)s）时间重叠，请勿重复申报") % {
                        "region": region.full_name, "start": f, "end": t}, i + 1)
    return out


@transaction.atomic
def stay_add(*, person: Person, region_code: str, from_date: date, to_date: date, actor: Any, locality: str = "",
             source: str = Stay.Source.DECLARED) -> Stay:
    ((s, region),) = stays_validate(
        person=person, stays=[StayIn(region_code, from_date, to_date, locality)], prefix="stay")
    stay = Stay.objects.create(person=person, region=region, locality=s.locality, from_date=s.from_date,
                               to_date=s.to_date, source=source,
                               created_by=actor if getattr(actor, "is_authenticated", False) else None)
    audit_record(actor=actor, action="stay.add", obj=stay, organization_id=person.organization_id,
                 changes={"region": [None, region.code], "dates": [None, f"{from_date}–{to_date}"]})
    return stay


@dataclass
class ArrivalResult:
    arrival: Arrival
    decisions: list[Any]
    measures: list[Any]


@transaction.atomic
def arrival_record(*, person: Person, arrived_on: date, stays: Sequence[Any], actor: Any,
                   source: str = Arrival.Source.REPORT, from_region_code: str | None = None) -> ArrivalResult:
    """Store the return report, run the engine for the person on the arrival date, record its decisions."""
    from fangkong.measures.services import measures_record_decisions
    from fangkong.policy import selectors

    today = timezone.localdate()
    if arrived_on > today:
        raise _fail("arrived_on", gettext("抵达日期 %(on)s 在今天（%(today)s）之后") % {"on": arrived_on, "today": today})
    checked = stays_validate(person=person, stays=stays, today=today)
    for i, (s, _r) in enumerate(checked):
        if s.from_date > arrived_on:
            raise _fail(f"stays.{i}.from_date", gettext("旅居开始日期 %(start)s 晚于抵达日期 %(on)s") % {
                "start": s.from_date, "on": arrived_on}, i + 1)
    from_region = _region(from_region_code, "from_region_code") if from_region_code else None
    user = actor if getattr(actor, "is_authenticated", False) else None
    arrival = Arrival.objects.create(person=person, arrived_on=arrived_on, source=source, created_by=user,
                                     from_region=from_region or (checked[-1][1] if checked else None))
    stay_source: str = {"visit": Stay.Source.VISIT, "travel": Stay.Source.TRAVEL}.get(str(source),
                                                                                       Stay.Source.ARRIVAL)
    Stay.objects.bulk_create([
        Stay(person=person, region=r, locality=s.locality, from_date=s.from_date, to_date=s.to_date,
             source=stay_source, arrival=arrival, created_by=user) for s, r in checked
    ])
    audit_record(actor=actor, action="arrival.record", obj=arrival, organization_id=person.organization_id,
                 changes={"arrived_on": [None, arrived_on.isoformat()], "stays": [None, len(checked)]})
    decisions, digest = selectors.evaluate_person(person=person, on=arrived_on, arrived_on=arrived_on)
    measures = measures_record_decisions(person=person, decisions=decisions, actor=actor,
                                         evaluation_date=arrived_on, facts_digest=digest)
    return ArrivalResult(arrival=arrival, decisions=decisions, measures=measures)


# --- travel requests --------------------------------------------------------------------------------------------


@transaction.atomic
def travel_request_create(*, person: Person, destination_code: str, from_date: date, to_date: date, purpose: str,
                          actor: Any, locality: str = "", companions: str = "") -> TravelRequest:
    region = _region(destination_code, "destination_code")
    if to_date < from_date:
        raise _fail("to_date", gettext("返回日期 %(back)s 早于出发日期 %(start)s") % {"back": to_date, "start": from_date})
    if not (purpose or "").strip():
        raise _fail("purpose", gettext("请填写外出事由"))
    tr = TravelRequest.objects.create(
        person=person, destination=region, locality=locality.strip(), from_date=from_date, to_date=to_date,
        companions=companions.strip(), purpose=purpose.strip(),
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(actor=actor, action="travel.request", obj=tr, organization_id=person.organization_id,
                 changes={"destination": [None, region.code], "dates": [None, f"{from_date}–{to_date}"]})
    return tr


@transaction.atomic
def travel_request_update(*, request: TravelRequest, actor: Any, **values: Any) -> TravelRequest:
    tr = TravelRequest.objects.select_for_update().get(pk=request.pk)
    if tr.status != TravelRequest.Status.REQUESTED:
        raise _fail("status", gettext("外出报备 #%(pk)s 已是“%(status)s”，不能再修改") % {
            "pk": tr.pk, "status": tr.get_status_display()})
    before = {"destination": tr.destination_id, "locality": tr.locality, "from_date": tr.from_date,
              "to_date": tr.to_date, "companions": tr.companions, "purpose": tr.purpose}
    if values.get("destination_code") is not None:
        tr.destination = _region(values.pop("destination_code"), "destination_code")
    values.pop("destination_code", None)
    for key in ("locality", "from_date", "to_date", "companions", "purpose"):
        if values.get(key) is not None:
            setattr(tr, key, values[key].strip() if isinstance(values[key], str) else values[key])
    if tr.to_date < tr.from_date:
        raise _fail("to_date", gettext("返回日期 %(back)s 早于出发日期 %(start)s") % {
            "back": tr.to_date, "start": tr.from_date})
    if not tr.purpose:
        raise _fail("purpose", gettext("请填写外出事由"))
    tr.save()
    after = {"destination": tr.destination_id, "locality": tr.locality, "from_date": tr.from_date,
             "to_date": tr.to_date, "companions": tr.companions, "purpose": tr.purpose}
    audit_record(actor=actor, action="travel.update", obj=tr, organization_id=tr.person.organization_id,
                 changes=diff(before, after))
    return tr


@transaction.atomic
def travel_request_withdraw(*, request: TravelRequest, actor: Any) -> None:
    tr = TravelRequest.objects.select_for_update().select_related("person").get(pk=request.pk)
    if tr.status != TravelRequest.Status.REQUESTED:
        raise _fail("status", gettext("外出报备 #%(pk)s 已是“%(status)s”，不能撤回") % {
            "pk": tr.pk, "status": tr.get_status_display()})
    audit_record(actor=actor, action="travel.withdraw", obj=tr, organization_id=tr.person.organization_id)
    tr.delete()


def _decide(tr: TravelRequest, status: str, actor: Any, reason: str) -> TravelRequest:
    tr = TravelRequest.objects.select_for_update().get(pk=tr.pk)
    if tr.status != TravelRequest.Status.REQUESTED:
        raise _fail("status", gettext("外出报备 #%(pk)s 已是“%(status)s”，不能再审批") % {
            "pk": tr.pk, "status": tr.get_status_display()})
    tr.status = status
    tr.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    tr.decided_at = timezone.now()
    tr.reason = (reason or "").strip()
    tr.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    audit_record(actor=actor, action=f"travel.{status}", obj=tr, organization_id=tr.person.organization_id,
                 changes={"status": ["requested", status], "reason": [None, tr.reason]})
    return tr


@transaction.atomic
def travel_request_approve(*, request: TravelRequest, actor: Any, reason: str = "") -> TravelRequest:
    return _decide(request, TravelRequest.Status.APPROVED, actor, reason)


@transaction.atomic
def travel_request_refuse(*, request: TravelRequest, actor: Any, reason: str) -> TravelRequest:
    if not (reason or "").strip():
        raise _fail("reason", gettext("不批准时请填写理由"))
    return _decide(request, TravelRequest.Status.REFUSED, actor, reason)


@transaction.atomic
def travel_request_return(*, request: TravelRequest, returned_on: date, stays: Sequence[Any] | None,
                          actor: Any) -> ArrivalResult:
    """The return report: becomes an Arrival with its stays (by default the approved trip itself)."""
    tr = TravelRequest.objects.select_for_update().select_related("person").get(pk=request.pk)
    if tr.status != TravelRequest.Status.APPROVED:
        raise _fail("status", gettext("外出报备 #%(pk)s 状态为“%(status)s”，只有已批准的外出才能报备返回") % {
            "pk": tr.pk, "status": tr.get_status_display()})
    if returned_on < tr.from_date:
        raise _fail("returned_on", gettext("返回日期 %(back)s 早于出发日期 %(start)s") % {
            "back": returned_on, "start": tr.from_date})
    if not stays:
        stays = [StayIn(tr.destination_id, tr.from_date, min(returned_on, max(tr.to_date, tr.from_date)),
                        tr.locality)]
    result = arrival_record(person=tr.person, arrived_on=returned_on, stays=stays, actor=actor,
                            source=Arrival.Source.TRAVEL)
    tr.status = TravelRequest.Status.RETURNED
    tr.arrival = result.arrival
    tr.save(update_fields=["status", "arrival"])
    audit_record(actor=actor, action="travel.return", obj=tr, organization_id=tr.person.organization_id,
                 changes={"status": ["approved", "returned"], "arrival": [None, result.arrival.pk]})
    return result


# --- re-evaluation ----------------------------------------------------------------------------------------------

REEVALUATION_CHUNK = 10_000


def reevaluate_run(run_id: int, *, actor: Any = None) -> ReevaluationRun:
    """Find the people a risk-area change affects and record their decisions, chunk by chunk, with progress.

    Set-based: one query finds the people (index on Stay(region, to_date)), three load their facts per chunk,
    a handful write the measures; rules and areas are loaded once per jurisdiction, not per person.
    """
    from fangkong.measures.services import record_decisions_bulk
    from fangkong.policy import rules, selectors

    run = ReevaluationRun.objects.select_related("risk_area", "risk_area__jurisdiction").get(pk=run_id)
    run.status = ReevaluationRun.Status.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    area = run.risk_area
    areas = ([area] if area is not None else []) + list(run.also_areas.select_related("jurisdiction"))
    try:
        on = run.evaluation_date
        found: set[int] = set()
        for each in areas:
            found.update(selectors.affected_person_ids(each, on))
        person_ids = sorted(found)
        run.total = len(person_ids)
        run.save(update_fields=["total"])
        by_jurisdiction: dict[int, tuple[list[Any], Any]] = {}
        for start in range(0, len(person_ids), REEVALUATION_CHUNK):
            chunk = person_ids[start : start + REEVALUATION_CHUNK]
            facts, jurisdiction_of = selectors.bulk_facts(chunk, on)
            decisions: dict[int, list[Any]] = {}
            digests: dict[int, str] = {}
            for pid, f in facts.items():
                jid = jurisdiction_of[pid]
                if jid not in by_jurisdiction:
                    j = Jurisdiction.objects.get(pk=jid)
                    by_jurisdiction[jid] = (selectors.rules_in_force(j, on),
                                            selectors.area_index(selectors.areas_counting(j, on)))
                rule_specs, index = by_jurisdiction[jid]
                if not rule_specs:
                    continue
                decisions[pid] = list(rules.evaluate(f, rule_specs, index, on))
                digests[pid] = selectors.digest_of(f, on)
            with transaction.atomic():
                created = record_decisions_bulk(decisions_by_person=decisions, evaluation_date=on, actor=actor,
                                                digests=digests)
                run.processed += len(chunk)
                run.created += len(created)
                run.save(update_fields=["processed", "created"])
        run.status = ReevaluationRun.Status.DONE
    except Exception as e:  # the page must show a failed run rather than one stuck "running"
        run.status = ReevaluationRun.Status.FAILED
        run.error = f"{type(e).__name__}: {e}"[:2000]
        raise
    finally:
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        if area is not None:
            audit_record(actor=actor or "system", action="policy.reevaluate", obj=run,
                         object_repr=f"{area}{f' 等 {len(areas)} 个地区' if len(areas) > 1 else ''} → "
                                     f"{run.total} 人，新增措施 {run.created} 条",
                         jurisdiction_path=area.jurisdiction.path,
                         changes={"total": [None, run.total], "created": [None, run.created]})
    return run
