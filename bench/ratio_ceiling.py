"""How high the check-in/ping and scan/ping ratios (issues 3 and 4, goal ≥ 0.5) can go on this stack and machine.

    # check-ins: the database of checkin_throughput.py (run that once first: it makes the members and tokens)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_health FANGKONG_VAR_DIR=/tmp/fkbench \\
        .venv/bin/python bench/ratio_ceiling.py checkin
    # scans: the database of access_scans.py (`scan`: the single scan; `batch`: the batch's writes against COPY)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_access FANGKONG_VAR_DIR=/tmp/fkbench_a \\
        .venv/bin/python bench/ratio_ceiling.py scan|batch

When every core is busy, a throughput ratio is the ratio of the CPU each request costs the whole machine. Two parts
of an endpoint's cost are not its own work, and no tuning of the endpoint removes them:

1. **the floor**: the same authenticated POST, with the endpoint's own work replaced by a canned result
   (`canned_wsgi.py`), over HTTP under the same gunicorn as the throughput benchmark, with the same load generator
   (check-ins: `checkin_throughput.drive`, 12 threads, a connection per request, warm tokens; scans:
   `access_scans.load`, 32 keep-alive connections). It alternates with ping in rounds, and the CPU of the server,
   the generator and everything else is counted per request (`cpu_account.py`);
2. **the database floor**: the endpoint's own statements, their texts taken from the fast paths themselves
   (`health.checkin_fast`, `access.scan_fast`, `core.tokens`) with pgbench's variables in place of the
   parameters, run by pgbench (C, prepared, 16 clients like the server's 2 × 8 threads), PostgreSQL's CPU per
   transaction (backends included after they exit, from the postmaster's children's times). The scan is the
   entry without a colour; the check-in fulfils a due obligation (today is made new first, as the throughput
   benchmark does).

`batch` asks the same of the batch endpoint (≥ 0.5 × COPY): are the batch's own writes, the writer's chunked
`INSERT … SELECT FROM unnest` (`access/scan_writer.py`, foreign keys checked per chunk), dearer for PostgreSQL than
COPY of the same 1,000 rows? The two alternate, 30 times, on one connection; each side's wall time and backend CPU.

ceiling = ping's CPU per request / (the floor's + the database floor's): the ratio the endpoint would reach if its
own Python (the decision, the statements' client side, the answer) cost nothing. It also prints the CPU budget the
endpoint's own Python has left at a ratio of 0.5; compare it with the in-process figures of `hotpath_cpu.py`.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import access_scans
import checkin_throughput
from checkin_common import organization, prepare_database, say
from cpu_account import TICK, CpuAccount, postgres_seconds
from django.conf import settings
from django.db import connection
from django.utils import timezone

from fangkong.access import scan_fast, scan_writer
from fangkong.core import tokens
from fangkong.health import checkin_fast
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "5"))
PGBENCH_SECONDS = int(os.environ.get("BENCH_PGBENCH_SECONDS", "15"))
CLIENTS = 16  # the server's database connections: 2 workers × 8 threads


def pgbench(label: str, script: str) -> float:
    """Run a pgbench script; returns PostgreSQL's CPU per transaction in ms."""
    exe = shutil.which("pgbench")
    if exe is None:
        raise SystemExit("pgbench not found: apt-get install postgresql-client")
    db = settings.DATABASES["default"]
    url = f"postgresql://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    try:
        before = postgres_seconds()
        out = subprocess.run([exe, "-n", "-M", "prepared", "-c", str(CLIENTS), "-j", "2", "-T", str(PGBENCH_SECONDS),
                              "-f", f.name, url], capture_output=True, text=True, check=True).stdout
        used = postgres_seconds() - before
    finally:
        os.unlink(f.name)
    done = int(next(line for line in out.splitlines() if "actually processed" in line).split()[-1].split("/")[0])
    tps = next(line for line in out.splitlines() if line.startswith("tps")).split()[2]
    per = used / done * 1000
    say(f"database floor, {label}: {per:.3f} ms of PostgreSQL CPU per transaction ({float(tps):,.0f} tps, "
        f"{CLIENTS} pgbench clients)")
    return per


def start_canned(kind: str) -> tuple[subprocess.Popen, int]:
    port = access_scans.free_port()
    env = {**os.environ, "DEBUG": "0", "FANGKONG_BENCH_CANNED": kind,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)])}
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "canned_wsgi", "-b", f"127.0.0.1:{port}", "-w", str(os.cpu_count() or 2),
         "--worker-class", "gthread", "--threads", "8", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True)
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/api/v1/ping")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("gunicorn did not start")


def busy_per_request(cpu: dict[str, float], requests: int) -> float:
    return sum(v for k, v in cpu.items() if k != "idle") / requests * 1000


def http_floor(kind: str, post: object) -> tuple[float, float]:
    """(ping, floor) busy CPU per request in ms, alternating in rounds; `post(port, seconds)` → requests done."""
    proc, port = start_canned(kind)
    try:
        spent: dict[str, dict[str, float]] = {"ping": {}, "floor": {}}
        done = {"ping": 0, "floor": 0}
        rates: dict[str, list[float]] = {"ping": [], "floor": []}
        post(port, 3)  # warm-up: every worker imported and connected
        for _ in range(ROUNDS):
            for label in ("ping", "floor"):
                with CpuAccount(server_pgid=proc.pid) as cpu:
                    t = time.perf_counter()
                    n = post(port, SECONDS) if label == "floor" else ping(kind, port, SECONDS)
                    rates[label].append(n / (time.perf_counter() - t))
                done[label] += n
                for group, used in cpu.seconds.items():
                    spent[label][group] = spent[label].get(group, 0.0) + used
        for label in ("ping", "floor"):
            say(f"{label:5s} {statistics.mean(rates[label]):7,.0f} req/s · "
                f"{CpuAccount(server_pgid=proc.pid, seconds=spent[label]).per_request(done[label])}")
        return busy_per_request(spent["ping"], done["ping"]), busy_per_request(spent["floor"], done["floor"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def ping(kind: str, port: int, seconds: float) -> int:
    if kind == "checkin":
        ok, _, _ = checkin_throughput.drive(port, 12, seconds, lambda rng: ("GET", "/api/v1/ping", None, {}, (200,)))
        return ok
    _, lat, _ = access_scans.load(port, "GET", "/api/v1/ping", lambda rng: None, {}, seconds)
    return len(lat)


def report(label: str, ping_ms: float, floor_ms: float, db_ms: float) -> None:
    ceiling = ping_ms / (floor_ms + db_ms)
    budget = 2 * ping_ms - floor_ms - db_ms
    say(f"ceiling, {label}: {ping_ms:.2f} / ({floor_ms:.2f} + {db_ms:.2f}) = {ceiling:.2f}; at 0.5 the endpoint's own "
        f"Python may cost {budget:.2f} ms per request under load")


def checkin() -> None:
    org, _ = organization("基准吞吐单位", 10)
    members = Person.objects.filter(organization=org, user__isnull=False)
    if members.count() < 1000:
        raise SystemExit("run checkin_throughput.py once first: it makes the bench members and their tokens")
    warm = [f"{tokens.PREFIX}bench-member-{i:07d}" for i in range(200)]

    def post(port: int, seconds: float) -> int:
        # Bodies made before the clock starts, as checkin_throughput.py makes them.
        bodies = iter([json.dumps({"temperature": "36.5", "client_key": uuid.uuid4().hex, "device_id": "bench"})
                       for _ in range(int(seconds * 5_000))])

        def one(rng: random.Random) -> tuple:
            headers = {"Authorization": f"Bearer {rng.choice(warm)}", "Content-Type": "application/json"}
            return "POST", "/api/v1/checkins", next(bodies), headers, (201, 200)

        ok, _, _ = checkin_throughput.drive(port, 12, seconds, one)
        return ok

    ping_ms, floor_ms = http_floor("checkin", post)
    checkin_throughput.reset_today(org)
    low, high = (members.order_by(f).values_list("user_id", flat=True).first() for f in ("user_id", "-user_id"))
    rand_user = f"\\set u random({low}, {high})\n"
    checkin_sql = checkin_fast._SQL % {
        "user": ":u", "org": org.pk, "day": "current_date", "temp": "36.5", "note": "''", "now": "now()",
        "key": "md5(random()::text)", "device": "'pgbench'", "ip": "'127.0.0.1'",
        "fulfilled": f"'{Obligation.Status.FULFILLED}'", "due": f"'{Obligation.Status.DUE}'",
        "overdue": f"'{Obligation.Status.OVERDUE}'"}
    db_checkin = pgbench("check-in", rand_user + checkin_sql.strip() + ";\n")
    # The token by a user's id: pgbench cannot make the hash, so one more primary-key probe finds it.
    token_sql = tokens._token_sql()[0] % "(SELECT key_hash FROM core_apitoken WHERE user_id = :u LIMIT 1)"
    db_token = pgbench("cold token", rand_user + token_sql.strip() + ";\n")
    checkin_throughput.reset_today(org)
    report("warm check-in", ping_ms, floor_ms, db_checkin)
    report("cold check-in", ping_ms, floor_ms, db_checkin + db_token)


def scan() -> None:
    org_id, person_ids, venue_ids, user = access_scans.setup()
    raw_token = tokens.token_issue(user=user, name="ceiling")[1]
    auth = {"Authorization": f"Bearer {raw_token}", "Content-Type": "application/json"}

    def post(port: int, seconds: float) -> int:
        rng = random.Random()
        bodies = iter([json.dumps({"venue_id": rng.choice(venue_ids), "person_id": rng.choice(person_ids),
                                   "at": timezone.now().isoformat(), "temperature": "36.5", "device_id": "bench",
                                   "client_key": uuid.uuid4().hex}) for _ in range(int(seconds * 5_000))])
        _, lat, _ = access_scans.load(port, "POST", "/api/v1/scans", lambda r: next(bodies), auth, seconds)
        return len(lat)

    ping_ms, floor_ms = http_floor("scan", post)
    people = f"\\set p random({min(person_ids)}, {max(person_ids)})\n\\set v random({min(venue_ids)}, {max(venue_ids)})\n"
    person_sql = scan_fast._PERSON_SQL % ":p"
    scan_sql = scan_fast._STATEMENTS[(False, False)] % {
        "org": org_id, "venue": ":v", "person": ":p", "at": "now()", "temp": "36.5", "code": "''",
        "decision": "'admit'", "reasons": "'[]'", "device": "'pgbench'", "key": "md5(random()::text)",
        "recorder": user.pk, "now": "now()"}
    db_scan = pgbench("entry scan (person read + insert)", people + person_sql.strip() + ";\n" + scan_sql.strip()
                      + ";\n")
    report("entry scan", ping_ms, floor_ms, db_scan)


def batch_writes() -> None:
    org_id, person_ids, venue_ids, user = access_scans.setup()
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]

    def backend_cpu() -> float:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / TICK

    rng = random.Random(5)
    spent = {"COPY": [0.0, 0.0], "INSERT": [0.0, 0.0]}
    rounds = 30
    for k in range(rounds):
        items = [json.loads(access_scans.scan_body(rng, person_ids, venue_ids)) for _ in range(1000)]
        text = access_scans.copy_like(org_id, items, user.pk)
        now = timezone.now()
        scans = [scan_writer.new_scan(
            organization_id=org_id, venue_id=i["venue_id"], person_id=i["person_id"], direction="entry", at=now,
            temperature=i["temperature"], health_code=i["health_code"], decision="admit",
            reasons=json.loads(access_scans.ADMIT), device_id="ceiling", client_key=uuid.uuid4().hex,
            recorded_by_id=user.pk) for i in items]
        arrays = [scan_writer._arrays(scans[n:n + scan_writer.CHUNK]) for n in range(0, 1000, scan_writer.CHUNK)]
        c0, w0 = backend_cpu(), time.perf_counter()
        access_scans.copy_text(text, 1000)
        c1, w1 = backend_cpu(), time.perf_counter()
        with raw.transaction(), raw.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for values in arrays:
                cur.execute(scan_writer.insert_sql(), values, prepare=True)
                cur.fetchall()
        c2, w2 = backend_cpu(), time.perf_counter()
        if k >= 3:  # the first rounds prepare and warm the caches
            for side, cpu, wall in (("COPY", c1 - c0, w1 - w0), ("INSERT", c2 - c1, w2 - w1)):
                spent[side][0] += cpu
                spent[side][1] += wall
    n = rounds - 3
    for side, (cpu, wall) in spent.items():
        say(f"{side:6s} 1,000 rows: wall {wall / n * 1000:6.1f} ms, PostgreSQL CPU {cpu / n * 1000:6.1f} ms "
            f"(mean of {n})")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    modes = {"checkin": checkin, "scan": scan, "batch": batch_writes}
    if which not in modes:
        raise SystemExit(__doc__)
    prepare_database()
    modes[which]()


if __name__ == "__main__":
    main()
