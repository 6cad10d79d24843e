"""End to end in Chromium: a visitor books, the host side approves, the gatekeeper admits; a feverish worker is
refused at the gate and the alert reaches the organisation's admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import login
from fangkong.access import services
from fangkong.access.models import Scan, Visit
from fangkong.conftest import make_user
from fangkong.notify.models import Notification
from fangkong.people.models import Person
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_visitor_books_host_approves_gate_admits_and_fever_refused(world, make_person, live_server, browser):
    venue = services.venue_create(organization=world.factory, actor=world.admin, name="东大门", kind="gate")
    make_person(name="王主任", id_number="11010519491231002X")
    worker = make_person(name="赵工人")
    guard = make_user("guard")
    tenancy.membership_grant(user=guard, role=Role.GATEKEEPER, organization=world.factory, actor=world.admin)

    def new_page():
        ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(15_000)
        return ctx.new_page()

    # 1. The visitor books from the public page.
    visitor_page = new_page()
    visitor_page.goto(f"{live_server.url}/access/book/{services.book_token(world.factory)}/")
    start = timezone.localtime() - timedelta(minutes=10)
    visitor_page.fill("#id_name", "孙访客")
    visitor_page.fill("#id_id_number", "440524188001010014")
    visitor_page.fill("#id_phone", "13912345678")
    visitor_page.fill("#id_company", "长治物流公司")
    # The host is found by pinyin initials; the visitor sees the name masked and picks it.
    visitor_page.type("#id_host_name", "wzr", delay=50)
    visitor_page.wait_for_selector("#host-results .fk-host")
    assert "王*任" in visitor_page.inner_text("#host-results")
    assert "王主任" not in visitor_page.inner_text("#host-results")
    visitor_page.click("#host-results .fk-host")
    assert "王*任" in visitor_page.inner_text("#host-picked")
    visitor_page.fill("#id_purpose", "送货")
    visitor_page.fill("#id_starts_at", start.strftime("%Y-%m-%dT%H:%M"))
    visitor_page.fill("#id_ends_at", (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    visitor_page.fill("#id_places_14d", "山西省长治市")
    visitor_page.select_option("#id_health_code", "green")
    with visitor_page.expect_navigation():
        visitor_page.click("#book-form button[type=submit]")
    assert "待审批" in visitor_page.inner_text("#visit-status")
    pass_url = visitor_page.url

    # 2. The organisation admin approves from the list.
    admin_page = new_page()
    login(admin_page, live_server, "alice", "pw-alice")
    admin_page.goto(f"{live_server.url}/access/visits/")
    assert "孙访客" in admin_page.inner_text("#visit-table")
    with admin_page.expect_navigation():
        admin_page.click("#visit-table button.btn-success")
    assert Visit.objects.get().status == "approved"
    visitor_page.goto(pass_url)
    assert "已同意" in visitor_page.inner_text("#visit-status")

    # 3. The gatekeeper sees the appointment and admits the visitor.
    gate = new_page()
    login(gate, live_server, "guard", "pw-guard")
    gate.goto(f"{live_server.url}/access/gate/")
    assert "孙访客" in gate.inner_text("#today-visits")
    gate.click("#today-visits button")
    gate.fill("#gate-temp", "36.5")
    gate.click("label[for=hc-green]")
    gate.click("#gate-entry")
    gate.wait_for_selector("#gate-decision.admit")
    assert "孙访客" in gate.inner_text("#gate-decision")
    assert Visit.objects.get().status == "arrived"
    # The form is ready for the next person: nothing of this one's reading or search is carried over to them.
    assert [gate.input_value(f"#{f}") for f in ("gate-code", "gate-person", "gate-temp", "gate-search")] == [""] * 4
    assert gate.is_checked("#hc-none")

    # 4. A worker with a fever types their pass code at the gate: refused, and the admin is alerted.
    code = services.pass_code_issue(person=worker).code
    gate.fill("#gate-code", code)
    gate.fill("#gate-temp", "38.1")
    gate.click("#gate-entry")
    gate.wait_for_selector("#gate-decision.refuse")
    assert "体温异常" in gate.inner_text("#gate-decision")
    assert Scan.objects.filter(person=worker, decision="refuse").exists()
    alert = Notification.objects.get(recipient=world.alice, event="access.fever")
    assert "赵工人" in alert.title
    # The alert is in the admin's inbox, and its link leads to the refused scan in the log.
    admin_page.goto(f"{live_server.url}/notify/")
    assert "发热预警：赵工人" in admin_page.inner_text("body")
    admin_page.goto(f"{live_server.url}{alert.link}")
    assert "体温异常" in admin_page.inner_text("#scan-table")

    # 5. The venue poster is a PDF.
    response = admin_page.request.get(f"{live_server.url}/access/venues/posters.pdf?ids={venue.pk}")
    assert response.ok and response.body()[:4] == b"%PDF"


def test_walkin_host_approves_on_phone_gate_sees_it_and_admits(world, make_person, live_server, browser):
    services.venue_create(organization=world.factory, actor=world.admin, name="东大门", kind="gate")
    host = make_person(name="王主任", id_number="11010519491231002X", unit=world.workshop1)
    host_user = make_user("wang")
    tenancy.membership_grant(user=host_user, role=Role.MEMBER, organization=world.factory, actor=world.admin)
    Person.objects.filter(pk=host.pk).update(user=host_user)
    guard = make_user("guard")
    tenancy.membership_grant(user=guard, role=Role.GATEKEEPER, organization=world.factory, actor=world.admin)

    def new_page(**kw):
        ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **kw)
        ctx.set_default_timeout(15_000)
        return ctx.new_page()

    # 1. The gatekeeper registers a walk-in: finds the host by initials, fills the visitor in.
    gate = new_page(viewport={"width": 1280, "height": 1000})
    login(gate, live_server, "guard", "pw-guard")
    gate.goto(f"{live_server.url}/access/gate/")
    gate.type("#walkin-host-q", "wzr", delay=50)
    gate.click("#walkin-host-results .fk-host")
    assert "王主任" in gate.inner_text("#walkin-host-picked")
    gate.fill("#walkin-form [name=name]", "孙访客")
    gate.fill("#walkin-form [name=id_number]", "440524188001010014")
    gate.fill("#walkin-form [name=phone]", "13912345678")
    gate.fill("#walkin-form [name=purpose]", "送货")
    gate.fill("#walkin-form [name=temperature]", "36.6")
    gate.click("#walkin-submit")
    gate.wait_for_selector("#walkin-registered")
    gate.wait_for_selector("#walkins [data-status=pending]")
    assert "等待审批" in gate.inner_text("#walkins")
    assert not Scan.objects.exists()

    # 2. The host approves on their phone, from the notification.
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(phone, live_server, "wang", "pw-wang")
    phone.goto(f"{live_server.url}/notify/")
    assert "访客在东大门等候审批：孙访客" in phone.inner_text("body")
    phone.goto(f"{live_server.url}/access/visits/?status=pending")
    with phone.expect_navigation():
        phone.click("#visit-table button.btn-success")
    assert Visit.objects.get().status == "approved"

    # 3. The console's poll turns the card green without a reload; the gatekeeper admits.
    gate.wait_for_selector("#walkins [data-status=approved] .fk-walkin-admit")
    assert "已同意" in gate.inner_text("#walkins")
    gate.click("#walkins .fk-walkin-admit")
    gate.wait_for_selector("#gate-decision.admit")
    assert "孙访客" in gate.inner_text("#gate-decision")
    assert Visit.objects.get().status == "arrived"
    # The form is ready for the next person: nothing of this one's reading or search is carried over to them.
    assert [gate.input_value(f"#{f}") for f in ("gate-code", "gate-person", "gate-temp", "gate-search")] == [""] * 4
    assert gate.is_checked("#hc-none")
    assert Scan.objects.get().decision == "admit"
    gate.wait_for_selector("#walkins .fk-empty")


def test_in_english_a_visitor_is_told_what_is_wrong_and_a_feverish_worker_why(world, make_person, live_server,
                                                                               browser):
    """An English reader: the public booking page (the visitor's browser), the gate console and the scan log."""
    services.venue_create(organization=world.factory, actor=world.admin, name="东大门", kind="gate")
    make_person(name="王主任", id_number="11010519491231002X")
    worker = make_person(name="赵工人")
    guard = make_user("guard", language="en")
    tenancy.membership_grant(user=guard, role=Role.GATEKEEPER, organization=world.factory, actor=world.admin)
    ctx = browser.new_context(locale="en-US", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)

    visitor = ctx.new_page()
    visitor.goto(f"{live_server.url}/access/book/{services.book_token(world.factory)}/")
    start = timezone.localtime() - timedelta(minutes=10)
    visitor.fill("#id_name", "孙访客")
    visitor.fill("#id_id_number", "440524188001010015")  # a wrong check digit
    visitor.fill("#id_phone", "13912345678")
    visitor.type("#id_host_name", "wzr", delay=50)
    visitor.click("#host-results .fk-host")
    visitor.fill("#id_purpose", "delivery")
    visitor.fill("#id_starts_at", start.strftime("%Y-%m-%dT%H:%M"))
    visitor.fill("#id_ends_at", (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    with visitor.expect_navigation():
        visitor.click("#book-form button[type=submit]")
    body = visitor.inner_text("body")
    assert "The check digit of the ID number is wrong" in body and "校验位" not in body
    assert not Visit.objects.exists()

    gate = ctx.new_page()
    login(gate, live_server, "guard", "pw-guard")
    gate.goto(f"{live_server.url}/access/gate/")
    gate.fill("#gate-code", services.pass_code_issue(person=worker).code)
    gate.fill("#gate-temp", "38.1")
    gate.click("#gate-entry")
    decision = gate.wait_for_selector("#gate-decision.refuse").inner_text()
    assert "please go to the fever clinic" in decision and "体温异常" not in decision, decision
    gate.goto(f"{live_server.url}/access/scans/")
    assert "Temperature 38.1°C" in gate.inner_text("#scan-table")
