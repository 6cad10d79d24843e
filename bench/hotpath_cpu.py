"""Where a hot request's CPU goes, in-process (no HTTP, no load generator): the app's own CPU per request and the
PostgreSQL backend's, for ping, an authenticated POST that does no work, the check-in and the entry scan.

    # check-ins: the database of checkin_throughput.py (its bench members must exist: run that script once)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_health FANGKONG_VAR_DIR=/tmp/fkbench_health \\
        .venv/bin/python bench/hotpath_cpu.py checkin
    # scans: the database of access_scans.py (10 M scans)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_access FANGKONG_VAR_DIR=/tmp/fkbench_access \\
        .venv/bin/python bench/hotpath_cpu.py scan

Requests go through Django's WSGI handler (all middleware, Ninja, the auth cache) in this process; CPU is
`time.process_time()` for the app and /proc/<pid>/stat of this connection's backend for PostgreSQL. The throughput
benchmarks add the HTTP server and the load generator to both sides of their ratio; these figures say how much of
the gap is the framework, the endpoint's own Python and the database. "floor" is the same endpoint with its work
replaced by a canned result: what Django, Ninja, authentication and the response cost before the endpoint does
anything.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["DEBUG"] = "0"

from django.core.wsgi import get_wsgi_application  # noqa: E402

APP = get_wsgi_application()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from fangkong.core.tokens import PREFIX, token_issue  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from canned import canned  # noqa: E402


def call(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[str, bytes]:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
           "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "wsgi.url_scheme": "http",
           "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "wsgi.errors": sys.stderr, "QUERY_STRING": "",
           **(headers or {})}
    out: dict[str, str] = {}

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> None:
        out["status"] = status

    content = b"".join(APP(env, start_response))
    return out["status"], content


def backend_cpu() -> Callable[[], float]:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return read


def measure(label: str, fn: Callable[[], tuple[str, bytes]], n: int, expect: tuple[str, ...]) -> None:
    status, content = fn()
    if not status.startswith(expect):
        raise SystemExit(f"{label}: {status} {content[:300]!r}")
    for _ in range(min(n, 100)):
        fn()
    backend = backend_cpu()
    b0, c0, w0 = backend(), time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    wall, app, db = time.perf_counter() - w0, time.process_time() - c0, backend() - b0
    print(f"{label:34s} app {app / n * 1000:6.3f} ms  database {db / n * 1000:6.3f} ms  "
          f"sum {(app + db) / n * 1000:6.3f} ms  (wall {wall / n * 1000:6.3f} ms, n={n})")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "checkin"
    n = int(os.environ.get("BENCH_N", "2000"))
    user_model = get_user_model()
    measure("GET /ping", lambda: call("GET", "/api/v1/ping"), n * 2, ("200",))
    if which == "checkin":
        # The bench members' tokens of checkin_throughput.py: 50 used again and again (warm), and the rest once each
        # (cold: a member checks in about once a day, so the auth cache rarely knows the token).
        tokens = [f"{PREFIX}bench-member-{i:07d}" for i in range(50)]
        unseen = iter(f"{PREFIX}bench-member-{i:07d}" for i in range(200, 200 + 3 * n))

        def checkin(token: str | None = None) -> tuple[str, bytes]:
            body = json.dumps({"temperature": f"36.{random.randrange(10)}", "client_key": uuid.uuid4().hex,
                               "device_id": "cpu"}).encode()
            token = token or random.choice(tokens)
            return call("POST", "/api/v1/checkins", body, {"HTTP_AUTHORIZATION": f"Bearer {token}",
                                                          "CONTENT_TYPE": "application/json"})

        measure("POST /checkins (common path)", checkin, n, ("201", "200"))
        measure("POST /checkins (cold token)", lambda: checkin(next(unseen)), n, ("201", "200"))
        from fangkong.health import checkin_fast

        canned(checkin_fast, "checkin_submit_common")
        measure("POST /checkins floor (no work)", checkin, n, ("201", "200"))
    else:
        from fangkong.access.models import Venue
        from fangkong.people.models import Person

        user = user_model.objects.get(username="bench-access")
        token = token_issue(user=user, name="cpu")[1]
        org = Venue.objects.get(name="场所0000").organization_id
        venues = list(Venue.objects.filter(organization_id=org).values_list("id", flat=True))
        people = list(Person.objects.filter(organization_id=org).values_list("id", flat=True))
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "CONTENT_TYPE": "application/json"}

        def scan(code: str = "") -> tuple[str, bytes]:
            item = {"venue_id": random.choice(venues), "person_id": random.choice(people),
                    "at": timezone.now().isoformat(), "temperature": "36.5", "device_id": "cpu",
                    "client_key": uuid.uuid4().hex}
            if code:
                item["health_code"] = code
            return call("POST", "/api/v1/scans", json.dumps(item).encode(), headers)

        if which == "batch":
            def batch(code: str = "", people_pool: list[int] = people) -> tuple[str, bytes]:
                items = [{"venue_id": random.choice(venues), "person_id": random.choice(people_pool),
                          "at": timezone.now().isoformat(), "temperature": "36.5", "device_id": "cpu",
                          "client_key": uuid.uuid4().hex, **({"health_code": code} if code else {})}
                         for _ in range(1000)]
                return call("POST", "/api/v1/scans/batch", json.dumps({"items": items}).encode(), headers)

            # Per batch of 1,000 rows (n batches each). BENCH_CHUNK=1000 sends each batch in one statement at the end
            # (no overlap of deciding and writing), for comparison with the pipelined chunks.
            from fangkong.access import scan_writer

            scan_writer.CHUNK = int(os.environ.get("BENCH_CHUNK", scan_writer.CHUNK))
            batches = max(n // 200, 3)
            measure("batch of 1,000, no colour", batch, batches, ("200",))
            seen = people[:1000]
            batch("green", seen)  # these 1,000 people have been seen green: the colour is no change
            measure("batch of 1,000, green seen before", lambda: batch("green", seen), batches, ("200",))
            measure("batch of 1,000, green, mostly new", lambda: batch("green"), batches, ("200",))
            return
        measure("POST /scans (entry, no colour)", scan, n, ("201",))
        measure("POST /scans (entry, green seen)", lambda: scan("green"), n, ("201",))
        from fangkong.access import scan_fast

        canned(scan_fast, "scan_entry_common")
        measure("POST /scans floor (no work)", scan, n, ("201",))


if __name__ == "__main__":
    main()
