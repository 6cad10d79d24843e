"""A small per-process cache for API authentication: bearer token → user, user → memberships (ADR 0009).

Every API request used to read its token, its user and the user's memberships (a six-table join) before doing any
work of its own; on the hot paths (a check-in, a gate scan) that was most of the request. Entries live for
`AUTH_CACHE_TTL` seconds (default 10) and are dropped explicitly when what they were built from changes:

- in the process that made the change: at once (the signal handlers below, and again when the transaction commits,
  so a request that read the old rows while the change was being made cannot put them back for long);
- in every other process: a version number kept in Django's cache (`CACHES["default"]`) is bumped; each process
  compares it with the one it last saw at most every `AUTH_CACHE_CHECK` seconds (default 1) and drops everything
  when it moved. With a shared cache (Redis, database) another process therefore agrees within about one second;
  with the per-process default (LocMemCache) the version cannot travel, and the bound is the TTL (10 s).

What invalidates: a token saved or deleted (revocation), a user saved or deleted (deactivation, superuser flag),
a membership saved or deleted, a tenancy node saved (its path moves scopes). Bulk `QuerySet.update()` sends no
signal: code that changes those rows in bulk must call `invalidate()` itself.

Nothing negative is cached (an unknown or revoked token always costs its query), and entries are values, not live
objects: callers get a copy of the cached user.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "fangkong:authcache:version"
MAX_ENTRIES = 50_000


def ttl() -> float:
    return float(getattr(settings, "AUTH_CACHE_TTL", 10.0))


def check_interval() -> float:
    return float(getattr(settings, "AUTH_CACHE_CHECK", 1.0))


class _State:
    def __init__(self) -> None:
        self.entries: dict[Hashable, tuple[float, int | None, Any]] = {}
        self.generation = 0  # bumped on every local invalidation: a load that straddles one is not stored
        self.seen_version: Any = None
        self.checked_at = 0.0
        self.lock = threading.Lock()


_state = _State()


def _sync_version(now: float) -> None:
    """Drop everything when another process bumped the shared version (checked at most every interval)."""
    if now - _state.checked_at < check_interval():
        return
    _state.checked_at = now
    try:
        version = cache.get(VERSION_KEY)
    except Exception:  # a cache outage must not take the API down: fall back to the TTL
        return
    if version != _state.seen_version:
        with _state.lock:
            _state.seen_version = version
            _state.entries.clear()
            _state.generation += 1


def generation() -> int:
    """Take this before loading from the database; pass it to `put` (a change in between voids the load)."""
    return _state.generation


def get(key: Hashable) -> Any | None:
    now = time.monotonic()
    _sync_version(now)
    hit = _state.entries.get(key)
    if hit is None or hit[0] <= now:
        return None
    return hit[2]


def put(key: Hashable, value: Any, *, user_id: int | None, generation: int, seconds: float | None = None) -> None:
    """Store `value` for `seconds` (default: AUTH_CACHE_TTL), unless an invalidation happened since `generation`."""
    with _state.lock:
        if generation != _state.generation:
            return
        if len(_state.entries) >= MAX_ENTRIES:
            _state.entries.clear()
        _state.entries[key] = (time.monotonic() + (ttl() if seconds is None else seconds), user_id, value)


def _forget_local(user_id: int | None) -> None:
    with _state.lock:
        _state.generation += 1
        if user_id is None:
            _state.entries.clear()
        else:
            for key in [k for k, v in _state.entries.items() if v[1] == user_id]:
                del _state.entries[key]


def _bump_shared() -> None:
    try:
        version = uuid.uuid4().hex
        cache.set(VERSION_KEY, version, None)
        # Our own bump needs no second clear here: we already forgot what the change touched.
        _state.seen_version = version
    except Exception:  # pragma: no cover - the TTL still bounds staleness
        pass


def invalidate(user_id: int | None = None) -> None:
    """Forget what is cached about `user_id` (everything when None), here at once and elsewhere via the version.

    Called again when the surrounding transaction commits: a concurrent request may have read the rows before the
    change committed and cached them in between.
    """
    _forget_local(user_id)
    _bump_shared()
    if transaction.get_connection().in_atomic_block:
        def again() -> None:
            _forget_local(user_id)
            _bump_shared()

        transaction.on_commit(again)


def forget(key: Hashable) -> None:
    """Forget one entry here at once (and on commit), and tell other processes through the version."""

    def drop() -> None:
        with _state.lock:
            _state.generation += 1
            _state.entries.pop(key, None)
        _bump_shared()

    drop()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(drop)


def clear() -> None:
    """Tests and benchmarks: start empty."""
    _forget_local(None)


def receiver_for(user_of: Callable[[Any], int | None]) -> Callable[..., None]:
    """A signal handler that invalidates the user `user_of(instance)` names (None: everyone)."""

    def handler(sender: Any, instance: Any, **kwargs: Any) -> None:
        invalidate(user_of(instance))

    return handler
