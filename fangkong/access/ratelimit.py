"""Rate limits for the public entry-control pages (booking form, host search, visitor venue scan, visit pass).

Counters live in Django's cache (fixed windows), one per client IP and one per token (the venue code or booking
link), so neither one address hammering many codes nor many addresses hammering one code get through. Over the
limit the page answers 429 with a plain Chinese explanation and a Retry-After header. The limits are settings
(`ACCESS_RATE_LIMITS`, per scope: (requests per IP, requests per token, window seconds)).

With the default local-memory cache each server process counts on its own; configure a shared cache (Redis,
database) in production for one count across processes.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from fangkong.core.middleware import request_ip

# scope: (per IP, per token, window in seconds)
DEFAULT_LIMITS: dict[str, tuple[int, int, int]] = {
    "book": (30, 120, 600),          # the booking form: page views and submissions
    "host_search": (60, 240, 600),  # typing a name searches as you type (debounced)
    "venue_scan": (30, 600, 600),    # a venue code is scanned by many people at a busy gate
    "visit_pass": (60, 60, 600),     # one visitor refreshing their pass
}


def limits(scope: str) -> tuple[int, int, int]:
    return {**DEFAULT_LIMITS, **getattr(settings, "ACCESS_RATE_LIMITS", {})}[scope]


def _hit(key: str, window: int) -> int:
    """Count one request in the current window; returns the count so far."""
    bucket = f"fk:rl:{key}:{int(time.time() // window)}"
    if cache.add(bucket, 1, timeout=window + 5):
        return 1
    try:
        return cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window + 5)
        return 1


def check(request: HttpRequest, scope: str, token: str = "") -> int | None:
    """Count the request; the seconds to wait when over a limit, else None."""
    per_ip, per_token, window = limits(scope)
    ip = request_ip(request) or "unknown"
    over = _hit(f"{scope}:ip:{ip}", window) > per_ip
    if token:
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        over = _hit(f"{scope}:tok:{digest}", window) > per_token or over
    if over:
        return window - int(time.time()) % window
    return None


def too_many(request: HttpRequest, retry_after: int) -> HttpResponse:
    minutes = max(1, (retry_after + 59) // 60)
    response = render(request, "access/429.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited(scope: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorate a public view whose URL carries `token`: count per IP and per token."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            wait = check(request, scope, str(kwargs.get("token", "")))
            if wait is not None:
                return too_many(request, wait)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
