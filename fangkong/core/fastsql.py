"""Prepared statements on Django's own PostgreSQL connection, for the few hot write paths (ADR 0010).

A check-in or a gate scan is one or two fixed statements. Through the ORM, building and compiling them cost more CPU
than PostgreSQL spends running them, and Django's default client-side binding sends the whole text each time, so the
server parses and plans it again on every request. Here the statement text is fixed per call site, the parameters
are bound server-side and psycopg prepares the statement once per connection (`prepare=True`): each later call sends
only the statement's name and its parameters.

The cursor runs on the connection Django manages: inside `transaction.atomic()` it takes part in the same
transaction, and in autocommit mode a single statement commits by itself. Django's execute wrappers are bypassed;
its query log is kept when something reads it (DEBUG, `CaptureQueriesContext`, `django_assert_num_queries`).

Prepared statements need a direct connection or a pooler that tracks them (PgBouncer ≥ 1.21 with
`max_prepared_statements`); `FANGKONG_PREPARED_STATEMENTS=0` turns preparing off (the text is then sent each time).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from psycopg.types.datetime import TimestamptzLoader

PREPARE = os.environ.get("FANGKONG_PREPARED_STATEMENTS", "1") != "0"


def available() -> bool:
    """The hot paths use this module on PostgreSQL only; SQLite keeps the general (ORM) path."""
    return connection.vendor == "postgresql"


def _cursor() -> psycopg.Cursor[Any]:
    connection.ensure_connection()
    raw = connection.connection
    # psycopg.Cursor binds server-side (Django's own cursors are ClientCursors, which cannot prepare).
    return psycopg.Cursor(raw)


def _execute(cur: psycopg.Cursor[Any], sql: str, params: Sequence[Any] | Mapping[str, Any],
             prepare: bool | None = None) -> None:
    # Django's error wrapper: psycopg's errors surface as django.db's (IntegrityError …), as from any cursor.
    prepare = PREPARE if prepare is None else prepare and PREPARE
    if not connection.queries_logged:
        with connection.wrap_database_errors:
            cur.execute(sql, params, prepare=prepare)
        return
    started = time.monotonic()
    try:
        with connection.wrap_database_errors:
            cur.execute(sql, params, prepare=prepare)
    finally:
        connection.queries_log.append({"sql": f"{sql.strip()} -- {params!r}",
                                       "time": f"{time.monotonic() - started:.3f}"})


def fetch_one(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Run one fixed statement and return its first row (None when it returns none)."""
    with _cursor() as cur:
        _execute(cur, sql, params)
        return cur.fetchone()


def use_native_timestamps(cur: psycopg.Cursor[Any]) -> None:
    """Read timestamptz columns on this psycopg cursor with psycopg's own loader (in C) instead of Django's Python
    subclass of it, which costs ≈ 10 µs a value. The values are the same aware datetimes: Django keeps the
    connection's TimeZone at UTC, so both give UTC; only the tzinfo object differs."""
    cur.adapters.register_loader("timestamptz", TimestamptzLoader)


def fetch_all(sql: str, params: Sequence[Any] | Mapping[str, Any], *, prepare: bool = True,
              native_timestamps: bool = False) -> list[tuple[Any, ...]]:
    """All rows of one statement. `prepare=False` still binds server-side (large arrays are sent as arrays, not
    quoted into the text), without keeping a prepared statement for a text that varies. `native_timestamps`: see
    `use_native_timestamps`."""
    with _cursor() as cur:
        if native_timestamps:
            use_native_timestamps(cur)
        _execute(cur, sql, params, prepare)
        return cur.fetchall()


def execute(sql: str, params: Sequence[Any] | Mapping[str, Any], *, prepare: bool = True) -> int:
    """Run one statement for its effect; returns the row count."""
    with _cursor() as cur:
        _execute(cur, sql, params, prepare)
        return cur.rowcount


@contextmanager
def pipelined() -> Iterator[None]:
    """Pipeline mode on Django's connection: statements started with `send` go to the server at once and run while
    the caller goes on; reading a cursor's rows waits for that statement. psycopg's errors surface as django.db's,
    when the rows are read or when the block ends."""
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def send(sql: str, params: Sequence[Any] | Mapping[str, Any], *, prepare: bool = True) -> psycopg.Cursor[Any]:
    """Start one statement inside `pipelined()` and return its cursor without waiting for the result; the caller
    reads its rows (`fetchall()`) and closes it before the block ends."""
    cur = _cursor()
    _execute(cur, sql, params, prepare)
    return cur
