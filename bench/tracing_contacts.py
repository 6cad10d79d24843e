"""Contact-tracing benchmarks (PostgreSQL only, loopback, bounded in time).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_tracing .venv/bin/python bench/tracing_contacts.py

1. Data: 100,000 people in 5,000 teams of 20 under 500 workshops, dormitory rooms of 6, 2,000 venues of six kinds
   (gate, canteen, building, workshop, meeting room, dormitory) over 30 days: 10,000,000 admitted entries with their
   exit on the row, written by one INSERT … SELECT generate_series per day into the indexed access_scan table
   (resumable by whole days; `--generate-only` stops after it), then VACUUM (ANALYZE) as autovacuum would.
   A factory, not a random graph (see `homes`): three 8-hour shifts by team, a home workshop, canteen and gate per
   workshop (canteens and gates skewed, rank ~ U^1.5), a third of the people living in dormitories of ~100, offices
   and meeting rooms at random (skewed); per-kind maximum stays (MAX_STAY). The access benchmark's generator is not
   reused: its venues are all gates (never contact).
2. Close contacts of one case (selectors.co_presence, the query trace_run uses) over 100 random people with a
   4-day window: p95 "cold" (first time each person is asked; the OS page cache is not dropped, so this is the
   first-query-in-this-process figure, not a cold disk) and warm (the same 100 again), and the ratio to a
   hand-written SQL query returning the same pairs (asserted equal).
3. Secondary contacts (selectors.secondary_evidence, what tracing runs: all close contacts of a case, each from its first exposure
   to its quarantine, in one query): p95 over 30 cases, with quarantine a day after the case's isolation and with no
   quarantine at all (to the end of the data).
4. 100 cases at once: services.find_contacts_many (close by scans, same team on shift days, dormitory room,
   household, meeting, and secondary) for 100 cases in one call without the secondary search, for the
   BENCH_SECONDARY_CASES isolated last with it, and for all 100 with it (each traced the day after its isolation, one
   call per isolation day); then trace_run of one case with and without secondary contacts (rolled back).
5. The contacts page of a case with 1,000 contacts: p95 over 30 requests through the Django test client.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkin_common import insert_people, organization, percentile, prepare_database, say
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.access.models import Venue
from fangkong.people.models import Person
from fangkong.tracing import rules, selectors, services
from fangkong.tracing.models import Case, Contact

PEOPLE, WORKSHOPS, TEAMS_PER_WORKSHOP, VENUES, DAYS, TARGET_SCANS = 100_000, 500, 10, 2_000, 30, 10_000_000
KINDS = ["gate", "canteen", "building", "workshop", "meeting_room", "dormitory"]
# Typical stays per kind (minutes): lunch, an office visit, a shift, a meeting, a night.
STAY = {"gate": (1, 3), "canteen": (15, 45), "building": (30, 240), "workshop": (120, 480),
        "meeting_room": (30, 120), "dormitory": (240, 600)}
ORG_NAME = "流调基准单位"
SECONDARY_SAMPLE = int(os.environ.get("BENCH_SECONDARY_SAMPLE", "30"))  # cases for the secondary p95
PER_ROOM = 6  # people per dormitory room


def setup() -> tuple[object, list[int], list[tuple[int, str]]]:
    """500 workshops of 200 people, each split into 10 teams of 20 (the people belong to the teams, the leaves)."""
    from fangkong.tenancy.models import Unit

    prepare_database()
    org, workshops = organization(ORG_NAME, WORKSHOPS)
    teams = list(Unit.objects.filter(organization=org, kind="team").order_by("id"))
    if len(teams) < WORKSHOPS * TEAMS_PER_WORKSHOP:
        Unit.objects.bulk_create([Unit(organization=org, parent=w, name=f"班组{k}", kind="team")
                                  for w in workshops for k in range(TEAMS_PER_WORKSHOP)], ignore_conflicts=True)
        with connection.cursor() as cur:
            cur.execute("UPDATE tenancy_unit t SET path = p.path || t.id || '/' FROM tenancy_unit p "
                        "WHERE t.parent_id = p.id AND t.organization_id = %s AND t.kind = 'team'", [org.pk])
        teams = list(Unit.objects.filter(organization=org, kind="team").order_by("id"))
    if Person.objects.filter(organization=org).count() < PEOPLE:
        say(f"people: {insert_people(org, teams, PEOPLE):.1f} s for {PEOPLE:,}")
    # The shared generator writes a placeholder, not a ciphertext: pages and services that load whole Person rows
    # decrypt the ID number, so give every bench person the same encrypted placeholder. Dormitory rooms of 6.
    from fangkong.core import crypto

    with connection.cursor() as cur:
        cur.execute("UPDATE people_person SET id_number = %s WHERE organization_id = %s AND id_number = 'synthetic'",
                    [crypto.encrypt("000000000000000000"), org.pk])
        cur.execute("UPDATE people_person SET dormitory = 'D' || (id / %s) WHERE organization_id = %s "
                    "AND dormitory = ''", [PER_ROOM, org.pk])
    person_ids = list(Person.objects.filter(organization=org).order_by("id").values_list("id", flat=True)[:PEOPLE])
    have = Venue.objects.filter(organization=org).count()
    if have < VENUES:
        Venue.objects.bulk_create([Venue(organization=org, name=f"场所{i:04d}", kind=KINDS[i % len(KINDS)],
                                         max_stay_minutes=720) for i in range(have, VENUES)])
    for kind, minutes in MAX_STAY.items():
        Venue.objects.filter(organization=org, kind=kind).exclude(max_stay_minutes=minutes).update(
            max_stay_minutes=minutes)
    venues = list(Venue.objects.filter(organization=org).order_by("id").values_list("id", "kind")[:VENUES])
    return org, person_ids, venues


HOUSEHOLDS, MEETINGS = 10_000, 3_000  # households of 3 (30,000 people); meetings of 10 declared attendees


def groups(org_id: int, person_ids: list[int], venues: list[tuple[int, str]], start: datetime) -> None:
    """Households and meetings (at meeting-room venues, 30–120 min, in working hours), written in SQL once."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM tracing_household WHERE organization_id = %s", [org_id])
        if cur.fetchone()[0]:
            return
        cur.execute("SELECT setseed(0.3)")
        cur.execute("INSERT INTO tracing_household (organization_id, name, created_at, updated_at) "
                    "SELECT %s, '户' || i, now(), now() FROM generate_series(1, %s) i", [org_id, HOUSEHOLDS])
        cur.execute("""INSERT INTO tracing_household_members (household_id, person_id)
                       SELECT h.id, (%s::bigint[])[1 + ((h.rn - 1) * 3 + k) %% %s]
                       FROM (SELECT id, row_number() OVER (ORDER BY id) rn FROM tracing_household
                             WHERE organization_id = %s) h CROSS JOIN generate_series(0, 2) k""",
                    [person_ids, len(person_ids), org_id])
        rooms = [v for v, k in venues if k == "meeting_room"]
        cur.execute("""INSERT INTO tracing_meeting (organization_id, title, venue_id, starts_at, ends_at, created_at,
                                                    updated_at)
                       SELECT %s, '会议' || i, (%s::bigint[])[1 + floor(random() * %s)::int], s,
                              s + (30 + floor(random() * 91)) * interval '1 minute', now(), now()
                       FROM (SELECT i, %s::timestamptz + floor(random() * %s) * interval '1 day'
                                    + (8 + floor(random() * 9)) * interval '1 hour' AS s
                             FROM generate_series(1, %s) i) g""",
                    [org_id, rooms, len(rooms), start, DAYS, MEETINGS])
        cur.execute("""INSERT INTO tracing_meeting_attendees (meeting_id, person_id)
                       SELECT DISTINCT m.id, (%s::bigint[])[1 + floor(random() * %s)::int]
                       FROM tracing_meeting m CROSS JOIN generate_series(1, 10) k WHERE m.organization_id = %s""",
                    [person_ids, len(person_ids), org_id])


# Where each person goes (a factory, not a random graph): people belong to teams (round-robin, as
# checkin_common.insert_people writes them), 10 teams per workshop; a team works one of three 8-hour shifts
# (08:00, 16:00, 00:00). Each person has a home workshop venue (the 500 workshops over the 333 workshop venues:
# 200–400 people, a third of them per shift), a canteen and a gate chosen per workshop with skew (rank ~ U^1.5:
# the busiest canteen serves ~2,000 people), and one person in three lives on site: the residents of a dormitory
# venue (~100) are 17 rooms of 6. Offices (building) and meeting rooms are visited at random, skewed the same way.
SHIFT_HOURS = (8, 16, 0)
RESIDENT_ROOM_EVERY = 3  # one dormitory room in three is occupied by on-site residents
# Longest stay a venue allows (minutes), per kind: it caps a presence without an exit and bounds the query's range.
MAX_STAY = {"gate": 30, "canteen": 120, "building": 480, "workshop": 720, "meeting_room": 240, "dormitory": 720}
# Share of each day's scans per kind (a dormitory draw of a person who lives off site is a gate scan).
# 3.33 scans per person per day: a resident sleeps in the dormitory every night (0.30 × 3.33 ≈ 1).
SHARE = (("workshop", 0.27), ("gate", 0.14), ("canteen", 0.22), ("dormitory", 0.30), ("building", 0.04),
         ("meeting_room", 0.03))
# When in the person's shift each kind is scanned: (offset from the shift start, spread), in minutes.
WHEN = {"gate": (-30, 30), "workshop": (-10, 20), "canteen": (180, 180), "dormitory": (510, 60),
        "building": (0, 420), "meeting_room": (0, 420)}

# One day of scans in one statement: person uniform, kind by SHARE, the person's home venue of that kind (workshop
# 95 %, canteen and gate 80 %, dormitory always) or a skewed random venue of the kind, a time from the person's
# shift (WHEN), the stay uniform in the kind's range (STAY). Rows are inserted in time order.
_DAY_SQL = """
INSERT INTO access_scan (organization_id, venue_id, person_id, direction, at, health_code, decision, reasons,
                         device_id, left_at, estimated_exit, created_at)
SELECT %(org)s, v.id, g.id, 'entry', g.at, 'green', 'admit', '[]'::jsonb, 'bench',
       g.at + (v.lo + floor(g.rs * (v.hi - v.lo + 1))) * interval '1 minute', false, now()
FROM (
    SELECT p.id, x.kind, g0.rs,
           CASE WHEN x.kind = 'workshop' AND g0.rh < 0.95 THEN p.workshop_k
                WHEN x.kind = 'canteen' AND g0.rh < 0.8 THEN p.canteen_k
                WHEN x.kind = 'gate' AND g0.rh < 0.8 THEN p.gate_k
                WHEN x.kind = 'dormitory' THEN p.dorm_k
                ELSE floor(kn.n * power(g0.rv, 1.5))::int END AS k,
           %(day)s::timestamptz + (p.shift_h * 60 + w.off + g0.rt * w.spread) * interval '1 minute' AS at
    FROM (SELECT floor(%(people)s * random())::int AS pi, random() AS rk, random() AS rh, random() AS rv,
                 random() AS rt, random() AS rs
          FROM generate_series(1, %(n)s)) g0
    JOIN bench_p p ON p.idx = g0.pi
    CROSS JOIN LATERAL (SELECT CASE WHEN s.kind = 'dormitory' AND p.dorm_k IS NULL THEN 'gate' ELSE s.kind END
                        AS kind FROM bench_share s WHERE g0.rk >= s.lo AND g0.rk < s.hi) x
    JOIN bench_when w ON w.kind = x.kind
    JOIN bench_kn kn ON kn.kind = x.kind
) g
JOIN bench_v v ON v.kind = g.kind AND v.k = g.k
ORDER BY g.at
"""


def _skewed(n: int, key: int, salt: str) -> int:
    """A venue rank in [0, n) ~ U^1.5, fixed for the key (deterministic across runs)."""
    return int(n * random.Random(f"{salt}-{key}").random() ** 1.5)


def homes(person_ids: list[int], venues: list[tuple[int, str]]) -> list[tuple]:
    """(idx, person id, shift start hour, workshop k, canteen k, gate k, dormitory k or None) per person."""
    from fangkong.tenancy.models import Unit

    org_id = Person.objects.filter(pk=person_ids[0]).values_list("organization_id", flat=True)[0]
    teams = list(Unit.objects.filter(organization_id=org_id, kind="team").order_by("id").values_list("id", flat=True))
    team_index = {t: i for i, t in enumerate(teams)}
    unit_of = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "unit_id"))
    n = {k: sum(1 for _, kind in venues if kind == k) for k in KINDS}
    rows = []
    for idx, pid in enumerate(person_ids):
        team = team_index[unit_of[pid]]
        workshop = team // TEAMS_PER_WORKSHOP
        room = pid // PER_ROOM  # the same rooms as people_person.dormitory
        dorm = (room // RESIDENT_ROOM_EVERY) % n["dormitory"] if room % RESIDENT_ROOM_EVERY == 0 else None
        rows.append((idx, pid, SHIFT_HOURS[team % len(SHIFT_HOURS)], workshop * n["workshop"] // WORKSHOPS,
                     _skewed(n["canteen"], workshop, "canteen"), _skewed(n["gate"], workshop, "gate"), dorm))
    return rows


def generate(org_id: int, person_ids: list[int], venues: list[tuple[int, str]]) -> tuple[int, datetime]:
    """TARGET_SCANS over DAYS days, one INSERT … SELECT generate_series per day (resumable: whole days only)."""
    per_day = TARGET_SCANS // DAYS
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), min(at) FROM access_scan WHERE organization_id = %s", [org_id])
        have, first = cur.fetchone()
    local = timezone.localtime(first + timedelta(hours=1) if first else timezone.now() - timedelta(days=DAYS))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    t0 = time.perf_counter()
    if have < per_day * DAYS:  # whole days (10,000,000 // 30 per day: 10 rows short of the target)
        by_kind: dict[str, list[int]] = {k: [] for k in KINDS}
        for vid, kind in venues:
            by_kind[kind].append(vid)
        with connection.cursor() as cur:
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_v (kind text, k int, id bigint, lo int, hi int, "
                        "PRIMARY KEY (kind, k))")
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_p (idx int PRIMARY KEY, id bigint, shift_h int, "
                        "workshop_k int, canteen_k int, gate_k int, dorm_k int)")
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_share (kind text, lo float8, hi float8)")
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_when (kind text PRIMARY KEY, off int, spread int)")
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_kn (kind text PRIMARY KEY, n int)")
            cur.execute("TRUNCATE bench_v, bench_p, bench_share, bench_when, bench_kn")
            for kind, ids in by_kind.items():
                cur.execute("INSERT INTO bench_v SELECT %s, k - 1, id, %s, %s FROM unnest(%s::bigint[]) "
                            "WITH ORDINALITY AS t(id, k)", [kind, STAY[kind][0], STAY[kind][1], ids])
                cur.execute("INSERT INTO bench_kn VALUES (%s, %s)", [kind, len(ids)])
                cur.execute("INSERT INTO bench_when VALUES (%s, %s, %s)", [kind, *WHEN[kind]])
            lo = 0.0
            for kind, share in SHARE:
                cur.execute("INSERT INTO bench_share VALUES (%s, %s, %s)", [kind, lo, lo + share])
                lo += share
            cur.execute("UPDATE bench_share SET hi = 1.0 WHERE hi = (SELECT max(hi) FROM bench_share)")
            rows = homes(person_ids, venues)
            cur.execute("INSERT INTO bench_p SELECT * FROM unnest(%s::int[], %s::bigint[], %s::int[], %s::int[], "
                        "%s::int[], %s::int[], %s::int[])", [list(col) for col in zip(*rows, strict=True)])
            cur.execute("ANALYZE bench_v; ANALYZE bench_p; ANALYZE bench_share; ANALYZE bench_when; "
                        "ANALYZE bench_kn")
            cur.execute("SET synchronous_commit = off")
            for day in range(have // per_day, DAYS):
                t = time.perf_counter()
                cur.execute("SELECT setseed(%s)", [day / DAYS])
                cur.execute(_DAY_SQL, {"org": org_id, "people": len(person_ids),
                                       "day": start + timedelta(days=day), "n": per_day})
                have += per_day
                say(f"  day {day + 1}/{DAYS}: {per_day:,} scans in {time.perf_counter() - t:.0f} s "
                    f"({have:,} in table)")
    # autovacuum is off on the development cluster; on a production one it would have vacuumed this insert-only
    # table (PostgreSQL 13+ vacuums after inserts), which sets the visibility map that index-only scans need.
    # Without it every index-only scan still visits the heap.
    with connection.cursor() as cur:
        cur.execute("SELECT relallvisible < relpages FROM pg_class WHERE oid = 'access_scan'::regclass")
        if cur.fetchone()[0]:
            t = time.perf_counter()
            cur.execute("VACUUM (ANALYZE) access_scan")
            say(f"VACUUM (ANALYZE) access_scan: {time.perf_counter() - t:.0f} s")
    say(f"scans in table: {have:,} (target {TARGET_SCANS:,}); this run's generation took "
        f"{time.perf_counter() - t0:.0f} s")
    return have, start


# The same pairs as selectors.co_presence, written by hand for one person and one window with literal thresholds:
# a presence ends at its exit capped at the venue's maximum stay; an entry overlapping one that started at m.at
# started at most that maximum stay before.
HAND_SQL = """
SELECT o.person_id, m.venue_id, GREATEST(m.at, o.at, %(ws)s) AS f,
       LEAST(m.left_at, o.left_at, m.at + v.max_stay_minutes * interval '1 minute',
             o.at + v.max_stay_minutes * interval '1 minute', %(we)s) AS t
FROM access_scan m
JOIN access_venue v ON v.id = m.venue_id
JOIN access_scan o ON o.venue_id = m.venue_id AND o.direction = 'entry' AND o.decision = 'admit'
                  AND o.at < LEAST(m.left_at, m.at + v.max_stay_minutes * interval '1 minute', %(we)s)
                  AND o.at > GREATEST(m.at, %(ws)s) - v.max_stay_minutes * interval '1 minute'
WHERE m.person_id = %(pid)s AND m.direction = 'entry' AND m.decision = 'admit' AND m.at < %(we)s
  AND m.at > %(ws)s - v.max_stay_minutes * interval '1 minute' AND o.person_id <> m.person_id
  AND v.kind IN (%(kinds)s)
  AND LEAST(m.left_at, o.left_at, m.at + v.max_stay_minutes * interval '1 minute',
            o.at + v.max_stay_minutes * interval '1 minute', %(we)s) - GREATEST(m.at, o.at, %(ws)s)
      >= (CASE v.kind %(cases)s END) * interval '1 minute'
"""


def hand_sql(thresholds: dict[str, int]) -> str:
    """HAND_SQL with the thresholds written in as literals (kinds with 0 left out)."""
    on = {k: m for k, m in thresholds.items() if m > 0}
    return (HAND_SQL.replace("%(kinds)s", ", ".join(f"'{k}'" for k in on))
            .replace("%(cases)s", " ".join(f"WHEN '{k}' THEN {m}" for k, m in on.items())))


def hand_pairs(pid: int, ws: datetime, we: datetime, sql: str) -> set[tuple[int, int, datetime, datetime]]:
    with connection.cursor() as cur:
        selectors.native_timestamps(cur)  # the same timestamp loader as the product query (psycopg's, in C)
        cur.execute(sql, {"pid": pid, "ws": ws, "we": we})
        return {(o, v, f, t) for o, v, f, t in cur.fetchall()}


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t) * 1000, out


def main() -> None:
    org, person_ids, venues = setup()
    have, start = generate(org.pk, person_ids, venues)
    groups(org.pk, person_ids, venues, start)
    if "--generate-only" in sys.argv:
        return
    rng = random.Random(5)
    thresholds = dict(rules.DEFAULT_MIN_MINUTES)
    sample = rng.sample(person_ids, 100)
    windows = []
    for pid in sample:
        ws = start + timedelta(days=rng.randrange(2, DAYS - 5))
        windows.append(selectors.IndexWindow(pid, ws, ws + timedelta(days=4)))

    hand_q = hand_sql(thresholds)
    cold, warm, hand, sizes = [], [], [], []
    for w in windows:
        ms, res = timed(selectors.co_presence, [w], thresholds)
        cold.append(ms)
        sizes.append(len(res.get(w.person_id, {})))
    for w in windows:
        ms, res = timed(selectors.co_presence, [w], thresholds)
        warm.append(ms)
        hms, pairs = timed(hand_pairs, w.person_id, w.start, w.end, hand_q)
        hand.append(hms)
        ours = {(o, e.venue_id, e.start, e.end) for o, es in res.get(w.person_id, {}).items() for e in es}
        assert ours == pairs, f"person {w.person_id}: {len(ours)} vs {len(pairs)}"
    say(f"close contacts per case over 100 cases: median {sorted(sizes)[50]}, max {max(sizes)}")
    say(f"close contacts of one case: p95 cold {percentile(cold, 95):.1f} ms, warm {percentile(warm, 95):.1f} ms; "
        f"hand-written SQL p95 {percentile(hand, 95):.1f} ms; ratio (warm p95) "
        f"{percentile(warm, 95) / percentile(hand, 95):.2f}x")

    # Secondary: all close contacts of a case, each with its own window from its first exposure to its quarantine.
    # Typical: contacts quarantined the day after the case's isolation; worst: nobody quarantined until the end of data.
    now = start + timedelta(days=DAYS)
    cases_of = (("quarantined a day after the case's isolation", lambda w: w.end + timedelta(days=1)),
                ("never quarantined (to the end of the data)", lambda w: now))
    for label, end_of in cases_of[:int(os.environ.get("BENCH_SECONDARY_VARIANTS", "2"))] if SECONDARY_SAMPLE else ():
        second, second_sizes, second_wins = [], [], []
        for w in windows[:SECONDARY_SAMPLE]:
            close = selectors.co_presence([w], thresholds).get(w.person_id, {})
            wins = [selectors.IndexWindow(pid, min(e.start for e in es), end_of(w)) for pid, es in close.items()]
            ms, res = timed(selectors.secondary_evidence, [wins], thresholds, [[w.person_id]])
            second_wins.append(len(wins))
            second.append(ms)
            second_sizes.append(len(res[0]))
        say(f"secondary contacts, {label}: p95 {percentile(second, 95):.0f} ms over {len(second)} cases "
            f"(median {sorted(second_sizes)[len(second_sizes) // 2]} people found per case, "
            f"median {sorted(second_wins)[len(second_wins) // 2]} close contacts searched)")

    # 100 cases at once: the reads of trace_run (scans, same team on shift days, dormitory, household, meeting,
    # secondary) for 100 cases together, as trace_cases/trace_run_many does.
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.filter(username="bench-tracing").first() or \
        get_user_model().objects.create_superuser("bench-tracing", password="pw-bench")
    from fangkong.tenancy import services as tenancy
    from fangkong.tenancy.models import Membership

    # The office of the organisation (a superuser without a membership has no acting organisation in the UI).
    if not Membership.objects.filter(user=admin, organization=org).exists():
        tenancy.membership_grant(user=admin, role="org_admin", organization=org, actor="bench")
    Case.objects.filter(organization=org).delete()
    cases = []
    for w in windows:
        onset = timezone.localtime(w.start).date() + timedelta(days=2)
        cases.append(Case.objects.create(organization=org, person_id=w.person_id, status="confirmed",
                                         onset_date=onset, report_date=onset, isolated_at=w.end))
    loaded = list(Case.objects.filter(pk__in=[c.pk for c in cases]).select_related("person"))
    params = {c.pk: services.trace_params(c, {}) for c in loaded}
    # Traced the day after the last isolation: secondary windows of unquarantined contacts end then.
    at_time = max(c.isolated_at for c in loaded) + timedelta(days=1)
    # The secondary search of 100 cases reads every close contact's days of scans; it runs only when asked
    # (BENCH_SECONDARY_CASES=100), otherwise over the BENCH_SECONDARY_CASES (default 10) cases isolated last: no
    # quarantine is on file, so an unquarantined contact's window runs to the trace time (the day after the last
    # isolation), weeks for the earliest cases; the last-isolated ones are the realistic "traced when found".
    many_secondary = int(os.environ.get("BENCH_SECONDARY_CASES", "10"))
    latest = sorted(loaded, key=lambda c: c.isolated_at, reverse=True)[:many_secondary]
    for label, secondary, subset in (("close only", False, loaded), ("close + secondary", True, latest)):
        loaded_now = subset
        for c in loaded:
            params[c.pk]["secondary"] = secondary
        t = time.perf_counter()
        results = services.find_contacts_many(cases=loaded_now, params=params, now=at_time)
        took = time.perf_counter() - t
        found = [r.found for r in results.values() if not isinstance(r, Exception)]
        kinds: dict[str, int] = {}
        for f in found:
            for e in f.values():
                k = e["evidence"][0]["kind"] if e["evidence"] else "?"
                kinds[k] = kinds.get(k, 0) + 1
        say(f"{len(loaded_now)} cases at once ({label}; scans + same team + dormitory + household + meeting): {took:.1f} s, "
            f"{sum(len(f) for f in found):,} contacts, "
            f"{sum(1 for f in found for e in f.values() if e['degree'] == 1):,} close; first evidence kinds {kinds}")

    # The goal's reading with secondary contacts (trace_run's default): all 100 cases, each traced the day after its
    # own isolation (its contacts' secondary windows end then), the cases isolated the same day in one call.
    for c in loaded:
        params[c.pk]["secondary"] = True
    by_day: dict[object, list[Case]] = {}
    for c in sorted(loaded, key=lambda c: c.isolated_at):
        by_day.setdefault(timezone.localtime(c.isolated_at).date(), []).append(c)
    took, total, close, together, listed = 0.0, 0, 0, 0, 0
    for day_cases in by_day.values():
        t = time.perf_counter()
        results = services.find_contacts_many(cases=day_cases, params=params,
                                              now=max(c.isolated_at for c in day_cases) + timedelta(days=1))
        took += time.perf_counter() - t
        for r in results.values():
            if not isinstance(r, Exception):
                total += len(r.found)
                close += sum(1 for e in r.found.values() if e["degree"] == 1)
                together += sum(e.get("co_presences") or 0 for e in r.found.values() if e["degree"] == 2)
                listed += sum(len(e["evidence"]) for e in r.found.values() if e["degree"] == 2)
    say(f"{len(loaded)} cases at once with their secondary contacts (each traced the day after its isolation, "
        f"{len(by_day)} calls by isolation day): {took:.1f} s, {total:,} contacts, {close:,} close; "
        f"secondary co-presences {together:,} aggregated by the server, {listed:,} listed (≤ "
        f"{rules.SECONDARY_EVIDENCE_LISTED} each); load {os.getloadavg()[0]:.1f}")

    # trace_run of one case (the 51st isolated), with and without its secondary contacts: reads, contacts, findings,
    # measures proposed, tasks and obligations written, then rolled back.
    from django.db import transaction

    one = sorted(loaded, key=lambda c: (c.isolated_at, c.pk))[50]

    class _Rollback(Exception):
        pass

    for secondary in (False, True):
        try:
            with transaction.atomic():
                t = time.perf_counter()
                snap = services.trace_run(case=one, actor=admin, params={"secondary": secondary},
                                          now=one.isolated_at + timedelta(days=1))
                took = time.perf_counter() - t
                raise _Rollback
        except _Rollback:
            pass
        say(f"trace_run of one case, secondary={secondary}: {took:.1f} s ({snap.counts['close']:,} close, "
            f"{snap.counts['secondary']:,} secondary contacts written, rolled back); load {os.getloadavg()[0]:.1f}")

    # Contacts page with 1,000 contacts.
    case = cases[0]
    Contact.objects.filter(case=case).delete()
    ev = [{"kind": "co_presence", "venue_id": venues[1][0], "from": start.isoformat(),
           "to": (start + timedelta(minutes=30)).isoformat(), "minutes": 30}]
    Contact.objects.bulk_create([Contact(case=case, person_id=pid, degree=1 + (i % 2), evidence=ev,
                                         via_person_id=person_ids[0] if i % 2 else None, is_new=i % 3 == 0)
                                 for i, pid in enumerate(rng.sample(person_ids, 1000))])
    client = Client()
    client.force_login(admin)
    url = f"/tracing/cases/{case.pk}/"
    client.get(url)
    page = []
    for i in range(30):
        ms, r = timed(client.get, url + f"?page={1 + i % 10}")
        assert r.status_code == 200
        page.append(ms)
    say(f"contacts page, case with 1,000 contacts (100 per page): p95 {percentile(page, 95):.0f} ms over 30 requests")
    say(json.dumps({"scans": have, "cold_p95_ms": round(percentile(cold, 95), 1),
                    "warm_p95_ms": round(percentile(warm, 95), 1), "hand_p95_ms": round(percentile(hand, 95), 1),
                    "page_p95_ms": round(percentile(page, 95))}))


if __name__ == "__main__":
    main()
