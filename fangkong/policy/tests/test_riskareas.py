"""Risk areas keep their history; "the list as of D" is a query; import is all-or-nothing with row errors."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
import time_machine
from django.utils import translation

from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.core.tokens import token_issue
from fangkong.policy import services
from fangkong.policy.models import RiskArea

pytestmark = pytest.mark.django_db

D = date(2021, 9, 20)


def bearer(user):
    _t, raw = token_issue(user=user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def announce(world, **kw):
    values = {"jurisdiction": world.city, "region_code": "130109", "level": "high",
              "effective_from": date(2021, 9, 10), "actor": world.admin, "reevaluate": False}
    values.update(kw)
    return services.risk_area_announce(**values)


def test_lowering_adds_a_record_and_keeps_history(world):
    high = announce(world)
    low = services.risk_area_change_level(area=high, level="medium", effective_from=date(2021, 9, 25),
                                          actor=world.admin)
    high.refresh_from_db()
    assert high.level == "high" and high.effective_until == date(2021, 9, 24)
    assert low.supersedes_id == high.pk and low.effective_until is None
    assert [a.pk for a in low.chain()] == [low.pk, high.pk]
    assert list(RiskArea.objects.as_of(date(2021, 9, 24)).values_list("level", flat=True)) == ["high"]
    assert list(RiskArea.objects.as_of(date(2021, 9, 25)).values_list("level", flat=True)) == ["medium"]
    assert not RiskArea.objects.as_of(date(2021, 9, 9)).exists()
    ended = services.risk_area_end(area=low, ended_on=date(2021, 10, 8), actor=world.admin)
    assert ended.level == "low"
    assert RiskArea.objects.count() == 3
    assert AuditEvent.objects.filter(action="riskarea.close").count() == 2


def test_change_must_be_later_and_on_the_latest_record(world):
    high = announce(world)
    with pytest.raises(ServiceError, match="必须晚于"):
        services.risk_area_change_level(area=high, level="low", effective_from=date(2021, 9, 10), actor=world.admin)
    services.risk_area_change_level(area=high, level="low", effective_from=date(2021, 9, 12), actor=world.admin)
    with pytest.raises(ServiceError, match="已被后续记录取代"):
        services.risk_area_change_level(area=high, level="medium", effective_from=date(2021, 9, 14),
                                        actor=world.admin)


def test_duplicate_announcement_is_refused(world):
    announce(world)
    with pytest.raises(ServiceError, match="已有"):
        announce(world, effective_from=date(2021, 9, 15))


def test_unknown_region_is_a_precise_error(world):
    with pytest.raises(ServiceError, match="未知的行政区划代码：999999"):
        announce(world, region_code="999999")


def test_import_json_all_or_nothing(world):
    rows = [{"区划代码": "130109", "风险等级": "高", "生效日期": "2021-09-10"},
            {"区划代码": "999999", "风险等级": "中", "生效日期": "2021-09-10"}]
    with pytest.raises(ServiceError) as exc:
        services.risk_areas_import(jurisdiction=world.city, data=json.dumps(rows).encode(), filename="a.json",
                                   actor=world.admin)
    assert "第 2 行，区划代码：未知的行政区划代码" in str(exc.value.field_errors)
    assert RiskArea.objects.count() == 0
    rows[1]["区划代码"] = "130102"
    result = services.risk_areas_import(jurisdiction=world.city, data=json.dumps(rows).encode(), filename="a.json",
                                        actor=world.admin)
    assert len(result.created) == 2 and RiskArea.objects.count() == 2


def test_import_excel(world):
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["区划代码", "具体地点", "风险等级", "生效日期", "截止日期", "来源"])
    ws.append(["130109", "", "高风险", date(2021, 9, 10), None, "石家庄市通告"])
    ws.append([130102.0, "某小区", "low", "2021/09/10", None, ""])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ServiceError) as exc:
        services.risk_areas_import(jurisdiction=world.city, data=buf.getvalue(), filename="areas.xlsx",
                                   actor=world.admin)
    assert "第 3 行" in exc.value.message and "生效日期" in exc.value.message
    assert list(exc.value.field_errors) == ["第 3 行"]  # the numeric code cell itself was fine
    assert RiskArea.objects.count() == 0


def test_api_announce_and_as_of(client, world):
    auth = bearer(world.officer)  # officer of the county
    body = {"region_code": "130109", "level": "high", "effective_from": "2021-09-10", "source": "石家庄市通告"}
    r = client.post("/api/v1/risk-areas", body, content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    area = r.json()
    assert area["jurisdiction_id"] == world.county.pk and area["region_name"].endswith("藁城区")
    r = client.post(f"/api/v1/risk-areas/{area['id']}/level", {"level": "low", "effective_from": "2021-09-30"},
                    content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    levels = client.get("/api/v1/risk-areas?as_of=2021-09-20", **auth).json()
    assert [(a["region_code"], a["level"]) for a in levels] == [("130109", "high")]
    levels = client.get("/api/v1/risk-areas?as_of=2021-10-01", **auth).json()
    assert [a["level"] for a in levels] == ["low"]
    history = client.get(f"/api/v1/risk-areas/{area['id']}/history", **auth).json()
    assert [h["level"] for h in history] == ["low", "high"]
    # Staff of the factory (under the county) see the county's areas; charlie (another city) does not.
    assert len(client.get("/api/v1/risk-areas?as_of=2021-09-20", **bearer(world.alice)).json()) == 1
    assert client.get("/api/v1/risk-areas?as_of=2021-09-20", **bearer(world.charlie)).json() == []
    assert client.get(f"/api/v1/risk-areas/{area['id']}/history", **bearer(world.charlie)).status_code == 404
    # Organisation admins may not announce.
    r = client.post("/api/v1/risk-areas", body, content_type="application/json", **bearer(world.alice))
    assert r.status_code == 403


def test_api_bad_input_is_precise(client, world):
    auth = bearer(world.officer)
    r = client.post("/api/v1/risk-areas", {"region_code": "000000", "level": "high", "effective_from": "2021-09-10"},
                    content_type="application/json", **auth)
    assert r.status_code == 400 and "000000" in r.json()["message"]
    assert RiskArea.objects.count() == 0


@time_machine.travel("2021-09-20 10:00 +0800", tick=False)
def test_stay_validation_stores_nothing(world, make_person):
    person = make_person()
    today = date(2021, 9, 20)
    cases = [
        ({"region_code": "999999", "from_date": today, "to_date": today}, "未知的行政区划代码"),
        ({"region_code": "130109", "from_date": today, "to_date": today - timedelta(days=1)}, "早于开始日期"),
        ({"region_code": "130109", "from_date": today, "to_date": today + timedelta(days=1)}, "未来"),
    ]
    for values, message in cases:
        with pytest.raises(ServiceError, match=message):
            services.stay_add(person=person, actor=world.alice, **values)
    services.stay_add(person=person, region_code="130109", from_date=date(2021, 9, 10), to_date=date(2021, 9, 12),
                      actor=world.alice)
    with pytest.raises(ServiceError, match="时间重叠"):
        services.stay_add(person=person, region_code="130109", from_date=date(2021, 9, 12),
                          to_date=date(2021, 9, 14), actor=world.alice)
    assert person.stays.count() == 1



def test_stay_and_area_errors_in_english(world, make_person):
    person = make_person()
    with translation.override("en"), pytest.raises(
            ServiceError, match=r"^Stay 1: The end date 2021-09-09 is before the start date 2021-09-10$"):
        services.stay_add(person=person, region_code="130109", from_date=date(2021, 9, 10), to_date=date(2021, 9, 9),
                          actor=world.alice)


def test_import_errors_in_english_name_the_columns(world):
    """Columns by their headers' English labels, never the raw keys (region_code, effective_from)."""
    rows = [{"区划代码": "999999", "风险等级": "紫"}]
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        services.risk_areas_import(jurisdiction=world.city, data=json.dumps(rows).encode(), filename="a.json",
                                   actor=world.admin)
    assert exc.value.message.startswith("Import failed: 1 rows have errors; nothing was imported. Row 1, ")
    (errors,) = exc.value.field_errors.values()
    assert [e.split(":")[0] for e in errors] == ["Row 1, Division code", "Row 1, Risk level", "Row 1, Effective from"]
    text = " ".join(errors)
    assert "999999" in text and "紫" in text and "Required" in text
    assert not any(raw in text for raw in ("region_code", "effective_from", ", level:"))
    assert not re.search(r"[\u4e00-\u9fff]{2}", text.replace("高/中/低", "").replace("紫", ""))

def _import(world, rows, filename="a.json"):
    with pytest.raises(ServiceError) as exc:
        services.risk_areas_import(jurisdiction=world.city, data=json.dumps(rows).encode(), filename=filename,
                                   actor=world.admin)
    assert RiskArea.objects.count() == 0
    return exc.value


@time_machine.travel("2021-09-20 10:00 +0800", tick=False)
def test_import_refuses_a_locality_longer_than_the_column(world):
    rows = [{"区划代码": "130109", "风险等级": "高", "生效日期": "2021-09-10"},
            {"区划代码": "130102", "具体地点": "某" * 500, "风险等级": "中", "生效日期": "2021-09-10"}]
    error = _import(world, rows)
    assert error.field_errors == {"第 2 行": ["第 2 行，具体地点：不能超过 200 个字符（现为 500 个）"]}
    rows[1]["具体地点"] = "某" * 200
    assert len(services.risk_areas_import(jurisdiction=world.city, data=json.dumps(rows).encode(),
                                          filename="a.json", actor=world.admin).created) == 2


@time_machine.travel("2021-09-20 10:00 +0800", tick=False)
def test_announce_refuses_a_locality_longer_than_the_column(client, world):
    r = client.post("/api/v1/risk-areas", {"region_code": "130109", "level": "high", "effective_from": "2021-09-10",
                                           "locality": "某" * 500}, content_type="application/json",
                    **bearer(world.officer))
    assert r.status_code == 400, r.content
    assert list(r.json()["errors"]) == ["locality"] and "200" in r.json()["message"]
    assert RiskArea.objects.count() == 0


@time_machine.travel("2021-09-20 10:00 +0800", tick=False)
@pytest.mark.parametrize("column, value, expected", [
    ("生效日期", "1990-09-10", "第 1 行，生效日期：日期 1990-09-10 早于 2019-12-01"),
    ("生效日期", "2099-09-10", "第 1 行，生效日期：日期 2099-09-10 晚于 2022-09-21"),
    ("截止日期", "2099-09-10", "第 1 行，截止日期：日期 2099-09-10 晚于 2022-09-21"),
])
def test_import_refuses_effective_dates_out_of_reach(world, column, value, expected):
    row = {"区划代码": "130109", "风险等级": "高", "生效日期": "2021-09-10", column: value}
    (errors,) = _import(world, [row]).field_errors.values()
    assert errors[0].startswith(expected), errors


@time_machine.travel("2021-09-20 10:00 +0800", tick=False)
def test_announce_and_change_refuse_effective_dates_out_of_reach(client, world):
    auth = bearer(world.officer)
    body = {"region_code": "130109", "level": "high", "effective_from": "1990-09-10"}
    r = client.post("/api/v1/risk-areas", body, content_type="application/json", **auth)
    assert r.status_code == 400 and list(r.json()["errors"]) == ["effective_from"]
    r = client.post("/api/v1/risk-areas", {**body, "effective_from": "2021-09-10", "effective_until": "2099-01-01"},
                    content_type="application/json", **auth)
    assert r.status_code == 400 and list(r.json()["errors"]) == ["effective_until"]
    area = client.post("/api/v1/risk-areas", {**body, "effective_from": "2021-09-10"},
                       content_type="application/json", **auth).json()
    r = client.post(f"/api/v1/risk-areas/{area['id']}/end", {"ended_on": "2099-01-01"},
                    content_type="application/json", **auth)
    assert r.status_code == 400 and list(r.json()["errors"]) == ["ended_on"]
    assert RiskArea.objects.count() == 1


@time_machine.travel("2021-09-20 10:00 +0800", tick=False)
def test_import_clash_keeps_its_row(world):
    announce(world, region_code="130102")
    rows = [{"区划代码": "130109", "风险等级": "高", "生效日期": "2021-09-10"},
            {"区划代码": "130109", "风险等级": "中", "生效日期": "2021-09-12"},  # the same place as row 1
            {"区划代码": "130102", "风险等级": "中", "生效日期": "2021-09-12"}]  # already announced
    with pytest.raises(ServiceError) as exc:
        services.risk_areas_import(jurisdiction=world.city, data=json.dumps(rows).encode(), filename="a.json",
                                   actor=world.admin)
    errors = exc.value.field_errors
    assert list(errors) == ["第 2 行", "第 3 行"]
    assert errors["第 2 行"][0].startswith("第 2 行，区划代码：与第 1 行是同一地点")
    assert errors["第 3 行"][0].startswith("第 3 行，区划代码：") and "已有 2021-09-10 起的高风险记录" in errors["第 3 行"][0]
    assert "第 2 行" in exc.value.message
    assert RiskArea.objects.count() == 1


@time_machine.travel("2021-09-20 10:00 +0800", tick=False)
def test_import_page_shows_the_row_of_a_clash(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    announce(world, jurisdiction=world.county)
    rows = [{"区划代码": "130102", "风险等级": "中", "生效日期": "2021-09-12"},
            {"区划代码": "130109", "风险等级": "中", "生效日期": "2021-09-12"}]
    client.force_login(world.officer)
    r = client.post("/policy/risk-areas/import/", {"file": SimpleUploadedFile("a.json", json.dumps(rows).encode())},
                    follow=True)
    texts = [str(m) for m in r.context["messages"]]
    assert any(t.startswith("第 2 行，区划代码：") and "已有" in t for t in texts), texts
    assert RiskArea.objects.count() == 1


@time_machine.travel("2021-09-20 10:00 +0800", tick=False)
def test_stay_api_cross_tenant_is_404(client, world, make_person):
    person = make_person()
    body = {"region_code": "130109", "from_date": "2021-09-10", "to_date": "2021-09-12"}
    r = client.post(f"/api/v1/people/{person.pk}/stays", body, content_type="application/json",
                    **bearer(world.charlie))
    assert r.status_code == 404
    r = client.post(f"/api/v1/people/{person.pk}/stays", body, content_type="application/json",
                    **bearer(world.alice))
    assert r.status_code == 201, r.content
    r = client.post(f"/api/v1/people/{person.pk}/stays", {**body, "to_date": "2021-09-09"},
                    content_type="application/json", **bearer(world.alice))
    assert r.status_code == 400 and r.json()["errors"] == {"stay.0.to_date": ["结束日期 2021-09-09 早于开始日期 2021-09-10"]}
    assert person.stays.count() == 1


def test_pack_install_is_idempotent_and_demo(world):
    from fangkong.policy import packs, selectors
    from fangkong.policy.demo import SEED003, seed_policy_demo
    from fangkong.policy.models import Policy, Rule

    seed_policy_demo(city=world.city, actor=world.admin)
    seed_policy_demo(city=world.city, actor=world.admin)
    policy = Policy.objects.get()
    assert policy.pack_key == SEED003 and Rule.objects.filter(policy=policy).count() == len(packs.PACKS[SEED003].rules)
    assert selectors.policies_in_force(world.county, date(2021, 9, 20)) == [policy.pk]
    assert RiskArea.objects.filter(region_id="130109").count() == 2  # high, then lowered: both kept
    assert RiskArea.objects.as_of(date(2021, 9, 20)).filter(level="high").count() == 1
    # Rules round-trip from the database to the engine.
    assert len(selectors.rules_in_force(world.county, date(2021, 9, 20))) == Rule.objects.count()
