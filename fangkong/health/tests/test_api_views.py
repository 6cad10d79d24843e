"""The API and the pages: scope (bob sees only his unit, charlie gets 404), replay, bad input, export."""

from __future__ import annotations

import json
from datetime import date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from fangkong.core.tokens import token_issue
from fangkong.health import services
from fangkong.health.models import Checkin, CheckinSetting, SymptomFlag
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person
from fangkong.tenancy import services as tenancy

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2021, 11, 10)
NOW = datetime(2021, 11, 10, 8, 30, tzinfo=SH)


def auth(user):
    _t, raw = token_issue(user=user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def setup(world, make_person, checkin_member):
    ann = checkin_member()
    ann_user = ann.user
    cat = make_person(unit=world.workshop2, name="猫猫")
    far = make_person(organization=world.other_org, name="远方")
    with time_machine.travel(NOW, tick=False):
        services.obligations_generate_for_day(day=DAY)
    return {"ann": ann, "cat": cat, "far": far, "ann_user": ann_user}


def post(client, user, data):
    return client.post("/api/v1/checkins", json.dumps(data), content_type="application/json", **auth(user))


@time_machine.travel(NOW, tick=False)
def test_self_checkin_and_replay(client, world, setup):
    r = post(client, setup["ann_user"], {"temperature": 36.6, "client_key": "abc", "device_id": "d1"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["person_id"] == setup["ann"].pk and body["date"] == "2021-11-10" and not body["abnormal"]
    again = post(client, setup["ann_user"], {"temperature": 39, "client_key": "abc"})
    assert again.status_code == 200 and again.json()["id"] == body["id"] and again.json()["replayed"]
    assert Checkin.objects.count() == 1
    assert Obligation.objects.get(person=setup["ann"]).status == "fulfilled"


@time_machine.travel(NOW, tick=False)
def test_fever_via_api_returns_instruction(client, world, setup):
    r = post(client, setup["ann_user"], {"temperature": "38.1", "symptoms": ["fatigue"]})
    assert r.status_code == 201
    assert r.json()["abnormal"] and "发热门诊" in r.json()["instruction"]
    assert SymptomFlag.objects.filter(person=setup["ann"]).exists()


@time_machine.travel(NOW, tick=False)
def test_default_instruction_in_the_readers_language_own_wording_as_written(client, world, setup):
    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    r = client.post("/api/v1/checkins", json.dumps({"temperature": "38.1", "client_key": "a"}),
                    content_type="application/json", **auth(setup["ann_user"]), **english)
    assert r.json()["instruction"].startswith("At 37.3 °C or above, go to the fever clinic at once")
    setting = CheckinSetting.objects.get(organization=world.factory)
    setting.fever_instruction = "请到厂医务室测量复核"
    setting.save()  # as the settings page does (a save also refreshes the settings cache)
    r = client.post("/api/v1/checkins", json.dumps({"temperature": "38.2", "client_key": "b"}),
                    content_type="application/json", **auth(setup["ann_user"]), **english)
    assert r.json()["instruction"] == "请到厂医务室测量复核"


@time_machine.travel(NOW, tick=False)
def test_bad_input_errors_name_the_field(client, world, setup):
    r = post(client, setup["ann_user"], {"temperature": 45})
    assert r.status_code == 400 and "temperature" in r.json()["errors"] and "体温" in r.json()["message"]
    r = post(client, setup["ann_user"], {"date": "2021-11-11"})
    assert r.status_code == 400 and "date" in r.json()["errors"]


@time_machine.travel(NOW, tick=False)
def test_bad_input_errors_in_english(client, world, setup):
    def english(data):
        return client.post("/api/v1/checkins", json.dumps(data), content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE="en", **auth(setup["ann_user"])).json()

    body = english({"temperature": 45})
    assert body["errors"]["temperature"] == [
        "Temperature 45.0 ℃ is outside the plausible range (34.0–43.0 ℃); please check for a typo"]
    assert body["message"].startswith("Temperature: Temperature 45.0")
    assert english({"date": "2021-11-11"})["errors"]["date"] == [
        "2021-11-11 is after today (2021-11-10): you cannot check in ahead"]
    assert english({"symptoms": ["sneezing"]})["errors"]["symptoms"] == ["Unknown symptom code: sneezing"]
    assert english({"region_code": "999999"})["errors"]["region_code"] == ["Unknown administrative division: 999999"]
    # The check-in page says it in English too.
    client.force_login(setup["ann_user"])
    page = client.post("/health/checkin/", {"temperature": "48"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Temperature 48.0 ℃ is outside the plausible range" in page


@time_machine.travel(NOW, tick=False)
def test_for_others_scope(client, world, setup):
    assert post(client, world.bob, {"person_id": setup["ann"].pk, "temperature": 36.5}).status_code == 201
    assert Checkin.objects.get().proxy
    # bob leads workshop 1: workshop 2 and the other tenant are not his.
    assert post(client, world.bob, {"person_id": setup["cat"].pk}).status_code == 404
    assert post(client, world.charlie, {"person_id": setup["ann"].pk}).status_code == 404
    # A member may not check in for somebody else: 404, not a hint that the person exists.
    assert post(client, setup["ann_user"], {"person_id": setup["cat"].pk}).status_code == 404
    # Charlie has no linked person: a self check-in is 404.
    assert post(client, world.charlie, {}).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_lists_and_compliance_scope(client, world, setup):
    post(client, setup["ann_user"], {"temperature": 38})
    r = client.get("/api/v1/compliance?date=2021-11-10", **auth(world.bob))
    assert r.status_code == 200
    assert [(u["name"], u["expected"], u["done"], u["missing"], u["abnormal"]) for u in r.json()] == [
        ("一车间", 1, 1, 0, 1)]
    r = client.get("/api/v1/compliance?date=2021-11-10", **auth(world.alice))
    assert {u["name"] for u in r.json()} == {"一车间", "二车间"}
    assert client.get("/api/v1/compliance?date=2021-11-10", **auth(world.charlie)).json() == []
    r = client.get("/api/v1/checkins?date=2021-11-10&status=abnormal", **auth(world.alice))
    assert r.json()["count"] == 1 and r.json()["items"][0]["person_name"] == "安安"
    assert client.get("/api/v1/checkins", **auth(world.charlie)).json()["count"] == 0
    r = client.get(f"/api/v1/obligations?status=open&kind=checkin&unit={world.workshop2.pk}", **auth(world.alice))
    assert r.json()["count"] == 1 and r.json()["items"][0]["person_id"] == setup["cat"].pk
    assert client.get("/api/v1/obligations", **auth(world.bob)).json()["count"] == 1
    assert client.get("/api/v1/checkins", **auth(setup["ann_user"])).status_code == 403


@time_machine.travel(NOW, tick=False)
def test_self_checkin_page_one_tap_and_fever(client, world, setup):
    client.force_login(setup["ann_user"])
    r = client.get("/health/checkin/")
    assert r.status_code == 200 and "一切正常" in r.content.decode()
    key = r.context["form"].initial["client_key"]
    r = client.post("/health/checkin/", {"all_normal": "1", "client_key": key, "temperature": "39"})
    assert r.status_code == 200 and "打卡成功" in r.content.decode()
    assert Checkin.objects.get().temperature is None
    r = client.post("/health/checkin/", {"temperature": "37.5", "client_key": "other"})
    assert "发热门诊" in r.content.decode()
    r = client.post("/health/checkin/", {"temperature": "50", "client_key": "third"})
    assert r.status_code == 200 and "超出合理范围" in r.content.decode()
    # The browser got a device id on its first visit; later check-ins carry it for the integrity checks.
    device = client.cookies["fk_device"].value
    assert device and set(Checkin.objects.values_list("device_id", flat=True)) == {device}


@time_machine.travel(NOW, tick=False)
def test_rollcall_fills_a_unit_at_once(client, world, setup, make_person):
    extra = make_person(unit=world.team1, name="班员")
    client.force_login(world.bob)
    r = client.get(f"/health/rollcall/?unit={world.workshop1.pk}")
    assert r.status_code == 200 and "班员" in r.content.decode()
    ann = setup["ann"]
    r = client.post("/health/rollcall/", {
        "unit": world.workshop1.pk, "batch": "b1", f"t_{ann.pk}": "37.8", f"t_{extra.pk}": "", "slot": "",
    })
    assert r.status_code == 302
    assert Checkin.objects.filter(proxy=True).count() == 2
    assert Checkin.objects.get(person=ann).abnormal
    # A row with a bad temperature is refused by name; the rows already stored are not doubled on the re-submit.
    r = client.post("/health/rollcall/", {
        "unit": world.workshop1.pk, "batch": "b2", f"t_{ann.pk}": "36.6", f"t_{extra.pk}": "55", "slot": "",
    })
    assert r.status_code == 200 and "超出合理范围" in r.content.decode() and r.context["batch"] == "b2"
    assert "已提交 1 人；有 1 行未能提交" in r.content.decode()
    client.post("/health/rollcall/", {
        "unit": world.workshop1.pk, "batch": "b2", f"t_{ann.pk}": "36.6", f"t_{extra.pk}": "36.7", "slot": "",
    })
    assert Checkin.objects.filter(person=ann).count() == 2 and Checkin.objects.filter(person=extra).count() == 2
    # bob cannot open workshop 2's roll call.
    assert client.get(f"/health/rollcall/?unit={world.workshop2.pk}").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_flags_page_and_clear_scope(client, world, setup):
    ann = Person.objects.select_related("unit", "organization").get(pk=setup["ann"].pk)
    services.checkin_submit(actor=setup["ann_user"], person=ann, temperature="38.5")
    flag = SymptomFlag.objects.get()
    client.force_login(world.charlie)
    assert client.post(f"/health/flags/{flag.pk}/clear/", {"reason": "x"}).status_code == 404
    client.force_login(world.bob)
    assert "安安" in client.get("/health/flags/").content.decode()
    r = client.post(f"/health/flags/{flag.pk}/clear/", {"reason": "复测正常"})
    assert r.status_code == 302
    flag.refresh_from_db()
    assert flag.cleared_by == world.bob


@time_machine.travel(NOW, tick=False)
def test_compliance_page_drilldown_and_export(client, world, setup):
    client.force_login(world.bob)
    r = client.get("/health/compliance/?date=2021-11-10")
    html = r.content.decode()
    assert r.status_code == 200 and "一车间" in html and "二车间" not in html
    r = client.get("/health/compliance/?date=2021-11-10&export=xlsx")
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(r.content))
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[1][:4] == ("一车间", 1, 0, 1)
    detail = list(wb.worksheets[1].iter_rows(values_only=True))
    assert detail[1][1] == "安安"
    r = client.get(f"/obligations/?unit={world.workshop1.pk}&day=2021-11-10&kind=checkin&status=open")
    assert r.status_code == 200 and "安安" in r.content.decode()
    assert "健康打卡" in r.content.decode() and "<code>checkin</code>" not in r.content.decode()  # the kind's name


@pytest.mark.parametrize("url", [
    "/health/checkins/", "/health/flags/", "/health/compliance/", "/health/absences/", "/health/absences/new/",
    "/health/clusters/", "/health/integrity/", "/obligations/",
])
def test_pages_render_for_org_admin(client, world, setup, url):
    client.force_login(world.alice)
    assert client.get(url).status_code == 200


def test_settings_page_saves(client, world, setup):
    client.force_login(world.alice)
    r = client.get("/health/settings/")
    assert r.status_code == 200
    form = r.context["form"]
    data = {k: v for k, v in form.initial.items()
            if v is not None and k not in ("symptoms", "person_kinds", "unit_ids", "id")}
    data.update(name="学生晨午检", frequency="school", is_active="on", symptoms=["fever", "rash"],
                fever_threshold="37.2", unit_ids=[str(world.workshop1.pk)], person_kinds=["student"])
    r = client.post("/health/settings/", data)
    assert r.status_code == 302, r.context["form"].errors
    s = CheckinSetting.objects.get(organization=world.factory)
    assert (s.frequency, s.symptoms, str(s.fever_threshold)) == ("school", ["fever", "rash"], "37.2")
    assert (s.unit_ids, s.person_kinds) == ([world.workshop1.pk], ["student"])
    # Another organisation's unit is not a choice.
    other = tenancy.unit_create(organization=world.other_org, name="外单位", actor=world.admin)
    data["unit_ids"] = [str(other.pk)]
    assert client.post("/health/settings/", data).status_code == 200
    client.force_login(world.bob)
    assert client.get("/health/settings/").status_code == 403


def test_absence_page_registers_and_warns(client, world, setup, make_person):
    kids = [make_person(unit=world.team1) for _ in range(3)]
    client.force_login(world.bob)
    for k in kids:
        r = client.post("/health/absences/new/", {"person": k.pk, "started_on": date.today().isoformat(),
                                                  "reason": "发热", "symptoms": ["fever"]})
        assert r.status_code == 302
    assert "待报告" in client.get("/health/clusters/").content.decode()
    r = client.post("/health/absences/new/", {"person": setup["far"].pk, "started_on": date.today().isoformat(),
                                              "reason": "发热"})
    assert "不在您的管理范围" in r.content.decode()


@time_machine.travel(NOW, tick=False)
def test_symptom_labels_follow_the_request_language(client, world, setup):
    """The symptom check boxes are built once at import; their labels must still be those of each request."""
    client.force_login(setup["ann_user"])
    zh = client.get("/health/checkin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    en = client.get("/health/checkin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "干咳" in zh and "Dry cough" not in zh
    assert "Dry cough" in en and "干咳" not in en


@time_machine.travel(NOW, tick=False)
def test_todays_check_ins_read_in_the_request_language(client, world, setup):
    """The 'already checked in' line lists today's check-ins with each language's punctuation."""
    import re

    client.force_login(setup["ann_user"])
    client.post("/health/checkin/", {"all_normal": "1", "client_key": "first"})
    client.post("/health/checkin/", {"temperature": "37.5", "client_key": "second"})

    def status_line(language: str) -> str:
        page = client.get("/health/checkin/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        return re.search(r'<div class="alert alert-success" role="status">(.*?)</div>', page).group(1)

    en, zh = status_line("en"), status_line("zh-hans")
    assert en.startswith("Already checked in today: ") and "(abnormal)" in en and ", " in en
    assert not re.search(r"[：，（）]", en)
    assert zh.startswith("今天已打卡：") and "（异常）" in zh and "，" in zh
