"""Pure health rules: fever and symptoms, slots and deadlines, illness clusters, and integrity detectors.

No database access: plain values in, plain values out, so they are tested without Django's test database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from fangkong.core.rule_errors import RuleError, gettext_noop
from fangkong.policy.rules import SYMPTOMS as POLICY_SYMPTOMS

TEMPERATURE_MIN = Decimal("34.0")
TEMPERATURE_MAX = Decimal("43.0")
DEFAULT_FEVER_THRESHOLD = Decimal("37.3")

# The symptom list of the seed work plans (000, 001, 004): code → (zh-Hans, English).
# One vocabulary shared with the policy rules, so a check-in's symptom codes are the codes the rules match on.
SYMPTOMS: Mapping[str, tuple[str, str]] = POLICY_SYMPTOMS
DEFAULT_SYMPTOMS = list(SYMPTOMS)

# Seed 004: ≥ 37.3 ℃ go to the fever clinic at once; seed 000: stay home in isolation or see a doctor. Marked for
# translation: while an organisation keeps this default, each reader sees it in their language.
DEFAULT_FEVER_INSTRUCTION = gettext_noop("体温≥37.3℃请立即到发热门诊就诊；如有发热、干咳、乏力等症状，请居家隔离或及时就医，并报告所在部门负责人。")

SLOTS = ("day", "morning", "noon", "afternoon")
FREQUENCIES = {
    "daily": ("day",),
    "twice": ("morning", "afternoon"),
    "school": ("morning", "noon"),
}
# Seed 002: people under a measure report twice a day whatever their organisation's frequency is.
MEASURE_SLOTS = ("morning", "afternoon")
# When a slot's window opens (the deadline comes from the setting).
SLOT_OPENS = {"day": time(0, 0), "morning": time(0, 0), "noon": time(11, 0), "afternoon": time(12, 0)}


def slot_kind(slot: str) -> str:
    """The obligation kind of a check-in slot: "checkin" for the daily one, "checkin_<slot>" otherwise."""
    if slot not in SLOTS:
        raise RuleError(gettext_noop("未知的时段：%(slot)s"), slot=slot)
    return "checkin" if slot == "day" else f"checkin_{slot}"


def slots_for(frequency: str, under_measure: bool) -> tuple[str, ...]:
    if under_measure:
        return MEASURE_SLOTS if frequency != "school" else ("morning", "noon")
    try:
        return FREQUENCIES[frequency]
    except KeyError:
        raise RuleError(gettext_noop("未知的打卡频次：%(frequency)s"), frequency=frequency) from None


def pick_slot(open_slots: Sequence[str], now: time) -> str:
    """Which slot a check-in without an explicit slot is for: the latest open slot whose window has started (the
    current one), else the earliest open one, else the daily slot."""
    ordered = sorted(open_slots, key=SLOTS.index)
    started = [s for s in ordered if SLOT_OPENS[s] <= now]
    if started:
        return started[-1]
    return ordered[0] if ordered else "day"


def parse_temperature(value: object) -> Decimal | None:
    """A temperature to one decimal place, or None when not given; out of 34.0–43.0 ℃ is refused."""
    if value is None or value == "":
        return None
    try:
        t = Decimal(str(value).strip()).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise RuleError(gettext_noop("体温“%(value)s”不是数字"), value=value) from None
    if not (TEMPERATURE_MIN <= t <= TEMPERATURE_MAX):
        raise RuleError(gettext_noop("体温 %(t)s℃ 超出合理范围（%(low)s–%(high)s℃），请检查是否输错"), t=t,
                        low=TEMPERATURE_MIN, high=TEMPERATURE_MAX)
    return t


def clean_symptoms(codes: Iterable[str], allowed: Iterable[str] | None = None) -> list[str]:
    allowed_set = set(allowed) if allowed is not None else set(SYMPTOMS)
    out: list[str] = []
    for code in codes:
        code = (code or "").strip()
        if not code:
            continue
        if code not in allowed_set:
            raise RuleError(gettext_noop("未知的症状代码：%(code)s"), code=code)
        if code not in out:
            out.append(code)
    return out


def is_fever(temperature: Decimal | None, threshold: Decimal = DEFAULT_FEVER_THRESHOLD) -> bool:
    return temperature is not None and temperature >= threshold


def is_abnormal(temperature: Decimal | None, symptoms: Sequence[str], threshold: Decimal) -> bool:
    """Fever at or above the threshold, or any symptom."""
    return is_fever(temperature, threshold) or bool(symptoms)


def symptom_labels(codes: Iterable[str], lang: str = "zh-hans") -> list[str]:
    idx = 1 if lang.startswith("en") else 0
    return [SYMPTOMS[c][idx] if c in SYMPTOMS else c for c in codes]


NOTE_MAX = 200


def check_note(note: str) -> str:
    """A check-in's note as typed; a longer one is refused (cutting it would lose its end without a word)."""
    note = note or ""
    if len(note) > NOTE_MAX:
        raise RuleError(gettext_noop("备注最多 %(max)d 个字，现为 %(n)d 个字，请删减"), max=NOTE_MAX, n=len(note))
    return note


def under_measure_on(measure_kind: str, measure_until: date | None, day: date) -> bool:
    """Whether a person's measure puts them on its slots on `day` (the obligations follow the same rule)."""
    return bool(measure_kind) and (measure_until is None or measure_until >= day)


def check_date(day: date, today: date) -> date:
    if day > today:
        raise RuleError(gettext_noop("日期 %(day)s 在今天（%(today)s）之后，不能提前打卡"), day=day, today=today)
    return day


# ----- illness clusters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AbsenceRecord:
    person_id: int
    unit_id: int | None
    started_on: date
    symptoms: tuple[str, ...]


@dataclass(frozen=True)
class Cluster:
    unit_id: int | None
    symptom: str
    person_ids: tuple[int, ...]


def detect_clusters(absences: Iterable[AbsenceRecord], *, on: date, threshold: int = 3,
                    window_days: int = 3) -> list[Cluster]:
    """Groups of ≥ threshold different people of one unit, absent with a shared symptom, who started within the
    `window_days` days ending on `on` (seed 001: 3 such cases in a class within 3 days must be reported)."""
    start = on - timedelta(days=window_days - 1)
    groups: dict[tuple[int | None, str], set[int]] = defaultdict(set)
    for a in absences:
        if a.unit_id is None or not (start <= a.started_on <= on):
            continue
        for code in a.symptoms:
            groups[(a.unit_id, code)].add(a.person_id)
    return sorted(
        (Cluster(unit, code, tuple(sorted(people))) for (unit, code), people in groups.items()
         if len(people) >= threshold),
        key=lambda c: (c.unit_id or 0, c.symptom),
    )


# ----- integrity ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    person_id: int
    day: date
    temperature: Decimal | None
    submitted_at: datetime
    device_id: str = ""
    ip: str = ""
    proxy: bool = False  # entered by a leader for someone (roll call): not the person's own device


@dataclass(frozen=True)
class IntegrityFinding:
    person_id: int
    reason: str  # same_temperature | same_time | shared_device
    facts: dict[str, Any]  # what the sentence about it needs (IntegrityFlag.describe words it in each language)


def _longest_run(days_values: list[tuple[date, object]]) -> int:
    """Longest run of consecutive days with the same value."""
    best = run = 0
    prev_day: date | None = None
    prev_val: object = None
    for d, v in sorted(days_values, key=lambda x: x[0]):
        if prev_day is not None and d == prev_day + timedelta(days=1) and v == prev_val:
            run += 1
        else:
            run = 1
        best = max(best, run)
        prev_day, prev_val = d, v
    return best


def same_temperature_runs(subs: Iterable[Submission], min_days: int = 7) -> list[IntegrityFinding]:
    """The same temperature to the tenth on ≥ min_days consecutive days: real readings wander."""
    per_person: dict[int, dict[date, Decimal]] = defaultdict(dict)
    for s in subs:
        if s.temperature is not None and not s.proxy:
            per_person[s.person_id].setdefault(s.day, s.temperature)
    out = []
    for pid, days in per_person.items():
        run = _longest_run(list(days.items()))
        if run >= min_days:
            out.append(IntegrityFinding(pid, "same_temperature", {"days": run}))
    return out


def _second_of_day(dt: datetime) -> int:
    return dt.hour * 3600 + dt.minute * 60 + dt.second


def same_time_of_day(subs: Iterable[Submission], min_days: int = 7, tolerance_s: int = 60) -> list[IntegrityFinding]:
    """Submissions within ±tolerance of the same second of the day on ≥ min_days days: a scheduled script."""
    per_person: dict[int, dict[date, int]] = defaultdict(dict)
    for s in subs:
        if not s.proxy:
            per_person[s.person_id].setdefault(s.day, _second_of_day(s.submitted_at))
    out = []
    for pid, days in per_person.items():
        seconds = sorted(days.values())
        best = 0
        lo = 0
        # Sliding window over the sorted seconds: the most days that fit in a 2×tolerance band.
        for hi in range(len(seconds)):
            while seconds[hi] - seconds[lo] > 2 * tolerance_s:
                lo += 1
            best = max(best, hi - lo + 1)
        if best >= min_days:
            out.append(IntegrityFinding(pid, "same_time", {"days": best, "seconds": tolerance_s}))
    return out


def shared_devices(subs: Iterable[Submission], max_people: int = 5) -> list[IntegrityFinding]:
    """One device id or IP submitting for ≥ max_people different people on one day (proxy roll-call excluded)."""
    groups: dict[tuple[str, str, date], set[int]] = defaultdict(set)
    for s in subs:
        if s.proxy:
            continue
        if s.device_id:
            groups[("device", s.device_id, s.day)].add(s.person_id)
        if s.ip:
            groups[("ip", s.ip, s.day)].add(s.person_id)
    found: dict[int, IntegrityFinding] = {}
    for (label, key, day), people in sorted(groups.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        if len(people) >= max_people:
            for pid in people:
                found.setdefault(pid, IntegrityFinding(
                    pid, "shared_device", {"by": label, "key": key, "day": day.isoformat(), "people": len(people)}
                ))
    return list(found.values())
