"""Refusals read in the reader's language: the pure rules' errors (worded by the service), the services' own, and
the row errors of a batch or a file."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import translation

from fangkong.core.errors import ServiceError
from fangkong.core.tokens import token_issue
from fangkong.testing import importing, services

pytestmark = pytest.mark.django_db


def test_pool_rule_error_in_english(world, make_person):
    people = [make_person() for _ in range(11)]
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        services.sample_register(organization=world.factory, tube_code="T0001", members=people, actor=world.alice)
    assert exc.value.message == "Tube T0001: A pooled tube holds at most 10 people, this one has 11"
    assert exc.value.field_errors == {"members": ["A pooled tube holds at most 10 people, this one has 11"]}


def test_dose_order_rule_error_in_english(world, make_person):
    person = make_person(name="安安")
    with translation.override("en"), pytest.raises(ServiceError, match=r"^安安: Dose 2: earlier doses missing \(1\)"):
        services.vaccination_record(person=person, dose_number=2, product="灭活疫苗", vaccinated_on=dt.date(2021, 6, 1),
                                    actor=world.alice)
    with pytest.raises(ServiceError, match=r"^安安：第 2 剂之前缺少第 1 剂记录"):  # Chinese stays the default
        services.vaccination_record(person=person, dose_number=2, product="灭活疫苗", vaccinated_on=dt.date(2021, 6, 1),
                                    actor=world.alice)


def test_unknown_tube_in_english(world):
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        services.result_record(organization=world.factory, actor=world.alice, tube_code="T123", result="negative")
    assert exc.value.message == "Tube code: Unknown tube code T123; no result was saved"


def test_batch_row_errors_in_english_over_the_api(client, world, make_person):
    a = make_person()
    services.sample_register(organization=world.factory, tube_code="A1", members=[a], actor=world.alice)
    _t, raw = token_issue(user=world.alice, name="t")
    body = {"items": [{"tube_code": "A1", "result": "negative"}, {"tube_code": "NOPE", "result": "negative"}]}
    r = client.post("/api/v1/results/batch", json.dumps(body), content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 400
    assert r.json()["errors"]["rows"] == ["Row 2, Tube code: Unknown tube code NOPE"]
    assert r.json()["message"] == "Row 2, Tube code: Unknown tube code NOPE; no result was saved"


def test_file_row_errors_in_english(world):
    text = "管码,结果,采样时间\nA1,阴性,昨天\nA2,阴性,2021-11-10 08:00\n"
    with translation.override("en"), pytest.raises(ServiceError) as exc:
        importing.import_results(organization=world.factory, name="r.csv", data=text.encode(), actor=world.alice)
    assert exc.value.field_errors["rows"] == ["Row 2, Sampled at: Unrecognised time “昨天”; use YYYY-MM-DD HH:MM",
                                              "Row 3, Tube code: Unknown tube code A2"]
    assert exc.value.message.endswith("(2 problems in all); no result was saved")
