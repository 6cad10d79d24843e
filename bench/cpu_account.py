"""Where the machine's CPU went during one phase of a load benchmark (Linux /proc only).

A throughput figure alone cannot say whether the server, PostgreSQL or the load generator set it, nor whether the
cores were busy at all. `CpuAccount` snapshots every process's user + system time and the machine's idle time at the
start and end of a phase, and reports them per request, grouped as: the server's processes (its process group),
PostgreSQL's backends, this load generator, everything else, and idle (incl. I/O wait).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[int, int]:
    """(busy, idle) jiffies of all cores since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, idle


def _processes(children: bool = False) -> dict[int, tuple[str, int, int]]:
    """pid → (comm, process group, user + system jiffies) for every readable process; with `children`, plus the
    times of its children that have exited and been waited for."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2:].split()
        # After the comm: state, ppid, pgrp, …; utime, stime, cutime and cstime are fields 14–17 of the whole line.
        out[int(entry.name)] = (comm, int(rest[2]), sum(int(v) for v in rest[11:15 if children else 13]))
    return out


@dataclass
class CpuAccount:
    server_pgid: int
    start: tuple[tuple[int, int], dict[int, tuple[str, int, int]]] | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def _group(self, pid: int, comm: str, pgid: int) -> str:
        if pgid == self.server_pgid:
            return "server"
        if comm.startswith("postgres") or comm.startswith("postmaster"):
            return "postgres"
        if pid == os.getpid():
            return "generator"
        return "other"

    def __enter__(self) -> CpuAccount:
        self.start = (_machine(), _processes())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.start is not None
        (busy0, idle0), procs0 = self.start
        busy1, idle1 = _machine()
        totals: dict[str, float] = {"server": 0.0, "postgres": 0.0, "generator": 0.0, "other": 0.0}
        for pid, (comm, pgid, ticks) in _processes().items():
            before = procs0.get(pid)
            used = ticks - (before[2] if before and before[0] == comm else 0)
            totals[self._group(pid, comm, pgid)] += used / TICK
        accounted = sum(totals.values())
        # Busy time of processes that ended in the phase (and kernel threads' work) shows up only in the machine's
        # counter: give it to "other" so the groups add up to the busy time.
        totals["other"] += max(0.0, (busy1 - busy0) / TICK - accounted)
        totals["idle"] = (idle1 - idle0) / TICK
        self.seconds = totals

    def per_request(self, requests: int) -> str:
        """'server 0.41 · postgres 0.30 · generator 0.35 · other 0.02 · idle 0.01 ms per request'."""
        if not requests:
            return "no requests"
        parts = [f"{name} {1000 * s / requests:.2f}" for name, s in self.seconds.items()]
        return " · ".join(parts) + " ms of CPU per request"


def postgres_seconds() -> float:
    """CPU seconds of every PostgreSQL process so far, with its backends that have exited (the postmaster's children's
    times): a pgbench run's connections end before a second reading."""
    return sum(ticks for comm, _, ticks in _processes(children=True).values()
               if comm.startswith(("postgres", "postmaster"))) / TICK


def server_ratio(ping: CpuAccount, ping_requests: int, other: CpuAccount, other_requests: int) -> float:
    """The server's CPU per ping over its CPU per request of the other endpoint: the throughput ratio a server would
    reach whose clients and database run elsewhere (the load generator and PostgreSQL left out)."""
    return (ping.seconds["server"] / ping_requests) / (other.seconds["server"] / other_requests)


@contextmanager
def postgres_on_own_core(enabled: bool) -> Iterator[None]:
    """With `enabled`, pin every PostgreSQL process to the last core and this process (so the server it starts after
    this and its load generator) to the others, as a database on a host of its own would be; restored afterwards.
    Needs a local PostgreSQL this user may re-pin (root). Call it before starting threads: only the calling thread
    and what it starts afterwards move."""
    if not enabled:
        yield
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("BENCH_PG_OWN_CORE needs at least two cores")
    pids = [int(p) for p in subprocess.run(["pgrep", "postgres"], capture_output=True, text=True).stdout.split()]
    if not pids:
        raise SystemExit("BENCH_PG_OWN_CORE: no local PostgreSQL process found")
    before = {pid: os.sched_getaffinity(pid) for pid in pids}
    mine = os.sched_getaffinity(0)
    try:
        for pid in pids:
            os.sched_setaffinity(pid, {cores[-1]})
        os.sched_setaffinity(0, set(cores[:-1]))
        print(f"PostgreSQL pinned to core {cores[-1]} ({len(pids)} processes), the benchmark to {cores[:-1]}",
              flush=True)
        yield
    finally:
        for pid, affinity in before.items():
            with suppress(ProcessLookupError):
                os.sched_setaffinity(pid, affinity)
        os.sched_setaffinity(0, mine)
