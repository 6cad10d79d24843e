"""core.fastsql: the hot paths' statements are really prepared on the server (ADR 0010).

Django turns psycopg's preparing off for every connection; settings turn it back on for the statements that ask.
Without that, every `prepare=True` was silently sent as text and planned again on each request.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from fangkong.core import fastsql

pytestmark = [pytest.mark.django_db, pytest.mark.skipif(connection.vendor != "postgresql",
                                                        reason="prepared statements are PostgreSQL's")]

PROBE = "SELECT %s::int + 1 AS fastsql_probe"


def prepared_statements() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cur.fetchall()]


def test_a_statement_that_asks_is_prepared_once_per_connection():
    assert fastsql.fetch_one(PROBE, [1]) == (2,)
    assert fastsql.fetch_one(PROBE, [41]) == (42,)
    assert [s for s in prepared_statements() if "fastsql_probe" in s] == ["SELECT $1::int + 1 AS fastsql_probe"]


def test_a_statement_that_does_not_ask_is_never_prepared():
    for i in range(10):  # more than psycopg's default threshold of 5
        assert fastsql.fetch_all("SELECT %s::int AS fastsql_unprepared", [i], prepare=False) == [(i,)]
    assert not [s for s in prepared_statements() if "fastsql_unprepared" in s]


def test_django_queries_are_never_prepared():
    for _ in range(10):
        with connection.cursor() as cur:
            cur.execute("SELECT 1 AS django_probe")
    assert not [s for s in prepared_statements() if "django_probe" in s]


@pytest.mark.django_db(transaction=True)  # outside a transaction, as a request runs: close() really disconnects
def test_one_cursor_is_kept_per_connection_and_dropped_when_django_reconnects():
    # A new psycopg cursor per statement cost as much client CPU as the statement (its adapters looked up again).
    assert fastsql.fetch_one(PROBE, [1]) == (2,)
    kept = fastsql._shared_cursor(fastsql._wrapper())
    assert fastsql.fetch_all(PROBE, [2]) == [(3,)]
    assert fastsql.execute("SELECT 1", []) == 1
    assert fastsql._shared_cursor(fastsql._wrapper()) is kept
    # timestamptz read natively has its own kept cursor: the default one keeps Django's loader.
    assert fastsql._shared_cursor(fastsql._wrapper(), native_timestamps=True) is not kept

    old_raw = connection.connection
    connection.close()
    assert fastsql.fetch_one(PROBE, [3]) == (4,)  # a new connection, and a new cursor on it
    assert connection.connection is not old_raw
    fresh = fastsql._shared_cursor(fastsql._wrapper())
    assert fresh is not kept and fresh.connection is connection.connection


def test_a_failed_statement_leaves_the_kept_cursor_usable():
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        fastsql.fetch_one("SELECT 1 / %s::int", [0])
    assert fastsql.fetch_one(PROBE, [5]) == (6,)


def test_native_timestamps_read_the_same_instants_as_djangos_loader():
    from django.utils import timezone
    from psycopg.types.datetime import TimestamptzLoader

    at = timezone.now()
    sql = "SELECT %s::timestamptz, NULL::timestamptz AS fastsql_native"
    django_row = fastsql.fetch_one(sql, [at])
    native_row = fastsql.fetch_one(sql, [at], native_timestamps=True)
    assert native_row == django_row == (at, None)
    assert native_row[0].utcoffset() == django_row[0].utcoffset() == timedelta(0)
    native = fastsql._shared_cursor(fastsql._wrapper(), native_timestamps=True)
    default = fastsql._shared_cursor(fastsql._wrapper())
    # psycopg's own loader (its C version where psycopg has one), not Django's Python subclass of it.
    assert native.adapters.get_loader(1184, 0).__name__ == TimestamptzLoader.__name__
    assert default.adapters.get_loader(1184, 0).__name__ != TimestamptzLoader.__name__


def test_the_token_user_read_natively_matches_the_orm(world):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from fangkong.core.tokens import _token_load, hash_token, token_issue

    world.alice.last_login = timezone.now()
    world.alice.save(update_fields=["last_login"])
    raw = token_issue(user=world.alice, name="t")[1]
    loaded = _token_load(hash_token(raw)).user
    fresh = get_user_model().objects.get(pk=world.alice.pk)
    for field in ("last_login", "date_joined"):
        assert getattr(loaded, field) == getattr(fresh, field)
        assert getattr(loaded, field).utcoffset() == timedelta(0)
