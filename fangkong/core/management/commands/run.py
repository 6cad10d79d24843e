"""`manage.py run`: the web server and the Huey consumer together in the foreground (what `make run` starts).

Each child runs in its own process group, so stopping one also stops whatever it spawned (runserver's autoreloader
runs the real server in a child). Ctrl-C, SIGTERM, or either child exiting stops both; the exit code is the first
child's that failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

DEMO_USERS = [
    ("admin", "平台管理员"),
    ("county", "长子县防控办人员"),
    ("bureau", "长子县工信局人员"),
    ("factory", "机械厂单位管理员"),
    ("hospital", "医院单位管理员"),
    ("school", "学校单位管理员"),
    ("workshop", "机械厂车间负责人"),
    ("gate", "机械厂门岗"),
    ("worker", "机械厂职工"),
]
DEMO_PASSWORD = "fangkong-demo"  # the documented demo password; seed_demo never runs in production


class Command(BaseCommand):
    help = "Start the web server and the Huey consumer in the foreground; Ctrl-C stops both."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--no-reload", action="store_true", help="runserver without the autoreloader")
        parser.add_argument("--gunicorn", action="store_true", help="serve with gunicorn instead of runserver")

    def handle(self, *args: Any, host: str, port: str, no_reload: bool, gunicorn: bool, **options: Any) -> None:
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        if gunicorn:
            web = [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"{host}:{port}", "-w", "2"]
        else:
            web = [*manage, "runserver", f"{host}:{port}"] + (["--noreload"] if no_reload else [])
        commands = {"web": web, "huey": [*manage, "run_huey"]}

        self._print_banner(host, port)
        children: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, argv in commands.items():
                children[name] = subprocess.Popen(argv, cwd=settings.BASE_DIR, start_new_session=True)
            exit_code = 0
            while not stopping:
                for name, child in children.items():
                    code = child.poll()
                    if code is not None:
                        self.stderr.write(f"{name} exited with code {code}; stopping the others")
                        exit_code = code or 1
                        stopping = True
                        break
                time.sleep(0.3)
        finally:
            self._stop_all(children)
        if exit_code:
            sys.exit(exit_code)

    def _stop_all(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        for child in children.values():
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.stdout.write("stopped web server and Huey consumer")

    def _print_banner(self, host: str, port: str) -> None:
        from django.contrib.auth import get_user_model

        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        lines = [f"Fangkong 防控: http://{shown_host}:{port}/   API docs: http://{shown_host}:{port}/api/v1/docs"]
        if not settings.PRODUCTION:
            try:
                existing = set(get_user_model().objects.filter(username__in=[u for u, _ in DEMO_USERS])
                               .values_list("username", flat=True))
            except DatabaseError:  # not migrated yet: say so, but still start (make run migrates first)
                existing = set()
                lines.append("The database is not migrated: run `manage.py migrate` (make run does).")
            demo = [(u, label) for u, label in DEMO_USERS if u in existing]
            if demo:
                lines.append(f"Demo logins (password {DEMO_PASSWORD}):")
                lines += [f"  {u:<10} {label}" for u, label in demo]
            else:
                lines.append("No demo users yet: run `manage.py seed_demo`.")
        lines.append("Ctrl-C stops the web server and the Huey consumer.")
        self.stdout.write("\n".join(lines))
