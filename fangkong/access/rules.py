"""Pure entry-control logic: the entry decision, plates, pass codes, occupancy. No database here.

The entry decision checks, in this order (issue 4): unknown person or visitor without an approved appointment
(configurable), active quarantine/isolation measure, symptomatic flag, fever at the gate, yellow/red health code.
Every failing check adds a reason (so the log shows all of them); the first one is what the phone shows big.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from fangkong.core.rule_errors import RuleError, gettext_noop

# Measures that keep a person out while they last. Home health monitoring lets the person in with a note: the
# person must take temperature twice a day and avoid gatherings, but is not confined (seed 003).
CONFINING_MEASURES = frozenset({"centralized_quarantine", "home_quarantine", "isolation", "centralized_isolation"})
MONITORING_MEASURES = frozenset({"home_health_monitoring"})
HEALTH_CODES = ("green", "yellow", "red")
# A health code seen at the gate counts for a day; older colours are not used for decisions.
HEALTH_CODE_VALID = timedelta(hours=24)
FUTURE_TOLERANCE = timedelta(minutes=5)

REASONS: dict[str, tuple[str, str]] = {
    "unknown_person": ("未登记人员，请到门岗登记", "Not registered: please register at the gate"),
    "visitor_no_appointment": ("访客无已同意的预约，请联系被访人", "Visitor without an approved appointment"),
    "under_measure": ("正在执行隔离管控措施，不得进入", "Under an active quarantine or isolation measure"),
    "symptomatic": ("有发热或可疑症状记录，请到发热门诊就诊", "Symptoms reported: please go to the fever clinic"),
    "fever": ("体温异常（{temperature}℃ ≥ {threshold}℃），请到发热门诊就诊",
              "Temperature {temperature}°C ≥ {threshold}°C: please go to the fever clinic"),
    "health_code_yellow": ("健康码为黄码，不得进入", "Health code is yellow"),
    "health_code_red": ("健康码为红码，不得进入", "Health code is red"),
    "home_monitoring": ("居家健康监测期间：可进入，请避免聚集、每日两次测温",
                        "Under home health monitoring: admitted; avoid gatherings, take temperature twice a day"),
    "exit": ("离开已登记", "Exit recorded"),
    "admitted": ("准予进入", "Admitted"),
}


@dataclass(frozen=True)
class Reason:
    code: str
    blocking: bool
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        zh, en = REASONS[self.code]
        return {"code": self.code, "text": zh.format(**self.params), "en": en.format(**self.params),
                "blocking": self.blocking}


@dataclass(frozen=True)
class PersonFacts:
    """What the decision reads about a person: one row of the ledger plus whether a visit is approved."""

    known: bool = True
    is_visitor: bool = False
    has_approved_visit: bool = False
    measure_kind: str = ""
    measure_until: date | None = None
    symptomatic: bool = False
    health_code: str = ""
    health_code_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    admit: bool
    reasons: tuple[Reason, ...]

    @property
    def value(self) -> str:
        return "admit" if self.admit else "refuse"

    @property
    def fever(self) -> bool:
        return any(r.code == "fever" for r in self.reasons)

    def reasons_json(self) -> list[dict]:
        return [r.as_dict() for r in self.reasons]


def effective_health_code(gate_code: str, person: PersonFacts, now: datetime) -> str:
    """The colour entered at the gate wins; else the last colour seen, if it was seen within a day."""
    if gate_code:
        return gate_code
    if person.health_code and person.health_code_at and now - person.health_code_at <= HEALTH_CODE_VALID:
        return person.health_code
    return ""


def measure_active(person: PersonFacts, today: date) -> bool:
    return person.measure_kind in CONFINING_MEASURES and (person.measure_until is None or person.measure_until >= today)


def decide_entry(
    person: PersonFacts, *, temperature: Decimal | None, health_code: str, threshold: Decimal, today: date,
    now: datetime, refuse_unknown: bool = True,
) -> Decision:
    reasons: list[Reason] = []
    if not person.known:
        if refuse_unknown:
            reasons.append(Reason("unknown_person", True))
    elif person.is_visitor and not person.has_approved_visit and refuse_unknown:
        reasons.append(Reason("visitor_no_appointment", True))
    if measure_active(person, today):
        reasons.append(Reason("under_measure", True))
    if person.symptomatic:
        reasons.append(Reason("symptomatic", True))
    if temperature is not None and Decimal(temperature) >= Decimal(threshold):
        reasons.append(Reason("fever", True, {"temperature": f"{Decimal(temperature):.1f}",
                                               "threshold": f"{Decimal(threshold):.1f}"}))
    code = effective_health_code(health_code, person, now)
    if code in ("yellow", "red"):
        reasons.append(Reason(f"health_code_{code}", True))
    blocking = [r for r in reasons if r.blocking]
    if blocking:
        return Decision(False, tuple(blocking))
    notes = []
    if person.measure_kind in MONITORING_MEASURES and (person.measure_until is None or person.measure_until >= today):
        notes.append(Reason("home_monitoring", False))
    return Decision(True, (*notes, Reason("admitted", False)))


def exit_decision() -> Decision:
    """Exits are always recorded and never refused: the person is leaving."""
    return Decision(True, (Reason("exit", False),))


def check_time(at: datetime, now: datetime) -> None:
    """Gates upload late, so the past is fine; a time more than five minutes ahead is a wrong clock."""
    if at - now > FUTURE_TOLERANCE:
        raise RuleError(gettext_noop("扫码时间 %(at)s 晚于当前时间 5 分钟以上，请校准设备时钟"),
                        at=f"{at:%Y-%m-%d %H:%M:%S}")


def check_recorded_time(at: datetime, now: datetime) -> None:
    """A time a gatekeeper records (a vehicle in or out, its disinfection): like a scan, not more than five minutes
    ahead of now."""
    if at - now > FUTURE_TOLERANCE:
        raise RuleError(gettext_noop("时间 %(at)s 晚于当前时间 5 分钟以上，请核对"), at=f"{at:%Y-%m-%d %H:%M}")


# A visit is a call of hours, not a stay: longer ones are another arrangement (a contractor's pass, a secondment).
MAX_VISIT = timedelta(hours=24)


def check_visit_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise RuleError(gettext_noop("预约结束时间应晚于开始时间"))
    if ends_at - starts_at > MAX_VISIT:
        raise RuleError(gettext_noop("一次来访最长 24 小时，请缩短预约时间或分次预约"))


def same_name(stored: str, typed: str) -> bool:
    """Whether a typed name is the ledger's name: the same characters, spaces and letter case aside ("孙 访客" is
    "孙访客", "li lei" is "Li Lei")."""
    def letters(name: str) -> str:
        return "".join(str(name or "").split()).casefold()

    return bool(letters(typed)) and letters(stored) == letters(typed)


def check_temperature(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    value = Decimal(value)
    if not Decimal("30") <= value <= Decimal("45"):
        raise RuleError(gettext_noop("体温 %(value)s℃ 不在 30–45℃ 之间，请复测"), value=value)
    return value.quantize(Decimal("0.1"))


def check_health_code(value: str) -> str:
    value = (value or "").strip().lower()
    if value and value not in HEALTH_CODES:
        raise RuleError(gettext_noop("健康码颜色“%(value)s”无效，可选：green（绿）、yellow（黄）、red（红）"), value=value)
    return value


_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
# Loose on purpose: ordinary (5 characters after the letter), new-energy (6) and suffixes such as 挂/学/警.
_PLATE = re.compile(rf"^[{_PROVINCES}][A-Z][A-Z0-9]{{4,6}}[挂学警港澳领试超]?$")


def check_plate(value: str) -> str:
    plate = re.sub(r"[\s·\.\-]", "", str(value or "")).upper()
    if not plate:
        raise RuleError(gettext_noop("车牌号不能为空"))
    if not _PLATE.match(plate):
        raise RuleError(gettext_noop("车牌号“%(value)s”格式不正确，例如：晋D12345 或 晋DD12345"), value=value)
    return plate


# Short codes a gatekeeper can type: no 0/O, 1/I/L, so a code read aloud or off a small screen is not mistyped.
PASS_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PASS_LENGTH = 7


def new_pass_code() -> str:
    return "".join(secrets.choice(PASS_ALPHABET) for _ in range(PASS_LENGTH))


def normalise_pass_code(value: str) -> str:
    return re.sub(r"[\s\-]", "", value or "").upper()


def looks_like_pass_code(value: str) -> bool:
    code = normalise_pass_code(value)
    return len(code) == PASS_LENGTH and all(c in PASS_ALPHABET for c in code)


def occupancy_state(count: int, capacity: int | None) -> str:
    """'ok' below 90 % of capacity, 'near' from 90 %, 'full' at capacity (seed 001: meetings of at most 100)."""
    if not capacity:
        return "ok"
    if count >= capacity:
        return "full"
    if count * 10 >= capacity * 9:
        return "near"
    return "ok"
