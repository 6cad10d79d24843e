"""Walk-ins waiting for approval at the gate, the public host search, rate limits of the public pages, the fever
threshold configured once (check-in setting, overridden by the access setting or the venue)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from fangkong.access import services, visitors
from fangkong.access.models import Scan, Venue, Visit
from fangkong.conftest import make_user
from fangkong.health.models import CheckinSetting
from fangkong.notify.models import Notification
from fangkong.people.models import Person
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role

VISITOR_ID = "440524188001010014"


@pytest.fixture
def guard(world):
    user = make_user("guard")
    tenancy.membership_grant(user=user, role=Role.GATEKEEPER, organization=world.factory, actor=world.admin)
    return user


@pytest.fixture
def host(world, make_person):
    """王主任 of 一车间, with an account of their own (a plain member)."""
    user = make_user("wang")
    tenancy.membership_grant(user=user, role=Role.MEMBER, organization=world.factory, actor=world.admin)
    person = make_person(name="王主任", unit=world.workshop1)
    Person.objects.filter(pk=person.pk).update(user=user)
    person.refresh_from_db()
    return person


def _walkin(client, venue, host_person, **extra):
    data = {"venue": venue.pk, "host": host_person.pk, "name": "孙访客", "id_number": VISITOR_ID, "phone": "13912345678",
            "company": "长治物流公司", "purpose": "送货", "temperature": "36.5", "health_code": "green", **extra}
    return client.post(reverse("access:gate_walkin"), data, HTTP_HX_REQUEST="true")


# --- walk-ins ------------------------------------------------------------------------------------------------------


def test_walkin_waits_for_host_approval_then_gate_admits(client, world, guard, host, gate_venue):
    client.force_login(guard)
    r = _walkin(client, gate_venue, host)
    assert r.status_code == 200 and "已通知被访人 王主任" in r.content.decode()
    assert r["HX-Trigger"] == "walkins-changed"
    visit = Visit.objects.get()
    assert visit.walk_in and visit.status == "pending" and visit.venue == gate_venue
    assert visit.visitor.kind == "visitor" and visit.gate_temperature == Decimal("36.5")
    assert not Scan.objects.exists()  # nobody is admitted or refused while the host decides
    note = Notification.objects.get(event="access.walk_in")
    assert note.recipient == host.user and "孙访客" in note.title

    # The console's poll shows the visitor waiting; the gatekeeper cannot approve.
    html = client.get(reverse("access:gate_walkins")).content.decode()
    assert "孙访客" in html and "等待审批" in html and "放行查验" not in html
    assert client.post(reverse("access:gate_visit_decide", args=[visit.pk]), {"approve": "1"}).status_code == 403
    # Admitting before the approval is refused by the ordinary decision.
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "person": visit.visitor_id,
                                                  "direction": "entry"})
    assert "fk-decision refuse" in r.content.decode() and "预约" in r.content.decode()
    Scan.objects.all().delete()

    # The host approves from their visit list (their own account, no approver role).
    client.force_login(host.user)
    r = client.post(reverse("access:visit_decide", args=[visit.pk]), {"approve": "1"})
    assert r.status_code == 302
    visit.refresh_from_db()
    assert visit.status == "approved"

    # The next poll shows it approved with the admit button; admitting records an admitted scan.
    client.force_login(guard)
    html = client.get(reverse("access:gate_walkins")).content.decode()
    assert "已同意" in html and "放行查验" in html
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "person": visit.visitor_id,
                                                  "temperature": "36.5", "health_code": "green",
                                                  "direction": "entry"}, HTTP_HX_REQUEST="true")
    assert "fk-decision admit" in r.content.decode()
    visit.refresh_from_db()
    assert visit.status == "arrived"
    assert "孙访客" not in client.get(reverse("access:gate_walkins")).content.decode()


def test_walkin_approved_by_authorised_approver_on_console(client, world, host, gate_venue):
    client.force_login(world.alice)  # an org admin at the gate may approve there
    _walkin(client, gate_venue, host)
    visit = Visit.objects.get()
    html = client.get(reverse("access:gate_walkins")).content.decode()
    assert reverse("access:gate_visit_decide", args=[visit.pk]) in html
    r = client.post(reverse("access:gate_visit_decide", args=[visit.pk]), {"approve": "1"}, HTTP_HX_REQUEST="true")
    assert "放行查验" in r.content.decode()
    assert Visit.objects.get().status == "approved"
    # Another tenant's admin cannot decide it.
    client.force_login(world.charlie)
    assert client.post(reverse("access:gate_visit_decide", args=[visit.pk]), {"approve": "0"}).status_code == 404
    assert Visit.objects.get().status == "approved"


def test_walkin_with_fever_refused_at_once_and_alerted(client, world, guard, host, gate_venue):
    client.force_login(guard)
    r = _walkin(client, gate_venue, host, temperature="38.4")
    assert "fk-decision refuse" in r.content.decode() and "体温异常" in r.content.decode()
    assert not Visit.objects.exists()
    assert Scan.objects.get().decision == "refuse"
    assert Notification.objects.filter(event="access.fever", recipient=world.alice).exists()
    assert not Notification.objects.filter(event="access.walk_in").exists()


def test_walkin_needs_host_and_is_not_registered_twice(client, world, guard, host, gate_venue, make_person):
    client.force_login(guard)
    r = _walkin(client, gate_venue, host, host="")
    assert "请先搜索并选择被访人" in r.content.decode()
    other_org_person = make_person(organization=world.other_org, name="外单位")
    r = _walkin(client, gate_venue, other_org_person)
    assert "请先搜索并选择被访人" in r.content.decode()
    _walkin(client, gate_venue, host)
    r = _walkin(client, gate_venue, host)
    assert "已在" in r.content.decode() and "待审批" in r.content.decode()
    assert Visit.objects.count() == 1
    # The same ID number is one ledger person of kind visitor (de-duplicated), also via the booking page.
    services.visit_book(organization=world.factory, host=host, name="孙访客", id_number=VISITOR_ID.lower(),
                        phone="13912345678", purpose="复访", starts_at=timezone.now(),
                        ends_at=timezone.now() + timedelta(hours=1))
    assert Person.objects.filter(kind="visitor").count() == 1
    # A visitor archived after an earlier visit is the same row again, active, when they come back.
    from fangkong.people.services import person_archive

    visitor = Person.objects.get(kind="visitor")
    person_archive(person=visitor, actor=world.alice)
    again = services.visitor_find_or_create(organization=world.factory, name="孙访客", id_number=VISITOR_ID,
                                            phone="13912345678", actor=guard)
    assert again.pk == visitor.pk and Person.objects.get(pk=visitor.pk).is_active


def test_host_without_account_notifies_org_admins(client, world, guard, make_person, gate_venue):
    plain = make_person(name="李无账号")
    client.force_login(guard)
    _walkin(client, gate_venue, plain)
    assert Notification.objects.get(event="access.walk_in").recipient == world.alice


def test_gate_host_search(client, world, guard, host, make_person):
    make_person(name="王五", unit=world.workshop2)
    client.force_login(guard)
    html = client.get(reverse("access:gate_hosts"), {"host_q": "wzr"}).content.decode()
    assert "王主任" in html and "一车间" in html and "王五" not in html
    assert "至少输入" in client.get(reverse("access:gate_hosts"), {"host_q": "王"}).content.decode()


# --- the public host search ----------------------------------------------------------------------------------------


def test_mask_name_and_query_parsing():
    assert visitors.mask_name("张三") == "张*"
    assert visitors.mask_name("王主任") == "王*任"
    assert visitors.mask_name("欧阳娜娜") == "欧**娜"
    assert visitors.parse_host_query("wzr 财务") == visitors.HostQuery("wzr", "财务")
    assert visitors.parse_host_query("Wang Zhu") == visitors.HostQuery("wang zhu", "")
    assert visitors.parse_host_query("王主 一车间") == visitors.HostQuery("王主", "一车间")
    assert visitors.parse_host_query("wzr", unit_hint=" 一车间 ") == visitors.HostQuery("wzr", "一车间")


def test_host_candidates_partial_pinyin_initials_and_unit(world, host, make_person):
    make_person(name="王芝荣", unit=world.workshop2)  # also w-z-r
    make_person(name="王主任", unit=world.workshop2, id_number="11010519491231002X")
    make_person(name="王访客", kind="visitor")
    make_person(organization=world.other_org, name="王主任")

    def names(q, unit=""):
        people, _more = visitors.host_candidates(organization_id=world.factory.pk, q=q, unit_hint=unit)
        return sorted((p.name, p.unit.name if p.unit else "") for p in people)

    assert names("主任") == [("王主任", "一车间"), ("王主任", "二车间")]
    assert names("wzr") == [("王主任", "一车间"), ("王主任", "二车间"), ("王芝荣", "二车间")]
    assert names("wzr 一车间") == [("王主任", "一车间")]
    assert names("wzr", unit="二车间") == [("王主任", "二车间"), ("王芝荣", "二车间")]
    assert names("wangzhu") == [("王主任", "一车间"), ("王主任", "二车间")]
    assert names("wang zhi") == [("王芝荣", "二车间")]
    assert names("访客") == []  # visitors are never hosts
    with pytest.raises(Exception, match="至少输入 2"):
        visitors.host_candidates(organization_id=world.factory.pk, q="王")
    for i in range(8):
        make_person(name=f"张{'一二三四五六七八'[i]}")
    people, more = visitors.host_candidates(organization_id=world.factory.pk, q="zh")
    assert len(people) == visitors.HOST_LIMIT and more


def test_public_host_search_is_masked_and_booking_uses_the_pick(client, world, host, make_person):
    token = services.book_token(world.factory)
    url = reverse("access:book_hosts", args=[token])
    html = client.get(url, {"host_name": "wzr"}).content.decode()
    assert "王*任" in html and "一车间" in html
    assert "王主任" not in html and host.phone_masked not in html and str(host.pk) not in html.replace(
        visitors.host_token(host), "")
    assert "至少输入" in client.get(url, {"host_name": "w"}).content.decode()
    assert "王*任" not in client.get(url, {"host_name": "wzr", "host_unit": "二车间"}).content.decode()
    assert "王*任" in client.get(url, {"host_name": "wzr", "host_unit": "一车间"}).content.decode()
    # Book with the picked (signed) host; a second 王主任 elsewhere would make the plain name ambiguous.
    make_person(name="王主任", unit=world.workshop2, id_number="11010519491231002X")
    start = timezone.localtime() + timedelta(hours=1)
    data = {"name": "孙访客", "id_number": VISITOR_ID, "phone": "13912345678", "host_name": "wzr",
            "purpose": "送货", "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "health_code": "green"}
    r = client.post(reverse("access:book", args=[token]), data)
    assert r.status_code == 200 and "从搜索结果中选择被访人" in r.content.decode()
    r = client.post(reverse("access:book", args=[token]), {**data, "host": "forged"})
    assert "被访人选择无效" in r.content.decode()
    other_token = services.book_token(world.other_org)
    r = client.post(reverse("access:book", args=[other_token]), {**data, "host": visitors.host_token(host)})
    assert "被访人选择无效" in r.content.decode()  # a pick from another organisation's link
    r = client.post(reverse("access:book", args=[token]), {**data, "host": visitors.host_token(host)})
    assert r.status_code == 302
    visit = Visit.objects.get()
    assert visit.host == host and not visit.walk_in
    # The visitor's pass shows the host masked, as the search did.
    html = client.get(r["Location"]).content.decode()
    assert "王*任" in html and "王主任" not in html


# --- rate limits ---------------------------------------------------------------------------------------------------


@override_settings(ACCESS_RATE_LIMITS={"book": (3, 5, 600), "host_search": (2, 100, 600),
                                       "venue_scan": (2, 100, 600), "visit_pass": (2, 100, 600)})
def test_public_pages_rate_limited_per_ip_and_per_token(client, world, host, gate_venue):
    book_url = reverse("access:book", args=[services.book_token(world.factory)])
    for _ in range(3):
        assert client.get(book_url, REMOTE_ADDR="10.0.0.1").status_code == 200
    r = client.get(book_url, REMOTE_ADDR="10.0.0.1")
    assert r.status_code == 429 and "过于频繁" in r.content.decode() and int(r["Retry-After"]) > 0
    assert client.get(book_url, REMOTE_ADDR="10.0.0.2").status_code == 200  # another address: its own count
    # Per token: many addresses on one booking link still hit the link's limit (5).
    assert client.get(book_url, REMOTE_ADDR="10.0.0.3").status_code == 429
    other = reverse("access:book", args=[services.book_token(world.other_org)])
    assert client.get(other, REMOTE_ADDR="10.0.0.4").status_code == 200

    hosts = reverse("access:book_hosts", args=[services.book_token(world.factory)])
    assert client.get(hosts, {"host_name": "wzr"}, REMOTE_ADDR="10.0.1.1").status_code == 200
    assert client.get(hosts, {"host_name": "wzr"}, REMOTE_ADDR="10.0.1.1").status_code == 200
    assert client.get(hosts, {"host_name": "wzr"}, REMOTE_ADDR="10.0.1.1").status_code == 429

    scan_url = reverse("access:venue_scan", args=[services.venue_token(gate_venue)])
    assert client.get(scan_url, REMOTE_ADDR="10.0.2.1").status_code == 200
    assert client.get(scan_url, REMOTE_ADDR="10.0.2.1").status_code == 200
    assert client.get(scan_url, REMOTE_ADDR="10.0.2.1").status_code == 429
    client.force_login(host.user)  # a signed-in member scanning is not limited here
    assert client.get(scan_url, REMOTE_ADDR="10.0.2.1").status_code == 200
    client.logout()

    visit = services.visit_book(organization=world.factory, host=host, name="孙访客", id_number=VISITOR_ID,
                                phone="13912345678", purpose="送货", starts_at=timezone.now(),
                                ends_at=timezone.now() + timedelta(hours=1))
    pass_url = reverse("access:visit_pass", args=[services.visit_token(visit)])
    assert client.get(pass_url, REMOTE_ADDR="10.0.3.1").status_code == 200
    assert client.get(pass_url, REMOTE_ADDR="10.0.3.1").status_code == 200
    assert client.get(pass_url, REMOTE_ADDR="10.0.3.1").status_code == 429


# --- the fever threshold, configured once -----------------------------------------------------------------------


def _decide(venue, person, temperature):
    (res,) = services.scans_record(
        items=[services.ScanInput(person_id=person.pk, venue_id=venue.pk, at=timezone.now(),
                                  temperature=Decimal(temperature))],
        actor="test", venues=Venue.objects.all(), people=Person.objects.all())
    Scan.objects.filter(pk=res.scan.pk).delete()
    return res.scan.decision


def test_fever_threshold_from_checkin_setting_unless_overridden(client, world, gate_venue, make_person):
    person = make_person()
    assert _decide(gate_venue, person, "37.2") == "admit"
    assert _decide(gate_venue, person, "37.3") == "refuse"  # the default 37.3 ℃
    CheckinSetting.objects.create(organization=world.factory, fever_threshold=Decimal("37.0"))
    assert _decide(gate_venue, person, "37.1") == "refuse"  # the check-in setting's number
    client.force_login(world.alice)
    html = client.get(reverse("access:settings")).content.decode()
    assert "37.0℃（沿用健康打卡设置）" in html
    client.post(reverse("access:settings"), {"fever_threshold": "37.5", "refuse_unknown": "on"})
    assert _decide(gate_venue, person, "37.1") == "admit"  # the access override
    assert _decide(gate_venue, person, "37.5") == "refuse"
    services.venue_update(venue=gate_venue, actor=world.alice, fever_threshold=Decimal("37.0"))
    assert _decide(gate_venue, person, "37.1") == "refuse"  # the venue override wins
    client.post(reverse("access:settings"), {"fever_threshold": "", "refuse_unknown": "on"})
    services.venue_update(venue=gate_venue, actor=world.alice, fever_threshold=None)
    assert _decide(gate_venue, person, "37.1") == "refuse"  # back to the check-in setting (37.0)
    with pytest.raises(Exception, match=r"36\.5–39\.0"):
        services.venue_update(venue=gate_venue, actor=world.alice, fever_threshold=Decimal("35"))


# --- API: visits and venues ----------------------------------------------------------------------------------------


def test_api_visit_update_and_venue_threshold(world, host, gate_venue, api, make_person):
    alice = api(world.alice)
    start = timezone.now() + timedelta(hours=1)
    r = alice.post("/visits", {"host_id": host.pk, "name": "孙访客", "id_number": VISITOR_ID,
                               "phone": "13912345678", "purpose": "送货", "starts_at": start.isoformat(),
                               "ends_at": (start + timedelta(hours=1)).isoformat()})
    assert r.status_code == 201, r.content
    vid = r.json()["id"]
    alice.post(f"/visits/{vid}/decision", {"approve": True})
    other_host = make_person(name="赵科长")

    def patch(path, data, caller=alice):
        from django.test import Client

        return Client().patch("/api/v1" + path, data, content_type="application/json", **caller._h())

    r = patch(f"/visits/{vid}", {"purpose": "洽谈", "host_id": other_host.pk})
    assert r.status_code == 200, r.content
    assert r.json()["purpose"] == "洽谈" and r.json()["host_name"] == "赵科长"
    assert r.json()["status"] == "pending"  # another host must approve again
    r = patch(f"/visits/{vid}", {"ends_at": (start - timedelta(hours=2)).isoformat()})
    assert r.status_code == 400 and "结束时间" in r.json()["message"]
    assert patch(f"/visits/{vid}", {"purpose": "x"}, api(world.charlie)).status_code == 404
    r = patch(f"/venues/{gate_venue.pk}", {"fever_threshold": "37.0", "capacity": 100})
    assert r.status_code == 200 and r.json()["fever_threshold"] == "37.0" and r.json()["capacity"] == 100
    assert patch(f"/venues/{gate_venue.pk}", {"capacity": 5}, api(world.charlie)).status_code == 404


def test_visit_pass_refreshes_and_offers_a_code_the_gate_accepts(client, world, host, gate_venue):
    visit = services.visit_book(organization=world.factory, host=host, name="孙访客", id_number=VISITOR_ID,
                                phone="13912345678", purpose="送货", starts_at=timezone.now(),
                                ends_at=timezone.now() + timedelta(hours=1))
    url = reverse("access:visit_pass", args=[services.visit_token(visit)])
    html = client.get(url).content.decode()
    assert 'http-equiv="refresh" content="30"' in html and "pass-code" not in html
    services.visit_decide(visit=visit, approve=True, actor=world.alice)
    html = client.get(url).content.decode()
    assert 'http-equiv="refresh" content="240"' in html and "<svg" in html
    code = html.split('id="pass-code">')[1].split("<")[0]
    client.force_login(world.alice)
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "code": code, "temperature": "36.4"})
    assert "fk-decision admit" in r.content.decode() and "孙访客" in r.content.decode()


def test_api_walkin_waits_or_is_refused_at_once(world, guard, host, gate_venue, other_venue, api):
    gate = api(guard)
    payload = {"venue_id": gate_venue.pk, "host_id": host.pk, "name": "孙访客", "id_number": VISITOR_ID,
               "phone": "13912345678", "purpose": "送货", "temperature": "36.5"}
    r = gate.post("/visits/walk-in", payload)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["visit"]["status"] == "pending" and body["visit"]["walk_in"] and body["scan"] is None
    r = gate.post("/visits/walk-in", {**payload, "id_number": "11010519491231002X", "name": "钱访客",
                                      "health_code": "red"})
    assert r.status_code == 200 and r.json()["scan"]["decision"] == "refuse"
    assert "health_code_red" in [x["code"] for x in r.json()["scan"]["reasons"]]
    assert gate.post("/visits/walk-in", {**payload, "venue_id": other_venue.pk}).status_code == 404
    r = gate.post("/visits/walk-in", {**payload, "id_number": "110105194912310021"})
    assert r.status_code == 400 and "校验位" in r.json()["message"]
