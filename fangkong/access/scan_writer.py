"""Writing a batch's scans while the batch is still being decided (PostgreSQL pipeline mode).

An offline gate uploads up to 1,000 scans at once. Deciding them is Python's work, writing them into a table with
eight indexes is PostgreSQL's, and done one after the other a batch took the sum of both while the machine's other
core waited. `ScanWriter` sends the scans in chunks as they are decided: the server inserts one chunk while Python
decides the next, and the ids are read back at the end (`core.fastsql.pipelined`).

Each chunk is one `INSERT … SELECT FROM unnest(arrays)`: one array parameter per column, bound server-side, instead
of one placeholder per value. A duplicate (device, client key) raises IntegrityError when the ids are read, as
bulk_create does, and the caller's transaction rolls the whole batch back. SQLite and small batches use bulk_create.
"""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any

import psycopg
from django.db import connection
from django.utils import timezone

from fangkong.access.models import Scan
from fangkong.core import fastsql, model_rows

# Scans per statement: small enough that the last chunk (which nothing overlaps) is short, large enough that each
# statement's fixed cost stays small. The first chunk is smaller, so that the server starts inserting early.
CHUNK = 200
FIRST_CHUNK = 50


def _columns() -> list[Any]:
    return [f for f in Scan._meta.concrete_fields if not f.primary_key]


@functools.cache
def insert_sql() -> str:
    cols = _columns()
    types = [("text" if f.get_internal_type() == "JSONField" else f.db_type(connection).split("(")[0]) for f in cols]
    selects = [f"u.c{n}::jsonb" if f.get_internal_type() == "JSONField" else f"u.c{n}" for n, f in enumerate(cols)]
    source = (f"SELECT {', '.join(selects)} FROM unnest({', '.join(f'%b::{t}[]' for t in types)}) "
              f"WITH ORDINALITY AS u({', '.join(f'c{n}' for n in range(len(cols)))}, ord) ORDER BY u.ord")
    q = connection.ops.quote_name
    return (f"INSERT INTO {q(Scan._meta.db_table)} ({', '.join(q(f.column) for f in cols)}) {source} "
            "RETURNING id")


@functools.cache
def _defaults() -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """(fixed defaults by column, (column, callable default) pairs)."""
    fields = Scan._meta.concrete_fields
    return ({f.attname: f.get_default() for f in fields},
            tuple((f.attname, f.default) for f in fields if f.has_default() and callable(f.default)))


def new_scan(**values: Any) -> Scan:
    """A new Scan from column values (`venue_id`, not `venue`) without `Model.__init__` (`core.model_rows`), for
    the up to 1,000 a batch builds. Columns not given take their default."""
    fixed, computed = _defaults()
    if not values.keys() <= fixed.keys():
        raise TypeError(f"Scan has no column {sorted(values.keys() - fixed.keys())}")
    merged = {**fixed, **values}
    for attname, default in computed:
        if attname not in values:
            merged[attname] = default()
    return model_rows.instance(Scan, merged)


def _arrays(scans: list[Scan]) -> list[list[Any]]:
    # auto_now_add, as bulk_create's pre_save would do it, but one moment for the whole chunk.
    now = timezone.now()
    for obj in scans:
        obj.created_at = now
    arrays: list[list[Any]] = []
    for f in _columns():
        # Ints, strings, aware datetimes, Decimals, booleans and None, which psycopg sends as typed arrays
        # (server-side binding: nothing is quoted into the statement text).
        values = [getattr(obj, f.attname) for obj in scans]
        if f.get_internal_type() == "JSONField":
            values = [None if v is None else json.dumps(v, cls=f.encoder, ensure_ascii=False) for v in values]
        arrays.append(values)
    return arrays


def _saved(scans: list[Scan], ids: list[int]) -> None:
    alias = connection.alias
    for obj, pk in zip(scans, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias


class ScanWriter:
    """`add` the scans of a batch as they are decided, then `finish` once: every scan has its id afterwards.

    Between the first chunk sent and `finish`, the connection is in pipeline mode: the caller must not run other
    queries in between (the decisions are pure; settings are read before).
    """

    def __init__(self) -> None:
        self.pending: list[Scan] = []
        self.sent: list[tuple[list[Scan], psycopg.Cursor[Any]]] = []
        self._pipeline: contextlib.ExitStack | None = None
        self._immediate: psycopg.Cursor[Any] | None = None

    def add(self, scan: Scan) -> None:
        self.pending.append(scan)
        if len(self.pending) >= (CHUNK if self.sent else min(FIRST_CHUNK, CHUNK)) and fastsql.available():
            self._send()

    def _send(self) -> None:
        if self._pipeline is None:
            self._pipeline = contextlib.ExitStack()
            self._pipeline.enter_context(fastsql.pipelined())
            if connection.in_atomic_block:
                # Django's foreign keys are checked at commit (INITIALLY DEFERRED): four look-ups per scan that
                # PostgreSQL would run while Python waits for the commit. Checked at the end of each chunk instead,
                # they run while Python decides the next one. Deferred again in finish(), as Django's own
                # check_constraints() does.
                self._immediate = fastsql.send("SET CONSTRAINTS ALL IMMEDIATE", (), prepare=False)
        self.sent.append((self.pending, fastsql.send(insert_sql(), _arrays(self.pending))))
        self.pending = []

    def finish(self) -> None:
        """Send what is left, read every chunk's ids (raising IntegrityError on a duplicate) and leave pipeline
        mode."""
        if self._pipeline is None:
            if len(self.pending) < 2 or not fastsql.available():
                Scan.objects.bulk_create(self.pending)
            else:
                _saved(self.pending, [row[0] for row in fastsql.fetch_all(insert_sql(), _arrays(self.pending))])
            return
        with self._pipeline:
            if self.pending:
                self._send()
            for scans, cur in self.sent:
                with cur:
                    _saved(scans, [row[0] for row in cur.fetchall()])
            if self._immediate is not None:
                self._immediate.close()
                fastsql.send("SET CONSTRAINTS ALL DEFERRED", (), prepare=False).close()

    def __enter__(self) -> ScanWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Finish when the block ends normally; after an error only leave pipeline mode (the caller's transaction
        is rolled back)."""
        if exc_type is None:
            self.finish()
        elif self._pipeline is not None:
            with contextlib.suppress(Exception):
                self._pipeline.close()
