"""Entry-control benchmarks (PostgreSQL only, loopback only, bounded in time and count).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_access .venv/bin/python bench/access_scans.py

1. Data: 100,000 people, 2,000 venues, scans over 30 days written with psycopg COPY into the indexed access_scan
   table, up to 10,000,000 rows or BENCH_COPY_SECONDS (default 300 s), whichever comes first; the size reached is
   printed, nothing is extrapolated.
2. Single-scan endpoint (full decision) vs /api/v1/ping under the same gunicorn (DEBUG=0), 32 concurrent keep-alive
   connections, alternating in BENCH_ROUNDS rounds (default 5) of BENCH_LOAD_SECONDS (default 6 s) per phase:
   requests/s, p50/p99 latency, the median of the rounds' ratios.
3. Batch endpoint (1,000 scans per request, BENCH_BATCHES requests) rows/s vs raw psycopg COPY of the same number
   of rows into the same table, alternating, in the same run; both payloads are made before the clocks start.
   BENCH_ONLY=batch skips 2 (and the page, 4), BENCH_ONLY=single skips 3 and 4; BENCH_ONLY=generate stops after 1.
   BENCH_WORKERS (default: one per core) and BENCH_THREADS (default 8) shape the gthread server, as
   docs/deployment.md runs it. BENCH_PG_OWN_CORE=1 runs 2 and 3 with PostgreSQL pinned to the last core and the
   server and this script to the others, as a database host of its own would be (root; restored afterwards).
4. The scan log page filtered by venue and day: p95 over 60 requests.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkin_common import insert_people, organization, percentile, prepare_database, say
from cpu_account import CpuAccount, postgres_on_own_core, server_ratio
from django.db import connection
from django.test import Client
from django.utils import timezone

from fangkong.access.models import Scan, Venue
from fangkong.core.tokens import token_issue
from fangkong.people.models import Person
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role

ROOT = Path(__file__).resolve().parents[1]
PEOPLE, VENUES, DAYS, TARGET_SCANS = 100_000, 2_000, 30, 10_000_000
COPY_SECONDS = float(os.environ.get("BENCH_COPY_SECONDS", "1800"))
LOAD_SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "6"))  # per phase and round
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CONNECTIONS = 32
COLUMNS = ["organization_id", "venue_id", "person_id", "direction", "at", "temperature", "health_code", "decision",
           "reasons", "device_id", "client_key", "left_at", "estimated_exit", "entry_id", "recorded_by_id",
           "created_at"]
ADMIT = json.dumps([{"code": "admitted", "text": "准予进入", "en": "Admitted", "blocking": False}],
                   ensure_ascii=False)


def setup() -> tuple[int, list[int], list[int], object]:
    prepare_database()
    org, units = organization("出入管理基准单位", 10)
    if Person.objects.filter(organization=org).count() < PEOPLE:
        say(f"people: {insert_people(org, units, PEOPLE):.1f} s for {PEOPLE:,}")
    person_ids = list(Person.objects.filter(organization=org).values_list("id", flat=True)[:PEOPLE])
    have = Venue.objects.filter(organization=org).count()
    if have < VENUES:
        Venue.objects.bulk_create([Venue(organization=org, name=f"场所{i:04d}", kind="gate", capacity=500,
                                         max_stay_minutes=240) for i in range(have, VENUES)])
    venue_ids = list(Venue.objects.filter(organization=org).values_list("id", flat=True)[:VENUES])
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username="bench-access").first()
    if user is None:
        user = get_user_model().objects.create_user("bench-access", password="pw-bench")
        tenancy.membership_grant(user=user, role=Role.ORG_ADMIN, organization=org, actor="bench")
    return org.pk, person_ids, venue_ids, user


def copy_payload(org_id: int, person_ids: list[int], venue_ids: list[int], n: int, rng: random.Random,
                 start: datetime) -> str:
    """The text of a COPY of n admitted entries (with their exit time on the row) spread over 30 days."""
    buf = io.StringIO()
    span = DAYS * 86400
    now = timezone.now().isoformat()
    for _ in range(n):
        at = start + timedelta(seconds=rng.randrange(span))
        buf.write(f"{org_id}\t{rng.choice(venue_ids)}\t{rng.choice(person_ids)}\tentry\t{at.isoformat()}\t36.5\t"
                  f"green\tadmit\t{ADMIT}\tbench\t\\N\t{(at + timedelta(minutes=30)).isoformat()}\tf\t\\N\t\\N\t"
                  f"{now}\n")
    return buf.getvalue()


def copy_like(org_id: int, items: list[dict[str, object]], recorder: int) -> str:
    """The text of a COPY of the rows a batch of these items stores: admitted entries with a client key (a fresh one,
    under a device of COPY's own, so that neither side's keys collide), no exit yet, and their recorder."""
    now = timezone.now().isoformat()
    return "".join(
        f"{org_id}\t{item['venue_id']}\t{item['person_id']}\tentry\t{item['at']}\t{item['temperature']}\t"
        f"{item['health_code']}\tadmit\t{ADMIT}\tbench-copy\t{uuid.uuid4().hex}\t\\N\tf\t\\N\t{recorder}\t{now}\n"
        for item in items)


def copy_text(text: str, n: int) -> int:
    connection.ensure_connection()
    raw = connection.connection  # psycopg 3 connection under Django
    with raw.cursor() as cur, cur.copy(f"COPY access_scan ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        copy.write(text)
    return n


def generate_scans(org_id: int, person_ids: list[int], venue_ids: list[int]) -> int:
    """Fill access_scan up to TARGET_SCANS with INSERT … SELECT generate_series, generated inside PostgreSQL.

    Venue traffic is skewed (venue = ids[⌊n · u^2.5⌋], u uniform: the first venues, the main gates, get most scans);
    people are uniform; times uniform over the 30 days; 98 % admitted entries with their exit on the row, 2 % refused.
    The secondary indexes are dropped first and rebuilt after (one sorted build each instead of 10 M random
    insertions); their definitions are read from pg_indexes, so the table ends up exactly as the migrations made it.
    Chunks of 1,000,000 rows; BENCH_COPY_SECONDS bounds the time spent.
    """
    have = Scan.objects.count()
    if have >= TARGET_SCANS or COPY_SECONDS <= 0:
        say(f"scans in table: {have:,} (target {TARGET_SCANS:,}); nothing generated")
        return have
    start = timezone.now() - timedelta(days=DAYS)
    refuse = json.dumps([{"code": "health_code_red", "text": "健康码为红码，不得进入", "en": "Health code is red",
                          "blocking": True}], ensure_ascii=False)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'access_scan' "
                    "AND indexname NOT LIKE '%%_pkey'")
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        while have < TARGET_SCANS and time.perf_counter() - t0 < COPY_SECONDS:
            n = min(1_000_000, TARGET_SCANS - have)
            cur.execute(
                f"""INSERT INTO access_scan ({', '.join(COLUMNS)})
                SELECT %(org)s, (%(venues)s::bigint[])[1 + floor(%(nv)s * power(random(), 2.5))::int],
                       (%(people)s::bigint[])[1 + floor(random() * %(np)s)::int], 'entry', g.at, 36.5, 'green',
                       CASE WHEN g.refused THEN 'refuse' ELSE 'admit' END,
                       CASE WHEN g.refused THEN %(refuse)s::jsonb ELSE %(admit)s::jsonb END, 'bench', NULL,
                       CASE WHEN g.refused THEN NULL ELSE g.at + interval '30 minutes' END, false, NULL, NULL, now()
                FROM (SELECT %(start)s::timestamptz + random() * interval '{DAYS} days' AS at,
                             random() < 0.02 AS refused
                      FROM generate_series(1, %(n)s)) AS g""",
                {"org": org_id, "venues": venue_ids, "nv": len(venue_ids), "people": person_ids,
                 "np": len(person_ids), "refuse": refuse, "admit": ADMIT, "start": start, "n": n},
            )
            have += n
            say(f"  {have:,} scans ({time.perf_counter() - t0:.0f} s)")
        t1 = time.perf_counter()
        for _, definition in indexes:
            cur.execute(definition)
        say(f"  {len(indexes)} indexes rebuilt in {time.perf_counter() - t1:.0f} s")
        # VACUUM too: it sets the visibility map (index-only scans) and autovacuum may be off on a bench cluster.
        cur.execute("VACUUM (ANALYZE) access_scan")
    say(f"scans in table: {have:,} (target {TARGET_SCANS:,}); this run's generation took "
        f"{time.perf_counter() - t0:.0f} s")
    return have


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(port: int, method: str, path: str, body_for, headers: dict[str, str], seconds: float
         ) -> tuple[float, list[float], int]:
    """CONNECTIONS threads, each a keep-alive connection, for `seconds`. Returns (req/s, latencies, errors)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rng = random.Random(k)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < stop_at:
            body = body_for(rng)
            t = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 300:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(CONNECTIONS)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return len(latencies) / (time.perf_counter() - t0), latencies, errors[0]


def http_bench(person_ids: list[int], venue_ids: list[int], raw_token: str) -> None:
    port = free_port()
    workers = os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 2))
    # DEBUG=0 as in production and in the other throughput benchmarks: with DEBUG on, Django logs every query.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", workers,
         "--worker-class", "gthread", "--threads", os.environ.get("BENCH_THREADS", "8"), "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    try:
        # Ready means answering: every worker has imported Django (tens of seconds on a loaded machine).
        for _ in range(600):
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                probe.request("GET", "/api/v1/ping")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        auth = {"Authorization": f"Bearer {raw_token}", "Content-Type": "application/json"}
        load(port, "GET", "/api/v1/ping", lambda r: None, {}, 5)  # warm-up: all workers up and connected
        if os.environ.get("BENCH_ONLY") != "batch":
            single_scans(port, person_ids, venue_ids, auth, server.pid)
        if os.environ.get("BENCH_ONLY") != "single":
            batch_vs_copy(port, person_ids, venue_ids, auth)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def scan_body(rng: random.Random, person_ids: list[int], venue_ids: list[int]) -> str:
    return json.dumps({"venue_id": rng.choice(venue_ids), "person_id": rng.choice(person_ids),
                       "at": timezone.now().isoformat(), "temperature": "36.5", "health_code": "green",
                       "device_id": "bench", "client_key": uuid.uuid4().hex})


def single_scans(port: int, person_ids: list[int], venue_ids: list[int], auth: dict[str, str], server_pgid: int
                 ) -> None:
    """Ping, POST /scans with a health-code colour and without one, 32 connections each, alternating in rounds.

    A shared host's speed drifts by tens of percent within a minute, and three long phases one after the other put
    that drift into the ratio: each round gives its own ratios, and the median is reported with the lowest and
    highest. Latencies are pooled over the rounds. Bodies are made before each phase's clock starts (their `at` is
    then a few seconds old: gates upload late, which the endpoint accepts).
    """
    def plain(rng: random.Random) -> str:
        # Without a colour: the decision path alone, without the person's health-code write and its audit event
        # (which happen on the first sighting of a colour, i.e. on nearly every scan with one).
        return json.dumps({"venue_id": rng.choice(venue_ids), "person_id": rng.choice(person_ids),
                           "at": timezone.now().isoformat(), "temperature": "36.5", "device_id": "bench",
                           "client_key": uuid.uuid4().hex})

    def made(make) -> object:
        rng = random.Random()
        bodies = iter([make(rng) for _ in range(int(LOAD_SECONDS * 4_000))])
        return lambda r: next(bodies)

    load(port, "POST", "/api/v1/scans", made(lambda r: scan_body(r, person_ids, venue_ids)), auth, 3)  # warm-up
    phases = {"ping": [], "scans": [], "plain": []}
    ratios: dict[str, list[float]] = {"scans": [], "plain": []}
    cpu_seconds: dict[str, dict[str, float]] = {label: {} for label in phases}
    for k in range(ROUNDS):
        rates = {}
        for label in phases:
            if label == "ping":
                method, path, bodies, headers = "GET", "/api/v1/ping", lambda r: None, {}
            else:
                make = (lambda r: scan_body(r, person_ids, venue_ids)) if label == "scans" else plain
                method, path, bodies, headers = "POST", "/api/v1/scans", made(make), auth
            with CpuAccount(server_pgid=server_pgid) as cpu:
                rps, lat, err = load(port, method, path, bodies, headers, LOAD_SECONDS)
            for group, used in cpu.seconds.items():
                cpu_seconds[label][group] = cpu_seconds[label].get(group, 0.0) + used
            rates[label] = rps
            phases[label].append((rps, lat, err))
        for label in ratios:
            ratios[label].append(rates[label] / rates["ping"])
        say(f"round {k + 1}: ping {rates['ping']:,.0f} · scans {rates['scans']:,.0f} · without colour "
            f"{rates['plain']:,.0f} req/s → {ratios['scans'][-1]:.2f}, {ratios['plain'][-1]:.2f}")
    names = {"ping": "ping", "scans": "POST /scans", "plain": "POST /scans without health code"}
    for label, runs in phases.items():
        lat = [x for _, one, _ in runs for x in one]
        say(f"{names[label]}: {statistics.mean(r for r, _, _ in runs):,.0f} req/s (mean of {len(runs)} rounds), "
            f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, "
            f"errors {sum(e for _, _, e in runs)}")
        requests = sum(len(one) for _, one, _ in runs)
        say(f"    {CpuAccount(server_pgid=server_pgid, seconds=cpu_seconds[label]).per_request(requests)}")
    counts = {label: sum(len(one) for _, one, _ in runs) for label, runs in phases.items()}
    ping_cpu = CpuAccount(server_pgid=server_pgid, seconds=cpu_seconds["ping"])
    for label in ratios:
        endpoint_cpu = CpuAccount(server_pgid=server_pgid, seconds=cpu_seconds[label])
        say(f"server CPU per request, ping over {names[label]}: "
            f"{server_ratio(ping_cpu, counts['ping'], endpoint_cpu, counts[label]):.2f}")
    for label, values in ratios.items():
        say(f"ratio {names[label]}/ping: median of {len(values)} rounds {statistics.median(values):.2f} "
            f"(lowest {min(values):.2f}, highest {max(values):.2f}) (goal ≥ 0.5; p99 goal ≤ 150 ms)")


def batch_vs_copy(port: int, person_ids: list[int], venue_ids: list[int], auth: dict[str, str]) -> None:
    """Batch endpoint vs raw COPY of the same number of rows, same table, same run.

    The two alternate, one batch then one COPY of 1,000 rows, and each side sums its own time: a checkpoint (after
    which every first change of a page writes the whole page to the WAL) or autovacuum then falls on both sides alike
    instead of on whichever ran second. Both sides' payloads are made before the clocks start: the figures are the
    server's, not this script's.

    COPY writes the rows the batch writes (BENCH_COPY_ROWS=like, the default): the same venues, people and times,
    each with a client key, a device, its recorder and no exit yet, so that both sides touch the same indexes (the
    client-key index and the open-entries index are partial). Until session 6 COPY wrote the generator's historical
    rows (no client key, an exit time, spread over 30 days), which skip those two indexes: BENCH_COPY_ROWS=history
    measures that way again, for comparison."""
    batches = int(os.environ.get("BENCH_BATCHES", "20"))
    rng = random.Random(9)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    org_id = Venue.objects.get(pk=venue_ids[0]).organization_id
    items = [[json.loads(scan_body(rng, person_ids, venue_ids)) for _ in range(1000)] for _ in range(batches)]
    bodies = [json.dumps({"items": batch}) for batch in items]
    if os.environ.get("BENCH_COPY_ROWS", "like") == "history":
        texts = [copy_payload(org_id, person_ids, venue_ids, 1000, rng, timezone.now() - timedelta(hours=1))
                 for _ in range(batches)]
    else:
        from django.contrib.auth import get_user_model

        recorder = get_user_model().objects.get(username="bench-access").pk
        texts = [copy_like(org_id, batch, recorder) for batch in items]
    batch_s = copy_s = 0.0
    stored = 0
    for body, text in zip(bodies, texts, strict=True):
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/scans/batch", body=body, headers=auth)
        stored += json.loads(conn.getresponse().read())["stored"]
        t1 = time.perf_counter()
        copy_text(text, 1000)
        batch_s, copy_s = batch_s + (t1 - t0), copy_s + (time.perf_counter() - t1)
    batch_rate, copy_rate = stored / batch_s, batches * 1000 / copy_s
    say(f"batch endpoint: {batch_rate:,.0f} rows/s ({stored:,} rows in {batches} requests); raw COPY: "
        f"{copy_rate:,.0f} rows/s; ratio {batch_rate / copy_rate:.2f} (goal ≥ 0.5)")


def page_bench(user: object, venue_ids: list[int]) -> None:
    client = Client()
    client.force_login(user)
    rng = random.Random(3)
    times = []
    for _ in range(60):
        day = timezone.localdate() - timedelta(days=rng.randrange(1, DAYS))
        t = time.perf_counter()
        r = client.get(f"/access/scans/?venue={rng.choice(venue_ids)}&day={day.isoformat()}", HTTP_HOST="localhost")
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.status_code
    say(f"scan log page (venue + day): p50 {percentile(times, 50) * 1000:.0f} ms, "
        f"p95 {percentile(times, 95) * 1000:.0f} ms (goal ≤ 300 ms)")


def main() -> None:
    org_id, person_ids, venue_ids, user = setup()
    say(f"people {len(person_ids):,}, venues {len(venue_ids):,}")
    generate_scans(org_id, person_ids, venue_ids)
    if os.environ.get("BENCH_ONLY") == "generate":
        return
    _, raw = token_issue(user=user, name="bench")
    if os.environ.get("BENCH_ONLY") not in ("batch", "single"):
        page_bench(user, venue_ids)
    with postgres_on_own_core(os.environ.get("BENCH_PG_OWN_CORE") == "1"):
        http_bench(person_ids, venue_ids, raw)


if __name__ == "__main__":
    main()
