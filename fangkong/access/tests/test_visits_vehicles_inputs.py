"""Out-of-range query strings give a message or nothing found, never a 500; visits of at most a day, shown with their
end date, hosted by the organisation's people, not booked twice; one open pass per vehicle, recorded times not in
the future, an exit recorded once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from fangkong.access import selectors, services, visitors
from fangkong.access.models import Scan, VehiclePass, Venue, Visit
from fangkong.core.errors import ServiceError
from fangkong.notify.models import Notification
from fangkong.people.models import Person

SH = ZoneInfo("Asia/Shanghai")
BIG = "99999999999999999999"
VISITOR_ID = "440524188001010014"


@pytest.fixture
def host(world, make_person):
    return make_person(name="赵科长")


# --- query strings -------------------------------------------------------------------------------------------------


def test_query_ids_beyond_the_database_match_nothing():
    assert selectors.query_id("12") == 12
    assert selectors.query_id(BIG) == selectors.NO_ID
    assert selectors.query_id("²") is None and selectors.query_id("-3") is None and selectors.query_id("") is None
    assert selectors.stored_id(int(BIG)) == selectors.NO_ID and selectors.stored_id(7) == 7
    with pytest.raises(ValueError):
        selectors.day_bounds(datetime(9999, 12, 31).date())


def test_scan_log_with_out_of_range_day_or_ids(client, world, gate_venue, make_person):
    person = make_person()
    services.scan_record(actor=world.alice, venues=Venue.objects.all(), people=Person.objects.all(),
                         venue_id=gate_venue.pk, person_id=person.pk, at=timezone.now())
    client.force_login(world.alice)
    url = reverse("access:scan_list")
    for day in ("9999-12-31", "0001-01-01"):
        r = client.get(url, {"day": day})
        assert r.status_code == 200 and "日期应在 1900-01-01 至 2999-12-31 之间" in r.content.decode()
        assert len(r.context["page"]) == 1  # the filter is left out, as for a malformed date
    for key in ("venue", "person"):
        r = client.get(url, {key: BIG})
        assert r.status_code == 200 and len(r.context["page"]) == 0  # an id no row has: nothing found
        r = client.get(url, {key: "²"})
        assert r.status_code == 200 and len(r.context["page"]) == 1  # not a number: ignored
    assert client.get(reverse("access:venue_posters"), {"ids": BIG}).status_code == 404
    assert client.get(reverse("access:gate_health_code"), {"person": BIG}).status_code == 200


def test_api_scan_list_out_of_range(world, gate_venue, api):
    alice = api(world.alice)
    assert alice.get("/scans", venue=BIG).json()["count"] == 0
    assert alice.get("/scans", person=BIG).json()["count"] == 0
    r = alice.get("/scans", to="0001-01-01T00:00:00")
    assert r.status_code == 400 and "to：时间应在" in r.json()["message"]
    assert alice.get("/venues", organization_id=BIG).json() == []


# --- visits --------------------------------------------------------------------------------------------------------


def _book(world, host, start, hours, **extra):
    return services.visit_book(organization=world.factory, host=host, name="孙访客", id_number=VISITOR_ID,
                               phone="13912345678", purpose="送货", starts_at=start,
                               ends_at=start + timedelta(hours=hours), **extra)


def test_visits_last_at_most_a_day(client, world, host, api):
    start = timezone.now() + timedelta(hours=1)
    with pytest.raises(ServiceError, match="最长 24 小时") as refused:
        _book(world, host, start, 24 * 365)
    assert "ends_at" in refused.value.field_errors
    _book(world, host, start, 24)  # a whole day is still a visit
    # The public form puts the refusal under the end time.
    local = timezone.localtime(start)
    r = client.post(reverse("access:book", args=[services.book_token(world.factory)]), {
        "name": "孙访客", "id_number": VISITOR_ID, "phone": "13912345678", "host_name": "x",
        "host": visitors.host_token(host), "purpose": "送货", "health_code": "green",
        "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (local + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")})
    assert r.status_code == 200 and "最长 24 小时" in str(r.context["form"].errors["ends_at"])
    # The API too, on create and on change.
    alice = api(world.alice)
    body = {"host_id": host.pk, "name": "孙访客", "id_number": VISITOR_ID, "phone": "13912345678",
            "purpose": "送货", "starts_at": start.isoformat(), "ends_at": (start + timedelta(days=30)).isoformat()}
    r = alice.post("/visits", body)
    assert r.status_code == 400 and list(r.json()["errors"]) == ["ends_at"]
    visit = Visit.objects.get()
    from django.test import Client

    r = Client().patch(f"/api/v1/visits/{visit.pk}", {"ends_at": (start + timedelta(days=3)).isoformat()},
                       content_type="application/json", **alice._h())
    assert r.status_code == 400 and "24" in r.json()["message"]


@time_machine.travel(datetime(2021, 12, 9, 21, 0, tzinfo=SH), tick=False)
def test_a_visit_into_the_next_day_shows_its_end_date(client, world, host, gate_venue):
    visit = _book(world, host, datetime(2021, 12, 9, 20, 0, tzinfo=SH), 12)
    _book(world, host, datetime(2021, 12, 9, 22, 0, tzinfo=SH), 1, company="同日")
    client.force_login(world.alice)
    html = client.get(reverse("access:visit_list")).content.decode()
    assert "12-09 20:00–12-10 08:00" in html and "12-09 22:00–23:00" in html
    services.visit_decide(visit=visit, approve=True, actor=world.alice)
    html = client.get(reverse("access:gate")).content.decode()
    assert "12-09 20:00–12-10 08:00" in html and "22:00–23:00" in html
    html = client.get(reverse("access:visit_pass", args=[services.visit_token(visit)])).content.decode()
    assert "12-09 20:00–12-10 08:00" in html


def test_a_visitor_is_not_a_host(world, make_person, api):
    visitor_host = make_person(name="周访客", kind="visitor")
    start = timezone.now() + timedelta(hours=1)
    r = api(world.alice).post("/visits", {
        "host_id": visitor_host.pk, "name": "孙访客", "id_number": VISITOR_ID, "phone": "13912345678",
        "purpose": "送货", "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()})
    assert r.status_code == 400 and "访客不能作为被访人" in r.json()["message"]
    assert not Visit.objects.exists()


def test_the_same_public_booking_twice_is_one_visit(client, world, make_person):
    from fangkong.conftest import make_user

    host = make_person(name="赵科长", user=make_user("zhao"))
    url = reverse("access:book", args=[services.book_token(world.factory)])
    start = timezone.localtime() + timedelta(hours=1)
    data = {"name": "孙访客", "id_number": VISITOR_ID, "phone": "13912345678", "host_name": "x",
            "host": visitors.host_token(host), "purpose": "送货", "health_code": "green",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
    first = client.post(url, data)
    again = client.post(url, data)
    assert first.status_code == again.status_code == 302 and first["Location"] == again["Location"]
    assert Visit.objects.count() == 1
    assert Notification.objects.filter(event="access.visit_booked").count() == 1
    # Another window is another request; a decided one is not reused either.
    client.post(url, {**data, "ends_at": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")})
    assert Visit.objects.count() == 2
    services.visit_decide(visit=Visit.objects.order_by("pk").first(), approve=False, actor=world.alice)
    client.post(url, data)
    assert Visit.objects.count() == 3


# --- vehicles ------------------------------------------------------------------------------------------------------


def test_one_open_pass_per_plate(client, world, make_person, api):
    driver = make_person(kind="visitor")
    alice = api(world.alice)
    body = {"organization_id": world.factory.pk, "plate": "晋D12345", "driver_id": driver.pk}
    assert alice.post("/vehicles", body).status_code == 201
    r = alice.post("/vehicles", {**body, "plate": "晋d·12345"})
    assert r.status_code == 400 and "尚未登记离开" in r.json()["message"] and list(r.json()["errors"]) == ["plate"]
    client.force_login(world.alice)
    r = client.post(reverse("access:vehicle_list"), {"plate": "晋D12345", "driver": driver.pk,
                                                     "disinfectant": "含氯消毒液"})
    assert r.status_code == 200 and "尚未登记离开" in r.content.decode()
    assert VehiclePass.objects.count() == 1
    # Another organisation's pass for the plate is theirs; after the exit the vehicle may come in again.
    other_driver = make_person(organization=world.other_org, kind="visitor")
    services.vehicle_create(organization=world.other_org, actor=world.charlie, plate="晋D12345", driver=other_driver)
    client.post(reverse("access:vehicle_exit", args=[VehiclePass.objects.get(organization=world.factory).pk]))
    assert alice.post("/vehicles", body).status_code == 201


def test_vehicle_times_not_ahead_and_exit_recorded_once(client, world, make_person, api):
    driver = make_person(kind="visitor")
    alice = api(world.alice)
    body = {"organization_id": world.factory.pk, "plate": "晋D12345", "driver_id": driver.pk}
    r = alice.post("/vehicles", {**body, "time_in": "2030-01-01T08:00:00+08:00"})
    assert r.status_code == 400 and "晚于当前时间 5 分钟以上" in r.json()["message"]
    assert list(r.json()["errors"]) == ["time_in"]
    soon = timezone.now() + timedelta(minutes=2)  # a gate clock a little ahead is fine, as for scans
    assert alice.post("/vehicles", {**body, "time_in": soon.isoformat()}).status_code == 201
    vehicle = VehiclePass.objects.get()
    client.force_login(world.alice)
    client.post(reverse("access:vehicle_exit", args=[vehicle.pk]))
    vehicle.refresh_from_db()
    left = vehicle.time_out
    assert left is not None
    r = client.post(reverse("access:vehicle_exit", args=[vehicle.pk]), follow=True)
    assert "已于" in r.content.decode() and "不能重复登记" in r.content.decode()
    vehicle.refresh_from_db()
    assert vehicle.time_out == left
    assert not Scan.objects.exists()
