"""Policy pages render for the roles that use them and refuse the others."""

from __future__ import annotations

from datetime import date

import pytest

from fangkong.policy.demo import SEED003
from fangkong.policy.models import Policy, RiskArea, TravelRequest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to("2021-09-20 10:00 +0800", tick=False)


def test_officer_installs_and_toggles_a_pack(client, world):
    client.force_login(world.officer)
    page = client.get("/policy/").content.decode()
    assert "尚无防控政策" in page and SEED003 in page
    r = client.post("/policy/packs/install/", {"pack_key": SEED003})
    assert r.status_code == 302
    policy = Policy.objects.get(jurisdiction=world.county)
    page = client.get("/policy/").content.decode()
    assert "本属地生效中" in page and "集中隔离医学观察" in page and "第二条" in page
    rule = policy.rules.get(key="s003_past_cases")
    client.post(f"/policy/rules/{rule.pk}/toggle/", {"enabled": "0"})
    rule.refresh_from_db()
    assert not rule.enabled and "已停用" in client.get("/policy/").content.decode()
    client.post(f"/policy/{policy.pk}/toggle/", {"enabled": "0"})
    assert "本属地未启用" in client.get("/policy/").content.decode()
    # An organisation admin reads policies but cannot install.
    client.force_login(world.alice)
    assert client.get("/policy/").status_code == 200
    assert client.post("/policy/packs/install/", {"pack_key": SEED003}).status_code == 403
    assert client.post(f"/policy/rules/{rule.pk}/toggle/", {"enabled": "1"}).status_code == 403


def test_what_if_page(client, world, city_policy, high_area):
    client.force_login(world.alice)
    assert client.get("/policy/what-if/").status_code == 200
    data = {"evaluation_date": "2021-09-17", "arrived_on": "2021-09-17", "stays-TOTAL_FORMS": "3",
            "stays-INITIAL_FORMS": "0", "stays-0-region_code": "130109", "stays-0-from_date": "2021-09-10",
            "stays-0-to_date": "2021-09-12"}
    page = client.post("/policy/what-if/", data).content.decode()
    assert "集中隔离医学观察" in page and "2021-09-17 至 2021-09-30" in page
    data["stays-0-region_code"] = "999999"
    assert "未知的行政区划代码" in client.post("/policy/what-if/", data).content.decode()


def test_risk_area_pages(client, world):
    client.force_login(world.officer)
    r = client.post("/policy/risk-areas/new/", {"region_code": "999999", "level": "high",
                                                 "effective_from": "2021-09-10"})
    assert r.status_code == 200 and "未知的行政区划代码" in r.content.decode()
    client.post("/policy/risk-areas/new/", {"region_code": "130109", "level": "high", "effective_from": "2021-09-10"})
    area = RiskArea.objects.get()
    r = client.post(f"/policy/risk-areas/{area.pk}/change/", {"action": "end", "ended_on": "2021-09-25"})
    assert r.status_code == 302 and RiskArea.objects.count() == 2
    page = client.get(f"/policy/risk-areas/{area.pk}/").content.decode()
    assert "高风险" in page and "低风险" in page
    # charlie (太原) neither sees nor changes it.
    client.force_login(world.charlie)
    assert client.get(f"/policy/risk-areas/{area.pk}/").status_code == 404
    assert client.post("/policy/risk-areas/new/", {}).status_code == 403


def test_travel_pages(client, world, make_person):
    from fangkong.conftest import make_user
    from fangkong.tenancy.services import membership_grant

    member = make_user("erin")
    make_person(unit=world.workshop1, user=member)
    membership_grant(user=member, role="member", unit=world.workshop1, organization=world.factory, actor=world.admin)
    client.force_login(member)
    r = client.post("/policy/travel/", {"destination_code": "110105", "from_date": "2021-09-21",
                                        "to_date": "2021-09-23", "purpose": "出差"})
    assert r.status_code == 302
    tr = TravelRequest.objects.get()
    client.force_login(world.bob)
    assert "出差" in client.get("/policy/travel/").content.decode()
    client.post(f"/policy/travel/{tr.pk}/decide/", {"decision": "refuse", "reason": "暂缓"})
    tr.refresh_from_db()
    assert tr.status == "refused" and tr.reason == "暂缓" and tr.decided_at.date() == date(2021, 9, 20)


def test_what_if_names_the_tests_and_follow_ups_in_the_readers_language(client, world, city_policy, high_area):
    from django.conf import settings

    client.force_login(world.alice)
    data = {"evaluation_date": "2021-09-17", "arrived_on": "2021-09-17", "stays-TOTAL_FORMS": "3",
            "stays-INITIAL_FORMS": "0", "stays-0-region_code": "130109", "stays-0-from_date": "2021-09-10",
            "stays-0-to_date": "2021-09-12"}
    page = client.post("/policy/what-if/", data).content.decode()
    assert "核酸检测 09-17" in page  # a label, not the code "nat"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.post("/policy/what-if/", data).content.decode()
    assert "NAT test 09-17" in page and "核酸检测" not in page and "nat 09-17" not in page


def test_run_card_in_english_translates_the_whole_area_phrase(client, world):
    from django.conf import settings

    from fangkong.policy import services

    area = services.risk_area_announce(jurisdiction=world.county, region_code="130109", level="medium",
                                       effective_from=date(2021, 9, 21), actor=world.admin)
    client.force_login(world.officer)
    assert "(中风险, 2021-09-21 起)" in client.get("/policy/risk-areas/").content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/policy/risk-areas/").content.decode()
    card = page[page.index('id="run-'):]
    card = card[:card.index("</div>")]
    assert "Medium risk, from 2021-09-21" in card and "起" not in card
    assert "起" not in client.get(f"/policy/risk-areas/{area.pk}/").content.decode()


def test_pack_notes_name_no_engine_codes(client, world):
    """Notes are read by officers (in both languages): no field names of the engine in them."""
    import re

    from fangkong.policy import packs
    from fangkong.policy.models import Rule

    for pack in packs.PACKS.values():
        for rule in pack.rules:
            assert not re.search(r"[A-Za-z]+_[A-Za-z_]+", rule.note), (rule.key, rule.note)
    client.force_login(world.officer)
    client.post("/policy/packs/install/", {"pack_key": SEED003})
    note = Rule.objects.get(key="s003_medium_area").note
    assert "不具备居家隔离条件" in note and "集中隔离" in note
    assert "no_home_conditions" not in client.get("/policy/").content.decode()


def test_note_migration_rewords_installed_rules(world):
    from importlib import import_module

    from django.apps import apps

    from fangkong.policy.models import Rule

    migration = import_module("fangkong.policy.migrations.0005_rule_note_wording")
    policy = Policy.objects.create(title="t", jurisdiction=world.city, effective_from=date(2021, 9, 17))
    rule = Rule.objects.create(policy=policy, key="k", note="前文" + migration.OLD + "后文")
    untouched = Rule.objects.create(policy=policy, key="k2", note="本单位自行修改的说明")
    migration.reword(apps, None)
    rule.refresh_from_db()
    untouched.refresh_from_db()
    assert rule.note == "前文" + migration.NEW + "后文" and untouched.note == "本单位自行修改的说明"
