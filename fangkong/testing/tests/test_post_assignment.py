"""Seed 003: a person who is not vaccinated cannot be assigned to a cold-chain or fever-clinic post."""

from __future__ import annotations

import json
from datetime import date

import pytest

from fangkong.core.tokens import token_issue
from fangkong.testing.services import vaccination_record

pytestmark = pytest.mark.django_db


def _patch(client, user, person, body):
    _t, raw = token_issue(user=user, name="t")
    return client.patch(f"/api/v1/people/{person.pk}", json.dumps(body), content_type="application/json",
                        HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_unvaccinated_person_cannot_take_a_cold_chain_post(client, world, make_person):
    person = make_person()
    r = _patch(client, world.alice, person, {"post_category": "cold_chain"})
    assert r.status_code == 400
    assert r.json()["message"] == "未完成疫苗接种的人员不能安排到进口冷链/发热门诊岗位"
    person.refresh_from_db()
    assert person.post_category is None


def test_vaccinated_person_can(client, world, make_person):
    person = make_person()
    for dose in (1, 2):
        vaccination_record(person=person, dose_number=dose, product="新冠灭活疫苗", vaccinated_on=date(2021, 5, dose),
                           actor=world.alice)
    r = _patch(client, world.alice, person, {"post_category": "fever_clinic"})
    assert r.status_code == 200, r.content
    assert r.json()["post_category"] == "fever_clinic"
