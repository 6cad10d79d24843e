"""The single-scan hot path (scan_fast.scan_entry_common): two round trips for a warm entry scan, with the same
decision, replay, scope, health-code and audit behaviour as the general path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangkong.access import services
from fangkong.access.models import Scan
from fangkong.core import authcache
from fangkong.core.models import AuditEvent

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path is PostgreSQL's")


def _scan(caller, venue, person, **extra):
    return caller.post("/scans", {"venue_id": venue.pk, "person_id": person.pk, "at": timezone.now().isoformat(),
                                  **extra})


def test_warm_entry_scan_is_two_statements_and_audits_a_new_colour(world, make_person, gate_venue, api):
    authcache.clear()
    p1, p2 = make_person(), make_person()
    alice = api(world.alice)
    assert _scan(alice, gate_venue, p1, temperature="36.5").status_code == 201  # warms token, memberships, venue
    with CaptureQueriesContext(connection) as q:
        r = _scan(alice, gate_venue, p2, temperature="36.4", health_code="yellow", device_id="g", client_key="k9")
    assert r.status_code == 201, r.content
    # Tests read the organisation's access setting afresh each time (production keeps it 30 s): not counted.
    statements = [x["sql"] for x in q.captured_queries if "access_accesssetting" not in x["sql"]]
    assert [x.split()[0] for x in statements] == ["SELECT", "WITH"]
    assert "people_person" in statements[0]
    body = r.json()
    assert body["decision"] == "refuse" and [x["code"] for x in body["reasons"]] == ["health_code_yellow"]
    p2.refresh_from_db()
    assert p2.health_code == "yellow" and p2.health_code_at is not None
    event = AuditEvent.objects.get(action="person.health_code", object_id=str(p2.pk))
    assert event.changes == {"health_code": ["", "yellow"]} and event.actor == world.alice
    scan = Scan.objects.get(pk=body["id"])
    assert (scan.recorded_by, scan.device_id, scan.client_key, scan.decision) == (world.alice, "g", "k9", "refuse")


def test_same_colour_within_the_hour_is_not_rewritten_or_audited(world, make_person, gate_venue, api):
    person = make_person()
    alice = api(world.alice)
    assert _scan(alice, gate_venue, person, health_code="green").status_code == 201
    person.refresh_from_db()
    first_seen = person.health_code_at
    assert _scan(alice, gate_venue, person, health_code="green").status_code == 201
    person.refresh_from_db()
    assert person.health_code_at == first_seen
    assert AuditEvent.objects.filter(action="person.health_code", object_id=str(person.pk)).count() == 1


def test_late_upload_never_overwrites_a_newer_colour(world, make_person, gate_venue, api):
    person = make_person()
    alice = api(world.alice)
    assert _scan(alice, gate_venue, person, health_code="red").status_code == 201
    old = (timezone.now() - timedelta(hours=5)).isoformat()
    r = alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk, "at": old, "health_code": "green"})
    assert r.status_code == 201
    person.refresh_from_db()
    assert person.health_code == "red"


def test_replay_of_a_batch_item_through_the_single_endpoint(world, make_person, gate_venue, api):
    person = make_person()
    alice = api(world.alice)
    item = {"venue_id": gate_venue.pk, "person_id": person.pk, "at": timezone.now().isoformat(), "device_id": "g",
            "client_key": "same"}
    batch = alice.post("/scans/batch", {"items": [item]}).json()
    r = alice.post("/scans", item)
    assert r.status_code == 200 and r.json()["id"] == batch["results"][0]["id"] and r.json()["replay"] is True
    assert Scan.objects.count() == 1


def test_cached_venue_is_still_404_for_another_tenant(world, make_person, gate_venue, api):
    person = make_person()
    assert _scan(api(world.alice), gate_venue, person).status_code == 201  # the venue is now cached
    charlie = api(world.charlie)
    assert _scan(charlie, gate_venue, person).status_code == 404
    r = charlie.post("/scans", {"venue_token": services.venue_token(gate_venue), "person_id": person.pk,
                                "at": timezone.now().isoformat()})
    assert r.status_code == 404
    assert Scan.objects.count() == 1


def test_deactivated_venue_refused_at_once_despite_the_cache(world, make_person, gate_venue, api):
    person = make_person()
    alice = api(world.alice)
    assert _scan(alice, gate_venue, person).status_code == 201
    services.venue_update(venue=gate_venue, actor=world.alice, active=False)
    r = _scan(alice, gate_venue, person)
    assert r.status_code == 400 and "停用" in r.json()["message"]


def test_visitor_and_fever_take_the_general_path(world, make_person, gate_venue, api):
    alice = api(world.alice)
    visitor = make_person(kind="visitor")
    r = _scan(alice, gate_venue, visitor)
    assert r.json()["decision"] == "refuse" and r.json()["reasons"][0]["code"] == "visitor_no_appointment"
    worker = make_person()
    r = _scan(alice, gate_venue, worker, temperature="38.0")
    assert r.json()["reasons"][0]["code"] == "fever"


@pytest.mark.parametrize("extra", [
    {"temperature": "36.5", "health_code": "green", "device_id": "g1", "client_key": "same-bytes"},
    {"health_code": "red"},  # a refusal, with its reasons; no temperature, no client key
])
def test_the_fast_response_is_what_ninja_renders_from_the_schema(world, make_person, gate_venue, api, extra):
    """scan_response skips ScanOut's validation: the body must stay byte for byte what Ninja makes of it."""
    from ninja.renderers import JSONRenderer

    from fangkong.access.api import ScanOut, scan_out

    alice = api(world.alice)
    at = (timezone.now() - timedelta(minutes=3)).replace(microsecond=123456)
    r = alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": make_person().pk, "at": at.isoformat(), **extra})
    assert r.status_code == 201, r.content
    stored = Scan.objects.get(pk=r.json()["id"])
    expected = JSONRenderer().render(None, ScanOut.model_validate(scan_out(stored)).model_dump(), response_status=201)
    assert r.content.decode() == expected
    assert r["Content-Type"] == "application/json; charset=utf-8"
    if "client_key" in extra:  # the replay: the first result, marked as a replay, 200
        again = alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": stored.person_id,
                                      "at": at.isoformat(), **extra})
        assert again.status_code == 200 and again.json() == {**r.json(), "replay": True}
