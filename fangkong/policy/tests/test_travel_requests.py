"""Travel requests (外出报备): only the requester changes, withdraws or reports the return, and only while it fits;
approvers approve or refuse. Withdrawal keeps the record. Dates: from today on, no overlap with another live request."""

from __future__ import annotations

import json

import pytest

from fangkong.core.models import AuditEvent
from fangkong.policy.models import Arrival, TravelRequest
from fangkong.policy.tests.conftest import bearer

pytestmark = pytest.mark.django_db

TRIP = {"destination_code": "110105", "from_date": "2021-09-25", "to_date": "2021-09-28", "purpose": "探亲"}


@pytest.fixture(autouse=True)
def _today(before_the_trip):
    pass


def call(client, method, url, user, body=None):
    if method == "get":
        return client.get(url, **bearer(user))
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json", **bearer(user))


@pytest.fixture
def worker(world, make_person):
    """dave: a member of workshop 1 (bob, its leader, approves his requests)."""
    from fangkong.conftest import make_user
    from fangkong.tenancy.services import membership_grant

    user = make_user("dave")
    make_person(unit=world.workshop1, user=user)
    membership_grant(user=user, role="member", unit=world.workshop1, organization=world.factory, actor=world.admin)
    return user


def file(client, worker, **changes):
    r = call(client, "post", "/api/v1/travel-requests", worker, {**TRIP, **changes})
    assert r.status_code == 201, r.content
    return r.json()


def test_approver_can_neither_rewrite_nor_delete_anothers_request(client, world, worker):
    tr = file(client, worker)
    url = f"/api/v1/travel-requests/{tr['id']}"
    # bob sees it (he approves it) but may not rewrite it …
    assert call(client, "get", url, world.bob).status_code == 200
    r = call(client, "patch", url, world.bob, {"destination_code": "130109", "purpose": "改写"})
    assert r.status_code == 403, r.content
    assert "request" in r.json()["errors"]
    # … nor delete or withdraw it …
    assert call(client, "delete", url, world.bob).status_code == 403
    # … nor may the organisation admin; charlie (another tenant) does not even see it.
    assert call(client, "patch", url, world.alice, {"purpose": "改写"}).status_code == 403
    assert call(client, "patch", url, world.charlie, {"purpose": "改写"}).status_code == 404
    assert call(client, "delete", url, world.charlie).status_code == 404
    row = TravelRequest.objects.get(pk=tr["id"])
    assert (row.destination_id, row.purpose, row.status) == ("110105", "探亲", "requested")
    assert not AuditEvent.objects.filter(action__in=["travel.update", "travel.withdraw"]).exists()
    # The worker still has his request; bob may approve it, and that is all.
    assert call(client, "get", url, worker).json()["purpose"] == "探亲"
    assert call(client, "post", f"{url}/approve", world.bob, {"reason": "同意"}).json()["status"] == "approved"


def test_only_the_requester_reports_the_return(client, world, worker, time_machine):
    tr = file(client, worker, from_date="2021-09-21", to_date="2021-09-22")
    url = f"/api/v1/travel-requests/{tr['id']}"
    call(client, "post", f"{url}/approve", world.bob)
    time_machine.move_to("2021-09-23 10:00 +0800", tick=False)
    assert call(client, "post", f"{url}/return", world.bob, {"returned_on": "2021-09-23"}).status_code == 403
    assert not Arrival.objects.exists()
    r = call(client, "post", f"{url}/return", worker, {"returned_on": "2021-09-23"})
    assert r.status_code == 200, r.content
    assert TravelRequest.objects.get(pk=tr["id"]).status == "returned"


def test_withdrawal_keeps_the_record_and_is_audited(client, world, worker):
    tr = file(client, worker)
    url = f"/api/v1/travel-requests/{tr['id']}"
    assert call(client, "delete", url, worker).status_code == 204
    r = call(client, "get", url, worker)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"  # not a 404: the worker keeps his history
    event = AuditEvent.objects.get(action="travel.withdraw")
    assert event.object_id == str(tr["id"]) and event.changes == {"status": ["requested", "withdrawn"]}
    # A withdrawn request waits for no one: not approvable, not changeable, not withdrawn twice.
    assert call(client, "post", f"{url}/approve", world.bob).status_code == 400
    assert call(client, "patch", url, worker, {"purpose": "再改"}).status_code == 400
    assert call(client, "delete", url, worker).status_code == 400
    listed = call(client, "get", "/api/v1/travel-requests?status=withdrawn", world.bob).json()
    assert [t["id"] for t in listed] == [tr["id"]]
    assert call(client, "get", "/api/v1/travel-requests?status=requested", world.bob).json() == []


def test_requester_changes_a_request_only_while_it_waits(client, world, worker):
    tr = file(client, worker)
    url = f"/api/v1/travel-requests/{tr['id']}"
    r = call(client, "patch", url, worker, {"purpose": "出差", "to_date": "2021-09-29"})
    assert r.status_code == 200, r.content
    assert (r.json()["purpose"], r.json()["to_date"]) == ("出差", "2021-09-29")
    assert AuditEvent.objects.filter(action="travel.update").count() == 1
    call(client, "post", f"{url}/approve", world.bob)
    assert call(client, "patch", url, worker, {"purpose": "又改"}).status_code == 400
    assert call(client, "delete", url, worker).status_code == 400
    assert TravelRequest.objects.get(pk=tr["id"]).status == "approved"


@pytest.mark.parametrize("from_date", ["2015-09-20", "2021-09-19"])
def test_departure_before_today_is_refused(client, worker, from_date):
    r = call(client, "post", "/api/v1/travel-requests", worker, {**TRIP, "from_date": from_date})
    assert r.status_code == 400, r.content
    assert list(r.json()["errors"]) == ["from_date"] and "2021-09-20" in r.json()["message"]
    assert not TravelRequest.objects.exists()
    file(client, worker, from_date="2021-09-20")  # today (local) is fine


def test_departure_before_today_is_refused_on_change(client, worker):
    tr = file(client, worker)
    r = call(client, "patch", f"/api/v1/travel-requests/{tr['id']}", worker, {"from_date": "2021-09-01"})
    assert r.status_code == 400 and "from_date" in r.json()["errors"]


def test_overlapping_requests_are_refused(client, world, worker):
    first = file(client, worker)  # 09-25 – 09-28
    r = call(client, "post", "/api/v1/travel-requests", worker, {**TRIP, "from_date": "2021-09-28",
                                                                 "to_date": "2021-09-30"})
    assert r.status_code == 400, r.content
    assert "from_date" in r.json()["errors"] and f"#{first['id']}" in r.json()["message"]
    # Approved requests hold their dates too.
    call(client, "post", f"/api/v1/travel-requests/{first['id']}/approve", world.bob)
    assert call(client, "post", "/api/v1/travel-requests", worker, {**TRIP, "from_date": "2021-09-22",
                                                                    "to_date": "2021-09-25"}).status_code == 400
    second = file(client, worker, from_date="2021-09-29", to_date="2021-09-30")  # the day after: fine
    r = call(client, "patch", f"/api/v1/travel-requests/{second['id']}", worker, {"from_date": "2021-09-27"})
    assert r.status_code == 400 and "from_date" in r.json()["errors"]
    # A refused or withdrawn request frees its dates.
    call(client, "delete", f"/api/v1/travel-requests/{second['id']}", worker)
    file(client, worker, from_date="2021-09-29", to_date="2021-10-02")
    assert TravelRequest.objects.filter(status__in=["requested", "approved"]).count() == 2


def test_future_return_date_is_keyed_by_the_field_sent(client, world, worker):
    tr = file(client, worker, from_date="2021-09-20", to_date="2021-09-22")
    url = f"/api/v1/travel-requests/{tr['id']}"
    call(client, "post", f"{url}/approve", world.bob)
    r = call(client, "post", f"{url}/return", worker, {"returned_on": "2021-09-22"})
    assert r.status_code == 400, r.content
    assert list(r.json()["errors"]) == ["returned_on"]
    assert not Arrival.objects.exists() and TravelRequest.objects.get(pk=tr["id"]).status == "approved"


def test_travel_page_withdraw_is_the_requesters(client, world, worker):
    tr = file(client, worker)
    client.force_login(world.bob)
    page = client.get("/policy/travel/").content.decode()
    assert f"/policy/travel/{tr['id']}/withdraw/" not in page and f"/policy/travel/{tr['id']}/decide/" in page
    client.post(f"/policy/travel/{tr['id']}/withdraw/")
    assert TravelRequest.objects.get(pk=tr["id"]).status == "requested"
    client.force_login(worker)
    assert f"/policy/travel/{tr['id']}/withdraw/" in client.get("/policy/travel/").content.decode()
    assert client.post(f"/policy/travel/{tr['id']}/withdraw/").status_code == 302
    assert TravelRequest.objects.get(pk=tr["id"]).status == "withdrawn"
    client.force_login(world.bob)
    page = client.get("/policy/travel/").content.decode()
    assert "已撤回" in page and f"/policy/travel/{tr['id']}/decide/" not in page


def test_travel_page_refuses_past_departure_on_the_field(client, world, worker):
    client.force_login(worker)
    r = client.post("/policy/travel/", {**TRIP, "from_date": "2021-09-01"})
    assert r.status_code == 200 and "早于今天" in r.content.decode()
    assert not TravelRequest.objects.exists()
