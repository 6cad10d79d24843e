"""Arrivals run the engine and record proposed measures; bad input stores nothing; the what-if stores nothing."""

from __future__ import annotations

import json
from datetime import date

import pytest

from fangkong.measures.models import Measure, MeasureTest
from fangkong.measures.services import measure_confirm, measures_record_decisions
from fangkong.policy import selectors, services
from fangkong.policy.models import Arrival, Stay
from fangkong.policy.tests.conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today(before_the_trip):
    pass


def post(client, url, body, user):
    return client.post(url, json.dumps(body), content_type="application/json", **bearer(user))


ARRIVAL = {"arrived_on": "2021-09-17",
           "stays": [{"region_code": "130109", "from_date": "2021-09-08", "to_date": "2021-09-14"}]}


def test_arrival_decides_14_plus_3(client, world, make_person, city_policy, high_area):
    person = make_person()
    r = post(client, f"/api/v1/people/{person.pk}/arrivals", ARRIVAL, world.alice)
    assert r.status_code == 201, r.content
    (d,) = r.json()["decisions"]
    assert d["kind"] == "centralized_quarantine"
    assert (d["start_date"], d["end_date"]) == ("2021-09-17", "2021-09-30")
    assert [t["due_date"] for t in d["tests"]] == ["2021-09-17", "2021-09-23", "2021-09-30"]
    assert d["policy"] == {"number": "长疫情防控办发〔2021〕38号", "clause": "第二条"}
    assert "藁城区" in d["explanation"] and "返长前 3 天" in d["explanation"]
    m = Measure.objects.get(person=person)
    assert m.status == "proposed" and m.rule.key == "high14" and m.evaluation_date == date(2021, 9, 17)
    assert MeasureTest.objects.filter(measure=m).count() == 3
    person.refresh_from_db()
    assert person.measure_kind == ""  # proposals do not change the person's status
    measures = client.get(f"/api/v1/people/{person.pk}/measures", **bearer(world.alice)).json()
    expected = {
        "id": m.pk, "kind": "centralized_quarantine", "status": "proposed", "start_date": "2021-09-17",
        "end_date": "2021-09-30", "tests": [{"kind": "nat", "due_date": "2021-09-17"},
                                           {"kind": "nat", "due_date": "2021-09-23"},
                                           {"kind": "nat", "due_date": "2021-09-30"}],
        "policy": {"number": "长疫情防控办发〔2021〕38号", "clause": "第二条"}, "explanation": m.explanation_zh,
        "supersedes_id": None, "evaluation_date": "2021-09-17",
    }
    # The fields, exactly; the lifecycle adds more (place, started_at …) beside them.
    assert len(measures) == 1
    assert {k: measures[0][k] for k in expected} == expected
    # Confirmation changes the person's current measure, audited.
    r = client.post(f"/api/v1/measures/{m.pk}/confirm", **bearer(world.alice))
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    person.refresh_from_db()
    assert (person.measure_kind, person.measure_until) == ("centralized_quarantine", date(2021, 9, 30))


def test_same_evaluation_twice_creates_nothing(world, make_person, city_policy, high_area):
    person = make_person()
    services.arrival_record(person=person, arrived_on=date(2021, 9, 17), actor=world.alice, stays=[
        {"region_code": "130109", "from_date": "2021-09-08", "to_date": "2021-09-14"}])
    decisions, digest = selectors.evaluate_person(person=person, on=date(2021, 9, 17))
    assert measures_record_decisions(person=person, decisions=decisions, actor=world.alice,
                                     evaluation_date=date(2021, 9, 17), facts_digest=digest) == []
    # Found again on a later day (starts that day, same end): still the same measure.
    decisions, _digest = selectors.evaluate_person(person=person, on=date(2021, 9, 19))
    assert decisions[0].start_date == date(2021, 9, 19) and decisions[0].end_date == date(2021, 9, 30)
    assert measures_record_decisions(person=person, decisions=decisions, actor=world.alice) == []
    assert Measure.objects.filter(person=person).count() == 1


def test_later_different_decision_supersedes(world, make_person, city_policy):
    person = make_person()
    medium = services.risk_area_announce(jurisdiction=world.city, region_code="130109", level="medium",
                                         effective_from=date(2021, 9, 10), actor=world.admin, reevaluate=False)
    result = services.arrival_record(person=person, arrived_on=date(2021, 9, 17), actor=world.alice, stays=[
        {"region_code": "130109", "from_date": "2021-09-08", "to_date": "2021-09-14"}])
    (home,) = result.measures
    assert home.kind == "home_quarantine"
    measure_confirm(measure=home, actor=world.alice)
    services.risk_area_change_level(area=medium, level="high", effective_from=date(2021, 9, 19), actor=world.admin)
    decisions, _d = selectors.evaluate_person(person=person, on=date(2021, 9, 19))
    (central,) = measures_record_decisions(person=person, decisions=decisions, actor=world.admin,
                                           evaluation_date=date(2021, 9, 19))
    home.refresh_from_db()
    assert central.kind == "centralized_quarantine" and central.supersedes_id == home.pk
    assert (central.start_date, central.end_date) == (date(2021, 9, 19), date(2021, 9, 30))
    assert home.status == "superseded" and home.kind == "home_quarantine"  # the old record is kept as it was


def test_charlie_cannot_post_arrivals_for_alices_person(client, world, make_person, city_policy, high_area):
    person = make_person()
    r = post(client, f"/api/v1/people/{person.pk}/arrivals", ARRIVAL, world.charlie)
    assert r.status_code == 404
    assert client.get(f"/api/v1/people/{person.pk}/measures", **bearer(world.charlie)).status_code == 404
    assert not Arrival.objects.exists() and not Stay.objects.exists() and not Measure.objects.exists()


@pytest.mark.parametrize("stay, field, message", [
    ({"region_code": "999999", "from_date": "2021-09-08", "to_date": "2021-09-14"}, "stays.1.region_code",
     "未知的行政区划代码"),
    ({"region_code": "130102", "from_date": "2021-09-14", "to_date": "2021-09-08"}, "stays.1.to_date", "早于开始日期"),
    ({"region_code": "130102", "from_date": "2021-09-14", "to_date": "2021-09-21"}, "stays.1.to_date", "未来"),
    ({"region_code": "130109", "from_date": "2021-09-13", "to_date": "2021-09-15"}, "stays.1.from_date", "时间重叠"),
])
def test_bad_stays_store_nothing(client, world, make_person, city_policy, high_area, stay, field, message):
    person = make_person()
    body = {"arrived_on": "2021-09-17", "stays": [ARRIVAL["stays"][0], stay]}
    r = post(client, f"/api/v1/people/{person.pk}/arrivals", body, world.alice)
    assert r.status_code == 400, r.content
    assert field in r.json()["errors"] and message in r.json()["message"]
    assert "第 2 条旅居史" in r.json()["message"]
    assert not Arrival.objects.exists() and not Stay.objects.exists() and not Measure.objects.exists()


def test_what_if_stores_nothing(client, world, city_policy, high_area):
    body = {"evaluation_date": "2021-09-17", "arrived_on": "2021-09-17", "flags": {"no_home_conditions": True},
            "stays": [{"region_code": "130102", "from_date": "2021-09-10", "to_date": "2021-09-12"}]}
    r = post(client, "/api/v1/policy/evaluate", body, world.alice)
    assert r.status_code == 200, r.content
    (d,) = r.json()["decisions"]
    # Same city as a high area → 7+2 home quarantine, turned centralized for lack of home conditions.
    assert d["kind"] == "centralized_quarantine" and d["end_date"] == "2021-09-23"
    assert d["policy"]["clause"] == "第四条"
    assert not Stay.objects.exists() and not Arrival.objects.exists() and not Measure.objects.exists()
    r = post(client, "/api/v1/policy/evaluate", {**body, "flags": {"nope": 1}}, world.alice)
    assert r.status_code == 400 and "flags.nope" in r.json()["errors"]
    # charlie's jurisdiction (太原) has no policy in force: no decisions.
    assert post(client, "/api/v1/policy/evaluate", body, world.charlie).json() == {"decisions": []}


def test_what_if_refuses_an_arrival_before_a_stay_ends(client, world, city_policy, high_area):
    body = {"evaluation_date": "2021-09-17", "arrived_on": "2021-09-10",
            "stays": [{"region_code": "130102", "from_date": "2021-09-01", "to_date": "2021-09-03"},
                      {"region_code": "130109", "from_date": "2021-09-08", "to_date": "2021-09-12"}]}
    r = post(client, "/api/v1/policy/evaluate", body, world.alice)
    assert r.status_code == 400, r.content
    assert set(r.json()["errors"]) == {"arrived_on", "stays.1.to_date"}
    assert "第 2 条旅居史" in r.json()["message"] and "2021-09-12" in r.json()["message"]
    # Leaving the place on the day of arrival is fine.
    r = post(client, "/api/v1/policy/evaluate", {**body, "arrived_on": "2021-09-12"}, world.alice)
    assert r.status_code == 200, r.content


def test_what_if_page_refuses_an_arrival_before_a_stay_ends(client, world, city_policy, high_area):
    client.force_login(world.alice)
    data = {"evaluation_date": "2021-09-17", "arrived_on": "2021-09-10", "stays-TOTAL_FORMS": "3",
            "stays-INITIAL_FORMS": "0", "stays-0-region_code": "130109", "stays-0-from_date": "2021-09-08",
            "stays-0-to_date": "2021-09-12"}
    r = client.post("/policy/what-if/", data)
    assert r.status_code == 200
    form = r.context["form"]
    assert "arrived_on" in form.errors and "2021-09-12" in form.errors["arrived_on"][0]
    assert r.context["decisions"] is None


def test_policies_in_force_follow_the_jurisdiction_tree(world, city_policy):
    assert selectors.policies_in_force(world.county, date(2021, 9, 20)) == [city_policy.pk]
    assert selectors.policies_in_force(world.county, date(2021, 9, 16)) == []  # before the policy takes effect
    assert selectors.policies_in_force(world.other_jurisdiction, date(2021, 9, 20)) == []
    services.policy_activation_set(jurisdiction=world.county, policy=city_policy, enabled=False, actor=world.admin)
    assert selectors.policies_in_force(world.county, date(2021, 9, 20)) == []
    assert selectors.policies_in_force(world.city, date(2021, 9, 20)) == [city_policy.pk]


def test_travel_request_flow(client, world, make_person, city_policy, high_area, time_machine):
    from fangkong.conftest import make_user
    from fangkong.tenancy.services import membership_grant

    member = make_user("dave")
    person = make_person(unit=world.workshop1, user=member)
    membership_grant(user=member, role="member", unit=world.workshop1, organization=world.factory, actor=world.admin)
    time_machine.move_to("2021-09-17 10:00 +0800", tick=False)  # asked for before leaving, reported on return
    body = {"destination_code": "130109", "from_date": "2021-09-18", "to_date": "2021-09-19", "purpose": "探亲"}
    r = post(client, "/api/v1/travel-requests", body, member)
    assert r.status_code == 201, r.content
    tr = r.json()
    assert tr["status"] == "requested" and tr["person_id"] == person.pk
    assert post(client, f"/api/v1/travel-requests/{tr['id']}/approve", {}, member).status_code == 403
    assert post(client, f"/api/v1/travel-requests/{tr['id']}/approve", {}, world.charlie).status_code == 404
    r = post(client, f"/api/v1/travel-requests/{tr['id']}/approve", {"reason": "同意"}, world.bob)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    time_machine.move_to("2021-09-20 10:00 +0800", tick=False)
    r = post(client, f"/api/v1/travel-requests/{tr['id']}/return", {"returned_on": "2021-09-20"}, member)
    assert r.status_code == 200, r.content
    assert r.json()["decisions"][0]["kind"] == "centralized_quarantine"
    arrival = Arrival.objects.get(person=person)
    assert arrival.source == "travel" and arrival.stays.get().region_id == "130109"


def test_what_if_flags_are_typed(client, world):
    from fangkong.policy.demo import SEED003

    services.policy_activation_set(
        jurisdiction=world.city, actor=world.admin, enabled=True,
        policy=services.policy_pack_install(pack_key=SEED003, jurisdiction=world.city, actor=world.admin))
    body = {"evaluation_date": "2021-09-18", "arrived_on": "2021-09-18", "stays": [],
            "flags": {"contact_degree": 1, "last_exposure_on": "2021-09-15"}}
    r = post(client, "/api/v1/policy/evaluate", body, world.alice)
    assert r.status_code == 200, r.content
    (d,) = r.json()["decisions"]
    # Close contact: 14 days from the last exposure (day 1 = 09-15), found on 09-18: starts then, ends 09-28.
    assert (d["kind"], d["start_date"], d["end_date"]) == ("centralized_quarantine", "2021-09-18", "2021-09-28")
    body["flags"]["last_exposure_on"] = "15/09/2021"
    r = post(client, "/api/v1/policy/evaluate", body, world.alice)
    assert r.status_code == 400 and "flags.last_exposure_on" in r.json()["errors"]


def test_tests_become_obligations(world, make_person, city_policy, high_area):
    obligations = pytest.importorskip("fangkong.obligations.models")
    person = make_person(unit=world.workshop1)
    result = services.arrival_record(person=person, arrived_on=date(2021, 9, 17), actor=world.alice, stays=[
        {"region_code": "130109", "from_date": "2021-09-08", "to_date": "2021-09-14"}])
    (m,) = result.measures
    rows = obligations.Obligation.objects.filter(person=person).order_by("day")
    assert [(o.kind, o.day, o.source, o.unit_id) for o in rows] == [
        ("test_nat", date(2021, 9, 17), f"measure:{m.pk}", world.workshop1.pk),
        ("test_nat", date(2021, 9, 23), f"measure:{m.pk}", world.workshop1.pk),
        ("test_nat", date(2021, 9, 30), f"measure:{m.pk}", world.workshop1.pk),
    ]
    from fangkong.measures.services import _test_obligations

    _test_obligations([(m, result.decisions[0])])  # a re-run adds nothing: the obligations' unique window
    assert rows.count() == 3
