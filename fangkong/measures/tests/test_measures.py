"""Recording decisions and confirming measures: idempotence, superseding, who may confirm, pages."""

from __future__ import annotations

from datetime import date

import pytest

from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.core.tokens import token_issue
from fangkong.measures.models import Measure
from fangkong.measures.services import measure_confirm, measures_record_decisions
from fangkong.policy import rules

pytestmark = pytest.mark.django_db

D = date(2021, 9, 17)


def decision(kind="centralized_quarantine", start=D, end=date(2021, 9, 30), key="high14", days=(1, 7, 14)):
    tests = tuple(rules.TestDue("nat", k, date.fromordinal(start.toordinal() + k - 1)) for k in days)
    return rules.Decision(rule_key=key, policy_number="长疫情防控办发〔2021〕38号", clause="第二条", measure_kind=kind,
                          start_date=start, end_date=end, tests=tests, followups=(), explanation_zh="说明",
                          explanation_en="explanation", matched="stay")


def bearer(user):
    _t, raw = token_issue(user=user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_record_is_idempotent_and_supersedes(world, make_person):
    person = make_person()
    (first,) = measures_record_decisions(person=person, decisions=[decision()], actor=world.alice,
                                         evaluation_date=D)
    assert first.tests.count() == 3 and first.status == "proposed"
    assert measures_record_decisions(person=person, decisions=[decision()], actor=world.alice,
                                     evaluation_date=D) == []
    # A routine-testing decision stands beside the restriction; it supersedes nothing.
    (testing,) = measures_record_decisions(person=person, actor=world.alice, evaluation_date=D,
                                           decisions=[decision(kind="routine_testing", end=None, key="past",
                                                               days=(1,))])
    assert testing.supersedes_id is None and testing.end_date is None
    # A different restriction later (home quarantine, different end) supersedes the first one.
    (second,) = measures_record_decisions(person=person, actor=world.alice, evaluation_date=date(2021, 9, 18),
                                          decisions=[decision(kind="home_quarantine", start=date(2021, 9, 18),
                                                              end=date(2021, 9, 24), key="near7", days=(1, 7))])
    first.refresh_from_db()
    testing.refresh_from_db()
    assert second.supersedes_id == first.pk and first.status == "superseded" and testing.status == "proposed"
    assert (first.start_date, first.end_date) == (D, date(2021, 9, 30))  # never rewritten
    assert AuditEvent.objects.filter(action="measure.propose").count() == 3


def test_confirm_sets_person_status_once(world, make_person):
    person = make_person()
    (m,) = measures_record_decisions(person=person, decisions=[decision()], actor=world.alice, evaluation_date=D)
    measure_confirm(measure=m, actor=world.alice)
    person.refresh_from_db()
    assert person.measure_kind == "centralized_quarantine" and person.measure_until == date(2021, 9, 30)
    with pytest.raises(ServiceError, match="只能确认待确认的措施"):
        measure_confirm(measure=m, actor=world.alice)
    event = AuditEvent.objects.get(action="measure.confirm")
    assert event.changes["person.measure_kind"] == ["", "centralized_quarantine"]


def test_who_may_confirm(client, world, make_person):
    person = make_person(unit=world.workshop1)
    (m,) = measures_record_decisions(person=person, decisions=[decision()], actor=world.alice, evaluation_date=D)
    assert client.post(f"/api/v1/measures/{m.pk}/confirm", **bearer(world.bob)).status_code == 403
    assert client.post(f"/api/v1/measures/{m.pk}/confirm", **bearer(world.charlie)).status_code == 404
    # bob (unit leader) may read his workshop's measures.
    assert len(client.get(f"/api/v1/people/{person.pk}/measures", **bearer(world.bob)).json()) == 1
    assert client.post(f"/api/v1/measures/{m.pk}/confirm", **bearer(world.officer)).status_code == 200


def test_pages(client, world, make_person):
    person = make_person()
    (first,) = measures_record_decisions(person=person, decisions=[decision()], actor=world.alice, evaluation_date=D)
    measures_record_decisions(person=person, actor=world.alice, evaluation_date=date(2021, 9, 18),
                              decisions=[decision(kind="home_quarantine", start=date(2021, 9, 18),
                                                  end=date(2021, 9, 24), key="near7", days=(1, 7))])
    client.force_login(world.alice)
    page = client.get(f"/measures/person/{person.pk}/").content.decode()
    assert "居家隔离医学观察" in page and "取代原措施" in page and "已被取代" in page
    assert "说明" in page and "explanation" not in page
    english = client.get(f"/measures/person/{person.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "explanation" in english and "说明" not in english
    listing = client.get("/measures/").content.decode()
    assert person.name in listing
    r = client.post(f"/measures/{Measure.objects.get(status='proposed').pk}/confirm/",
                    {"next": f"/measures/person/{person.pk}/"})
    assert r.status_code == 302 and r["Location"] == f"/measures/person/{person.pk}/"
    assert Measure.objects.filter(status="confirmed").count() == 1
    first.refresh_from_db()
    assert first.status == "superseded"


def test_person_page_shows_an_arrivals_decisions_in_english(client, world, make_person, monkeypatch):
    from types import SimpleNamespace

    from django.conf import settings

    from fangkong.policy import services as policy_services

    person = make_person()
    monkeypatch.setattr(policy_services, "arrival_record",
                        lambda **kw: SimpleNamespace(decisions=[decision()], measures=[]))
    client.force_login(world.alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.post(f"/measures/person/{person.pk}/", {
        "action": "arrival", "arrival-arrived_on": "2021-09-17", "stays-TOTAL_FORMS": "0",
        "stays-INITIAL_FORMS": "0"}).content.decode()
    assert 'id="decisions"' in page and "explanation" in page and "说明" not in page
