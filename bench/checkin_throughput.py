"""Benchmark: check-in endpoint throughput vs the bare JSON endpoint (/api/v1/ping) on the same server (goal ≥ 0.5).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_health FANGKONG_VAR_DIR=/tmp/fkbench \\
        .venv/bin/python bench/checkin_throughput.py [--workers N] [--server-threads 8] [--threads 12] [--seconds 6] [--rounds 5] [--users 200] \\
        [--cold-users 40000]

Starts gunicorn (DEBUG=0) on 127.0.0.1 as docs/deployment.md runs it, gthread workers, one per core, 8 threads each
(`--workers`, `--server-threads 1` for sync workers), and drives it with a bounded load generator: a fixed number of
threads, each sending requests back to back over http.client, a new connection each, for a fixed time. The ping endpoint needs no
authentication. Each check-in carries a member's bearer token, a fresh client_key and a temperature, and is measured
two ways:

- warm: the tokens of `--users` members, again and again, so the server's auth cache mostly knows them;
- cold: each request a member whose token this server has not seen yet (`--cold-users` of them, used once each),
  as in real use, where a member checks in about once a day. The run starts by making today new for the bench
  members (their check-ins of today removed, their obligations due again), so every cold check-in is the member's
  first of the day and fulfils the obligation, also on a second run the same day.

The phases alternate in `--rounds` rounds of `--seconds` each (ping, warm, cold, ping, …), and the ratio given is
the median of the rounds' ratios, with the lowest and highest: a shared host's speed drifts within a minute, and one
long phase after another put that drift into the ratio. Every phase runs against the same server; the machine's
cores are shared by the server, PostgreSQL and the load generator, so the absolute figures are low and the ratio
is what matters. Under each figure, the CPU the server,
PostgreSQL and the load generator used per request (`cpu_account.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from checkin_common import organization, prepare_database, say
from cpu_account import CpuAccount, postgres_on_own_core, server_ratio
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from fangkong.core.models import ApiToken
from fangkong.core.tokens import PREFIX, hash_token
from fangkong.health.models import CheckinSetting
from fangkong.health.services import obligations_generate_for_day
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person
from fangkong.tenancy.models import Membership
from fangkong.tenancy.roles import Role

ROOT = Path(__file__).resolve().parents[1]


def members(n: int) -> list[str]:
    """n member accounts, each with a person, a daily obligation today and a token; returns the raw tokens.

    Made in bulk and kept between runs; the tokens are derived from the account number (a benchmark's, never a
    real deployment's), so a later run reuses them instead of issuing new ones.
    """
    org, units = organization("基准吞吐单位", 10)
    CheckinSetting.objects.get_or_create(organization=org, defaults={"name": "bench"})
    user_model = get_user_model()
    have = user_model.objects.filter(username__startswith="bench_member_").count()
    if have < n:
        t = time.perf_counter()
        password = make_password(None)
        with transaction.atomic():
            users = user_model.objects.bulk_create(
                [user_model(username=f"bench_member_{i}", password=password) for i in range(have, n)])
            Membership.objects.bulk_create(
                [Membership(user=u, role=Role.MEMBER, organization=org) for u in users])
            Person.objects.bulk_create([
                Person(organization=org, unit=units[i % len(units)], name=f"吞吐{i}", name_sort=f"tt{i}",
                       id_number="synthetic", id_number_hash=f"bench-tp-{i}", id_number_masked="****", user=u)
                for i, u in zip(range(have, n), users, strict=True)])
        say(f"{n - have:,} members made in {time.perf_counter() - t:.1f} s")
    raw = [f"{PREFIX}bench-member-{i:07d}" for i in range(n)]
    ids = dict(user_model.objects.filter(username__startswith="bench_member_").values_list("username", "id"))
    ApiToken.objects.bulk_create(
        [ApiToken(user_id=ids[f"bench_member_{i}"], name="bench", prefix=raw[i][:10], key_hash=hash_token(raw[i]))
         for i in range(n)], ignore_conflicts=True, batch_size=5_000)
    # Statistics for the rows made in bulk, as autovacuum would gather them in a while: without them, the planner
    # took ~95 memberships per user and planned the cold token's statement with a hash join over every unit.
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    obligations_generate_for_day(day=timezone.localdate(), organization=org)
    reset_today(org)
    return raw


def reset_today(org) -> None:
    """Make today new again for the bench members: their check-ins of today go, their obligations are due again.

    Without it, a second run on the same day measured a different path: the cold members had checked in already,
    so their check-ins fulfilled nothing (the obligation update, the costliest write of the common case, was
    skipped). Autovacuum may be off on a bench cluster, so the dead rows are vacuumed here, as it would have done.
    """
    day = timezone.localdate()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM health_checkin WHERE organization_id = %s AND date = %s", [org.pk, day])
        deleted = cur.rowcount
        cur.execute(
            "UPDATE obligations_obligation SET status = %s, evidence_type = '', evidence_id = NULL, abnormal = false, "
            "fulfilled_at = NULL WHERE organization_id = %s AND day = %s AND kind = 'checkin' AND status <> %s",
            [Obligation.Status.DUE, org.pk, day, Obligation.Status.DUE])
        reopened = cur.rowcount
        cur.execute("VACUUM (ANALYZE) health_checkin")
        cur.execute("VACUUM (ANALYZE) obligations_obligation")
    say(f"today reset: {deleted:,} check-ins of today removed, {reopened:,} obligations due again")


def start_server(port: int, workers: int, server_threads: int = 1) -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    # Threads per worker (gunicorn's gthread class, as docs/deployment.md runs it): a request waiting on PostgreSQL
    # does not hold a whole process; 1 = sync workers, one request per process at a time.
    threading_args = ["--worker-class", "gthread", "--threads", str(server_threads)] if server_threads > 1 else []
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "-w", str(workers), *threading_args,
         "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "--access-logfile", "-" if env.get("BENCH_ACCESS_LOG") else "/dev/null"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/v1/ping")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def drive(port: int, threads: int, seconds: float, make_request) -> tuple[int, int, float]:
    """Back-to-back requests from `threads` threads for `seconds`; returns (ok, errors, elapsed)."""
    stop = time.perf_counter() + seconds
    ok = [0] * threads
    bad = [0] * threads

    def worker(k: int) -> None:
        rng = random.Random(k)
        while time.perf_counter() < stop:
            method, path, body, headers, expect = make_request(rng)
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request(method, path, body=body, headers=headers)
                r = c.getresponse()
                r.read()
                c.close()
                if r.status in expect:
                    ok[k] += 1
                else:
                    bad[k] += 1
            except OSError:
                bad[k] += 1

    t = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return sum(ok), sum(bad), time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (default: cores)")
    parser.add_argument("--server-threads", type=int, default=8, help="gunicorn threads per worker (1: sync)")
    parser.add_argument("--threads", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=6, help="seconds per phase per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of ping, warm, cold")
    parser.add_argument("--users", type=int, default=200, help="members whose tokens the warm phase repeats")
    parser.add_argument("--cold-users", type=int, default=40_000, help="members the cold phase uses once each")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pg-own-core", action="store_true",
                        help="PostgreSQL on the last core, server and generator on the others (root; restored after)")
    args = parser.parse_args()
    prepare_database()
    tokens = members(args.users + args.cold_users)
    warm, cold = tokens[:args.users], iter(tokens[args.users:])
    pinning = contextlib.ExitStack()  # restored in the finally below
    pinning.enter_context(postgres_on_own_core(args.pg_own_core))
    proc = start_server(args.port, args.workers, args.server_threads)
    try:
        def ping(rng):
            return "GET", "/api/v1/ping", None, {}, (200,)

        # Bodies are built before the clock starts, so the generator's JSON and uuid work is not in the figure.
        bodies = iter([json.dumps({"temperature": round(36.2 + random.random(), 1), "client_key": uuid.uuid4().hex,
                                   "device_id": "bench"}) for _ in range(200_000)])

        def checkin_with(token: str):
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            return "POST", "/api/v1/checkins", next(bodies), headers, (201, 200)

        def checkin_warm(rng):
            return checkin_with(rng.choice(warm))

        def checkin_cold(rng):
            return checkin_with(next(cold))  # one iterator for all threads: each token once

        drive(args.port, args.threads, 3, ping)  # warm-up: every worker imports and connects
        drive(args.port, args.threads, 3, checkin_warm)
        # The phases alternate in rounds (ping, warm, cold, ping, …) and each round gives its own ratios: the
        # machine's speed drifts by tens of percent within a minute (other tenants of the host), and three long
        # phases one after the other put that drift into the ratio.
        labels = (("ping", ping), ("warm", checkin_warm), ("cold", checkin_cold))
        done = {label: 0 for label, _ in labels}
        spent = {label: 0.0 for label, _ in labels}
        cpu_seconds: dict[str, dict[str, float]] = {label: {} for label, _ in labels}
        ratios: dict[str, list[float]] = {"warm": [], "cold": []}
        for k in range(args.rounds):
            rates = {}
            for label, fn in labels:
                with CpuAccount(server_pgid=proc.pid) as cpu:
                    ok, bad, elapsed = drive(args.port, args.threads, args.seconds, fn)
                if bad:
                    say(f"  round {k + 1}, {label}: {bad} errors")
                rates[label] = ok / elapsed
                done[label] += ok
                spent[label] += elapsed
                for group, used in cpu.seconds.items():
                    cpu_seconds[label][group] = cpu_seconds[label].get(group, 0.0) + used
            for label in ratios:
                ratios[label].append(rates[label] / rates["ping"])
            say(f"round {k + 1}: ping {rates['ping']:7.1f} · warm {rates['warm']:6.1f} · cold {rates['cold']:6.1f} "
                f"req/s → warm {ratios['warm'][-1]:.2f}, cold {ratios['cold'][-1]:.2f}")
        for label, _ in labels:
            total = CpuAccount(server_pgid=proc.pid, seconds=cpu_seconds[label])
            say(f"{label:8s} {done[label] / spent[label]:8.1f} req/s  ({done[label]} ok in {spent[label]:.1f} s, "
                f"{args.threads} threads, {args.workers} gunicorn workers × {args.server_threads} threads)")
            say(f"         {total.per_request(done[label])}")
        ping_cpu = CpuAccount(server_pgid=proc.pid, seconds=cpu_seconds["ping"])
        for label in ratios:
            endpoint_cpu = CpuAccount(server_pgid=proc.pid, seconds=cpu_seconds[label])
            say(f"server CPU per request, ping over check-in ({label}): "
                f"{server_ratio(ping_cpu, done['ping'], endpoint_cpu, done[label]):.2f}")
        for label, values in ratios.items():
            middle = statistics.median(values)
            say(f"ratio check-in ({label})/ping: median of {len(values)} rounds {middle:.2f} "
                f"(lowest {min(values):.2f}, highest {max(values):.2f}; "
                f"all rounds together {done[label] / spent[label] / (done['ping'] / spent['ping']):.2f}) "
                f"(goal ≥ 0.5: {'met' if middle >= 0.5 else 'NOT met'})")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        pinning.close()


if __name__ == "__main__":
    sys.exit(main())
