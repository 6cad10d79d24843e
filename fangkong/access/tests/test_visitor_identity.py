"""A visitor typing an ID number on a public page (or at the gate) proves nothing but knowing it: the number of one of
the organisation's own people is refused, a visitor's record is reused only under its own name, and no page shows a
stored name or phone the visitor did not type."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fangkong.access import services, visitors
from fangkong.access.models import Scan, VehiclePass, Visit
from fangkong.core.errors import ServiceError
from fangkong.people.models import Person

EMPLOYEE_ID = "11010519491231002X"
VISITOR_ID = "440524188001010014"
MEMBER = "属于本单位在册人员"
MISMATCH = "姓名与证件号码不符"


@pytest.fixture
def employee(make_person):
    return make_person(name="钱职工", id_number=EMPLOYEE_ID, phone="13711112222", unit=None)


@pytest.fixture
def host(world, make_person):
    return make_person(name="赵科长")


def _booking(host_person, **extra):
    start = timezone.localtime() + timedelta(hours=1)
    return {"name": "冒名者", "id_number": EMPLOYEE_ID, "phone": "13912345678", "host_name": "x",
            "host": visitors.host_token(host_person), "purpose": "送货", "health_code": "green",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), **extra}


def test_public_booking_with_an_employees_id_number_is_refused(client, world, employee, host):
    url = reverse("access:book", args=[services.book_token(world.factory)])
    r = client.post(url, _booking(host))
    html = r.content.decode()
    assert r.status_code == 200 and MEMBER in html
    assert "钱职工" not in html and "13711112222" not in html and employee.phone_masked not in html
    assert not Visit.objects.exists()
    # Typing the employee's real name changes nothing: members sign in, they do not book as visitors.
    r = client.post(url, _booking(host, name="钱职工"))
    assert MEMBER in r.content.decode() and not Visit.objects.exists()


def test_public_venue_page_with_an_employees_id_number_is_refused(client, world, employee, gate_venue):
    url = reverse("access:venue_scan", args=[services.venue_token(gate_venue)])
    r = client.post(url, {"name": "冒名者", "id_number": EMPLOYEE_ID, "phone": "13912345678",
                          "direction": "entry"})
    html = r.content.decode()
    assert MEMBER in html and "钱职工" not in html and "phone-decision" not in html
    assert not Scan.objects.exists()
    r = client.post(url, {"name": "冒名者", "id_number": EMPLOYEE_ID.lower(), "phone": "13912345678",
                          "direction": "exit"})
    assert MEMBER in r.content.decode() and not Scan.objects.exists()
    assert Person.objects.get(pk=employee.pk).name == "钱职工" and Person.objects.count() == 1  # nobody created


def test_gate_walkin_and_api_with_an_employees_id_number_are_refused(client, world, employee, host, gate_venue, api):
    client.force_login(world.alice)
    r = client.post(reverse("access:gate_walkin"), {
        "venue": gate_venue.pk, "host": host.pk, "name": "冒名者", "id_number": EMPLOYEE_ID, "phone": "13912345678",
        "purpose": "送货", "temperature": "36.5", "health_code": "green"}, HTTP_HX_REQUEST="true")
    assert MEMBER in r.content.decode() and not Visit.objects.exists()
    start = timezone.now() + timedelta(hours=1)
    r = api(world.alice).post("/visits", {"host_id": host.pk, "name": "冒名者", "id_number": EMPLOYEE_ID,
                                          "phone": "13912345678", "purpose": "送货", "starts_at": start.isoformat(),
                                          "ends_at": (start + timedelta(hours=1)).isoformat()})
    assert r.status_code == 400 and MEMBER in r.json()["message"]
    assert list(r.json()["errors"]) == ["id_number"]
    r = api(world.alice).post("/visits/walk-in", {
        "venue_id": gate_venue.pk, "host_id": host.pk, "name": "冒名者", "id_number": EMPLOYEE_ID,
        "phone": "13912345678", "purpose": "送货", "health_code": "red"})  # not even a refusal scan in their name
    assert r.status_code == 400 and MEMBER in r.json()["message"]
    assert not Visit.objects.exists() and not Scan.objects.exists()


def test_a_visitor_record_is_reused_only_under_its_own_name(client, world, host, gate_venue):
    first = services.visitor_find_or_create(organization=world.factory, name="孙访客", id_number=VISITOR_ID,
                                            phone="13912345678")
    # The same person again (spaces aside) is the same ledger row.
    again = services.visitor_find_or_create(organization=world.factory, name=" 孙 访客 ", id_number=VISITOR_ID,
                                            phone="13900000000")
    assert again.pk == first.pk
    with pytest.raises(ServiceError, match=MISMATCH) as refused:
        services.visitor_find_or_create(organization=world.factory, name="李四", id_number=VISITOR_ID,
                                        phone="13912345678")
    assert "孙访客" not in refused.value.message and "name" in refused.value.field_errors

    # On the public pages another name with the visitor's number gets neither the pass nor the name.
    url = reverse("access:book", args=[services.book_token(world.factory)])
    r = client.post(url, _booking(host, name="李四", id_number=VISITOR_ID))
    html = r.content.decode()
    assert MISMATCH in html and "孙访客" not in html and "13912345678" not in html.replace(
        'value="13912345678"', "")
    assert not Visit.objects.exists()
    scan_url = reverse("access:venue_scan", args=[services.venue_token(gate_venue)])
    r = client.post(scan_url, {"name": "李四", "id_number": VISITOR_ID, "phone": "13700000000", "direction": "entry"})
    assert MISMATCH in r.content.decode() and "孙访客" not in r.content.decode() and not Scan.objects.exists()
    # Under the right name the booking goes through, to the same visitor.
    r = client.post(url, _booking(host, name="孙访客", id_number=VISITOR_ID))
    assert r.status_code == 302 and Visit.objects.get().visitor_id == first.pk


def test_vehicle_driver_may_be_a_member_but_only_under_their_name(client, world, employee):
    client.force_login(world.alice)
    data = {"plate": "晋D12345", "driver_name": "钱职工", "driver_id_number": EMPLOYEE_ID,
            "driver_phone": "13711112222", "disinfectant": "含氯消毒液"}
    r = client.post(reverse("access:vehicle_list"), {**data, "driver_name": "冒名者"})
    assert MISMATCH in r.content.decode() and not VehiclePass.objects.exists()
    r = client.post(reverse("access:vehicle_list"), data)
    assert r.status_code == 302
    assert VehiclePass.objects.get().driver_id == employee.pk and Person.objects.count() == 1
