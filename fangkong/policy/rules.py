"""The policy engine: facts about a person + rules + risk areas + an evaluation date → decisions. Pure, no database.

Rules are data (`RuleSpec`, stored as JSON through `rule_to_dict` / `rule_from_dict`); the built-in packs are in
`packs.py`; docs/policy-engine.md has the condition vocabulary and the packs table.

Conventions (tests in tests/test_rules*.py check each of them exactly)
- Day 1 is the start date itself. A measure of N days ends at the end of day N: end = start + N − 1.
  A test on day k is due on start + k − 1.
- "Within D days" (before the evaluation date `on`) means the stay's last day is on or after on − D. Stays that begin
  after `on` are not history yet and never match.
- The risk level that counts is the one in force on the evaluation date (effective_from <= on and (until is None or
  on <= until)); when the stay happened does not change which announcement counts.
- An area covers its region and the region's descendants (GB/T 2260 codes nest by prefix: 13 ⊃ 1301 ⊃ 130109).
  An area naming a locality (a street, community, compound) covers only stays that name the same locality.
- `counted_from` gives the counted start S: "arrival" → facts.arrived_on (the evaluation date when unknown),
  "last_exposure" → flags.last_exposure_on (evaluation date when unknown), "discharge" → flags.discharged_on
  (evaluation date when unknown), "evaluation" → `on`. Day numbers and the end date are counted from S.
- Identified late (填平补齐): when on > S the measure starts on `on` and keeps the end S + N − 1 (the days already passed
  count). If that end is before `on`, the rule gives no decision. Tests due before `on` are dropped; if any test of a
  kind was dropped, ONE catch-up test of that kind is due on `on` (its day number is on − S + 1) unless a test of that
  kind already falls on `on`: a person found on day 10 of a "14+3" still gets an entry test now and the day-14 test,
  never a backlog of overdue tests. A measure whose counted start is after `on` (a pre-announced arrival) starts on S.
- Recurring tests (`every_n_days`): within a measure of N days they fall on days 1, 1 + n, 1 + 2n, … ≤ N (and follow
  the late rule above). Without N (open-ended, e.g. staff of a fever clinic every 3 days) the schedule is anchored at
  the decision's start date: `Decision.tests` lists the first test (due on the start) and `Decision.every_n_days`
  says how the rest follow.
- Follow-ups count weeks from their anchor with the same day-1 convention: "week 4 after discharge" is days 22–28
  counted from the discharge date as day 1, i.e. discharged_on + 21 … discharged_on + 27.
- Several matching rules: among the restriction kinds (centralized_quarantine > home_quarantine >
  home_health_monitoring) only the most severe is kept, then the later end date, then the earlier start (a measure
  that begins now protects sooner than one waiting for a future arrival), then the lower `precedence`, then the
  earlier rule. A person flagged `no_home_conditions` has every home_quarantine turned into centralized_quarantine
  before that choice (seed 003 第二条 "不具备居家隔离条件的，一律实施集中隔离医学观察"; the explanation says so).
  The other kinds are kept alongside, one per kind, chosen by the same order (an open-ended end counts as the latest).
- Rules are evaluated as given: choosing the policies in force on `on` (a pack's effective dates) is the caller's job.
- Explanations are one sentence naming the fact that matched, in zh-Hans and English; region names come from
  `PersonFacts.region_names`, then from the area's own `region_name`, then the code itself.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fangkong.core.rule_errors import RuleError, gettext_noop

LEVELS: tuple[str, ...] = ("low", "medium", "high")
LEVEL_RANK: Mapping[str, int] = {"low": 1, "medium": 2, "high": 3}
LEVEL_ZH: Mapping[str, str] = {"low": "低风险", "medium": "中风险", "high": "高风险"}
SEVERITY: Mapping[str, int] = {"centralized_quarantine": 3, "home_quarantine": 2, "home_health_monitoring": 1}

# Every measure kind, in the order decisions are listed (restrictions first).
MEASURE_KINDS: tuple[str, ...] = (
    "centralized_quarantine", "home_quarantine", "home_health_monitoring", "routine_testing",
    "temperature_twice_daily", "refuse_entry", "send_to_fever_clinic", "vaccination_required", "report_and_approval",
)
KIND_LABELS: Mapping[str, tuple[str, str]] = {
    "centralized_quarantine": ("集中隔离医学观察", "centralized quarantine"),
    "home_quarantine": ("居家隔离医学观察", "home quarantine"),
    "home_health_monitoring": ("居家健康监测", "home health monitoring"),
    "routine_testing": ("检测", "testing"),
    "temperature_twice_daily": ("每日上午、下午各测 1 次体温", "temperature taken morning and afternoon"),
    "refuse_entry": ("不得进入 / 不得参会", "entry or attendance refused"),
    "send_to_fever_clinic": ("立即送发热门诊", "sent to the fever clinic at once"),
    "vaccination_required": ("须接种新冠疫苗后方可上岗", "must be vaccinated before working the post"),
    "report_and_approval": ("报告单位并经批准、报备", "report to the unit; needs approval and filing"),
}
TEST_KINDS: Mapping[str, tuple[str, str]] = {"nat": ("核酸", "NAT"), "antigen": ("抗原", "antigen"),
                                             "antibody": ("抗体", "antibody")}
COUNTED_FROM: tuple[str, ...] = ("arrival", "last_exposure", "evaluation", "discharge")
POST_CATEGORIES: Mapping[str, tuple[str, str]] = {
    "fever_clinic": ("发热门诊", "fever clinic"),
    "isolation_hotel": ("隔离酒店", "isolation hotel"),
    "cold_chain": ("进口冷链", "imported cold chain"),
    "other_high_risk": ("其他高风险岗位", "other high-risk post"),
}
HEALTH_CODES: Mapping[str, tuple[str, str]] = {"green": ("绿码", "green"), "yellow": ("黄码", "yellow"),
                                               "red": ("红码", "red")}
CASE_STATUSES: Mapping[str, tuple[str, str]] = {
    "confirmed": ("确诊病例", "confirmed case"),
    "asymptomatic": ("无症状感染者", "asymptomatic infection"),
    "suspected": ("疑似病例", "suspected case"),
    "recovered": ("已治愈病例", "recovered case"),
}
# Symptom codes with their labels; codes not listed here still match (the check-in app may report its own codes) and
# are shown as they are.
# The one symptom vocabulary: check-ins (fangkong/health) store these codes and the rules match on them.
# Seeds 000, 001, 004: 发热、干咳、乏力、咽痛、嗅(味)觉减退、腹泻、结膜炎 …; seed 001's meeting rules add 咳嗽、皮疹.
SYMPTOMS: Mapping[str, tuple[str, str]] = {
    "fever": ("发热", "Fever"),
    "dry_cough": ("干咳", "Dry cough"),
    "cough": ("咳嗽", "Cough"),
    "fatigue": ("乏力", "Fatigue"),
    "sore_throat": ("咽痛", "Sore throat"),
    "smell_taste_loss": ("嗅(味)觉减退", "Loss of smell or taste"),
    "diarrhoea": ("腹泻", "Diarrhoea"),
    "conjunctivitis": ("结膜炎", "Conjunctivitis"),
    "nasal_congestion": ("鼻塞", "Nasal congestion"),
    "runny_nose": ("流涕", "Runny nose"),
    "myalgia": ("肌痛", "Muscle pain"),
    "rash": ("皮疹", "Rash"),
    "shortness_of_breath": ("气促", "Shortness of breath"),
}
# Follow-ups the engine can date: code → (zh, en, anchor, first day, last day) with days counted from the anchor
# date as day 1. Other follow-up strings are passed through as written, without dates.
FOLLOWUPS: Mapping[str, tuple[str, str, str, int, int]] = {
    "hospital_visit_week4": ("出院后第 4 周到医院随访复诊", "hospital follow-up visit in week 4 after discharge",
                             "discharge", 22, 28),
}

_TEST_ORDER: Mapping[str, int] = {k: i for i, k in enumerate(TEST_KINDS)}


# --- facts, rules, decisions -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StayFact:
    region_code: str
    from_date: date
    to_date: date
    locality: str = ""


@dataclass(frozen=True, slots=True)
class AreaFact:
    region_code: str
    level: str
    effective_from: date
    effective_until: date | None = None
    locality: str = ""
    region_name: str = ""
    source: str = ""

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_until is None or on <= self.effective_until)


@dataclass(frozen=True, slots=True)
class Flags:
    no_home_conditions: bool = False
    post_category: str | None = None
    past_case: bool = False
    discharged_on: date | None = None
    arrived_from_abroad_released: bool = False
    contact_degree: int | None = None
    last_exposure_on: date | None = None
    case_label: str = ""
    case_label_en: str = ""  # the same in English; the Chinese one stands in when it is empty
    symptoms: tuple[str, ...] = ()
    temperature: float | None = None
    health_code: str | None = None
    vaccinated: bool | None = None
    case_status: str | None = None
    diagnosed_on: date | None = None
    leaving_city: bool = False  # seed 004: asked to leave the city (a travel request)


@dataclass(frozen=True, slots=True)
class PersonFacts:
    stays: tuple[StayFact, ...] = ()
    arrived_on: date | None = None
    flags: Flags = Flags()
    region_names: Mapping[str, str] = field(default_factory=dict)  # code → "石家庄市藁城区", for explanations


@dataclass(frozen=True, slots=True)
class TestSpec:
    __test__ = False  # a dataclass, not a pytest test class
    kind: str  # "nat" | "antigen" | "antibody"
    day: int


@dataclass(frozen=True, slots=True)
class MeasureSpec:
    kind: str
    days: int | None = None
    tests: tuple[TestSpec, ...] = ()
    counted_from: str = "arrival"  # "arrival" | "last_exposure" | "evaluation" | "discharge"
    every_n_days: int | None = None
    followups: tuple[str, ...] = ()
    note: str = ""
    label: str = ""  # the seed's short name, e.g. "14+3" (14 days with 3 nucleic-acid tests)
    every_n_days_kind: str = "nat"  # test kind of the recurring tests


@dataclass(frozen=True)
class RuleSpec:
    key: str
    policy_number: str
    policy_title: str
    clause: str
    condition: Mapping[str, Any]
    measure: MeasureSpec
    precedence: int = 100
    note: str = ""
    local_setting: bool = False  # True where the seed is silent and a default was chosen


@dataclass(frozen=True, slots=True)
class TestDue:
    __test__ = False
    kind: str
    day: int
    due_date: date


@dataclass(frozen=True, slots=True)
class Decision:
    rule_key: str
    policy_number: str
    clause: str
    measure_kind: str
    start_date: date
    end_date: date | None
    tests: tuple[TestDue, ...]
    followups: tuple[str, ...]  # readable (zh), with dates where the engine knows them
    explanation_zh: str
    explanation_en: str
    matched: str  # short key of the fact that matched, e.g. "stay:130109:2021-09-12"
    every_n_days: int | None = None  # open-ended recurring tests: one every n days from start_date
    followup_windows: tuple[tuple[str, date, date], ...] = ()  # (code, first day, last day)
    converted_from: str | None = None  # "home_quarantine" when no_home_conditions made it centralized
    followups_en: tuple[str, ...] = ()  # the follow-ups in English, as `followups`
    local_setting: bool = False


# --- risk areas --------------------------------------------------------------------------------------------------


class AreaIndex:
    """Risk areas in force on one date, indexed for prefix lookups; build once, evaluate many people against it.

    `AreaIndex(areas)` without a date keeps every area and hands out per-date views (`for_date(on)`, cached);
    `evaluate()` calls that itself, so either form can be passed to it.
    """

    __slots__ = ("_all", "_by_city", "_by_code", "_cover_cache", "_lengths", "_views", "on")

    def __init__(self, areas: Iterable[AreaFact], on: date | None = None) -> None:
        self.on = on
        self._all: tuple[AreaFact, ...] = tuple(areas)
        self._views: dict[date, AreaIndex] = {}
        self._cover_cache: dict[tuple[str, str], tuple[AreaFact, ...]] = {}
        by_code: dict[str, list[AreaFact]] = {}
        by_city: dict[str, list[AreaFact]] = {}
        for a in self._all:
            if a.level not in LEVEL_RANK:
                raise RuleError(gettext_noop("风险区域 %(code)s：未知风险等级 %(level)s（应为 low、medium、high）"),
                                code=a.region_code, level=repr(a.level))
            if on is not None and not a.in_force(on):
                continue
            by_code.setdefault(a.region_code, []).append(a)
            if len(a.region_code) >= 4:
                by_city.setdefault(a.region_code[:4], []).append(a)
        # Most severe first, then the latest announcement: the first suitable area is the one to cite.
        order = _area_order
        self._by_code = {k: sorted(v, key=order) for k, v in by_code.items()}
        self._by_city = {k: tuple(sorted(v, key=order)) for k, v in by_city.items()}
        self._lengths = tuple(sorted({len(k) for k in by_code}))

    def for_date(self, on: date) -> AreaIndex:
        if self.on == on:
            return self
        if self.on is not None:
            raise RuleError(gettext_noop("该风险区域索引按 %(built)s 建立，不能用于 %(on)s 的评估"), built=self.on, on=on)
        view = self._views.get(on)
        if view is None:
            if len(self._views) > 64:
                self._views.clear()
            view = self._views[on] = AreaIndex(self._all, on)
        return view

    def covering(self, region_code: str, locality: str = "") -> tuple[AreaFact, ...]:
        """Areas covering a stay in this region (and locality), most severe first."""
        key = (region_code, locality)
        hit = self._cover_cache.get(key)
        if hit is not None:
            return hit
        found: list[AreaFact] = []
        by_code = self._by_code
        n = len(region_code)
        for length in self._lengths:
            if length > n:
                break
            for a in by_code.get(region_code[:length], ()):
                if not a.locality or a.locality == locality:
                    found.append(a)
        result = tuple(sorted(found, key=_area_order)) if len(found) > 1 else tuple(found)
        if len(self._cover_cache) > 1_000_000:
            self._cover_cache.clear()
        self._cover_cache[key] = result
        return result

    def in_city(self, region_code: str) -> tuple[AreaFact, ...]:
        """Areas inside the prefecture-level city (first four digits) of this region, most severe first."""
        return self._by_city.get(region_code[:4], ()) if len(region_code) >= 4 else ()

    def level_of(self, region_code: str, locality: str = "") -> str | None:
        found = self.covering(region_code, locality)
        return found[0].level if found else None

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_code.values())


def _area_order(a: AreaFact) -> tuple[int, int]:
    return (-LEVEL_RANK[a.level], -a.effective_from.toordinal())


def area_level_on(areas: Sequence[AreaFact] | AreaIndex, region_code: str, on: date, locality: str = "") -> str | None:
    """The highest risk level in force on `on` covering the region (and locality); None when none does."""
    index = areas.for_date(on) if isinstance(areas, AreaIndex) else AreaIndex(areas, on)
    return index.level_of(region_code, locality)


# --- date arithmetic ---------------------------------------------------------------------------------------------


def day_date(start: date, day: int) -> date:
    """Day k of a period starting on `start` (day 1 is the start itself)."""
    return start + timedelta(days=day - 1)


def end_date(start: date, days: int) -> date:
    """The last day of a measure of `days` days starting on `start`."""
    return start + timedelta(days=days - 1)


def within(stay: StayFact, on: date, days: int) -> bool:
    """The stay counts for "within `days` days before `on`": it has begun by `on` and ended on or after on − days."""
    return stay.from_date <= on and stay.to_date >= on - timedelta(days=days)


# --- conditions --------------------------------------------------------------------------------------------------


class _Match:
    __slots__ = ("en", "key", "zh")

    def __init__(self, key: str, zh: str, en: str) -> None:
        self.key, self.zh, self.en = key, zh, en


class _Ctx:
    """What a condition reads while one person is evaluated."""

    __slots__ = ("_recent", "facts", "flags", "index", "on")

    def __init__(self, facts: PersonFacts, index: AreaIndex, on: date) -> None:
        self.facts, self.flags, self.index, self.on = facts, facts.flags, index, on
        self._recent: dict[int, list[StayFact]] = {}

    def recent(self, days: int) -> list[StayFact]:
        """Stays within `days` days of `on` (see `within`), the latest last day first."""
        got = self._recent.get(days)
        if got is None:
            on = self.on
            since = on - timedelta(days=days)
            got = [s for s in self.facts.stays if s.from_date <= on and s.to_date >= since]
            if len(got) > 1:
                got.sort(key=_to_date, reverse=True)
            self._recent[days] = got
        return got

    def place(self, stay: StayFact, area: AreaFact | None) -> str:
        name = self.facts.region_names.get(stay.region_code)
        if not name:
            name = area.region_name if area is not None and area.region_code == stay.region_code and \
                area.region_name else stay.region_code
        return f"{name} {stay.locality}" if stay.locality else name

    def area_name(self, area: AreaFact) -> str:
        name = self.facts.region_names.get(area.region_code) or area.region_name or area.region_code
        return f"{name} {area.locality}" if area.locality else name

    def before(self, stay: StayFact, word: str) -> tuple[str, str]:
        """'返长前 3 天' / '3 days before arrival', or counted back from the evaluation date without an arrival."""
        arrived = self.facts.arrived_on
        if arrived is not None and arrived >= stay.to_date:
            gap = (arrived - stay.to_date).days
            if gap == 0:
                return f"{word}当天", "on the day of arrival"
            return f"{word}前 {gap} 天", f"{gap} days before arrival"
        gap = (self.on - stay.to_date).days
        if gap <= 0:
            return "评估当天", "on the evaluation date"
        return f"评估日前 {gap} 天", f"{gap} days before the evaluation date"


def _to_date(s: StayFact) -> date:
    return s.to_date


Matcher = Callable[[_Ctx], "_Match | None"]


def _err(path: str, message: str, **params: Any) -> RuleError:
    """A condition error: `message` is the whole sentence, naming the condition's path as %(path)s."""
    return RuleError(message, path=path, **params)


def _int_param(params: Mapping[str, Any], name: str, path: str, required: bool, low: int = 0) -> int | None:
    value = params.get(name)
    if value is None:
        if required:
            raise _err(path, gettext_noop("条件 %(path)s：缺少参数 %(name)s"), name=name)
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _err(path, gettext_noop("条件 %(path)s：参数 %(name)s 应为不小于 %(low)s 的整数，收到 %(value)s"), name=name,
                   low=low, value=repr(value))
    return value


def _check_keys(params: Mapping[str, Any], allowed: set[str], path: str) -> None:
    if not isinstance(params, Mapping):
        raise _err(path, gettext_noop("条件 %(path)s：参数应为对象，收到 %(type)s"), type=type(params).__name__)
    unknown = set(params) - allowed
    if unknown:
        names = ", ".join(sorted(unknown))
        if not allowed:
            raise _err(path, gettext_noop("条件 %(path)s：未知参数 %(names)s（可用：无）"), names=names)
        raise _err(path, gettext_noop("条件 %(path)s：未知参数 %(names)s（可用：%(allowed)s）"), names=names,
                   allowed=", ".join(sorted(allowed)))


def _level_param(params: Mapping[str, Any], path: str) -> tuple[str, int]:
    """("exact" | "min", rank) from {"level": L} or {"min_level": L}."""
    if ("level" in params) == ("min_level" in params):
        raise _err(path, gettext_noop("条件 %(path)s：需要 level（恰为该等级）或 min_level（不低于该等级）二者之一"))
    mode = "exact" if "level" in params else "min"
    value = params["level" if mode == "exact" else "min_level"]
    if value not in LEVEL_RANK:
        raise _err(path, gettext_noop("条件 %(path)s：未知风险等级 %(value)s（应为 low、medium、high）"), value=repr(value))
    return mode, LEVEL_RANK[value]


def _str_list(params: Mapping[str, Any], name: str, path: str, allowed: Mapping[str, Any] | None,
              allow_empty: bool = False) -> tuple[str, ...]:
    value = params.get(name)
    if not isinstance(value, list | tuple) or (not value and not allow_empty):
        message = (gettext_noop("条件 %(path)s：参数 %(name)s 应为列表，收到 %(value)s") if allow_empty
                   else gettext_noop("条件 %(path)s：参数 %(name)s 应为非空列表，收到 %(value)s"))
        raise _err(path, message, name=name, value=repr(value))
    for v in value:
        if not isinstance(v, str) or not v:
            raise _err(path, gettext_noop("条件 %(path)s：参数 %(name)s 的元素应为非空字符串，收到 %(value)s"), name=name,
                       value=repr(v))
        if allowed is not None and v not in allowed:
            raise _err(path, gettext_noop("条件 %(path)s：参数 %(name)s 含未知取值 %(value)s（可用：%(allowed)s）"), name=name,
                       value=repr(v), allowed=", ".join(allowed))
    return tuple(value)


def _stayed_in_area(params: Mapping[str, Any], path: str) -> Matcher:
    """{"stayed_in_area": {"level": "high" | "min_level": "medium", "within_days": 14, "arrival_word"?: "返长"}}

    A stay within `within_days` days before the evaluation date in a region covered by an area in force on that date
    whose level is exactly `level` (or at least `min_level`). A locality-specific area counts only for a stay naming
    the same locality. The latest such stay is the one cited. `arrival_word` names the arrival in the explanation
    ("返长前 3 天"; default "抵达").
    """
    _check_keys(params, {"level", "min_level", "within_days", "arrival_word"}, path)
    mode, rank = _level_param(params, path)
    days = _int_param(params, "within_days", path, required=True)
    word = str(params.get("arrival_word") or "抵达")
    assert days is not None

    def match(ctx: _Ctx) -> _Match | None:
        for stay in ctx.recent(days):
            for area in ctx.index.covering(stay.region_code, stay.locality):
                r = LEVEL_RANK[area.level]
                if r == rank if mode == "exact" else r >= rank:
                    b_zh, b_en = ctx.before(stay, word)
                    lv = area.level
                    where = "" if area.region_code == stay.region_code and not area.locality else \
                        f"{ctx.area_name(area)} "
                    return _Match(
                        f"stay:{stay.region_code}:{stay.to_date.isoformat()}",
                        f"{stay.to_date.isoformat()} 在 {ctx.place(stay, area)} ({where}{LEVEL_ZH[lv]}, "
                        f"{area.effective_from.isoformat()} 起), {b_zh}",
                        f"{stay.to_date.isoformat()} in {ctx.place(stay, area)} ({where}{lv} risk since "
                        f"{area.effective_from.isoformat()}), {b_en}",
                    )
                if r < rank:
                    break  # areas are ordered most severe first: nothing further can qualify
        return None

    return match


def _stayed_near_area(params: Mapping[str, Any], path: str) -> Matcher:
    """{"stayed_near_area": {"min_level": "medium" | "level": L, "within_days": 14, "arrival_word"?: "返长"}}

    A stay within `within_days` days in the same prefecture-level city (first four digits of the code) as an area
    in force of that level, the stay itself not inside any in-force area of that level (seed 003: "中高风险地区所在地市
    其他低风险区"). A city counts even when its area is a single locality.
    """
    _check_keys(params, {"level", "min_level", "within_days", "arrival_word"}, path)
    mode, rank = _level_param(params, path)
    days = _int_param(params, "within_days", path, required=True)
    word = str(params.get("arrival_word") or "抵达")
    assert days is not None

    def ok(a: AreaFact) -> bool:
        r = LEVEL_RANK[a.level]
        return r == rank if mode == "exact" else r >= rank

    def match(ctx: _Ctx) -> _Match | None:
        for stay in ctx.recent(days):
            city_area = next((a for a in ctx.index.in_city(stay.region_code) if ok(a)), None)
            if city_area is None:
                continue
            if any(ok(a) for a in ctx.index.covering(stay.region_code, stay.locality)):
                continue
            b_zh, b_en = ctx.before(stay, word)
            frm = city_area.effective_from.isoformat()
            return _Match(
                f"near:{stay.region_code}:{stay.to_date.isoformat()}",
                f"{stay.to_date.isoformat()} 在 {ctx.place(stay, None)}, 与 {ctx.area_name(city_area)} "
                f"({LEVEL_ZH[city_area.level]}, {frm} 起) 同属一个地级市, {b_zh}",
                f"{stay.to_date.isoformat()} in {ctx.place(stay, None)}, in the same city as "
                f"{ctx.area_name(city_area)} ({city_area.level} risk since {frm}), {b_en}",
            )
        return None

    return match


def _contact(params: Mapping[str, Any], path: str) -> Matcher:
    """{"contact": {"degree"?: 1 | [1, 2], "within_days"?: 14}}

    The person is a contact of a case (1 close contact 密接, 2 secondary contact 次密接) of the given degree(s) (any
    degree when absent). With `within_days`, the last exposure must be on or after on − within_days ("still under
    observation"); an unknown exposure date counts as recent, since it cannot show the contact is over.
    """
    _check_keys(params, {"degree", "within_days"}, path)
    raw = params.get("degree")
    degrees: tuple[int, ...] | None
    if raw is None:
        degrees = None
    else:
        degrees = tuple(raw) if isinstance(raw, list | tuple) else (raw,)
        if not degrees or any(d not in (1, 2) or isinstance(d, bool) for d in degrees):
            raise _err(path, gettext_noop("条件 %(path)s：参数 degree 应为 1（密接）、2（次密接）或其列表，收到 %(value)s"),
                       value=repr(raw))
    days = _int_param(params, "within_days", path, required=False)

    def match(ctx: _Ctx) -> _Match | None:
        deg = ctx.flags.contact_degree
        if deg is None or (degrees is not None and deg not in degrees):
            return None
        last = ctx.flags.last_exposure_on
        if days is not None and last is not None and last < ctx.on - timedelta(days=days):
            return None
        zh = "密切接触者" if deg == 1 else "次密切接触者" if deg == 2 else f"{deg} 级接触者"
        en = "close contact" if deg == 1 else "secondary contact" if deg == 2 else f"degree-{deg} contact"
        if ctx.flags.case_label:
            zh, en = f"{ctx.flags.case_label} 的{zh}", f"{en} of {ctx.flags.case_label_en or ctx.flags.case_label}"
        if last is not None:
            zh, en = f"{zh} (最后接触 {last.isoformat()})", f"{en} (last exposure {last.isoformat()})"
        return _Match(f"contact:{deg}", zh, en)

    return match


def _flag(name: str, key: str, zh: str, en: str) -> Callable[[Mapping[str, Any], str], Matcher]:
    def build(params: Mapping[str, Any], path: str) -> Matcher:
        _check_keys(params, set(), path)
        m = _Match(key, zh, en)

        def match(ctx: _Ctx) -> _Match | None:
            return m if getattr(ctx.flags, name) else None

        return match

    build.__doc__ = f'{{"{key}": {{}}}}: the person flag `{name}` is set ({zh}).'
    return build


_abroad_released = _flag("arrived_from_abroad_released", "abroad_released", "入境人员, 已在第一入境点解除集中隔离",
                         "arrived from abroad, released from centralized quarantine at the port of entry")
_no_home_conditions = _flag("no_home_conditions", "no_home_conditions", "不具备居家隔离条件",
                            "no conditions for home isolation")
_leaving_city = _flag("leaving_city", "leaving_city", "申请离开本市", "asks to leave the city")


def _past_case(params: Mapping[str, Any], path: str) -> Matcher:
    """{"past_case": {}}: a past case (confirmed or asymptomatic since 2020, recovered): flags.past_case."""
    _check_keys(params, set(), path)
    m = _Match("past_case", "既往确诊病例或无症状感染者", "past case (confirmed or asymptomatic, recovered)")
    return lambda ctx: m if ctx.flags.past_case else None


def _recovered_returning(params: Mapping[str, Any], path: str) -> Matcher:
    """{"recovered_returning": {}}: a case cured and discharged (flags.discharged_on set) who returns here."""
    _check_keys(params, set(), path)

    def match(ctx: _Ctx) -> _Match | None:
        d = ctx.flags.discharged_on
        if d is None:
            return None
        return _Match("recovered_returning", f"确诊病例或无症状感染者治愈, {d.isoformat()} 出院后返回",
                      f"recovered case discharged on {d.isoformat()}, returning")

    return match


def _post_category(params: Mapping[str, Any], path: str) -> Matcher:
    """{"post_category": {"in": ["fever_clinic", "isolation_hotel", "cold_chain", "other_high_risk"]}}

    The person works a post of one of these categories (flags.post_category).
    """
    _check_keys(params, {"in"}, path)
    cats = frozenset(_str_list(params, "in", path, POST_CATEGORIES))

    def match(ctx: _Ctx) -> _Match | None:
        c = ctx.flags.post_category
        if c not in cats:
            return None
        zh, en = POST_CATEGORIES[c]
        return _Match(f"post:{c}", f"{zh}工作人员", f"{en} staff")

    return match


def _symptoms(params: Mapping[str, Any], path: str) -> Matcher:
    """{"symptoms": {"any_of": ["cough", "sore_throat", ...]}}

    The person reports at least one of these symptoms (flags.symptoms, the symptoms of the last 14 days not yet
    recovered); an empty list means any symptom at all.
    """
    _check_keys(params, {"any_of"}, path)
    wanted = frozenset(_str_list(params, "any_of", path, None, allow_empty=True))

    def match(ctx: _Ctx) -> _Match | None:
        have = ctx.flags.symptoms
        hit = [s for s in have if not wanted or s in wanted]
        if not hit:
            return None
        return _Match(f"symptoms:{','.join(hit)}", "有症状: " + "、".join(SYMPTOMS.get(s, (s, s))[0] for s in hit),
                      "symptoms: " + ", ".join(SYMPTOMS.get(s, (s, s))[1] for s in hit))

    return match


def _fever(params: Mapping[str, Any], path: str) -> Matcher:
    """{"fever": {"threshold": 37.3}}: the measured temperature (flags.temperature) is at or above the threshold (℃)."""
    _check_keys(params, {"threshold"}, path)
    t = params.get("threshold", 37.3)
    if isinstance(t, bool) or not isinstance(t, int | float) or not 35 <= t <= 42:
        raise _err(path, gettext_noop("条件 %(path)s：参数 threshold 应为 35 到 42 之间的体温（℃），收到 %(value)s"),
                   value=repr(t))

    def match(ctx: _Ctx) -> _Match | None:
        temp = ctx.flags.temperature
        if temp is None or temp < t:
            return None
        return _Match("fever", f"体温 {temp:g} ℃ (≥ {t:g} ℃)", f"temperature {temp:g} °C (≥ {t:g} °C)")

    return match


def _health_code(params: Mapping[str, Any], path: str) -> Matcher:
    """{"health_code": {"in": ["yellow", "red"]}}: the health-code colour (flags.health_code) is one of these."""
    _check_keys(params, {"in"}, path)
    colours = frozenset(_str_list(params, "in", path, HEALTH_CODES))

    def match(ctx: _Ctx) -> _Match | None:
        c = ctx.flags.health_code
        if c not in colours:
            return None
        zh, en = HEALTH_CODES[c]
        return _Match(f"health_code:{c}", f"健康码为{zh}", f"health code {en}")

    return match


def _case(params: Mapping[str, Any], path: str) -> Matcher:
    """{"case": {"status_in": ["confirmed", "asymptomatic", "suspected", "recovered"], "within_days"?: 90}}

    The person's case status (flags.case_status) is one of these; with `within_days`, the diagnosis date
    (flags.diagnosed_on) must be on or after on − within_days — an unknown diagnosis date counts as recent, since it
    cannot show the case is old enough.
    """
    _check_keys(params, {"status_in", "within_days"}, path)
    statuses = frozenset(_str_list(params, "status_in", path, CASE_STATUSES))
    days = _int_param(params, "within_days", path, required=False)

    def match(ctx: _Ctx) -> _Match | None:
        s = ctx.flags.case_status
        if s not in statuses:
            return None
        d = ctx.flags.diagnosed_on
        if days is not None and d is not None and d < ctx.on - timedelta(days=days):
            return None
        zh, en = CASE_STATUSES[s]
        if d is not None:
            zh, en = f"{zh} ({d.isoformat()} 确诊)", f"{en} (diagnosed {d.isoformat()})"
        return _Match(f"case:{s}", zh, en)

    return match


def _not_vaccinated(params: Mapping[str, Any], path: str) -> Matcher:
    """{"not_vaccinated": {}}: the person is not known to be vaccinated (flags.vaccinated is False or unknown)."""
    _check_keys(params, set(), path)
    no = _Match("not_vaccinated", "未接种新冠疫苗", "not vaccinated")
    unknown = _Match("not_vaccinated", "新冠疫苗接种情况未知", "vaccination status unknown")

    def match(ctx: _Ctx) -> _Match | None:
        v = ctx.flags.vaccinated
        return None if v else (no if v is False else unknown)

    return match


_LEAVES: dict[str, Callable[[Mapping[str, Any], str], Matcher]] = {
    "stayed_in_area": _stayed_in_area,
    "stayed_near_area": _stayed_near_area,
    "contact": _contact,
    "abroad_released": _abroad_released,
    "recovered_returning": _recovered_returning,
    "past_case": _past_case,
    "post_category": _post_category,
    "symptoms": _symptoms,
    "fever": _fever,
    "health_code": _health_code,
    "no_home_conditions": _no_home_conditions,
    "case": _case,
    "not_vaccinated": _not_vaccinated,
    "leaving_city": _leaving_city,
}
CONDITION_NAMES: tuple[str, ...] = ("all", "any", "not", *_LEAVES)


def _compile(cond: Any, path: str = "") -> Matcher:
    """Validate a condition tree and turn it into a function of the evaluation context."""
    if not isinstance(cond, Mapping) or len(cond) != 1:
        if not path:
            raise RuleError(gettext_noop("条件 (根)：每个条件应为只有一个键的对象（如 {\"past_case\": {}}），收到 %(value)s"),
                            value=repr(cond))
        raise _err(path, gettext_noop("条件 %(path)s：每个条件应为只有一个键的对象（如 {\"past_case\": {}}），收到 %(value)s"),
                   value=repr(cond))
    (name, params), = cond.items()
    sub = f"{path}.{name}" if path else name
    if name in ("all", "any"):
        if not isinstance(params, list | tuple) or not params:
            raise _err(sub, gettext_noop("条件 %(path)s：应为非空的条件列表"))
        parts = [_compile(c, f"{sub}[{i}]") for i, c in enumerate(params)]
        return _all(parts) if name == "all" else _any(parts)
    if name == "not":
        inner = _compile(params, sub)
        text_zh, text_en = _describe(params, "zh-hans"), _describe(params, "en")
        negated = _Match(f"not:{next(iter(params))}", f"不满足: {text_zh}", f"not: {text_en}")
        return lambda ctx: None if inner(ctx) is not None else negated
    builder = _LEAVES.get(name)
    if builder is None:
        raise _err(sub, gettext_noop("条件 %(path)s：未知条件 %(name)s（可用：%(allowed)s）"), name=repr(name),
                   allowed=", ".join(CONDITION_NAMES))
    if params is None:
        params = {}
    return builder(params, sub)


def _all(parts: list[Matcher]) -> Matcher:
    def match(ctx: _Ctx) -> _Match | None:
        got = []
        for p in parts:
            m = p(ctx)
            if m is None:
                return None
            got.append(m)
        if len(got) == 1:
            return got[0]
        return _Match("+".join(m.key for m in got), ", ".join(m.zh for m in got), ", ".join(m.en for m in got))

    return match


def _any(parts: list[Matcher]) -> Matcher:
    def match(ctx: _Ctx) -> _Match | None:
        for p in parts:
            m = p(ctx)
            if m is not None:
                return m
        return None

    return match


def validate_condition(cond: Mapping[str, Any]) -> None:
    """Raise ValueError naming the path and the problem ("条件 all[1].stayed_in_area：未知风险等级 'hgh' …")."""
    _compile(cond)


# A test day outside the measure, one sentence per test kind: (within a measure of N days, without an end).
_TEST_DAY_OUT_OF_RANGE: Mapping[str, tuple[str, str]] = {
    "nat": (gettext_noop("措施：第 %(day)s 天的核酸检测超出范围（应为1 到 %(days)s）"),
            gettext_noop("措施：第 %(day)s 天的核酸检测超出范围（应为不小于 1）")),
    "antigen": (gettext_noop("措施：第 %(day)s 天的抗原检测超出范围（应为1 到 %(days)s）"),
                gettext_noop("措施：第 %(day)s 天的抗原检测超出范围（应为不小于 1）")),
    "antibody": (gettext_noop("措施：第 %(day)s 天的抗体检测超出范围（应为1 到 %(days)s）"),
                 gettext_noop("措施：第 %(day)s 天的抗体检测超出范围（应为不小于 1）")),
}


def validate_measure(measure: MeasureSpec) -> None:
    """Raise ValueError when a measure is inconsistent (unknown kind, a test after the last day, …)."""
    if measure.kind not in MEASURE_KINDS:
        raise RuleError(gettext_noop("措施：未知类型 %(kind)s（可用：%(allowed)s）"), kind=repr(measure.kind),
                        allowed=", ".join(MEASURE_KINDS))
    for name, message in (("days", gettext_noop("措施：天数应为正整数，收到 %(value)s")),
                          ("every_n_days", gettext_noop("措施：检测间隔天数应为正整数，收到 %(value)s"))):
        value = getattr(measure, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise RuleError(message, value=repr(value))
    if measure.counted_from not in COUNTED_FROM:
        raise RuleError(gettext_noop("措施：起算点 %(value)s 未知（可用：%(allowed)s）"), value=repr(measure.counted_from),
                        allowed=", ".join(COUNTED_FROM))
    for t in measure.tests:
        if t.kind not in TEST_KINDS:
            raise RuleError(gettext_noop("措施：未知检测类型 %(kind)s（可用：%(allowed)s）"), kind=repr(t.kind),
                            allowed=", ".join(TEST_KINDS))
        if t.day < 1 or (measure.days is not None and t.day > measure.days):
            up_to, at_least = _TEST_DAY_OUT_OF_RANGE[t.kind]
            raise RuleError(up_to if measure.days is not None else at_least, day=t.day, days=measure.days)
    if measure.every_n_days_kind not in TEST_KINDS:
        raise RuleError(gettext_noop("措施：未知检测类型 %(kind)s"), kind=repr(measure.every_n_days_kind))


# --- compiled rules (cached per rule object) ---------------------------------------------------------------------


class _Compiled:
    __slots__ = ("matcher", "rule", "schedule", "severity")

    def __init__(self, rule: RuleSpec) -> None:
        validate_measure(rule.measure)
        self.rule = rule
        self.matcher = _compile(rule.condition)
        m = rule.measure
        sched: list[tuple[str, int]] = [(t.kind, t.day) for t in m.tests]
        if m.every_n_days and m.days:
            sched += [(m.every_n_days_kind, d) for d in range(1, m.days + 1, m.every_n_days)]
        # One test per kind and day, in due order.
        self.schedule: tuple[tuple[str, int], ...] = tuple(sorted(set(sched), key=lambda kd: (kd[1], _TEST_ORDER[kd[0]])))
        self.severity = SEVERITY.get(m.kind, 0)


# Keyed by id(); the entry holds the rule itself, so an id cannot be reused while its entry lives.
_CACHE: dict[int, _Compiled] = {}
# The last rule lists seen (re-evaluation passes the same list for every person): id → (the rules as a tuple, compiled).
_LIST_CACHE: dict[int, tuple[Sequence[RuleSpec], tuple[RuleSpec, ...], tuple[_Compiled, ...]]] = {}


def _compiled_all(rules: Sequence[RuleSpec]) -> tuple[_Compiled, ...]:
    hit = _LIST_CACHE.get(id(rules))
    if hit is not None and hit[0] is rules:
        # The list may have been changed in place since: same length and the very same rule objects, or recompile.
        same = hit[1]
        if len(same) == len(rules) and all(a is b for a, b in zip(same, rules, strict=True)):
            return hit[2]
    compiled = tuple(_compiled(r) for r in rules)
    if len(_LIST_CACHE) > 64:
        _LIST_CACHE.clear()
    _LIST_CACHE[id(rules)] = (rules, tuple(rules), compiled)
    return compiled


def _compiled(rule: RuleSpec) -> _Compiled:
    c = _CACHE.get(id(rule))
    if c is None or c.rule is not rule:
        if len(_CACHE) > 20_000:
            _CACHE.clear()
        c = _CACHE[id(rule)] = _Compiled(rule)
    return c


# --- evaluation --------------------------------------------------------------------------------------------------


def counted_start(measure: MeasureSpec, facts: PersonFacts, on: date) -> date:
    """The counted start S (day 1) of a measure for this person; see the module docstring."""
    cf = measure.counted_from
    if cf == "arrival":
        return facts.arrived_on or on
    if cf == "last_exposure":
        return facts.flags.last_exposure_on or on
    if cf == "discharge":
        return facts.flags.discharged_on or on
    return on


def schedule_tests(schedule: Sequence[tuple[str, int]], counted: date, on: date) -> tuple[TestDue, ...]:
    """Tests of a counted schedule as seen on `on`: passed ones dropped, one catch-up per kind on `on` (docstring)."""
    kept: list[TestDue] = []
    dropped: set[str] = set()
    for kind, day in schedule:
        due = counted + timedelta(days=day - 1)
        if due < on:
            dropped.add(kind)
        else:
            kept.append(TestDue(kind, day, due))
    if dropped:
        today = (on - counted).days + 1
        for kind in sorted(dropped, key=_TEST_ORDER.__getitem__):
            if not any(t.kind == kind and t.due_date == on for t in kept):
                kept.append(TestDue(kind, today, on))
        kept.sort(key=lambda t: (t.due_date, _TEST_ORDER[t.kind]))
    return tuple(kept)


class _Candidate:
    __slots__ = ("comp", "converted", "counted", "end", "kind", "match", "order", "start")

    def __init__(self, comp: _Compiled, match: _Match, order: int, kind: str, counted: date, start: date,
                 end: date | None, converted: bool) -> None:
        self.comp, self.match, self.order, self.kind = comp, match, order, kind
        self.counted, self.start, self.end, self.converted = counted, start, end, converted

    def rank(self) -> tuple[int, int, int, int, int]:
        """Smaller is better: severity, later end (open-ended latest), earlier start, lower precedence, earlier rule."""
        end = self.end.toordinal() if self.end is not None else date.max.toordinal()
        return (-SEVERITY.get(self.kind, 0), -end, self.start.toordinal(), self.comp.rule.precedence, self.order)


def evaluate(facts: PersonFacts, rules: Sequence[RuleSpec], areas: Sequence[AreaFact] | AreaIndex,
             on: date) -> list[Decision]:
    """Decisions for one person on `on`: at most one restriction, plus at most one decision of each other kind."""
    index = areas.for_date(on) if isinstance(areas, AreaIndex) else AreaIndex(areas, on)
    ctx = _Ctx(facts, index, on)
    no_home = facts.flags.no_home_conditions
    best: dict[str, _Candidate] = {}
    restriction: _Candidate | None = None
    for order, comp in enumerate(_compiled_all(rules)):
        m = comp.matcher(ctx)
        if m is None:
            continue
        measure = comp.rule.measure
        counted = counted_start(measure, facts, on)
        end = None if measure.days is None else counted + timedelta(days=measure.days - 1)
        if end is not None and end < on:
            continue  # the whole measure lies in the past: nothing left to impose
        start = counted if counted > on else on
        kind = measure.kind
        converted = no_home and kind == "home_quarantine"
        if converted:
            kind = "centralized_quarantine"
        cand = _Candidate(comp, m, order, kind, counted, start, end, converted)
        if kind in SEVERITY:
            if restriction is None or cand.rank() < restriction.rank():
                restriction = cand
        else:
            cur = best.get(kind)
            if cur is None or cand.rank() < cur.rank():
                best[kind] = cand
    chosen = ([restriction] if restriction is not None else []) + \
        sorted(best.values(), key=lambda c: MEASURE_KINDS.index(c.kind))
    return [_decision(c, facts, on) for c in chosen]


def _md(d: date) -> str:
    return f"{d.month}-{d.day}"


def _decision(c: _Candidate, facts: PersonFacts, on: date) -> Decision:
    rule, measure = c.comp.rule, c.comp.rule.measure
    every = None
    if measure.every_n_days and measure.days is None:
        # Open-ended recurring tests: the first on the start date, the rest every n days (module docstring).
        every = measure.every_n_days
        first_test = TestDue(measure.every_n_days_kind, 1, c.start)
        tests: tuple[TestDue, ...] = (first_test, *(
            t for t in schedule_tests(c.comp.schedule, c.counted, on)
            if (t.kind, t.due_date) != (first_test.kind, first_test.due_date)))
    else:
        tests = schedule_tests(c.comp.schedule, c.counted, on)
    windows: list[tuple[str, date, date]] = []
    follow_zh: list[str] = []
    follow_en: list[str] = []
    for f in measure.followups:
        spec = FOLLOWUPS.get(f)
        if spec is None:
            follow_zh.append(f)
            follow_en.append(f)
            continue
        zh, en, anchor, first, last = spec
        base = facts.flags.discharged_on if anchor == "discharge" else facts.arrived_on
        if base is None:
            follow_zh.append(zh)
            follow_en.append(en)
            continue
        a, b = day_date(base, first), day_date(base, last)
        windows.append((f, a, b))
        follow_zh.append(f"{zh} ({a.isoformat()} 至 {b.isoformat()})")
        follow_en.append(f"{en} ({a.isoformat()} to {b.isoformat()})")

    kind_zh, kind_en = KIND_LABELS[c.kind]
    if c.converted:
        kind_zh += " (不具备居家隔离条件, 居家隔离改为集中隔离)"
        kind_en += " (no conditions for home isolation: home quarantine becomes centralized)"
    label = f"{measure.label} " if measure.label else ""
    parts_zh = [f"{label}{kind_zh}"]
    parts_en = [f"{label}{kind_en}"]
    if c.end == c.start:
        parts_zh.append(f"{c.start.isoformat()} 当天")
        parts_en.append(f"on {c.start.isoformat()}")
    elif c.end is not None:
        parts_zh.append(f"{c.start.isoformat()} 至 {c.end.isoformat()}")
        parts_en.append(f"{c.start.isoformat()} to {c.end.isoformat()}")
    else:
        parts_zh.append(f"自 {c.start.isoformat()} 起")
        parts_en.append(f"from {c.start.isoformat()}")
    if every is not None:
        t_zh, t_en = TEST_KINDS[measure.every_n_days_kind]
        parts_zh.append(f"每 {every} 天 1 次{t_zh}检测, 首次 {_md(c.start)}")
        parts_en.append(f"{t_en} test every {every} days, first {_md(c.start)}")
    elif tests:
        by_kind: dict[str, list[str]] = {}
        for t in tests:
            by_kind.setdefault(t.kind, []).append(_md(t.due_date))
        parts_zh.append("; ".join(f"{TEST_KINDS[k][0]} {', '.join(ds)}" for k, ds in by_kind.items()))
        parts_en.append("; ".join(f"{TEST_KINDS[k][1]} {', '.join(ds)}" for k, ds in by_kind.items()))
    parts_zh += follow_zh
    parts_en += follow_en
    head = f"{rule.policy_number} {rule.clause}".strip()
    return Decision(
        rule_key=rule.key, policy_number=rule.policy_number, clause=rule.clause, measure_kind=c.kind,
        start_date=c.start, end_date=c.end, tests=tests, followups=tuple(follow_zh),
        explanation_zh=f"{c.match.zh} → {head}: {', '.join(parts_zh)}",
        explanation_en=f"{c.match.en} → {head}: {', '.join(parts_en)}",
        matched=c.match.key, every_n_days=every, followup_windows=tuple(windows),
        converted_from="home_quarantine" if c.converted else None, local_setting=rule.local_setting,
        followups_en=tuple(follow_en),
    )


# --- storage (JSON) ----------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-able deep copy: mappings → dicts, tuples → lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return copy.copy(value)


def measure_to_dict(m: MeasureSpec) -> dict[str, Any]:
    return {
        "kind": m.kind, "days": m.days, "tests": [{"kind": t.kind, "day": t.day} for t in m.tests],
        "counted_from": m.counted_from, "every_n_days": m.every_n_days, "every_n_days_kind": m.every_n_days_kind,
        "followups": list(m.followups), "note": m.note, "label": m.label,
    }


def measure_from_dict(d: Mapping[str, Any]) -> MeasureSpec:
    if not isinstance(d, Mapping) or "kind" not in d:
        raise RuleError(gettext_noop("措施应为含 kind 的对象，收到 %(value)s"), value=repr(d))
    known = {"kind", "days", "tests", "counted_from", "every_n_days", "every_n_days_kind", "followups", "note", "label"}
    unknown = set(d) - known
    if unknown:
        raise RuleError(gettext_noop("措施：未知字段 %(names)s"), names=", ".join(sorted(unknown)))
    tests = []
    for i, t in enumerate(d.get("tests") or ()):
        if not isinstance(t, Mapping) or not isinstance(t.get("day"), int) or not isinstance(t.get("kind"), str):
            raise RuleError(gettext_noop("措施：第 %(n)s 项检测应为 {\"kind\": \"nat\", \"day\": 1}，收到 %(value)s"), n=i + 1,
                            value=repr(t))
        tests.append(TestSpec(kind=t["kind"], day=t["day"]))
    m = MeasureSpec(
        kind=d["kind"], days=d.get("days"), tests=tuple(tests), counted_from=d.get("counted_from") or "arrival",
        every_n_days=d.get("every_n_days"), followups=tuple(d.get("followups") or ()), note=d.get("note") or "",
        label=d.get("label") or "", every_n_days_kind=d.get("every_n_days_kind") or "nat",
    )
    validate_measure(m)
    return m


def rule_to_dict(r: RuleSpec) -> dict[str, Any]:
    """The rule as JSON-able data; `rule_from_dict(rule_to_dict(r)) == r`."""
    return {
        "key": r.key, "policy_number": r.policy_number, "policy_title": r.policy_title, "clause": r.clause,
        "condition": _plain(r.condition), "measure": measure_to_dict(r.measure), "precedence": r.precedence,
        "note": r.note, "local_setting": r.local_setting,
    }


def rule_from_dict(d: Mapping[str, Any]) -> RuleSpec:
    """A rule from its stored form, validated (ValueError with the reason)."""
    for name in ("key", "condition", "measure"):
        if name not in d:
            raise RuleError(gettext_noop("规则缺少字段 %(name)s"), name=name)
    condition = _plain(d["condition"])
    validate_condition(condition)
    measure = d["measure"] if isinstance(d["measure"], MeasureSpec) else measure_from_dict(d["measure"])
    validate_measure(measure)
    precedence = d.get("precedence")
    return RuleSpec(
        key=str(d["key"]), policy_number=str(d.get("policy_number") or ""),
        policy_title=str(d.get("policy_title") or ""), clause=str(d.get("clause") or ""), condition=condition,
        measure=measure, precedence=100 if precedence is None else int(precedence), note=str(d.get("note") or ""),
        local_setting=bool(d.get("local_setting", False)),
    )


# --- sentences ---------------------------------------------------------------------------------------------------


def _levels_text(params: Mapping[str, Any], en: bool) -> str:
    if "level" in params:
        lv = params["level"]
        return f"{lv}-risk" if en else LEVEL_ZH.get(lv, lv)
    lv = params.get("min_level", "")
    higher = [x for x in LEVELS if LEVEL_RANK[x] >= LEVEL_RANK.get(lv, 4)]
    if en:
        return "/".join(reversed(higher)) + "-risk"
    return "、".join(LEVEL_ZH[x][0] for x in reversed(higher)) + "风险" if len(higher) > 1 else LEVEL_ZH.get(lv, lv)


def _describe(cond: Mapping[str, Any], lang: str) -> str:
    en = lang.lower().startswith("en")
    (name, p), = cond.items()
    p = p or {}
    if name in ("all", "any"):
        parts = [_describe(c, lang) for c in p]
        joiner = (" and " if name == "all" else " or ") if en else ("且" if name == "all" else "或")
        return "(" + joiner.join(parts) + ")" if len(parts) > 1 else parts[0]
    if name == "not":
        return f"not {_describe(p, lang)}" if en else f"并非{_describe(p, lang)}"
    if name == "stayed_in_area":
        d = p.get("within_days")
        if en:
            return f"stayed in a {_levels_text(p, True)} area within {d} days"
        return f"{d} 日内有{_levels_text(p, False)}地区旅居史"
    if name == "stayed_near_area":
        d = p.get("within_days")
        if en:
            return f"stayed within {d} days elsewhere in a city with a {_levels_text(p, True)} area"
        return f"{d} 日内有{_levels_text(p, False)}地区所在地市其他地区旅居史"
    if name == "contact":
        deg = p.get("degree")
        degs = deg if isinstance(deg, list | tuple) else [deg] if deg is not None else [1, 2]
        zh = "或".join("密切接触者" if x == 1 else "次密切接触者" for x in degs)
        en_ = " or ".join("close contact" if x == 1 else "secondary contact" for x in degs)
        if p.get("within_days") is not None:
            return f"is a {en_} exposed within {p['within_days']} days" if en else \
                f"为 {p['within_days']} 日内接触的{zh}"
        return f"is a {en_}" if en else f"为{zh}"
    if name == "post_category":
        labels = [POST_CATEGORIES.get(c, (c, c))[1 if en else 0] for c in p.get("in", [])]
        return f"is {' / '.join(labels)} staff" if en else f"为{'、'.join(labels)}工作人员"
    if name == "symptoms":
        wanted = p.get("any_of") or []
        if not wanted:
            return "has any symptom" if en else "有任何症状"
        labels = [SYMPTOMS.get(s, (s, s))[1 if en else 0] for s in wanted]
        return f"has any of: {', '.join(labels)}" if en else f"有{'、'.join(labels)}等症状之一"
    if name == "fever":
        t = p.get("threshold", 37.3)
        return f"has a temperature ≥ {t:g} °C" if en else f"体温 ≥ {t:g} ℃"
    if name == "health_code":
        labels = [HEALTH_CODES.get(c, (c, c))[1 if en else 0] for c in p.get("in", [])]
        return f"has a {' or '.join(labels)} health code" if en else f"健康码为{'或'.join(labels)}"
    if name == "case":
        labels = [CASE_STATUSES.get(s, (s, s))[1 if en else 0] for s in p.get("status_in", [])]
        d = p.get("within_days")
        if en:
            return f"is a {' / '.join(labels)}" + (f" diagnosed within {d} days" if d is not None else "")
        return f"为{'、'.join(labels)}" + (f"（确诊 {d} 日内）" if d is not None else "")
    simple = {
        "abroad_released": ("入境后已在第一入境点解除集中隔离", "arrived from abroad after release from quarantine"),
        "recovered_returning": ("确诊病例或无症状感染者治愈出院后返回", "is a recovered case returning after discharge"),
        "past_case": ("为既往病例", "is a past case"),
        "no_home_conditions": ("不具备居家隔离条件", "has no conditions for home isolation"),
        "not_vaccinated": ("未接种新冠疫苗", "is not vaccinated"),
        "leaving_city": ("需离开本市", "asks to leave the city"),
    }
    zh, en_text = simple.get(name, (name, name))
    return en_text if en else zh


def describe_condition(cond: Mapping[str, Any], lang: str = "zh-hans") -> str:
    validate_condition(cond)
    return _describe(cond, lang)


def describe_measure(m: MeasureSpec, lang: str = "zh-hans") -> str:
    en = lang.lower().startswith("en")
    kind = KIND_LABELS.get(m.kind, (m.kind, m.kind))[1 if en else 0]
    label = f"“{m.label}” " if m.label else ""
    one_day = m.days == 1
    if m.days and not one_day:
        out = [f"{label}{kind} for {m.days} days" if en else f"{label}{kind} {m.days} 天"]
        start = {"arrival": ("自抵达之日起计", "counted from arrival"),
                 "last_exposure": ("自最后一次接触之日起计", "counted from the last exposure"),
                 "evaluation": ("自判定之日起计", "counted from the day it is decided"),
                 "discharge": ("自出院之日起计", "counted from discharge")}[m.counted_from]
        out.append(start[1 if en else 0])
    elif m.kind == "routine_testing" and (m.tests or m.every_n_days) and not label:
        out = []  # the tests below say it all
    else:
        out = [f"{label}{kind}"]
    by_kind: dict[str, list[str]] = {}
    for t in m.tests:
        by_kind.setdefault(t.kind, []).append(str(t.day))
    for k, days in by_kind.items():
        zh, en_ = TEST_KINDS[k]
        if one_day:
            out.append(f"one {en_} test at once" if en else f"立即进行 1 次{zh}检测")
        elif en:
            out.append(f"{en_} test on day{'s' if len(days) > 1 else ''} {', '.join(days)}")
        else:
            out.append(f"第 {'、'.join(days)} 天{'各' if len(days) > 1 else ''} 1 次{zh}检测")
    if m.every_n_days:
        zh, en_ = TEST_KINDS[m.every_n_days_kind]
        out.append(f"a {en_} test every {m.every_n_days} days" if en else f"每 {m.every_n_days} 天 1 次{zh}检测")
    for f in m.followups:
        spec = FOLLOWUPS.get(f)
        out.append((spec[1] if en else spec[0]) if spec else f)
    return ", ".join(out) if en else "，".join(out)


def describe_rule(rule: RuleSpec, lang: str = "zh-hans") -> str:
    """The rule as one sentence: "若14 日内有高风险地区旅居史，则“14+3” 集中隔离医学观察 14 天，…（…38号 第二条）"."""
    en = lang.lower().startswith("en")
    cond = describe_condition(rule.condition, lang)
    measure = describe_measure(rule.measure, lang)
    cite = f"{rule.policy_number} {rule.clause}".strip()
    if en:
        local = " (local setting: the source is silent)" if rule.local_setting else ""
        return f"If the person {cond}: {measure} ({cite}){local}."
    local = "（本地设定：原文未规定）" if rule.local_setting else ""
    return f"若{cond}，则{measure}（{cite}）{local}。"
