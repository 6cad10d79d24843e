"""API: samples, results (single and batch), vaccinations, coverage; bad input stores nothing; other tenants 404."""

from __future__ import annotations

import json

import pytest

from fangkong.core.tokens import token_issue
from fangkong.obligations.models import Obligation
from fangkong.testing.models import Result, Sample, Vaccination

pytestmark = pytest.mark.django_db


def bearer(user):
    _t, raw = token_issue(user=user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(client, url, body, user):
    return client.post(url, json.dumps(body), content_type="application/json", **bearer(user))


def test_pooled_sample_then_positive_result(client, world, make_person):
    people = [make_person() for _ in range(10)]
    r = post(client, "/api/v1/samples", {"tube_code": "P001", "member_ids": [p.pk for p in people],
                                         "sampled_at": "2021-11-10T08:00:00+08:00"}, world.alice)
    assert r.status_code == 201, r.content
    assert r.json()["pooled"] is True
    r = post(client, "/api/v1/results", {"tube_code": "P001", "result": "positive",
                                         "reported_at": "2021-11-10T07:00:00+08:00"}, world.alice)
    assert r.status_code == 400 and "早于该管登记的采样时间" in r.json()["message"]  # before the sampling
    r = post(client, "/api/v1/results", {"tube_code": "P001", "result": "positive",
                                         "reported_at": "2021-11-10T12:00:00+08:00"}, world.alice)
    assert r.status_code == 201, r.content
    assert r.json()["retests"] == 10 and r.json()["counts"]["positive"] == 1
    assert Obligation.objects.filter(source__startswith="retest:").count() == 10


def test_sample_with_a_stranger_is_refused(client, world, make_person):
    mine = make_person()
    theirs = make_person(organization=world.other_org)
    r = post(client, "/api/v1/samples", {"tube_code": "P002", "member_ids": [mine.pk, theirs.pk]}, world.alice)
    assert r.status_code == 400
    assert f"未知的人员编号：{theirs.pk}" in r.json()["message"]
    assert not Sample.objects.exists()


def test_unknown_tube_is_a_clear_error(client, world):
    r = post(client, "/api/v1/results", {"tube_code": "T123", "result": "negative"}, world.alice)
    assert r.status_code == 400
    assert r.json()["message"] == "管码：未知的管码 T123，未保存任何结果"


def test_batch_all_or_nothing_and_valid_only(client, world, make_person):
    a = make_person()
    post(client, "/api/v1/samples", {"tube_code": "A1", "member_ids": [a.pk]}, world.alice)
    body = {"items": [{"tube_code": "A1", "result": "negative"}, {"tube_code": "NOPE", "result": "negative"}]}
    r = post(client, "/api/v1/results/batch", body, world.alice)
    assert r.status_code == 400
    assert r.json()["errors"]["rows"] == ["第 2 行，管码：未知的管码 NOPE"]
    assert not Result.objects.exists()
    r = post(client, "/api/v1/results/batch", {**body, "valid_only": True}, world.alice)
    assert r.status_code == 201 and r.json()["applied"] == 1
    assert r.json()["errors"] == ["第 2 行，管码：未知的管码 NOPE"]


def test_charlie_cannot_use_alices_organisation_or_tubes(client, world, make_person):
    a = make_person()
    post(client, "/api/v1/samples", {"tube_code": "A1", "member_ids": [a.pk]}, world.alice)
    r = post(client, "/api/v1/results", {"tube_code": "A1", "result": "negative",
                                         "organization_id": world.factory.pk}, world.charlie)
    assert r.status_code == 404
    r = post(client, "/api/v1/results", {"tube_code": "A1", "result": "negative"}, world.charlie)
    assert r.status_code == 400 and "未知的管码 A1" in r.json()["message"]
    r = post(client, "/api/v1/vaccinations", {"person_id": a.pk, "dose_number": 1, "product": "灭活疫苗",
                                              "vaccinated_on": "2021-06-01"}, world.charlie)
    assert r.status_code == 404
    assert not Result.objects.exists() and not Vaccination.objects.exists()


def test_vaccinations_and_coverage(client, world, make_person):
    a = make_person(unit=world.workshop1)
    make_person(unit=world.workshop1)
    r = post(client, "/api/v1/vaccinations", {"person_id": a.pk, "dose_number": 2, "product": "灭活疫苗",
                                              "vaccinated_on": "2021-06-01"}, world.alice)
    assert r.status_code == 400 and "缺少第 1 剂" in r.json()["message"]
    r = post(client, "/api/v1/vaccinations", {"person_id": a.pk, "dose_number": 1, "product": "灭活疫苗",
                                              "vaccinated_on": "2021-06-01"}, world.alice)
    assert r.status_code == 201, r.content
    r = client.get(f"/api/v1/vaccinations?person_id={a.pk}", **bearer(world.bob))
    assert r.json()["count"] == 1 and r.json()["items"][0]["dose_number"] == 1
    r = client.get(f"/api/v1/vaccinations/coverage?unit={world.workshop1.pk}", **bearer(world.alice))
    assert r.status_code == 200
    assert [(c["name"], c["people"], c["vaccinated"], c["vaccinated_rate"]) for c in r.json()] == [
        ("一车间", 2, 1, 50.0)]
    r = client.get(f"/api/v1/vaccinations/coverage?unit={world.workshop1.pk}", **bearer(world.charlie))
    assert r.status_code == 404
