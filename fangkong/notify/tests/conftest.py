from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from huey.contrib.djhuey import HUEY


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: records each POST and answers with `status` and `reply`."""

    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200
    reply: dict[str, Any] = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    headers: dict[str, str] = field(default_factory=dict)  # extra answer headers (a redirect's Location)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            parts = urlsplit(self.path)
            rec = state["r"]
            rec.received.append(
                Received(parts.path, parse_qs(parts.query), dict(self.headers.items()), json.loads(raw.decode()))
            )
            answer = json.dumps(rec.reply).encode()
            self.send_response(rec.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            for name, value in rec.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """An address where nothing listens: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


@pytest.fixture(autouse=True)
def allow_local_webhooks(settings) -> None:
    """The test receivers listen on 127.0.0.1, which production refuses; tests of that refusal turn it back off."""
    settings.FANGKONG_WEBHOOK_ALLOW_INTERNAL = True


@pytest.fixture(autouse=True)
def clean_huey() -> Iterator[None]:
    """Tests run Huey in immediate mode; retries and held messages land in its in-memory schedule."""
    HUEY.flush()
    yield
    HUEY.flush()


def run_scheduled() -> int:
    """Run every scheduled task now (retries, quiet-hour holds), including the retries they schedule in turn."""
    from datetime import datetime, timedelta

    ran = 0
    for _ in range(20):  # a bound, so a task that keeps rescheduling itself fails the test instead of hanging it
        due = HUEY.read_schedule(datetime.now() + timedelta(days=30))
        if not due:
            return ran
        for task in due:
            HUEY.execute(task, timestamp=task.eta)  # "now" for the task is its due time
            ran += 1
    raise AssertionError("scheduled tasks keep rescheduling")
