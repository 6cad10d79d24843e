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
from django.utils.translation import gettext, gettext_lazy

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

# Risk areas were first announced in the 2019-12 outbreak; a date before that, or more than a year ahead, is a typing
# error (1990 for 2021, 2099 for 2021) that would otherwise quietly put an area in or out of force for decades.
EARLIEST_EFFECTIVE = date(2019, 12, 1)
MAX_DAYS_AHEAD = 366


def _effective_date_error(value: date) -> str | None:
    latest = timezone.localdate() + timedelta(days=MAX_DAYS_AHEAD)
    if value < EARLIEST_EFFECTIVE:
        return gettext("日期 %(value)s 早于 %(earliest)s，请核对") % {"value": value, "earliest": EARLIEST_EFFECTIVE}
    if value > latest:
        return gettext("日期 %(value)s 晚于 %(latest)s（最多提前 %(days)d 天），请核对") % {
            "value": value, "latest": latest, "days": MAX_DAYS_AHEAD}
    return None


def _length_error(value: str, field: str) -> str | None:
    """The model's own limit (PostgreSQL refuses a longer value with a database error, SQLite stores it)."""
    limit: int | None = getattr(RiskArea._meta.get_field(field), "max_length", None)
    if limit is not None and len(value) > limit:
        return gettext("不能超过 %(max)d 个字符（现为 %(n)d 个）") % {"max": limit, "n": len(value)}
    return None


def _clash_error(region: Region, locality: str, clash: RiskArea) -> str:
    return gettext("%(place)s 已有 %(since)s 起的%(level)s记录，请用“调整等级”或“解除”而不是重复发布") % {
        "place": f"{region.full_name} {locality}" if locality else region.full_name,
        "since": clash.effective_from, "level": clash.get_level_display()}


def _clashes(clash: RiskArea, effective_from: date) -> bool:
    """A record still current (not replaced, not ended before the new start) is the same area announced twice."""
    return clash.effective_until is None or clash.effective_until >= effective_from


# What the columns (and the same fields of the forms and the API) are called: the headers of the import file.
_LABELS = {"region_code": gettext_lazy("区划代码"), "locality": gettext_lazy("具体地点"),
           "level": gettext_lazy("风险等级"), "effective_from": gettext_lazy("生效日期"),
           "effective_until": gettext_lazy("截止日期"), "source": gettext_lazy("来源")}


def _area_values_check(values: Mapping[str, Any]) -> None:
    """Dates within reach and texts within the columns' limits; the error names the field and says what is wrong."""
    for field in ("effective_from", "effective_until", "locality", "source"):
        value = values.get(field)
        error = (_effective_date_error(value) if isinstance(value, date) else
                 _length_error(value or "", field) if field in ("locality", "source") else None)
        if error:
            raise _field_error(field, error)


def _field_error(field: str, error: str) -> ServiceError:
    """The message names the field ("具体地点：…"); the field's own error is the bare sentence."""
    return ServiceError(gettext("%(field)s：%(error)s") % {"field": _LABELS[field], "error": error}, {field: [error]})


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
    source = source or ""
    _area_values_check({"effective_from": effective_from, "effective_until": effective_until, "locality": locality,
                        "source": source})
    clash = RiskArea.objects.filter(
        jurisdiction=jurisdiction, region=region, locality=locality, superseded_by__isnull=True,
    ).filter(Q(effective_until__isnull=True) | Q(effective_until__gte=effective_from)).first()
    if clash is not None:
        raise _fail("region_code", _clash_error(region, locality, clash))
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
    return _change_level(area=area, level=level, effective_from=effective_from, actor=actor, source=source)


def _change_level(*, area: RiskArea, level: str, effective_from: date, actor: Any, source: str,
                  date_field: str = "effective_from") -> RiskArea:
    """`date_field`: the name the caller's input gave the date (ended_on when lifting), for the error's key."""
    if error := _effective_date_error(effective_from):
        raise _fail(date_field, error)
    if error := _length_error(source or "", "source"):
        raise _field_error("source", error)
    area = RiskArea.objects.select_for_update().get(pk=area.pk)
    if area.superseded_by.exists():
        raise _fail("area", gettext("该记录（#%(pk)s）已被后续记录取代，请在最新记录上操作") % {"pk": area.pk})
    if level not in LEVEL_ORDER:
        raise _fail("level", gettext("风险等级应为 high、medium 或 low，收到“%(level)s”") % {"level": level})
    if effective_from <= area.effective_from:
        raise _fail(date_field, gettext("调整日期 %(on)s 必须晚于原记录的生效日期 %(start)s") % {
            "on": effective_from, "start": area.effective_from})
    if area.effective_until is not None and effective_from > area.effective_until + timedelta(days=1):
        raise _fail(date_field, gettext("原记录已于 %(until)s 结束，不能在其后调整") % {"until": area.effective_until})
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
    return _change_level(area=area, level="low", effective_from=ended_on, actor=actor, source=source,
                         date_field="ended_on")


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


def _row_error(row: int, column: str, error: str) -> str:
    """"第 3 行，生效日期：…" / "Row 3, Effective from: …": the row as the file's users count it, the column by its
    header."""
    return gettext("第 %(row)d 行，%(column)s：%(error)s") % {"row": row, "column": _LABELS[column], "error": error}


def _import_row_check(row: Mapping[str, Any],
                      regions: Mapping[str, Region]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One row's values and its errors as (column, error), checked on their own (clashes are checked after)."""
    errors: list[tuple[str, str]] = []
    code = _code_cell(_col(row, "region_code"))
    if code not in regions:
        errors.append(("region_code", gettext("未知的行政区划代码 %(code)s") % {"code": code} if code
                       else gettext("必填")))
    raw_level = str(_col(row, "level") or "").strip()
    level = LEVEL_LABELS.get(raw_level)
    if level is None:
        errors.append(("level", gettext("应为 高/中/低（high/medium/low），收到“%(value)s”") % {"value": raw_level}
                       if raw_level else gettext("必填")))
    values: dict[str, Any] = {"region_code": code, "level": level,
                              "locality": str(_col(row, "locality") or "").strip(),
                              "source": str(_col(row, "source") or "").strip()}
    for key in ("effective_from", "effective_until"):
        raw = _col(row, key)
        values[key] = None
        if raw is None:
            if key == "effective_from":
                errors.append((key, gettext("必填")))
            continue
        try:
            values[key] = _as_date(raw, key)
        except ServiceError:
            errors.append((key, gettext("日期格式应为 YYYY-MM-DD，收到“%(value)s”") % {"value": raw}))
            continue
        if error := _effective_date_error(values[key]):
            errors.append((key, error))
    if values["effective_from"] and values["effective_until"] and values["effective_until"] < values["effective_from"]:
        errors.append(("effective_until", gettext("%(until)s 早于生效日期 %(start)s") % {
            "until": values["effective_until"], "start": values["effective_from"]}))
    for key in ("locality", "source"):
        if error := _length_error(values[key], key):
            errors.append((key, error))
    return values, errors


@transaction.atomic
def risk_areas_import(
    *, jurisdiction: Jurisdiction, data: bytes, filename: str, actor: Any,
) -> ImportResult:
    """All or nothing: every row is checked first; any error → nothing stored, each error names its row and column."""
    rows = _import_rows(data, filename)
    if not rows:
        raise _fail("file", gettext("文件中没有数据行"))
    errors: dict[str, list[str]] = {}
    parsed: list[tuple[int, dict[str, Any]]] = []
    regions = {r.code: r for r in Region.objects.filter(
        code__in=[_code_cell(_col(r, "region_code")) for r in rows])}
    # The areas already announced for these places, and the rows of the file so far: a row for a place that is
    # still current (in the database or earlier in the file) is refused with its row, as announcing it would be.
    current: dict[tuple[str, str], list[RiskArea]] = {}
    for area in RiskArea.objects.filter(jurisdiction=jurisdiction, region_id__in=list(regions),
                                        superseded_by__isnull=True):
        current.setdefault((area.region_id, area.locality), []).append(area)
    earlier: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    first_line = 2 if filename.lower().endswith((".xlsx", ".xlsm")) else 1  # Excel row 1 is the header
    for i, row in enumerate(rows):
        n = i + first_line
        values, row_errors = _import_row_check(row, regions)
        if not row_errors:
            place = (values["region_code"], values["locality"])
            start = values["effective_from"]
            clash = next((a for a in current.get(place, ()) if _clashes(a, start)), None)
            before = next((m for m, v in earlier.get(place, ())
                           if v["effective_until"] is None or v["effective_until"] >= start), None)
            if clash is not None:
                row_errors.append(("region_code", _clash_error(regions[values["region_code"]], values["locality"],
                                                               clash)))
            elif before is not None:
                row_errors.append(("region_code", gettext("与第 %(other)d 行是同一地点且有效期重叠，同一地点请只写一行") % {
                    "other": before}))
            else:
                earlier.setdefault(place, []).append((n, values))
        if row_errors:
            errors[f"第 {n} 行"] = [_row_error(n, column, error) for column, error in row_errors]
            continue
        parsed.append((n, values))
    if errors:
        first = next(iter(errors.values()))[0]
        raise ServiceError(gettext("导入失败，共 %(n)d 行有误，未导入任何记录。%(first)s") % {"n": len(errors), "first": first},
                           errors)
    created = []
    for n, values in parsed:
        try:
            created.append(risk_area_announce(jurisdiction=jurisdiction, actor=actor, reevaluate=False, **values))
        except ServiceError as e:  # checked above already; should a rule of announcing be missed, keep the row
            key = next(iter(e.field_errors), "")
            message = _row_error(n, key if key in _LABELS else "region_code", e.field_errors.get(key, [e.message])[0])
            raise ServiceError(gettext("导入失败，共 %(n)d 行有误，未导入任何记录。%(first)s") % {
                "n": 1, "first": message}, {f"第 {n} 行": [message]}) from None
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
                   prefix: str = "stays", arrived_on: date | None = None) -> list[tuple[StayIn, Region]]:
    """Check every stay before anything is stored; the error names the stay (stays.2.to_date) and what is wrong.

    With `arrived_on`, the stays are the trip before that arrival: each must end on or before it.
    """
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
        if arrived_on is not None and s.to_date > arrived_on:
            message = gettext("抵达日期 %(on)s 早于旅居结束日期 %(end)s：旅居史应是抵达之前的行程") % {
                "on": arrived_on, "end": s.to_date}
            error = _fail("arrived_on", message, i + 1)
            error.field_errors[f"{field}.to_date"] = [message]
            raise error
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


def _travel_dates_check(*, person: Person, from_date: date, to_date: date, check_start: bool = True,
                        exclude_pk: int | None = None) -> None:
    """A trip starts today or later, ends after it starts, and overlaps no other waiting or approved trip of the
    same person (the person's row is locked by the caller, so two requests sent at once cannot both pass)."""
    today = timezone.localdate()
    if check_start and from_date < today:
        raise _fail("from_date", gettext("出发日期 %(start)s 早于今天（%(today)s），外出报备须在出发前提交") % {
            "start": from_date, "today": today})
    if to_date < from_date:
        raise _fail("to_date", gettext("返回日期 %(back)s 早于出发日期 %(start)s") % {"back": to_date, "start": from_date})
    other = TravelRequest.objects.filter(
        person=person, status__in=TravelRequest.ACTIVE, from_date__lte=to_date, to_date__gte=from_date,
    ).exclude(pk=exclude_pk).order_by("from_date").first()
    if other is not None:
        raise _fail("from_date", gettext(
            "与外出报备 #%(pk)s（%(start)s–%(end)s，%(status)s）时间重叠，请修改或撤回原报备") % {
            "pk": other.pk, "start": other.from_date, "end": other.to_date, "status": other.get_status_display()})


def _requester_only(tr: TravelRequest, actor: Any) -> None:
    """Only the person the request belongs to changes, withdraws or reports the return; approvers decide only."""
    if not tr.is_requester(actor):
        raise ServiceError(gettext("只有申请人本人可以修改、撤回外出报备或报备返回；审批人只能批准或不批准"),
                           {"request": [gettext("不是您本人的外出报备")]}, status=403)


@transaction.atomic
def travel_request_create(*, person: Person, destination_code: str, from_date: date, to_date: date, purpose: str,
                          actor: Any, locality: str = "", companions: str = "") -> TravelRequest:
    region = _region(destination_code, "destination_code")
    # One request of a person at a time: two sent at once must not both pass the overlap check.
    list(Person.objects.select_for_update().filter(pk=person.pk).values_list("pk", flat=True))
    _travel_dates_check(person=person, from_date=from_date, to_date=to_date)
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
    """The requester changes a request still waiting; dates are checked as for a new request."""
    tr = TravelRequest.objects.select_for_update().select_related("person").get(pk=request.pk)  # locks the person too
    _requester_only(tr, actor)
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
    if (tr.from_date, tr.to_date) != (before["from_date"], before["to_date"]):
        _travel_dates_check(person=tr.person, from_date=tr.from_date, to_date=tr.to_date, exclude_pk=tr.pk,
                            check_start=tr.from_date != before["from_date"])
    if not tr.purpose:
        raise _fail("purpose", gettext("请填写外出事由"))
    tr.save()
    after = {"destination": tr.destination_id, "locality": tr.locality, "from_date": tr.from_date,
             "to_date": tr.to_date, "companions": tr.companions, "purpose": tr.purpose}
    audit_record(actor=actor, action="travel.update", obj=tr, organization_id=tr.person.organization_id,
                 changes=diff(before, after))
    return tr


@transaction.atomic
def travel_request_withdraw(*, request: TravelRequest, actor: Any) -> TravelRequest:
    """The requester takes back a request still waiting. The record is kept, marked withdrawn."""
    tr = TravelRequest.objects.select_for_update().select_related("person").get(pk=request.pk)
    _requester_only(tr, actor)
    if tr.status != TravelRequest.Status.REQUESTED:
        raise _fail("status", gettext("外出报备 #%(pk)s 已是“%(status)s”，不能撤回") % {
            "pk": tr.pk, "status": tr.get_status_display()})
    tr.status = TravelRequest.Status.WITHDRAWN
    tr.save(update_fields=["status"])
    audit_record(actor=actor, action="travel.withdraw", obj=tr, organization_id=tr.person.organization_id,
                 changes={"status": ["requested", "withdrawn"]})
    return tr


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
    _requester_only(tr, actor)
    if tr.status != TravelRequest.Status.APPROVED:
        raise _fail("status", gettext("外出报备 #%(pk)s 状态为“%(status)s”，只有已批准的外出才能报备返回") % {
            "pk": tr.pk, "status": tr.get_status_display()})
    today = timezone.localdate()
    if returned_on > today:  # checked here, not left to arrival_record, so the error names the field sent
        raise _fail("returned_on", gettext("返回日期 %(back)s 在今天（%(today)s）之后，请返回后再报备") % {
            "back": returned_on, "today": today})
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
