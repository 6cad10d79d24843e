"""Pages: scope (another tenant's venue is a 404), posters, the member's pass and the public venue-scan page."""

from __future__ import annotations

from decimal import Decimal

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from fangkong.access import services
from fangkong.access.models import Scan, Venue
from fangkong.people.models import Person


def test_venue_pages_scope_and_poster(client, world, gate_venue, other_venue):
    client.force_login(world.alice)
    r = client.get(reverse("access:venue_list"))
    assert r.status_code == 200 and "东大门" in r.content.decode() and "门诊楼" not in r.content.decode()
    r = client.get(reverse("access:venue_detail", args=[gate_venue.pk]))
    assert r.status_code == 200 and "<svg" in r.content.decode()
    assert client.get(reverse("access:venue_detail", args=[other_venue.pk])).status_code == 404
    r = client.get(reverse("access:venue_posters") + f"?ids={gate_venue.pk}")
    assert r.status_code == 200 and r.content[:4] == b"%PDF"
    assert client.get(reverse("access:venue_posters") + f"?ids={other_venue.pk}").status_code == 404
    r = client.post(reverse("access:venue_rotate", args=[other_venue.pk]))
    assert r.status_code == 404


def test_create_venue_from_page(client, world):
    client.force_login(world.alice)
    r = client.post(reverse("access:venue_list"), {"name": "职工食堂", "kind": "canteen", "max_stay_minutes": 90,
                                                   "active": "on"})
    assert r.status_code == 302
    r = client.post(reverse("access:venue_list"), {"name": "职工食堂", "kind": "canteen", "max_stay_minutes": 90})
    assert "已有名为" in r.content.decode()


def test_public_scan_page_visitor_refused_without_appointment(client, world, gate_venue):
    url = reverse("access:venue_scan", args=[services.venue_token(gate_venue)])
    r = client.get(url)
    assert r.status_code == 200 and "身份证号" in r.content.decode()
    r = client.post(url, {"name": "钱访客", "id_number": "11010519491231002X", "phone": "13912345678",
                          "direction": "entry"})
    html = r.content.decode()
    assert 'fk-decision refuse' in html and "预约" in html
    assert Person.objects.get(name="钱访客").kind == "visitor"
    r = client.post(url, {"name": "钱访客", "id_number": "110105194912310021", "phone": "13912345678"})
    assert "校验位" in r.content.decode()
    forged = reverse("access:venue_scan", args=[signing.dumps([gate_venue.pk, 1], salt="x")])
    r = client.get(forged)
    assert r.status_code == 400 and "伪造" in r.content.decode()


def test_member_recognised_and_pass_page(client, world, gate_venue, make_person):
    person = make_person(name="周职工")
    Person.objects.filter(pk=person.pk).update(user=world.bob)
    client.force_login(world.bob)
    r = client.get(reverse("access:pass"))
    assert r.status_code == 200 and "<svg" in r.content.decode()
    url = reverse("access:venue_scan", args=[services.venue_token(gate_venue)])
    assert "周职工" in client.get(url).content.decode()
    r = client.post(url, {"direction": "entry"})
    assert 'fk-decision admit' in r.content.decode()
    assert Scan.objects.get().person_id == person.pk


def test_gate_console_with_pass_token(client, world, gate_venue, make_person):
    person = make_person(name="吴职工")
    client.force_login(world.alice)
    assert client.get(reverse("access:gate")).status_code == 200
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "code": services.pass_token(person),
                                                  "temperature": "36.6", "health_code": "yellow"},
                    HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert "fk-decision refuse" in html and "黄码" in html
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "code": "ABCDEFG"})
    assert "不存在" in r.content.decode()
    client.force_login(world.charlie)
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "code": services.pass_token(person)})
    assert "本单位台账" in r.content.decode() or "不存在" in r.content.decode()
    assert Scan.objects.filter(person=person).count() == 1


def test_settings_change_threshold_and_unknown_policy(client, world, gate_venue, make_person):
    client.force_login(world.alice)
    r = client.post(reverse("access:settings"), {"fever_threshold": "37.0", "refuse_unknown": ""})
    assert r.status_code == 302
    r = client.post(reverse("access:settings"), {"fever_threshold": "40.0"})
    assert "36.5–39.0" in r.content.decode()
    person = make_person()
    visitor = make_person(kind="visitor")
    results = services.scans_record(
        items=[services.ScanInput(person_id=person.pk, venue_id=gate_venue.pk, at=timezone.now(),
                                  temperature=Decimal("37.1")),
               services.ScanInput(person_id=visitor.pk, venue_id=gate_venue.pk, at=timezone.now())],
        actor=world.alice, venues=Venue.objects.all(), people=Person.objects.all())
    assert [r.scan.decision for r in results] == ["refuse", "admit"]
    assert client.get(reverse("access:settings")).status_code == 200
    client.force_login(world.bob)  # a unit leader may not change the organisation's settings
    assert client.get(reverse("access:settings")).status_code == 403


def test_home_cards_and_menu(client, world, gate_venue, make_person):
    person = make_person()
    services.scan_record(actor=world.alice, venues=Venue.objects.all(), people=Person.objects.all(),
                         venue_id=gate_venue.pk, person_id=person.pk, at=timezone.now(),
                         temperature=Decimal("38.0"))
    client.force_login(world.alice)
    html = client.get(reverse("home")).content.decode()
    assert "今日拒绝进入" in html and reverse("access:gate") in html
    r = client.get(reverse("access:scan_list") + "?decision=refuse&day=" + timezone.localdate().isoformat())
    assert "体温异常" in r.content.decode()
    assert client.get(reverse("access:vehicle_list")).status_code == 200
    assert client.get(reverse("access:visit_list")).status_code == 200
    assert client.get(reverse("access:book_link")).status_code == 200
