"""The health-code provider interface (issue 4): manual default, the fake and the HTTP providers, caching and the
back-off, the organisation's switch, and the gate console pre-filling the interface's colour."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from fangkong.access import healthcodes, services
from fangkong.access.healthcodes import HttpJsonProvider, ProviderUnavailable
from fangkong.access.models import AccessSetting, Scan
from fangkong.core.models import AuditEvent

FAKE = "fangkong.access.healthcodes.FakeProvider"
HTTP = "fangkong.access.healthcodes.HttpJsonProvider"


@pytest.fixture(autouse=True)
def _fresh_stats():
    healthcodes.stats.clear()
    yield
    healthcodes._providers.clear()


@pytest.fixture
def interface(world: Any):
    """The factory consults the health-code interface."""
    healthcodes.setting_provider_update(organization=world.factory, actor=world.admin, health_code_provider="interface")


def _fake(settings: Any, **options: Any) -> Any:
    settings.FANGKONG_HEALTH_CODE_PROVIDER = FAKE
    settings.FANGKONG_HEALTH_CODE_OPTIONS = options
    return healthcodes.get_provider()


# --- the providers -------------------------------------------------------------------------------------------------


def test_manual_provider_is_the_default_and_always_asks_the_gatekeeper(world, make_person, interface, settings):
    settings.FANGKONG_HEALTH_CODE_PROVIDER = None
    person = make_person()
    assert isinstance(healthcodes.get_provider(), healthcodes.ManualProvider)
    assert healthcodes.is_manual()
    assert healthcodes.consult(person).status == "off"
    assert healthcodes.health_code_for(person) is None


def test_organisation_that_enters_codes_by_hand_never_calls_the_provider(world, make_person, settings):
    fake = _fake(settings, default="red")
    person = make_person()
    assert AccessSetting.objects.filter(organization=world.factory).first() is None  # default: manual
    assert healthcodes.consult(person).status == "off" and fake.calls == 0


def test_fake_provider_answer_is_cached_for_a_few_minutes(world, make_person, interface, settings, time_machine):
    person, other = make_person(), make_person()
    fake = _fake(settings, colours={person.pk: "yellow"}, source="测试接口")
    first = healthcodes.consult(person)
    assert first.status == "ok" and first.colour == "yellow" and first.reading.source == "测试接口"
    assert "黄码" in first.message and "测试接口" in first.message
    again = healthcodes.consult(person)
    assert again.colour == "yellow" and fake.calls == 1 and healthcodes.stats["cache_hits"] == 1
    # No colour known is an answer too, cached the same way.
    assert healthcodes.consult(other).status == "none" and healthcodes.consult(other).status == "none"
    assert fake.calls == 2
    time_machine.move_to(timezone.now() + timedelta(seconds=healthcodes.CACHE_SECONDS + 5))
    healthcodes.consult(person)
    assert fake.calls == 3


def test_demo_provider_gives_everyone_a_stable_mostly_green_colour(world, make_person):
    provider = healthcodes.DemoProvider(colours={"7": "red"})
    people = [make_person() for _ in range(30)]
    now = timezone.now()
    colours = [provider.lookup(p, now).colour for p in people]  # type: ignore[union-attr]
    assert colours == [provider.lookup(p, now).colour for p in people]  # type: ignore[union-attr]
    assert set(colours) <= {"green", "yellow", "red"} and colours.count("green") >= 20


def test_a_failing_provider_is_reported_counted_and_backed_off(world, make_person, interface, settings, caplog):
    fake = _fake(settings, fail="查询超时")
    person, other = make_person(), make_person()
    down = healthcodes.consult(person)
    assert down.status == "unavailable" and down.reading is None and "查询超时" in down.message
    assert "人工查验" in down.message
    assert healthcodes.stats["failures"] == 1 and healthcodes.failures_total() == 1
    assert "failed" in caplog.text
    # Within the back-off nobody waits for the provider again, whoever is scanned.
    assert healthcodes.consult(other).status == "unavailable" and fake.calls == 1
    assert healthcodes.health_code_for(other) is None


def test_a_provider_that_raises_anything_is_unavailable_not_an_error(world, make_person, interface, settings):
    class Broken:
        manual = False

        def lookup(self, person: Any, at: Any) -> Any:
            raise RuntimeError("boom")

    settings.FANGKONG_HEALTH_CODE_PROVIDER = FAKE
    healthcodes._providers[healthcodes._key()] = Broken()
    result = healthcodes.consult(make_person())
    assert result.status == "unavailable" and "接口出错" in result.message


# --- the HTTP provider against a local server -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path == "/slow":
            time.sleep(1.0)
        if self.path == "/missing":
            self.send_response(404)
            self.end_headers()
            return
        if self.path == "/error":
            self.send_response(500)
            self.end_headers()
            return
        payload = (b"not json" if self.path == "/garbage" else
                   json.dumps({"colour": "red", "observed_at": "2026-11-23T08:00:00+08:00", "source": "省健康码"})
                   .encode())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server():
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_provider_sends_the_id_hash_never_the_id_number(world, make_person, server):
    person = make_person(id_number="11010519491231002X")
    provider = HttpJsonProvider(url=server + "/ok", token="s3cret", timeout=2)
    reading = provider.lookup(person, timezone.now())
    assert reading is not None and reading.colour == "red" and reading.source == "省健康码"
    assert reading.observed_at == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    (request,) = _Handler.seen
    assert request["body"]["id_number_hash"] == person.id_number_hash
    assert "11010519491231002X" not in json.dumps(request) and request["auth"] == "Bearer s3cret"


def test_http_provider_unknown_person_timeout_and_errors(world, make_person, server):
    person = make_person()
    now = timezone.now()
    assert HttpJsonProvider(url=server + "/missing").lookup(person, now) is None
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="超时"):
        HttpJsonProvider(url=server + "/slow", timeout=0.2).lookup(person, now)
    assert time.monotonic() - started < 0.9  # the gate waited for the timeout, not for the server
    with pytest.raises(ProviderUnavailable, match="500"):
        HttpJsonProvider(url=server + "/error").lookup(person, now)
    with pytest.raises(ProviderUnavailable, match="无法识别"):
        HttpJsonProvider(url=server + "/garbage").lookup(person, now)
    with pytest.raises(ProviderUnavailable, match="无法连接"):
        HttpJsonProvider(url="http://127.0.0.1:9/", timeout=0.5).lookup(person, now)


def test_http_provider_through_consult_falls_back_on_timeout(world, make_person, interface, settings, server):
    settings.FANGKONG_HEALTH_CODE_PROVIDER = HTTP
    settings.FANGKONG_HEALTH_CODE_OPTIONS = {"url": server + "/slow", "timeout": 0.2}
    result = healthcodes.consult(make_person())
    assert result.status == "unavailable" and "超时" in result.message
    settings.FANGKONG_HEALTH_CODE_OPTIONS = {"url": server + "/ok", "timeout": 2}  # another provider: no back-off
    assert healthcodes.consult(make_person()).colour == "red"


# --- the organisation's switch ----------------------------------------------------------------------------------------


def test_settings_page_chooses_the_interface_and_audits_it(client, world, settings):
    client.force_login(world.alice)
    url = reverse("access:settings")
    html = client.get(url).content.decode()
    assert "健康码来源" in html and "尚未配置健康码接口" in html
    r = client.post(url, {"fever_threshold": "", "refuse_unknown": "on", "health_code_provider": "interface"})
    assert r.status_code == 302
    assert AccessSetting.objects.get(organization=world.factory).health_code_provider == "interface"
    assert AuditEvent.objects.filter(action="access.settings", changes__health_code_provider=["manual", "interface"]
                                     ).exists()
    _fake(settings, source="演示接口")
    assert "演示接口" in client.get(url).content.decode()
    r = client.post(url, {"refuse_unknown": "on", "health_code_provider": "nonsense"})
    assert r.status_code == 200 and AccessSetting.objects.get(organization=world.factory).health_code_provider == \
        "interface"


# --- the gate console -------------------------------------------------------------------------------------------------


def test_console_prefills_the_interface_colour_and_the_gatekeeper_may_override(client, world, gate_venue,
                                                                               make_person, interface, settings):
    person = make_person(name="郑职工")
    _fake(settings, colours={person.pk: "red"}, source="省健康码")
    client.force_login(world.alice)
    r = client.get(reverse("access:gate_health_code"), {"person": person.pk}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200 and 'data-colour="red"' in html and "省健康码" in html and "红码" in html
    assert f'data-person="{person.pk}"' in html
    # The same through a typed pass code.
    code = services.pass_code_issue(person=person).code
    html = client.get(reverse("access:gate_health_code"), {"code": code}).content.decode()
    assert 'data-colour="red"' in html and f'data-code="{code}"' in html
    # Submitted without a colour (a scanner gun submits at once): the interface's red refuses, with its source.
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "person": person.pk,
                                                  "temperature": "36.5", "direction": "entry"})
    html = r.content.decode()
    assert "fk-decision refuse" in html and "红码" in html and "省健康码" in html
    assert Scan.objects.get().health_code == "red"
    # The gatekeeper saw green on the phone and chose it: their colour wins.
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "person": person.pk,
                                                  "temperature": "36.5", "health_code": "green",
                                                  "direction": "entry"})
    html = r.content.decode()
    assert "fk-decision admit" in html and "gate-health-source" not in html


def test_console_says_plainly_when_the_interface_is_down(client, world, gate_venue, make_person, interface,
                                                         settings):
    person = make_person(name="王职工")
    _fake(settings, fail="查询超时")
    client.force_login(world.alice)
    html = client.get(reverse("access:gate_health_code"), {"person": person.pk}).content.decode()
    assert "健康码接口暂时无法使用（查询超时），请人工查验健康码后选择颜色" in html and 'data-colour=""' in html
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "person": person.pk,
                                                  "temperature": "36.5", "direction": "entry"})
    html = r.content.decode()
    assert "fk-decision admit" in html and "暂时无法使用" in html
    assert Scan.objects.get().health_code == ""


def test_console_manual_organisation_shows_nothing_and_scope_holds(client, world, gate_venue, make_person,
                                                                   settings):
    person = make_person()
    other = make_person(organization=world.other_org)
    fake = _fake(settings, default="red")
    client.force_login(world.alice)
    assert client.get(reverse("access:gate_health_code"), {"person": person.pk}).content.decode().strip() == ""
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "person": person.pk})
    assert "fk-decision admit" in r.content.decode() and fake.calls == 0
    # Another tenant's person: nothing, and nothing is asked about them.
    healthcodes.setting_provider_update(organization=world.factory, actor=world.admin, health_code_provider="interface")
    assert client.get(reverse("access:gate_health_code"), {"person": other.pk}).content.decode().strip() == ""
    assert fake.calls == 0


def test_phone_scan_uses_the_interface_colour(client, world, gate_venue, make_person, interface, settings):
    from fangkong.people.models import Person

    person = make_person(name="冯职工")
    Person.objects.filter(pk=person.pk).update(user=world.bob)
    _fake(settings, colours={person.pk: "yellow"})
    client.force_login(world.bob)
    url = reverse("access:venue_scan", args=[services.venue_token(gate_venue)])
    html = client.post(url, {"direction": "entry"}).content.decode()
    assert "fk-decision refuse" in html and "黄码" in html
    assert Scan.objects.get().health_code == "yellow"
    # Leaving is never refused and asks nobody.
    settings.FANGKONG_HEALTH_CODE_OPTIONS = {"fail": "查询超时"}
    client.post(url, {"direction": "exit"})
    assert healthcodes.stats["failures"] == 0
