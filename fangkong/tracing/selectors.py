"""Reads for tracing: co-presence from the scan log in one SQL query, unit and dormitory contacts, contact lists.

`co_presence` returns exactly what `rules.co_present` returns on the same intervals (a test generates scans and
compares): entry rows with decision admit are presence intervals [at, presence_end) (`rules.presence_end`: the exit,
capped at the venue's maximum stay), clipped to each index person's window, with the venue kind's threshold.
"""

from __future__ import annotations

import gc
import json
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from fangkong.core import fastsql
from fangkong.tracing import rules
from fangkong.tracing.models import Case, Contact

# Evidence rows: (window number, contact person, venue, from, to), one per overlapping pair of presences, ordered by
# window, contact and start; grouped per (window, contact) in Python (no JSON built and parsed: psycopg reads the
# timestamps natively). The index person's own presences come first (a handful per window, `mine`), then each probes
# its venue's entries through the covering partial index scan_presence_venue (venue_id, at) INCLUDE (left_at,
# person_id), an index-only range scan: an entry can overlap [s, e) by `thr` minutes only if it started after
# s − the venue's maximum stay (no presence is longer) and no later than e − thr.
#
# `idx` is the windows (wid: window number, gid: group number, pid: person, ws/we: window). `mine` is their own
# presences clipped to the window, a handful per window, each read through scan_presence_person; OFFSET 0 keeps the
# lateral subqueries as parameterized index probes whatever the planner estimates for the unnested arrays.
_MINE_SQL = """
mine AS MATERIALIZED (
    SELECT m.* FROM idx CROSS JOIN LATERAL (
        SELECT idx.wid, idx.gid, idx.pid, s.venue_id, v.max_stay_minutes * interval '1 minute' AS ms,
               (%(thresholds)s::jsonb ->> v.kind)::int * interval '1 minute' AS thr,
               GREATEST(s.at, idx.ws) AS s,
               LEAST(COALESCE(LEAST(s.left_at, s.at + v.max_stay_minutes * interval '1 minute'),
                              s.at + v.max_stay_minutes * interval '1 minute'), idx.we) AS e
        FROM access_scan s
        JOIN access_venue v ON v.id = s.venue_id
        WHERE s.person_id = idx.pid AND s.direction = 'entry' AND s.decision = 'admit' AND s.at < idx.we
          AND s.at > idx.ws - v.max_stay_minutes * interval '1 minute'
          AND COALESCE((%(thresholds)s::jsonb ->> v.kind)::int, 0) > 0
        OFFSET 0
    ) m
    WHERE m.e - m.s >= m.thr
)"""
# Everyone else's presences overlapping one of `mine` by the threshold: an index-only range scan of
# scan_presence_venue (venue_id, at) INCLUDE (left_at, person_id) per presence of `mine`.
_PAIRS_SQL = """
    FROM mine m CROSS JOIN LATERAL (
        SELECT o.person_id, GREATEST(m.s, o.at) AS f, LEAST(m.e, COALESCE(o.left_at, o.at + m.ms), o.at + m.ms) AS t
        FROM access_scan o
        WHERE o.venue_id = m.venue_id AND o.direction = 'entry' AND o.decision = 'admit'
          AND o.at > m.s - m.ms AND o.at <= m.e - m.thr AND o.person_id <> m.pid
          AND COALESCE(o.left_at, o.at + m.ms) >= m.s + m.thr
        OFFSET 0
    ) o
    WHERE o.t - o.f >= m.thr"""
_CO_PRESENCE_SQL = """
WITH idx AS (
    SELECT t.*, t.wid AS gid FROM unnest(%(pids)s::bigint[], %(starts)s::timestamptz[], %(ends)s::timestamptz[])
                                  WITH ORDINALITY AS t(pid, ws, we, wid)
), """ + _MINE_SQL + """
SELECT m.wid, o.person_id, m.venue_id, o.f, o.t""" + _PAIRS_SQL + """
ORDER BY m.wid, o.person_id, o.f
"""

# Secondary contacts of many groups (a group: one case's close contacts, each with its own window) in one statement:
# the same pairs, but for each (group, other person) only the evidence of the first close contact (lowest person id)
# who met them, as find_contacts_many records it. The pairs are many (the close contacts of one workshop shift all
# meet the same people, mostly each other): the group's own people and the `exclude` ones (the case) are dropped by a
# hash anti-join as the pairs are made, and the first contact per person is a hash aggregate, not a sort.
_SECONDARY_SQL = """
WITH idx AS (
    SELECT * FROM unnest(%(pids)s::bigint[], %(starts)s::timestamptz[], %(ends)s::timestamptz[],
                         %(gids)s::int[]) WITH ORDINALITY AS t(pid, ws, we, gid, wid)
), excluded AS (
    SELECT DISTINCT gid, pid FROM idx
    UNION SELECT * FROM unnest(%(xgids)s::int[], %(xpids)s::bigint[])
), """ + _MINE_SQL + """, pairs AS MATERIALIZED (
    SELECT m.gid, m.pid AS via, o.person_id, m.venue_id, o.f, o.t""" + _PAIRS_SQL + """
      AND NOT EXISTS (SELECT 1 FROM excluded x WHERE x.gid = m.gid AND x.pid = o.person_id)
), firsts AS (
    SELECT gid, person_id, min(via) AS via FROM pairs GROUP BY gid, person_id
)
SELECT p.gid, p.via, p.person_id, p.venue_id, p.f, p.t
FROM pairs p JOIN firsts USING (gid, person_id, via)
"""

# One row per (group, secondary person): the co-presences with the first close contact who met them aggregated by
# the server (≈ 2.6 rows per person before: 1,870,000 rows for 726,000 secondary contacts of 100 cases). The count,
# the sum of each one's whole minutes, the first start and the last end, and the 3 longest (then earliest, venue,
# end) as three (venue, minutes, from, to) column groups, null when there are fewer. Numbered by a window over one
# sort of the rows, picked by filtered max(): array_agg (ordered or not) costs a memory context per group (100 cases'
# statements with their fetch: 14.3–18.1 s, this 12.2–12.5 s). Not cheaper than one row per co-presence (9.6–9.8 s:
# making the pairs alone takes 7.5 s) even with the lighter Python (bench/README.md, tracing, session 3 continued).
# From / to are UTC wall-clock timestamps, formatted by Python once per distinct instant.
_TOP = "".join(
    f""",
       max(p.venue_id) FILTER (WHERE p.rn = {i}), max(p.m) FILTER (WHERE p.rn = {i}),
       max(p.f AT TIME ZONE 'UTC') FILTER (WHERE p.rn = {i}), max(p.t AT TIME ZONE 'UTC') FILTER (WHERE p.rn = {i})"""
    for i in range(1, rules.SECONDARY_EVIDENCE_LISTED + 1))
_SECONDARY_SUMMARY_SQL = _SECONDARY_SQL.replace(
    "SELECT p.gid, p.via, p.person_id, p.venue_id, p.f, p.t\nFROM pairs p JOIN firsts USING (gid, person_id, via)\n",
    """SELECT p.gid, min(p.via), p.person_id, count(*), sum(p.m), min(p.f), max(p.t)""" + _TOP + """
FROM (SELECT p.*, row_number() OVER (PARTITION BY p.gid, p.person_id ORDER BY p.m DESC, p.f, p.venue_id, p.t) AS rn
      FROM (SELECT p.*, floor(date_part('epoch', p.t - p.f) / 60)::int AS m
            FROM pairs p JOIN firsts USING (gid, person_id, via)) p) p
GROUP BY p.gid, p.person_id
""")
assert _SECONDARY_SUMMARY_SQL != _SECONDARY_SQL


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while building a large answer: it is millions of small acyclic dicts and lists,
    and each generation-0 collection they trigger walks the younger ones again (100 cases with their secondary
    contacts: 31 s → 19 s). Reference counting still frees everything; the collector resumes as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True)
class IndexWindow:
    person_id: int
    start: datetime
    end: datetime


def native_timestamps(cur: Any) -> None:
    """`fastsql.use_native_timestamps` for a Django cursor (4 ms for 300 rows of two timestamps, more than the query
    itself, with Django's loader)."""
    fastsql.use_native_timestamps(cur.cursor)


def _parse_ts(value: str) -> datetime:
    # json_agg renders timestamptz as ISO 8601 with the session's offset.
    return datetime.fromisoformat(value)


def co_presence(windows: Sequence[IndexWindow], min_minutes: Mapping[str, int] = rules.DEFAULT_MIN_MINUTES,
                ) -> dict[int, dict[int, list[rules.Evidence]]]:
    """{index person: {other person: [Evidence…]}} for many index people at once, each with its own window."""
    out: dict[int, dict[int, list[rules.Evidence]]] = defaultdict(dict)
    for w, found in zip(windows, co_presence_windows(windows, min_minutes), strict=True):
        for other, items in found.items():
            out[w.person_id].setdefault(other, []).extend(items)
    return {pid: others for pid, others in out.items() if others}


def co_presence_windows(windows: Sequence[IndexWindow], min_minutes: Mapping[str, int] = rules.DEFAULT_MIN_MINUTES,
                        ) -> list[dict[int, list[rules.Evidence]]]:
    """For each window in order, {other person: [Evidence…]}: one query whatever the number of windows, and the same
    person may appear in several windows (a contact of two cases) without their answers being mixed."""
    out: list[dict[int, list[rules.Evidence]]] = [{} for _ in windows]
    live = [i for i, w in enumerate(windows) if w.end > w.start]
    if not live:
        return out
    if connection.vendor != "postgresql":
        for i in live:
            out[i] = co_presence_python([windows[i]], min_minutes).get(windows[i].person_id, {})
        return out
    params: dict[str, Any] = {
        "pids": [windows[i].person_id for i in live], "starts": [windows[i].start for i in live],
        "ends": [windows[i].end for i in live], "thresholds": json.dumps(dict(min_minutes)),
    }
    with connection.cursor() as cur:
        native_timestamps(cur)
        cur.execute(_CO_PRESENCE_SQL, params)
        for wid, other, venue, f, t in cur.fetchall():
            i = live[wid - 1]
            found = out[i].get(other)
            if found is None:
                found = out[i][other] = []
            found.append(rules.Evidence(windows[i].person_id, other, venue, f, t))
    return out


def secondary_co_presence(groups: Sequence[Sequence[IndexWindow]],
                          min_minutes: Mapping[str, int] = rules.DEFAULT_MIN_MINUTES,
                          exclude: Sequence[Collection[int]] | None = None,
                          ) -> list[dict[int, tuple[int, list[rules.Evidence]]]]:
    """For each group of windows (one case's close contacts, each from its first exposure to its quarantine), in
    order: {other person: (via, [Evidence…])} where `via` is the lowest-numbered close contact of the group co-present
    with them and the evidence is that contact's (in no particular order). One statement for all groups. The group's
    own people (a close contact met by another is still a close contact) and `exclude[g]` (the case) are left out."""
    exclude = exclude or [() for _ in groups]
    skip = [set(x) | {w.person_id for w in ws} for x, ws in zip(exclude, groups, strict=True)]
    out: list[dict[int, tuple[int, list[rules.Evidence]]]] = [{} for _ in groups]
    live = [(g, w) for g, ws in enumerate(groups) for w in ws if w.end > w.start]
    if not live:
        return out
    if connection.vendor != "postgresql":
        for g, ws in enumerate(groups):
            by_via = co_presence_windows(ws, min_minutes)
            for w, others in sorted(zip(ws, by_via, strict=True), key=lambda x: x[0].person_id):
                for other, items in others.items():
                    if other in skip[g]:
                        continue
                    if other not in out[g]:
                        out[g][other] = (w.person_id, list(items))
                    elif out[g][other][0] == w.person_id:
                        out[g][other][1].extend(items)
        return out
    params: dict[str, Any] = {
        "pids": [w.person_id for _g, w in live], "starts": [w.start for _g, w in live],
        "ends": [w.end for _g, w in live], "gids": [g for g, _w in live],
        "xgids": [g for g, x in enumerate(exclude) for _ in x], "xpids": [p for x in exclude for p in x],
        "thresholds": json.dumps(dict(min_minutes)),
    }
    with connection.cursor() as cur:
        native_timestamps(cur)
        cur.execute(_SECONDARY_SQL, params)
        for g, via, other, venue, f, t in cur.fetchall():
            found = out[g].get(other)
            if found is None:
                found = out[g][other] = (via, [])
            found[1].append(rules.Evidence(via, other, venue, f, t))
    return out


class SecondaryFound(NamedTuple):
    """One secondary contact of a group as `services` stores it: the close contact `via` (the lowest-numbered who met
    them), their co-presences counted (`times`, `minutes`: the whole minutes of each, added up; `first`, `last`) and
    only the `rules.SECONDARY_EVIDENCE_LISTED` longest as evidence ([{kind: co_presence, venue_id, from, to,
    minutes}…], ISO text, longest first, then earliest, venue, end)."""

    via: int
    evidence: list[dict[str, Any]]
    times: int
    minutes: int
    first: datetime
    last: datetime


def secondary_evidence(groups: Sequence[Sequence[IndexWindow]],
                       min_minutes: Mapping[str, int] = rules.DEFAULT_MIN_MINUTES,
                       exclude: Sequence[Collection[int]] | None = None,
                       ) -> list[dict[int, SecondaryFound]]:
    """`secondary_co_presence` summarised per person (`rules.co_presence_summary`): on PostgreSQL one row per
    (group, secondary person) aggregated by the server, in statements of about SECONDARY_CHUNK windows, pipelined."""
    if connection.vendor != "postgresql":
        return [{other: _found(via, rules.co_presence_summary(items)) for other, (via, items) in met.items()}
                for met in secondary_co_presence(groups, min_minutes, exclude)]
    exclude = exclude or [() for _ in groups]
    out: list[dict[int, SecondaryFound]] = [{} for _ in groups]
    thresholds = json.dumps(dict(min_minutes))
    # Whole groups in statements of about SECONDARY_CHUNK windows, sent at once in pipeline mode: the server works on
    # the next statement while Python builds the answer of the previous one.
    chunks: list[list[tuple[int, IndexWindow]]] = [[]]
    for g, ws in enumerate(groups):
        if len(chunks[-1]) >= SECONDARY_CHUNK:
            chunks.append([])
        chunks[-1].extend((g, w) for w in ws if w.end > w.start)
    chunks = [c for c in chunks if c]
    if not chunks:
        return out
    connection.ensure_connection()
    pipeline = connection.connection.pipeline() if len(chunks) > 1 else nullcontext()
    cursors = []
    with pipeline:
        for live in chunks:
            mine = {g for g, _w in live}
            cur = connection.cursor()
            native_timestamps(cur)
            cur.execute(_SECONDARY_SUMMARY_SQL, {
                "pids": [w.person_id for _g, w in live], "starts": [w.start for _g, w in live],
                "ends": [w.end for _g, w in live], "gids": [g for g, _w in live],
                "xgids": [g for g in sorted(mine) for _ in exclude[g]],
                "xpids": [p for g in sorted(mine) for p in exclude[g]], "thresholds": thresholds,
            })
            cursors.append(cur)
        for cur in cursors:
            with cur:
                rows = cur.fetchall()
            _render_secondary(rows, out)
    return out


# Statements of the secondary search hold about this many close contacts' windows (a few cases each).
SECONDARY_CHUNK = 400


def _found(via: int, summary: rules.CoPresenceSummary) -> SecondaryFound:
    return SecondaryFound(via, evidence_dicts(summary.longest), summary.times, summary.minutes, summary.first,
                          summary.last)


def _render_secondary(rows: list[tuple[Any, ...]], out: list[dict[int, SecondaryFound]]) -> None:
    # The same instants recur (a close contact's presence bounds many pieces of evidence): each is formatted once, as
    # the aware UTC value's isoformat() reads.
    iso: dict[datetime, str] = {}
    for row in rows:
        g, via, other, times, minutes, first, last = row[:7]
        evidence = []
        for k in range(7, len(row), 4):
            venue, m, f, t = row[k:k + 4]
            if venue is None:
                break
            fs = iso.get(f)
            if fs is None:
                fs = iso[f] = f.isoformat() + "+00:00"
            ts = iso.get(t)
            if ts is None:
                ts = iso[t] = t.isoformat() + "+00:00"
            evidence.append({"kind": "co_presence", "venue_id": venue, "from": fs, "to": ts, "minutes": m})
        out[g][other] = SecondaryFound(via, evidence, times, minutes, first, last)


def evidence_dicts(items: Sequence[rules.Evidence]) -> list[dict[str, Any]]:
    """Co-presence evidence as stored on a contact, in `secondary_evidence`'s order."""
    rows = sorted((-e.minutes, e.start.isoformat(), e.venue_id, e.end.isoformat()) for e in items)
    return [{"kind": "co_presence", "venue_id": v, "from": f, "to": t, "minutes": -m} for m, f, v, t in rows]


def presences(person_ids: Sequence[int] | None = None, venue_ids: Sequence[int] | None = None,
              ) -> list[rules.Presence]:
    """Presence intervals from the scan log (used by the Python path and by tests)."""
    from fangkong.access.models import Scan

    qs = Scan.objects.filter(direction="entry", decision="admit").order_by()
    if person_ids is not None:
        qs = qs.filter(person_id__in=person_ids)
    if venue_ids is not None:
        qs = qs.filter(venue_id__in=venue_ids)
    return [
        rules.Presence(pid, vid, kind, at, rules.presence_end(at, left, ms))
        for pid, vid, kind, at, left, ms in qs.values_list(
            "person_id", "venue_id", "venue__kind", "at", "left_at", "venue__max_stay_minutes")
    ]


def co_presence_python(windows: Sequence[IndexWindow], min_minutes: Mapping[str, int],
                       ) -> dict[int, dict[int, list[rules.Evidence]]]:
    """The same answer through rules.co_present (SQLite, and the reference the SQL is tested against)."""
    out: dict[int, dict[int, list[rules.Evidence]]] = {}
    for w in windows:
        mine = presences([w.person_id])
        others = presences(venue_ids=sorted({p.venue_id for p in mine}))
        found = rules.co_present(mine, others, window=(w.start, w.end), min_minutes=min_minutes)
        grouped: dict[int, list[rules.Evidence]] = defaultdict(list)
        for e in sorted(found, key=lambda e: e.start):
            grouped[e.other_id].append(e)
        if grouped:
            out[w.person_id] = dict(grouped)
    return out


def venues_used(person_id: int, start: datetime, end: datetime) -> list[tuple[int, int]]:
    """(venue id, organisation id) of the venues whose presence intervals of the person overlap the window."""
    from django.db.models import Max

    from fangkong.access.models import Scan, Venue

    # Intervals never exceed their venue's maximum stay: the longest one bounds the index range, exact below.
    longest = timedelta(minutes=Venue.objects.aggregate(m=Max("max_stay_minutes"))["m"] or 0)
    out: set[tuple[int, int]] = set()
    for vid, org, at, left, ms in Scan.objects.filter(
        person_id=person_id, direction="entry", decision="admit", at__lt=end, at__gte=start - longest,
    ).order_by().values_list("venue_id", "venue__organization_id", "at", "left_at", "venue__max_stay_minutes"):
        if rules.presence_end(at, left, ms) > start:
            out.add((vid, org))
    return sorted(out)


def same_unit_shift(*, person: Any, start: datetime, end: datetime) -> dict[int, list[dict[str, Any]]]:
    """People of the case's own (lowest) unit admitted somewhere on a day the case was admitted, in the window."""
    from fangkong.access.models import Scan

    if not person.unit_id:
        return {}
    tz = timezone.get_current_timezone()
    case_days = {timezone.localtime(at, tz).date() for at in Scan.objects.filter(
        person_id=person.pk, direction="entry", decision="admit", at__gte=start, at__lt=end,
    ).order_by().values_list("at", flat=True)}
    if not case_days:
        return {}
    found: dict[int, set[date]] = defaultdict(set)
    for pid, at in Scan.objects.filter(
        person__unit_id=person.unit_id, direction="entry", decision="admit", at__gte=start, at__lt=end,
    ).exclude(person_id=person.pk).order_by().values_list("person_id", "at"):
        day = timezone.localtime(at, tz).date()
        if day in case_days:
            found[pid].add(day)
    out: dict[int, list[dict[str, Any]]] = {}
    for pid, days in found.items():
        out[pid] = [{
            "kind": "same_unit_shift", "unit_id": person.unit_id,
            "from": max(start, datetime.combine(d, time.min, tzinfo=tz)).isoformat(),
            "to": min(end, datetime.combine(d + timedelta(days=1), time.min, tzinfo=tz)).isoformat(),
            "minutes": 0,
        } for d in sorted(days)]
    return out


def same_dormitory(*, person: Any, start: datetime, end: datetime) -> dict[int, list[dict[str, Any]]]:
    """Active people of the same organisation with the same dormitory room."""
    from fangkong.people.models import Person

    room = (person.dormitory or "").strip()
    if not room:
        return {}
    ids = Person.objects.filter(organization_id=person.organization_id, dormitory=room, is_active=True).exclude(
        pk=person.pk).values_list("pk", flat=True)
    return {pid: [{"kind": "same_dormitory", "room": room, "from": start.isoformat(), "to": end.isoformat(),
                   "minutes": int((end - start).total_seconds() // 60)}] for pid in ids}


# --- evidence beyond the scans, for many cases at once -------------------------------------------------------------


@dataclass(frozen=True)
class CaseWindow:
    """A case's index person and exposure window, with what the group rules need."""

    case_id: int
    person_id: int
    organization_id: int
    unit_id: int | None
    dormitory: str
    start: datetime
    end: datetime


# The days a case was admitted somewhere in its window, and for each the unit mates admitted the same day (same
# day bounds, clipped to the window): one statement for all cases, two index probes per (case day, unit mate).
_SAME_UNIT_SQL = """
WITH c AS (
    SELECT * FROM unnest(%(cids)s::bigint[], %(pids)s::bigint[], %(units)s::bigint[], %(ws)s::timestamptz[],
                         %(we)s::timestamptz[]) AS t(cid, pid, unit, ws, we)
), days AS MATERIALIZED (
    SELECT DISTINCT c.cid, c.pid, c.unit,
           GREATEST(c.ws, ((s.at AT TIME ZONE %(tz)s)::date::timestamp AT TIME ZONE %(tz)s)) AS f,
           LEAST(c.we, (((s.at AT TIME ZONE %(tz)s)::date + 1)::timestamp AT TIME ZONE %(tz)s)) AS t
    FROM c
    JOIN access_scan s ON s.person_id = c.pid AND s.direction = 'entry' AND s.decision = 'admit'
                      AND s.at >= c.ws AND s.at < c.we
)
SELECT days.cid, p.id, json_agg(json_build_array(days.f, days.t) ORDER BY days.f)
FROM days
JOIN people_person p ON p.unit_id = days.unit AND p.id <> days.pid AND p.is_active
WHERE EXISTS (SELECT 1 FROM access_scan s WHERE s.person_id = p.id AND s.direction = 'entry'
                AND s.decision = 'admit' AND s.at >= days.f AND s.at < days.t)
GROUP BY days.cid, p.id
"""


def unit_sizes(unit_ids: Sequence[int]) -> dict[int, int]:
    from django.db.models import Count

    from fangkong.people.models import Person

    return dict(Person.objects.filter(unit_id__in=set(unit_ids), is_active=True).order_by().values("unit_id")
                .annotate(n=Count("id")).values_list("unit_id", "n"))


def same_unit_shift_many(cases: Sequence[CaseWindow]) -> dict[int, dict[int, list[dict[str, Any]]]]:
    """{case: {unit mate: evidence per shared day}}: people of the case's own (lowest) unit admitted somewhere on a
    day the case was admitted, inside the window. The caller decides which units are small enough (teams)."""
    cases = [c for c in cases if c.unit_id and c.end > c.start]
    if not cases:
        return {}
    if connection.vendor != "postgresql":
        from fangkong.people.models import Person

        people = Person.objects.in_bulk([c.person_id for c in cases])
        return {c.case_id: same_unit_shift(person=people[c.person_id], start=c.start, end=c.end) for c in cases}
    out: dict[int, dict[int, list[dict[str, Any]]]] = defaultdict(dict)
    unit_of = {c.case_id: c.unit_id for c in cases}
    with connection.cursor() as cur:
        cur.execute(_SAME_UNIT_SQL, {
            "cids": [c.case_id for c in cases], "pids": [c.person_id for c in cases],
            "units": [c.unit_id for c in cases], "ws": [c.start for c in cases], "we": [c.end for c in cases],
            "tz": str(timezone.get_current_timezone()),
        })
        for cid, pid, spans in cur.fetchall():
            if isinstance(spans, str):
                spans = json.loads(spans)
            out[cid][pid] = [{"kind": "same_unit_shift", "unit_id": unit_of[cid],
                              "from": _parse_ts(f).isoformat(), "to": _parse_ts(t).isoformat(), "minutes": 0}
                             for f, t in spans]
    return dict(out)


def _whole_window(kind: str, c: CaseWindow, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, **extra, "from": c.start.isoformat(), "to": c.end.isoformat(),
            "minutes": int((c.end - c.start).total_seconds() // 60)}


def same_dormitory_many(cases: Sequence[CaseWindow]) -> dict[int, dict[int, list[dict[str, Any]]]]:
    """{case: {room mate: evidence}}: active people of the same organisation with the same dormitory room."""
    from fangkong.people.models import Person

    rooms = {(c.organization_id, c.dormitory.strip()) for c in cases if c.dormitory.strip()}
    if not rooms:
        return {}
    mates: dict[tuple[int, str], list[int]] = defaultdict(list)
    for pid, org, room in Person.objects.filter(
            organization_id__in={o for o, _r in rooms}, dormitory__in={r for _o, r in rooms}, is_active=True,
    ).order_by().values_list("pk", "organization_id", "dormitory"):
        mates[(org, room)].append(pid)
    out: dict[int, dict[int, list[dict[str, Any]]]] = {}
    for c in cases:
        room = c.dormitory.strip()
        if room:
            found = {pid: [_whole_window("same_dormitory", c, room=room)]
                     for pid in mates.get((c.organization_id, room), []) if pid != c.person_id}
            if found:
                out[c.case_id] = found
    return out


def households_many(cases: Sequence[CaseWindow]) -> dict[int, dict[int, list[dict[str, Any]]]]:
    """{case: {household member: evidence}}: the declared members of every household the case belongs to."""
    from fangkong.tracing.models import Household

    through = Household.members.through
    mine: dict[int, set[int]] = defaultdict(set)
    for hid, pid in through.objects.filter(person_id__in={c.person_id for c in cases}).values_list(
            "household_id", "person_id"):
        mine[pid].add(hid)
    if not mine:
        return {}
    members: dict[int, list[int]] = defaultdict(list)
    for hid, pid in through.objects.filter(household_id__in={h for hs in mine.values() for h in hs}).values_list(
            "household_id", "person_id").order_by("household_id", "person_id"):
        members[hid].append(pid)
    out: dict[int, dict[int, list[dict[str, Any]]]] = {}
    for c in cases:
        found: dict[int, list[dict[str, Any]]] = {}
        for hid in sorted(mine.get(c.person_id, ())):
            for pid in members[hid]:
                if pid != c.person_id:
                    found.setdefault(pid, []).append(_whole_window("household", c, household_id=hid))
        if found:
            out[c.case_id] = found
    return out


def meeting_participants(meetings: Sequence[Any]) -> dict[int, dict[int, tuple[datetime, datetime]]]:
    """{meeting: {person: (from, to)}}: declared attendees for the whole session, and people admitted at the
    meeting's venue whose presence overlaps the session, for the overlap. Two queries for any number of meetings."""
    from django.db.models import Max, Q

    from fangkong.access.models import Scan, Venue
    from fangkong.tracing.models import Meeting

    out: dict[int, dict[int, tuple[datetime, datetime]]] = {m.pk: {} for m in meetings}
    by_id = {m.pk: m for m in meetings}
    for mid, pid in Meeting.attendees.through.objects.filter(meeting_id__in=list(by_id)).values_list(
            "meeting_id", "person_id"):
        out[mid][pid] = (by_id[mid].starts_at, by_id[mid].ends_at)
    with_venue = [m for m in meetings if m.venue_id]
    if with_venue:
        longest = timedelta(minutes=Venue.objects.filter(pk__in={m.venue_id for m in with_venue}).aggregate(
            m=Max("max_stay_minutes"))["m"] or 0)
        match = Q()
        for m in with_venue:
            match |= Q(venue_id=m.venue_id, at__lt=m.ends_at, at__gt=m.starts_at - longest)
        rows = Scan.objects.filter(match, direction="entry", decision="admit").order_by().values_list(
            "venue_id", "person_id", "at", "left_at", "venue__max_stay_minutes")
        for vid, pid, at, left, ms in rows:
            end = rules.presence_end(at, left, ms)
            for m in with_venue:
                if m.venue_id != vid:
                    continue
                f, t = max(at, m.starts_at), min(end, m.ends_at)
                if t > f:
                    have = out[m.pk].get(pid)
                    out[m.pk][pid] = (min(have[0], f), max(have[1], t)) if have else (f, t)
    return out


def meetings_many(cases: Sequence[CaseWindow]) -> dict[int, dict[int, list[dict[str, Any]]]]:
    """{case: {fellow attendee: evidence per meeting}}: meetings inside the window that the case attended (declared,
    or admitted at the meeting's room during it). Only the meetings some case attended get their full attendance."""
    from django.db.models import Max, Q

    from fangkong.access.models import Scan, Venue
    from fangkong.tracing.models import Meeting

    if not cases:
        return {}
    lo, hi = min(c.start for c in cases), max(c.end for c in cases)
    pids = {c.person_id for c in cases}
    declared = set(Meeting.attendees.through.objects.filter(
        person_id__in=pids, meeting__starts_at__lt=hi, meeting__ends_at__gt=lo).values_list("meeting_id", flat=True))
    rooms = dict(Meeting.objects.filter(starts_at__lt=hi, ends_at__gt=lo, venue__isnull=False).exclude(
        pk__in=declared).values_list("pk", "venue_id"))
    if rooms:
        # The cases' own presences at those rooms (a few per case) decide which of those meetings they attended.
        longest = timedelta(minutes=Venue.objects.filter(pk__in=set(rooms.values())).aggregate(
            m=Max("max_stay_minutes"))["m"] or 0)
        mine = [(vid, at, rules.presence_end(at, left, ms)) for vid, at, left, ms in Scan.objects.filter(
            person_id__in=pids, venue_id__in=set(rooms.values()), direction="entry", decision="admit",
            at__lt=hi, at__gt=lo - longest).order_by().values_list("venue_id", "at", "left_at",
                                                                   "venue__max_stay_minutes")]
        if mine:
            used = Q()
            for vid, f, t in mine:
                used |= Q(venue_id=vid, starts_at__lt=t, ends_at__gt=f)
            declared |= set(Meeting.objects.filter(used, pk__in=list(rooms)).values_list("pk", flat=True))
    if not declared:
        return {}
    meetings = list(Meeting.objects.filter(pk__in=declared))
    participants = meeting_participants(meetings)
    out: dict[int, dict[int, list[dict[str, Any]]]] = {}
    for c in cases:
        found: dict[int, list[dict[str, Any]]] = {}
        for m in meetings:
            span = participants[m.pk].get(c.person_id)
            if span is None:
                continue
            f, t = max(span[0], c.start), min(span[1], c.end)
            if t <= f:
                continue
            for pid, (pf, pt) in participants[m.pk].items():
                ff, tt = max(f, pf), min(t, pt)
                if pid == c.person_id or tt <= ff:
                    continue
                found.setdefault(pid, []).append({
                    "kind": "meeting", "meeting_id": m.pk, "venue_id": m.venue_id, "title": m.title,
                    "from": ff.isoformat(), "to": tt.isoformat(), "minutes": int((tt - ff).total_seconds() // 60)})
        if found:
            out[c.case_id] = found
    return out


def quarantine_starts(person_ids: Sequence[int]) -> dict[int, datetime]:
    """When each person's quarantine began: the start of a confirmed (or running) restriction measure."""
    from fangkong.measures.models import Measure
    from fangkong.measures.services import RESTRICTIONS

    tz = timezone.get_current_timezone()
    out: dict[int, datetime] = {}
    for pid, start in Measure.objects.filter(
        person_id__in=person_ids, kind__in=RESTRICTIONS, status__in=("confirmed", "in_progress", "ready_for_release"),
    ).order_by("start_date").values_list("person_id", "start_date"):
        out.setdefault(pid, datetime.combine(start, time.min, tzinfo=tz))
    return out


def case_list(*, user: Any, q: str = "", status: str = "") -> QuerySet[Case]:
    qs = Case.objects.visible_to(user, "cases.view").select_related("person", "organization")
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(person__name__icontains=q)
    return qs


def contact_list(*, case: Case, degree: int | None = None, new_only: bool = False) -> QuerySet[Contact]:
    """One query with the person, their organisation and the via person: the contacts page must stay fast at 1,000s."""
    # Only the columns the page shows: the people's encrypted fields are neither loaded nor decrypted.
    qs = Contact.objects.filter(case=case).select_related("person", "person__organization", "via_person").only(
        "id", "case_id", "degree", "evidence", "co_presences", "minutes_together", "is_new", "last_exposure_at", "first_exposure_at",
        "person__id", "person__name", "person__organization__id", "person__organization__name",
        "via_person__id", "via_person__name")
    if degree:
        qs = qs.filter(degree=degree)
    if new_only:
        qs = qs.filter(is_new=True)
    return qs.order_by("degree", "-is_new", "id")


def graph_data(*, user: Any, since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """ECharts graph: cases and their contacts as nodes, links case → close contact → secondary contact."""
    qs = case_list(user=user).exclude(status="excluded")
    if since:
        qs = qs.filter(report_date__gte=since)
    if until:
        qs = qs.filter(report_date__lte=until)
    cases = list(qs[:200])
    nodes: dict[int, dict[str, Any]] = {}
    links: list[dict[str, Any]] = []
    for c in cases:
        nodes[c.person_id] = {"id": str(c.person_id), "name": c.person.name, "category": 0, "symbolSize": 28,
                              "value": c.get_status_display()}
    case_person = {c.pk: c.person_id for c in cases}
    for ct in Contact.objects.filter(case__in=cases).select_related("person").order_by("degree")[:3000]:
        if ct.person_id not in nodes:
            nodes[ct.person_id] = {"id": str(ct.person_id), "name": ct.person.name, "category": ct.degree,
                                   "symbolSize": 16 if ct.degree == 1 else 10}
        source = ct.via_person_id if ct.degree == 2 and ct.via_person_id else None
        links.append({"source": str(source or case_person[ct.case_id]), "target": str(ct.person_id)})
    return {"nodes": list(nodes.values()), "links": links}
