"""`manage.py run` (what `make run` starts): the web server and the Huey consumer come up together and Ctrl-C stops
both, children included."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.smoke


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> set[int]:
    """Every live descendant of pid, read from /proc (Linux)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process tree from /proc")
def test_run_serves_and_ctrl_c_stops_web_and_huey(tmp_path):
    port = _free_port()
    env = {**os.environ, "FANGKONG_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)  # its own SQLite under tmp_path; the login page needs no tables
    # Not test settings: those make Huey immediate, and the consumer refuses to run an immediate Huey.
    env.pop("FANGKONG_TESTING", None)
    runner = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--no-reload", "--port", str(port)],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if runner.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the web server did not come up:\n" + (runner.stdout.read() or "")) from None
                time.sleep(0.3)
        # Both must be up and stay up (a consumer that fails at start would take the runner down within a second).
        time.sleep(2)
        assert runner.poll() is None, runner.stdout.read()
        commands = []
        for pid in _children(runner.pid):
            try:
                commands.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
        assert any("runserver" in c for c in commands) and any("run_huey" in c for c in commands), commands
        children = _children(runner.pid)

        runner.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal delivers
        assert runner.wait(timeout=20) == 0
        output = runner.stdout.read()
        assert "stopped web server and Huey consumer" in output
        time.sleep(0.5)
        still = [pid for pid in children if Path(f"/proc/{pid}").exists()
                 and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]]
        assert still == [], f"left running: {still}"
    finally:
        if runner.poll() is None:
            # The runner puts each child in a session of its own: stop them by pid, then the runner.
            for pid in _children(runner.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
