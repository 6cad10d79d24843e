"""Pure contact-tracing logic: exposure windows and co-presence, over plain values (no database).

The database query that finds contacts at scale (tracing/selectors.py, later) must return exactly what these functions
return on the same intervals; the tests generate intervals and compare.

Conventions
- An exposure window runs from `days_before` days before symptom onset (or before the sample date when the case has
  no symptoms) at 00:00 local time, to the moment the case was isolated (open-ended when not yet isolated: `until`).
- A presence interval is [start, end): someone who left at 10:00 and someone who arrived at 10:00 were not together.
- Two people are co-present at a venue when their intervals at that venue overlap by at least the threshold for that
  venue kind, counted inside the exposure window only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

from fangkong.core.rule_errors import RuleError, gettext_noop

# Minutes together that make a close contact, per venue kind (a setting; these defaults follow common practice:
# enclosed shared rooms need less time than a large hall or a gate). A canteen is a large hall with staggered meals
# of 15–45 minutes: a venue scan does not say who shared a table, so only a whole meal side by side (30 minutes)
# counts, like a workshop; with 15, everyone eating in the same quarter hour of a 2,000-seat canteen was a contact.
DEFAULT_MIN_MINUTES: Mapping[str, int] = {
    "meeting_room": 15,
    "canteen": 30,
    "dormitory": 15,
    "ward": 15,
    "workshop": 30,
    "building": 60,
    "gate": 0,  # passing a gate is not contact: 0 disables the kind
    "other": 30,
}


@dataclass(frozen=True)
class Presence:
    person_id: int
    venue_id: int
    venue_kind: str
    start: datetime
    end: datetime


class Evidence(NamedTuple):
    """One overlapping pair of presences. A named tuple, not a frozen dataclass: a secondary search builds tens of
    thousands (0.4 µs each instead of 1.2)."""

    person_id: int
    other_id: int
    venue_id: int
    start: datetime
    end: datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def exposure_window(
    *, onset: date | None, sample_date: date | None, isolated_at: datetime | None, until: datetime,
    tz: tzinfo, days_before: int = 2,
) -> tuple[datetime, datetime]:
    """The case's exposure window. Raises RuleError (a ValueError) when neither onset nor sample date is known, or
    when the window would end (at the isolation, or at `until` when not isolated) before it starts."""
    anchor = onset or sample_date
    if anchor is None:
        raise RuleError(gettext_noop("需要发病日期或采样日期才能确定暴露窗口"))
    start = datetime.combine(anchor - timedelta(days=days_before), time.min, tzinfo=tz)
    end = isolated_at or until
    if end < start:
        # Both instants in local time: an isolation time read from the database is in UTC.
        shown = {"start": f"{start:%Y-%m-%d %H:%M}"}
        if isolated_at is None:
            raise RuleError(gettext_noop("尚未隔离，而暴露窗口开始 %(start)s 晚于当前时间 %(now)s"),
                            now=f"{until.astimezone(tz):%Y-%m-%d %H:%M}", **shown)
        raise RuleError(gettext_noop("隔离时间 %(end)s 早于暴露窗口开始 %(start)s"),
                        end=f"{isolated_at.astimezone(tz):%Y-%m-%d %H:%M}", **shown)
    return start, end


def clip(p: Presence, start: datetime, end: datetime) -> Presence | None:
    s, e = max(p.start, start), min(p.end, end)
    if e <= s:
        return None
    return Presence(p.person_id, p.venue_id, p.venue_kind, s, e)


def overlap(a: Presence, b: Presence) -> tuple[datetime, datetime] | None:
    if a.venue_id != b.venue_id:
        return None
    s, e = max(a.start, b.start), min(a.end, b.end)
    return (s, e) if e > s else None


def co_present(
    index: Iterable[Presence],
    others: Iterable[Presence],
    *,
    window: tuple[datetime, datetime],
    min_minutes: Mapping[str, int] = DEFAULT_MIN_MINUTES,
) -> list[Evidence]:
    """Evidence of co-presence between the index person's intervals and everyone else's, inside the window.

    One Evidence per overlapping pair of intervals that reaches the venue kind's threshold; a kind with threshold 0 or
    missing from `min_minutes` never makes contacts.
    """
    start, end = window
    by_venue: dict[int, list[Presence]] = defaultdict(list)
    for p in index:
        clipped = clip(p, start, end)
        if clipped:
            by_venue[p.venue_id].append(clipped)
    found: list[Evidence] = []
    for other in others:
        mine = by_venue.get(other.venue_id)
        if not mine:
            continue
        threshold = min_minutes.get(other.venue_kind, 0)
        if threshold <= 0:
            continue
        clipped_other = clip(other, start, end)
        if clipped_other is None:
            continue
        for p in mine:
            if p.person_id == other.person_id:
                continue
            o = overlap(p, clipped_other)
            if o and (o[1] - o[0]) >= timedelta(minutes=threshold):
                found.append(Evidence(p.person_id, other.person_id, other.venue_id, o[0], o[1]))
    return found


def contacts_of(evidence: Iterable[Evidence]) -> dict[int, list[Evidence]]:
    """Group evidence by the contact, longest time together first."""
    grouped: dict[int, list[Evidence]] = defaultdict(list)
    for e in evidence:
        grouped[e.other_id].append(e)
    for items in grouped.values():
        items.sort(key=lambda e: e.end - e.start, reverse=True)
    return dict(grouped)


# A secondary contact keeps only its longest co-presences with the close contact (the count and the total say the
# rest): a hundred cases' secondary search meets ≈ 2,000,000 of them. Close contacts keep all their evidence.
SECONDARY_EVIDENCE_LISTED = 3


class CoPresenceSummary(NamedTuple):
    """What is stored of one person's co-presences with one close contact: how many, the whole minutes of each added
    up, the first start and the last end, and the `listed` longest (then earliest, venue, end)."""

    times: int
    minutes: int
    first: datetime
    last: datetime
    longest: tuple[Evidence, ...]


def co_presence_summary(items: Iterable[Evidence], listed: int = SECONDARY_EVIDENCE_LISTED) -> CoPresenceSummary:
    """The summary of a non-empty set of evidence (the order the SQL aggregate uses: longest first by whole minutes,
    then the earliest start, the venue, the end)."""
    ordered = sorted(items, key=lambda e: (-e.minutes, e.start, e.venue_id, e.end))
    if not ordered:
        raise ValueError("no evidence to summarise")
    return CoPresenceSummary(len(ordered), sum(e.minutes for e in ordered), min(e.start for e in ordered),
                             max(e.end for e in ordered), tuple(ordered[:listed]))


def presence_end(at: datetime, left_at: datetime | None, max_stay_minutes: int) -> datetime:
    """End of an entry's presence interval: the exit, capped at the venue's maximum stay.

    An entry without an exit lasts the maximum stay (what the access task would estimate). The cap also applies to a
    recorded exit, so an interval never exceeds the venue's maximum stay: the database query relies on it to bound its
    index range (an overlapping entry started at most `max_stay` before), and this function keeps Python and SQL equal.
    """
    cap = at + timedelta(minutes=max_stay_minutes)
    return min(left_at, cap) if left_at is not None else cap


def secondary_window(*, first_exposure: datetime, quarantine_start: datetime | None,
                     until: datetime) -> tuple[datetime, datetime] | None:
    """When a close contact could have passed the infection on: from its first exposure to the case until its
    quarantine began (or `until`, usually now). None when the quarantine began before the exposure."""
    end = quarantine_start or until
    return (first_exposure, end) if end > first_exposure else None


def case_label(*, case_id: int, name: str, evidence: Iterable[Mapping[str, object]],
               venue_names: Mapping[int, str], tz: tzinfo, english: bool = False) -> str:
    """The phrase the policy engine puts before "的密切接触者" (in English: after "close contact of"): the case and
    the strongest piece of evidence. The engine words its explanations in both languages, so it is asked for both."""
    label = f"case #{case_id} {name}" if english else f"病例#{case_id} {name}"
    best = max(evidence, key=lambda e: int(str(e.get("minutes") or 0)), default=None)
    if not best:
        return label
    kind = best.get("kind")
    if kind == "co_presence":
        start = datetime.fromisoformat(str(best["from"])).astimezone(tz)
        end = datetime.fromisoformat(str(best["to"])).astimezone(tz)
        venue_id = best.get("venue_id")
        venue = venue_names.get(int(str(venue_id or 0)), f"#{venue_id}" if english else f"场所#{venue_id}")
        if english:
            return f"{label} ({start:%m-%d %H:%M}–{end:%H:%M} together at {venue}, {best['minutes']} min)"
        return f"{label}（{start:%m-%d %H:%M}–{end:%H:%M} 在{venue}共同停留 {best['minutes']} 分钟）"
    words = _CASE_LABEL_WORDS_EN if english else _CASE_LABEL_WORDS
    reason = best.get("reason")
    if english:
        return f"{label} ({words.get(str(kind), str(kind))}{f': {reason}' if reason else ''})"
    return f"{label}（{words.get(str(kind), str(kind))}{f'：{reason}' if reason else ''}）"


_CASE_LABEL_WORDS: Mapping[str, str] = {
    "same_unit_shift": "同班组同日出勤", "same_dormitory": "同宿舍", "manual": "流调人员判定",
    "household": "同住家庭成员", "meeting": "同一会议"}
_CASE_LABEL_WORDS_EN: Mapping[str, str] = {
    "same_unit_shift": "same team, at work the same day", "same_dormitory": "same dormitory room",
    "manual": "judged by the investigator", "household": "same household", "meeting": "same meeting"}


# Status changes a case may go through (suspected → confirmed or excluded; an asymptomatic infection may be confirmed
# when symptoms appear). Confirmed and excluded are final here: a mistake is corrected by the office in the history.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "suspected": frozenset({"confirmed", "asymptomatic", "excluded"}),
    "asymptomatic": frozenset({"confirmed", "excluded"}),
    "confirmed": frozenset(),
    "excluded": frozenset(),
}

# How long before the report date (today when there is none) an onset or a sample may lie: a tracing window opens two
# days before it, and nobody traces a case from months ago.
MAX_DAYS_BEFORE_REPORT = 60


# The onset's and the sample date's problems, each its own sentence (one message per case, for translators): after
# today, after the report date, too long before the report date, too long before today (no report date).
_ONSET_MESSAGES = (
    gettext_noop("发病日期 %(onset)s 晚于今天 %(today)s"),
    gettext_noop("发病日期 %(onset)s 晚于报告日期 %(report)s"),
    gettext_noop("发病日期 %(onset)s 早于报告日期 %(report)s 超过 %(days)s 天"),
    gettext_noop("发病日期 %(onset)s 早于今天 %(today)s 超过 %(days)s 天"),
)
_SAMPLE_MESSAGES = (
    gettext_noop("采样日期 %(sample)s 晚于今天 %(today)s"),
    gettext_noop("采样日期 %(sample)s 晚于报告日期 %(report)s"),
    gettext_noop("采样日期 %(sample)s 早于报告日期 %(report)s 超过 %(days)s 天"),
    gettext_noop("采样日期 %(sample)s 早于今天 %(today)s 超过 %(days)s 天"),
)


def case_date_problems(
    *, onset: date | None, sample_date: date | None, report_date: date | None, isolated_at: datetime | None,
    window_days: int, tz: tzinfo, now: datetime,
) -> dict[str, list[RuleError]]:
    """Inconsistent dates of a case, by field, as errors the reporter words (`worded`). Empty when the dates can stand
    together.

    No date may lie after today (local) nor the isolation after `now`; onset and sample date come no later than the
    report date and at most `MAX_DAYS_BEFORE_REPORT` days before it (before today when there is no report date): a
    mistyped year would otherwise open an exposure window decades long."""
    errors: dict[str, list[RuleError]] = {}
    today = now.astimezone(tz).date()
    if report_date and report_date > today:
        errors.setdefault("report_date", []).append(
            RuleError(gettext_noop("报告日期 %(report)s 晚于今天 %(today)s"), report=report_date, today=today))
    oldest = (report_date or today) - timedelta(days=MAX_DAYS_BEFORE_REPORT)
    for field, value, param, (after_today, after_report, long_before_report, long_before_today) in (
        ("onset_date", onset, "onset", _ONSET_MESSAGES), ("sample_date", sample_date, "sample", _SAMPLE_MESSAGES),
    ):
        if not value:
            continue
        if value > today:
            problem = RuleError(after_today, **{param: value}, today=today)
        elif report_date and value > report_date:
            problem = RuleError(after_report, **{param: value}, report=report_date)
        elif value < oldest and report_date:
            problem = RuleError(long_before_report, **{param: value}, report=report_date, days=MAX_DAYS_BEFORE_REPORT)
        elif value < oldest:
            problem = RuleError(long_before_today, **{param: value}, today=today, days=MAX_DAYS_BEFORE_REPORT)
        else:
            continue
        errors.setdefault(field, []).append(problem)
    if isolated_at and isolated_at > now:
        errors.setdefault("isolated_at", []).append(
            RuleError(gettext_noop("隔离时间 %(isolated)s 晚于当前时间 %(now)s"),
                      isolated=f"{isolated_at.astimezone(tz):%Y-%m-%d %H:%M}",
                      now=f"{now.astimezone(tz):%Y-%m-%d %H:%M}"))
    anchor = onset or sample_date
    if isolated_at and anchor:
        earliest = datetime.combine(anchor - timedelta(days=window_days), time.min, tzinfo=tz)
        if isolated_at < earliest:
            message = (gettext_noop("隔离时间 %(isolated)s 早于暴露窗口开始 %(start)s（发病日期前 %(days)s 天）") if onset
                       else gettext_noop("隔离时间 %(isolated)s 早于暴露窗口开始 %(start)s（采样日期前 %(days)s 天）"))
            errors.setdefault("isolated_at", []).append(RuleError(
                message, isolated=f"{isolated_at.astimezone(tz):%Y-%m-%d %H:%M}", start=f"{earliest:%Y-%m-%d %H:%M}",
                days=window_days))
    if not 0 <= window_days <= 21:
        errors.setdefault("window_days", []).append(
            RuleError(gettext_noop("暴露窗口天数应在 0–21 之间，收到 %(days)s"), days=window_days))
    return errors


def case_date_errors(
    *, onset: date | None, sample_date: date | None, report_date: date | None, isolated_at: datetime | None,
    window_days: int, tz: tzinfo, now: datetime,
) -> dict[str, list[str]]:
    """Inconsistent dates of a case, by field, in Chinese. Empty when the dates can stand together."""
    problems = case_date_problems(onset=onset, sample_date=sample_date, report_date=report_date,
                                  isolated_at=isolated_at, window_days=window_days, tz=tz, now=now)
    return {field: [str(e) for e in errors] for field, errors in problems.items()}
