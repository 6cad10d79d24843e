"""In Chromium: the gate console pre-selects the health-code interface's colour, the gatekeeper overrides it, and a
dead interface is announced in plain Chinese."""

from __future__ import annotations

import pytest

from conftest import login
from fangkong.access import healthcodes, services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_console_prefills_interface_colour_and_falls_back_when_down(world, make_person, live_server, browser,
                                                                    settings):
    services.venue_create(organization=world.factory, actor=world.admin, name="东大门", kind="gate")
    red = make_person(name="郑职工")
    other = make_person(name="钱职工")
    healthcodes.setting_provider_update(organization=world.factory, actor=world.admin, health_code_provider="interface")
    settings.FANGKONG_HEALTH_CODE_PROVIDER = "fangkong.access.healthcodes.FakeProvider"
    settings.FANGKONG_HEALTH_CODE_OPTIONS = {"colours": {red.pk: "red"}, "source": "省健康码"}

    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    gate = ctx.new_page()
    login(gate, live_server, "alice", "pw-alice")
    gate.goto(f"{live_server.url}/access/gate/")

    # Picked from the search: the interface's red is shown with its source and pre-selected.
    gate.type("#gate-search", "郑职工", delay=30)
    gate.click("#search-results button")
    gate.wait_for_selector("#hc-provider-note[data-colour=red]")
    assert "省健康码" in gate.inner_text("#hc-provider")
    assert gate.is_checked("#hc-red")
    # The phone shows green: the gatekeeper chooses green, and green decides.
    gate.click("label[for=hc-green]")
    gate.fill("#gate-temp", "36.5")
    gate.click("#gate-entry")
    gate.wait_for_selector("#gate-decision.admit")
    # Ready for the next person: no colour carried over.
    assert gate.inner_text("#hc-provider").strip() == "" and gate.is_checked("#hc-none")

    # The interface goes down: a typed pass code brings the plain-Chinese notice; the entry goes on by hand.
    settings.FANGKONG_HEALTH_CODE_OPTIONS = {"fail": "查询超时"}
    gate.fill("#gate-code", services.pass_code_issue(person=other).code)
    gate.press("#gate-code", "Tab")
    gate.wait_for_selector("#hc-provider-note")
    assert "健康码接口暂时无法使用（查询超时）" in gate.inner_text("#hc-provider")
    gate.fill("#gate-temp", "36.4")
    gate.click("#gate-entry")
    gate.wait_for_selector("#gate-decision.admit:has-text('钱职工')")
    assert "暂时无法使用" in gate.inner_text("#decision")
    ctx.close()
