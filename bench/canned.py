"""Replace a function by one that computes its first result once and returns it ever after (benchmarks only).

Used to measure an endpoint's "floor": the same request with its own work gone, so that what remains is Django,
Ninja, authentication, the body's validation and the response (`hotpath_cpu.py` in-process, `ratio_ceiling.py`
over HTTP through `canned_wsgi.py`).
"""

from __future__ import annotations

from typing import Any


def canned(module: Any, name: str) -> None:
    original = getattr(module, name)
    memo: dict[str, Any] = {}

    def once(*args: Any, **kwargs: Any) -> Any:
        if "r" not in memo:
            memo["r"] = original(*args, **kwargs)
        return memo["r"]

    setattr(module, name, once)
