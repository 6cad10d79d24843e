"""The one-statement common check-in (ADR 0010): what it takes, what it leaves to the general path, and that both
answer the same."""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fangkong.conftest import make_user
from fangkong.core.tokens import token_issue
from fangkong.health import checkin_fast, services
from fangkong.health.models import Checkin, CheckinSetting, SymptomFlag
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2021, 11, 10)
NOW = datetime(2021, 11, 10, 8, 30, tzinfo=SH)


@pytest.fixture
def ann(checkin_member):
    person = checkin_member()
    with time_machine.travel(NOW, tick=False):
        services.obligations_generate_for_day(day=DAY)
    return person


@pytest.fixture
def taken(monkeypatch):
    """Records what the fast path returned for each request (None: it handed over to the general path)."""
    seen: list[object] = []
    original = checkin_fast.checkin_submit_common

    def spy(**kwargs):
        result = original(**kwargs)
        seen.append(result)
        return result

    monkeypatch.setattr(checkin_fast, "checkin_submit_common", spy)
    return seen


def post(client, user, data, token=None):
    raw = token or token_issue(user=user, name="t")[1]
    return client.post("/api/v1/checkins", json.dumps(data), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {raw}")


def general_path_body(client, user, data, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(checkin_fast, "checkin_submit_common", lambda **kw: None)
        return post(client, user, data)


@time_machine.travel(NOW, tick=False)
def test_common_checkin_stores_fulfils_and_answers_like_the_general_path(client, ann, taken, monkeypatch):
    r = post(client, ann.user, {"temperature": "36.6", "client_key": "k1", "device_id": "phone", "note": "好"})
    assert r.status_code == 201, r.content
    assert taken and taken[-1] is not None and taken[-1].created
    body = r.json()
    c = Checkin.objects.get()
    assert body["id"] == c.pk and c.person_id == ann.pk and c.unit_id == ann.unit_id and c.slot == "day"
    assert str(c.temperature) == "36.6" and c.note == "好" and c.device_id == "phone" and c.client_key == "k1"
    assert c.submitted_by_id == ann.user_id and not c.abnormal and not c.proxy and c.ip == "127.0.0.1"
    ob = Obligation.objects.get(person=ann, day=DAY)
    assert ob.status == "fulfilled" and ob.evidence_id == c.pk and ob.evidence_type == "health.checkin"

    # The general path's answer for the same kind of check-in has the same fields and the same kinds of values.
    Checkin.objects.all().delete()
    Obligation.objects.filter(pk=ob.pk).update(status="due", evidence_id=None, fulfilled_at=None)
    other = general_path_body(client, ann.user, {"temperature": "36.6", "client_key": "k2", "device_id": "phone",
                                                 "note": "好"}, monkeypatch).json()
    assert set(other) == set(body)
    for key in body:
        if key not in ("id", "submitted_at"):
            assert body[key] == other[key], key


@time_machine.travel(NOW, tick=False)
def test_a_cold_checkin_is_two_statements(client, ann, taken):
    """A member's token is used once a day, so the auth cache is cold for nearly every check-in: the token, its
    user, roles and organisations come in one statement, and the check-in in one more. No memberships query."""
    from fangkong.core import authcache, tokens

    raw = token_issue(user=ann.user, name="t")[1]
    authcache.clear()
    # The batched last_used_at write runs at most once a minute per process, and in a fresh process on the first
    # token it sees: not part of a check-in. Without this the test failed when it ran first in its process.
    tokens._flushed_at[0] = time.monotonic()
    services.uniform_setting(ann.organization_id)  # shared by all the organisation's members: warm
    with CaptureQueriesContext(connection) as q:
        r = post(client, ann.user, {"temperature": "36.6", "client_key": "cold"}, token=raw)
    assert r.status_code == 201, r.content
    assert taken[-1] is not None and taken[-1].created
    assert len(q.captured_queries) == 2, [x["sql"][:80] for x in q.captured_queries]
    assert "core_apitoken" in q.captured_queries[0]["sql"] and "health_checkin" in q.captured_queries[1]["sql"]


@time_machine.travel(NOW, tick=False)
def test_replayed_client_key_stores_once_and_returns_the_first(client, ann, taken):
    first = post(client, ann.user, {"temperature": "36.5", "client_key": "same"})
    again = post(client, ann.user, {"temperature": "36.9", "client_key": "same"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"]
    assert again.json()["temperature"] == "36.5"
    assert Checkin.objects.count() == 1
    assert taken[-1] is not None and not taken[-1].created


@time_machine.travel(NOW, tick=False)
def test_fever_goes_to_the_general_path_and_raises_the_flag(client, ann, taken):
    r = post(client, ann.user, {"temperature": "38.0"})
    assert r.status_code == 201 and r.json()["abnormal"] and r.json()["instruction"]
    assert taken == [None]
    assert SymptomFlag.objects.filter(person=ann).exists()


@time_machine.travel(NOW, tick=False)
def test_a_person_under_a_measure_is_left_to_the_general_path(client, ann, taken):
    Person.objects.filter(pk=ann.pk).update(measure_kind="home_quarantine")
    r = post(client, ann.user, {"temperature": "36.5"})
    assert r.status_code == 201, r.content
    assert taken == [None]  # the statement's guard found no person to insert for
    # The general path picks the slot among the person's open obligations (here the day's, generated before).
    assert Obligation.objects.get(person=ann, day=DAY).status == "fulfilled"


@time_machine.travel(NOW, tick=False)
def test_a_membership_elsewhere_is_only_a_hint(client, world, make_person, taken):
    """The user is a member of another organisation than their person's: the statement inserts nothing and the
    general path stores the check-in under the person's own organisation."""
    user = make_user("bo")
    tenancy.membership_grant(user=user, role=Role.MEMBER, organization=world.other_org, actor=world.admin)
    bo = make_person(unit=world.workshop1, name="波波", user=user)
    r = post(client, user, {"temperature": "36.5"})
    assert r.status_code == 201, r.content
    assert taken == [None]
    assert Checkin.objects.get().organization_id == bo.organization_id == world.factory.pk


@time_machine.travel(NOW, tick=False)
def test_settings_that_differ_by_unit_or_ask_twice_a_day_are_left_to_the_general_path(client, world, ann, taken):
    setting = CheckinSetting.objects.get(organization=world.factory)
    setting.frequency = CheckinSetting.Frequency.TWICE
    setting.save()
    r = post(client, ann.user, {"temperature": "36.5"})
    assert r.status_code == 201 and taken == [None]
    assert Checkin.objects.get().person_id == ann.pk


@time_machine.travel(NOW, tick=False)
def test_inactive_person_and_bad_temperature(client, ann, taken):
    r = post(client, ann.user, {"temperature": "45"})
    assert r.status_code == 400 and "temperature" in r.json()["errors"]
    Person.objects.filter(pk=ann.pk).update(is_active=False)
    r = post(client, ann.user, {"temperature": "36.5"})
    assert r.status_code == 404
    assert Checkin.objects.count() == 0


@time_machine.travel(NOW, tick=False)
def test_back_dated_or_for_others_is_the_general_path(client, ann, taken):
    r = post(client, ann.user, {"temperature": "36.5", "date": "2021-11-09"})
    assert r.status_code == 201 and r.json()["date"] == "2021-11-09"
    r = post(client, ann.user, {"temperature": "36.5", "person_id": ann.pk})
    assert r.status_code == 201
    assert taken == [None]  # the back-dated one; the second never asked (a person_id is the general path)


def _generic_plan(sql: str, values: dict[str, str]) -> str:
    """EXPLAIN of `sql` as PostgreSQL runs a prepared statement once it keeps a generic plan (no values known)."""
    import re

    from django.db import connection

    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", number, sql)
    with connection.cursor() as cur:
        cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cur.execute(f"PREPARE generic_probe AS {text}")
        cur.execute(f"EXPLAIN EXECUTE generic_probe({', '.join(values[n] for n in names)})")
        plan = "\n".join(row[0] for row in cur.fetchall())
        cur.execute("DEALLOCATE generic_probe")
    return plan


def test_the_prepared_statement_keeps_index_lookups_under_a_generic_plan(ann):
    """After a few executions PostgreSQL may reuse one generic plan for every caller: it must still find the person
    by user id and the obligation by (kind, subject), never by scanning an organisation or every open obligation."""
    plan = _generic_plan(checkin_fast._SQL, {
        "user": "1", "org": "1", "day": "'2021-11-10'", "temp": "36.5", "note": "''", "now": "now()",
        "key": "'k'", "device": "'d'", "ip": "NULL", "fulfilled": "'fulfilled'", "due": "'due'",
        "overdue": "'overdue'",
    })
    assert "people_person_user_id_key" in plan, plan
    assert "obligation_unique_window" in plan and "subject_id = $" in plan, plan
    assert "Seq Scan" not in plan, plan
