"""Set-based SQL helpers for writing many rows at once (re-evaluation of thousands of people).

On PostgreSQL: `= ANY(array)` instead of thousands of IN placeholders, ids taken from the sequence in one query, and
COPY for the inserts. Elsewhere (SQLite in the smoke tests) the same calls fall back to plain SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models, transaction


def in_ids(column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    """A WHERE fragment `column IN ids` with its parameters."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    if not ids:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def allocate_ids(model: type[models.Model], n: int) -> list[int] | None:
    """n primary keys from the table's sequence (PostgreSQL), so children can point at rows before they are copied."""
    if connection.vendor != "postgresql" or n == 0:
        return None
    table = model._meta.db_table
    pk = model._meta.pk.column  # type: ignore[union-attr]
    rows = fetch("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, n])
    return [r[0] for r in rows]


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert rows with COPY (PostgreSQL); values must already be in database form (JSON as text)."""
    cols = ", ".join(columns)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})", list(rows))


def copy_rows_skip_conflicts(model: type[models.Model], values: Sequence[dict[str, Any]]) -> None:
    """Insert rows, skipping those that hit a unique constraint: COPY into a temporary table, then one INSERT …
    ON CONFLICT DO NOTHING. Columns not given take the model field's default (Django sets no database defaults)."""
    if not values:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = [str(f.column) for f in fields]
    defaults = {f.attname: (f.get_default() if f.has_default() else None) for f in fields}
    rows = [[v.get(f.attname, defaults[f.attname]) for f in fields] for v in values]
    table = model._meta.db_table
    cols = ", ".join(columns)
    if connection.vendor != "postgresql":
        with connection.cursor() as cur:
            cur.executemany(
                f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(columns))})", rows)
        return
    tmp = f"tmp_{table}"
    with transaction.atomic(), connection.cursor() as cur:
        # Same column types, no constraints (the id comes from the real table's sequence on insert).
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
        cur.execute(f"TRUNCATE {tmp}")
        copy_rows(tmp, columns, rows)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {tmp} ON CONFLICT DO NOTHING")
        cur.execute(f"TRUNCATE {tmp}")
