"""Measure lifecycle as plain data: which action moves a measure from which status to which, and what still stands
in the way of releasing one. No database: services read the facts and pass them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from fangkong.core.rule_errors import RuleError, gettext_noop

PROPOSED, CONFIRMED, IN_PROGRESS, READY, RELEASED = (
    "proposed", "confirmed", "in_progress", "ready_for_release", "released")
ESCALATED, SUPERSEDED, CANCELLED = "escalated", "superseded", "cancelled"

# action → (statuses it may start from, status it leads to; None keeps the status).
# Extending a measure waiting for release sends it back to "in progress" (its new end is ahead again).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "confirm": (frozenset({PROPOSED}), CONFIRMED),
    "start": (frozenset({CONFIRMED}), IN_PROGRESS),
    "mark_ready": (frozenset({IN_PROGRESS}), READY),
    # Release straight from "in progress" too: "ready for release" is a convenience, the blockers decide.
    "release": (frozenset({IN_PROGRESS, READY}), RELEASED),
    # A positive test or symptoms: the person leaves this measure for a stricter track (fever clinic, case).
    "escalate": (frozenset({CONFIRMED, IN_PROGRESS, READY}), ESCALATED),
    "extend": (frozenset({CONFIRMED, IN_PROGRESS, READY}), None),
}

ACTION_LABELS = {
    "confirm": "确认", "start": "开始执行", "mark_ready": "标记待解除", "release": "解除",
    "escalate": "升级", "extend": "延长",
}

STATUS_LABELS = {
    PROPOSED: "待确认", CONFIRMED: "已确认", IN_PROGRESS: "执行中", READY: "待解除", RELEASED: "已解除",
    ESCALATED: "已升级", SUPERSEDED: "已被取代", CANCELLED: "已取消",
}

TEST_LABELS = {"nat": "核酸检测", "antigen": "抗原检测", "antibody": "抗体检测"}

# The restriction kinds, strictest first: one of them on the person wins over anything else.
RESTRICTION_KINDS = ("centralized_quarantine", "home_quarantine", "home_health_monitoring")
# Kinds that put the person on twice-daily (morning and afternoon) temperature check-ins while active: quarantine
# and health monitoring (seed 003: 隔离/健康监测期间每日早晚测温) and the explicit "每日早晚测温" measure (seed 002,
# isolated staff; the policy pack's arrival rules). Routine testing, vaccination required, refuse entry, send to a
# fever clinic and report-and-approval do not: `Person.measure_kind` stays as it was for them.
TWICE_DAILY_KINDS = frozenset({*RESTRICTION_KINDS, "temperature_twice_daily"})


# Medical isolation of a case (suspected, confirmed, asymptomatic), stricter than any quarantine. Not a Measure of
# this app: tracing contributes it through services.PERSON_RESTRICTIONS while the person has an open case, so the
# gate refuses them and no check-in is asked of them (they are followed up by the investigation instead).
ISOLATION = "isolation"


def person_measure(active: Iterable[tuple[str, date | None, date]]) -> tuple[str, date | None]:
    """What `Person.measure_kind` / `measure_until` should say, from the person's active measures
    (kind, end date, start date): isolation as a case, else the strictest restriction, else twice-daily
    temperature, else nothing. Ties go to the latest start, then the latest end (None = open-ended counts as
    latest)."""
    rank = {k: i for i, k in enumerate((ISOLATION, *RESTRICTION_KINDS, "temperature_twice_daily"))}
    chosen = [m for m in active if m[0] in rank]
    if not chosen:
        return "", None
    best = min(chosen, key=lambda m: (rank[m[0]], -m[2].toordinal(),
                                      -(m[1].toordinal() if m[1] else date.max.toordinal())))
    return best[0], best[1]


def day_of_measure(start: date, end: date | None, today: date) -> tuple[int, int | None]:
    """(N, M) for "day N of M": N counts from 1 on the start date (0 before it), capped at M once the period is over;
    M is None for a measure without an end."""
    total = (end - start).days + 1 if end else None
    n = max(0, (today - start).days + 1)
    if total is not None:
        n = min(n, total)
    return n, total


class TransitionError(RuleError):
    """A step the lifecycle refuses. Its sentence names the statuses in Chinese (`str()`); `current` and `sources`
    are their codes, so a caller can name them in the reader's language (%(status)s, %(allowed)s)."""

    def __init__(self, message: str, *, current: str = "", sources: tuple[str, ...] = (), **params: Any) -> None:
        super().__init__(message, **params)
        self.current, self.sources = current, sources


# One sentence per action: "the current status is X, so it cannot be <action>ed (only from: …)".
_REFUSED: Mapping[str, str] = {
    "confirm": gettext_noop("当前状态为“%(status)s”，不能确认（仅限：%(allowed)s）"),
    "start": gettext_noop("当前状态为“%(status)s”，不能开始执行（仅限：%(allowed)s）"),
    "mark_ready": gettext_noop("当前状态为“%(status)s”，不能标记待解除（仅限：%(allowed)s）"),
    "release": gettext_noop("当前状态为“%(status)s”，不能解除（仅限：%(allowed)s）"),
    "escalate": gettext_noop("当前状态为“%(status)s”，不能升级（仅限：%(allowed)s）"),
    "extend": gettext_noop("当前状态为“%(status)s”，不能延长（仅限：%(allowed)s）"),
}


def next_status(action: str, current: str) -> str:
    """The status after `action`, or TransitionError with the reason."""
    if action not in TRANSITIONS:
        raise TransitionError(gettext_noop("未知的操作“%(action)s”"), action=action)
    sources, target = TRANSITIONS[action]
    if current not in sources:
        ordered = tuple(sorted(sources))
        raise TransitionError(_REFUSED[action], current=current, sources=ordered,
                              status=STATUS_LABELS.get(current, current),
                              allowed="、".join(STATUS_LABELS.get(s, s) for s in ordered))
    if target is None:
        return IN_PROGRESS if current == READY else current
    return target


def allowed_actions(current: str) -> list[str]:
    return [a for a, (sources, _t) in TRANSITIONS.items() if current in sources]


def _md(d: date) -> str:
    return f"{d.month}-{d.day}"


# A scheduled test that stands in the way, one sentence per test kind (and one for a kind without a label).
_NO_RESULT: Mapping[str, str] = {
    "nat": gettext_noop("核酸检测（%(due)s）尚无结果"),
    "antigen": gettext_noop("抗原检测（%(due)s）尚无结果"),
    "antibody": gettext_noop("抗体检测（%(due)s）尚无结果"),
}
_INVALID: Mapping[str, str] = {
    "nat": gettext_noop("核酸检测（%(due)s）结果无效，需复检"),
    "antigen": gettext_noop("抗原检测（%(due)s）结果无效，需复检"),
    "antibody": gettext_noop("抗体检测（%(due)s）结果无效，需复检"),
}


def release_blocker_errors(
    *,
    today: date,
    end_date: date | None,
    tests: Iterable[tuple[str, date, str | None]],
    symptomatic: bool,
    start_date: date | None = None,
) -> list[RuleError]:
    """Why the measure cannot be released today, each reason a RuleError (`worded()` says it in the reader's
    language); empty when it can.

    `tests` are (kind, due date, result or None): result "negative", "positive", "invalid" or None (no result yet).
    The last day must be over (release from the day after the end date), every scheduled test must have a valid
    result, none may be positive, and the person must carry no open symptom flag.
    """
    out: list[RuleError] = []
    if end_date is not None and today <= end_date:
        if start_date is not None:
            out.append(RuleError(gettext_noop("第 %(day)s 天尚未结束（截止 %(end)s）"),
                                 day=(end_date - start_date).days + 1, end=_md(end_date)))
        else:
            out.append(RuleError(gettext_noop("管控期尚未结束（截止 %(end)s）"), end=_md(end_date)))
    positive = False
    for kind, due, result in sorted(tests, key=lambda t: (t[1], t[0])):
        if result is None:
            out.append(RuleError(_NO_RESULT.get(kind) or gettext_noop("%(kind)s（%(due)s）尚无结果"),
                                 kind=TEST_LABELS.get(kind, kind), due=_md(due)))
        elif result == "invalid":
            out.append(RuleError(_INVALID.get(kind) or gettext_noop("%(kind)s（%(due)s）结果无效，需复检"),
                                 kind=TEST_LABELS.get(kind, kind), due=_md(due)))
        elif result == "positive":
            positive = True
    if positive:
        out.append(RuleError(gettext_noop("有阳性检测结果")))
    if symptomatic:
        out.append(RuleError(gettext_noop("有未解除的症状标记")))
    return out


def release_blockers(
    *,
    today: date,
    end_date: date | None,
    tests: Iterable[tuple[str, date, str | None]],
    symptomatic: bool,
    start_date: date | None = None,
) -> list[str]:
    """`release_blocker_errors` as Chinese sentences."""
    return [str(e) for e in release_blocker_errors(today=today, end_date=end_date, tests=tests,
                                                    symptomatic=symptomatic, start_date=start_date)]
