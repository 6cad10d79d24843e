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
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.datetime import TimestamptzLoader

PREPARE = os.environ.get("FANGKONG_PREPARED_STATEMENTS", "1") != "0"


def available() -> bool:
    """The hot paths use this module on PostgreSQL only; SQLite keeps the general (ORM) path."""
    return connection.vendor == "postgresql"


def _wrapper() -> BaseDatabaseWrapper:
    """This thread's connection wrapper, looked up once per call: every attribute read through the
    `django.db.connection` proxy looks the thread's connection up again (a few µs each)."""
    conn = connections[DEFAULT_DB_ALIAS]
    conn.ensure_connection()
    return conn


def _cursor(conn: BaseDatabaseWrapper) -> psycopg.Cursor[Any]:
    # psycopg.Cursor binds server-side (Django's own cursors are ClientCursors, which cannot prepare).
    return psycopg.Cursor(conn.connection)


# The cursors fetch_one, fetch_all and execute keep on Django's connection wrapper (one per thread, as Django's
# connections are): (the psycopg connection they belong to, {native_timestamps: cursor}).
_SHARED_ATTR = "_fangkong_fastsql_cursors"


def _shared_cursor(conn: BaseDatabaseWrapper, native_timestamps: bool = False) -> psycopg.Cursor[Any]:
    """A cursor kept for the statements that run and are read within one call.

    A new psycopg cursor costs about as much client CPU as running a one-row prepared statement on a kept one
    (≈ 45 µs against ≈ 40 µs, bench/README.md), mostly to copy the connection's adapters. A kept cursor has its
    copy (the dumpers and loaders themselves are still made per statement: psycopg starts each execute with a new
    Transformer). It is dropped when Django opens a new connection; `send`
    still makes one cursor per statement, because in pipeline mode several are in flight.
    """
    raw = conn.connection
    kept: tuple[Any, dict[bool, psycopg.Cursor[Any]]] | None = conn.__dict__.get(_SHARED_ATTR)
    if kept is None or kept[0] is not raw:
        kept = (raw, {})
        conn.__dict__[_SHARED_ATTR] = kept
    cur = kept[1].get(native_timestamps)
    if cur is None or cur.closed:
        cur = psycopg.Cursor(raw)
        if native_timestamps:
            use_native_timestamps(cur)
        kept[1][native_timestamps] = cur
    return cur


def _execute(conn: BaseDatabaseWrapper, cur: psycopg.Cursor[Any], sql: str,
             params: Sequence[Any] | Mapping[str, Any], prepare: bool | None = None) -> None:
    # Django's error wrapper: psycopg's errors surface as django.db's (IntegrityError …), as from any cursor.
    prepare = PREPARE if prepare is None else prepare and PREPARE
    if not conn.queries_logged:
        with conn.wrap_database_errors:
            cur.execute(sql, params, prepare=prepare)
        return
    started = time.monotonic()
    try:
        with conn.wrap_database_errors:
            cur.execute(sql, params, prepare=prepare)
    finally:
        conn.queries_log.append({"sql": f"{sql.strip()} -- {params!r}",
                                 "time": f"{time.monotonic() - started:.3f}"})


def fetch_one(sql: str, params: Sequence[Any] | Mapping[str, Any], *, native_timestamps: bool = False
              ) -> tuple[Any, ...] | None:
    """Run one fixed statement and return its first row (None when it returns none). `native_timestamps`: see
    `use_native_timestamps`."""
    conn = _wrapper()
    cur = _shared_cursor(conn, native_timestamps)
    _execute(conn, cur, sql, params)
    return cur.fetchone()


def use_native_timestamps(cur: psycopg.Cursor[Any]) -> None:
    """Read timestamptz columns on this psycopg cursor with psycopg's own loader (in C) instead of Django's Python
    subclass of it, which costs ≈ 10 µs a value, and as much again to make it: psycopg makes a result's loaders
    anew on every execute, even on a kept cursor (a new Transformer per query). The values are the same aware
    datetimes: Django keeps the connection's TimeZone at UTC, so both give UTC; only the tzinfo object differs."""
    cur.adapters.register_loader("timestamptz", TimestamptzLoader)


def fetch_all(sql: str, params: Sequence[Any] | Mapping[str, Any], *, prepare: bool = True,
              native_timestamps: bool = False) -> list[tuple[Any, ...]]:
    """All rows of one statement. `prepare=False` still binds server-side (large arrays are sent as arrays, not
    quoted into the text), without keeping a prepared statement for a text that varies. `native_timestamps`: see
    `use_native_timestamps`."""
    conn = _wrapper()
    cur = _shared_cursor(conn, native_timestamps)
    _execute(conn, cur, sql, params, prepare)
    return cur.fetchall()


def execute(sql: str, params: Sequence[Any] | Mapping[str, Any], *, prepare: bool = True) -> int:
    """Run one statement for its effect; returns the row count."""
    conn = _wrapper()
    cur = _shared_cursor(conn)
    _execute(conn, cur, sql, params, prepare)
    return cur.rowcount


@contextmanager
def pipelined() -> Iterator[None]:
    """Pipeline mode on Django's connection: statements started with `send` go to the server at once and run while
    the caller goes on; reading a cursor's rows waits for that statement. psycopg's errors surface as django.db's,
    when the rows are read or when the block ends."""
    conn = _wrapper()
    with conn.wrap_database_errors, conn.connection.pipeline():
        yield


def send(sql: str, params: Sequence[Any] | Mapping[str, Any], *, prepare: bool = True) -> psycopg.Cursor[Any]:
    """Start one statement inside `pipelined()` and return its cursor without waiting for the result; the caller
    reads its rows (`fetchall()`) and closes it before the block ends."""
    conn = _wrapper()
    cur = _cursor(conn)
    _execute(conn, cur, sql, params, prepare)
    return cur
