"""Obligation services on the database: set-based idempotent generation, fulfilment, waiving, overdue sweep."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone, translation

from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.obligations import services
from fangkong.obligations.models import Obligation
from fangkong.obligations.selectors import compliance_by_unit, obligation_list
from fangkong.people.models import Person

pytestmark = pytest.mark.django_db
DAY = date(2021, 11, 10)


def _window(day=DAY):
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return start, start + timedelta(hours=10)


def _generate(world, people=None, day=DAY):
    due_from, due_until = _window(day)
    return services.obligations_generate_for_people(
        organization=world.factory, people=people if people is not None else Person.objects.all(), kind="checkin",
        day=day, due_from=due_from, due_until=due_until, source="rule:test",
    )


def test_generation_is_set_based_and_idempotent(world, make_person, django_assert_max_num_queries):
    for i in range(5):
        make_person(unit=world.workshop1 if i < 3 else world.workshop2)
    make_person(organization=world.other_org)  # another tenant: never included
    with django_assert_max_num_queries(4):
        assert _generate(world) == 5
    assert _generate(world) == 0
    assert Obligation.objects.count() == 5
    ob = Obligation.objects.filter(unit=world.workshop1).first()
    assert ob.subject_type == "person" and ob.subject_id == ob.person_id and ob.status == "due"
    assert ob.organization_id == world.factory.pk and ob.source == "rule:test"
    # Another day is another window.
    assert _generate(world, day=DAY + timedelta(days=1)) == 5


def test_fulfil_by_kind_subject_day_and_late(world, make_person):
    p = make_person(unit=world.workshop1)
    _generate(world)
    ev = services.Evidence(type="health.checkin", id=42, abnormal=True)
    assert services.obligation_fulfil(evidence=ev, kind="checkin", subject_id=p.pk, day=DAY) == 1
    ob = Obligation.objects.get(person=p)
    assert (ob.status, ob.evidence_type, ob.evidence_id, ob.abnormal) == ("fulfilled", "health.checkin", 42, True)
    assert services.obligation_fulfil(evidence=ev, kind="checkin", subject_id=p.pk, day=DAY) == 0


def test_mark_overdue_one_update_and_late_fulfilment(world, make_person):
    p = make_person(unit=world.workshop1)
    _generate(world)
    _, until = _window()
    assert services.obligations_mark_overdue(until - timedelta(seconds=1)) == []
    ids = services.obligations_mark_overdue(until)
    assert len(ids) == 1 and Obligation.objects.get(pk=ids[0]).status == "overdue"
    assert services.obligations_mark_overdue(until + timedelta(hours=1)) == []
    services.obligation_fulfil(evidence=services.Evidence("health.checkin", 1), obligation=Obligation.objects.get())
    assert Obligation.objects.get(person=p).status == "fulfilled"


def test_waive_needs_reason_and_is_audited(world, make_person):
    make_person(unit=world.workshop1)
    _generate(world)
    ob = Obligation.objects.get()
    with pytest.raises(ServiceError, match="原因"):
        services.obligation_waive(obligation=ob, reason=" ", actor=world.alice)
    services.obligation_waive(obligation=ob, reason="病假", actor=world.alice)
    ob.refresh_from_db()
    assert ob.status == "waived" and ob.waived_reason == "病假"
    assert AuditEvent.objects.filter(action="obligation.waive", object_id=str(ob.pk)).exists()
    with pytest.raises(ServiceError, match="不能免除"):
        services.obligation_waive(obligation=ob, reason="again", actor=world.alice)
    with translation.override("en"), pytest.raises(ServiceError, match="is already “Waived” and cannot be waived"):
        services.obligation_waive(obligation=ob, reason="again", actor=world.alice)


def test_compliance_by_unit_and_scope(world, make_person):
    a = [make_person(unit=world.workshop1) for _ in range(3)]
    t = make_person(unit=world.team1)
    make_person(unit=world.workshop2)
    _generate(world)
    services.obligation_fulfil(evidence=services.Evidence("x", 1), kind="checkin", subject_id=a[0].pk, day=DAY)
    services.obligation_fulfil(evidence=services.Evidence("x", 2, abnormal=True), kind="checkin",
                               subject_id=t.pk, day=DAY)
    services.obligation_waive(obligation=Obligation.objects.get(person=a[2]), reason="出差", actor=world.alice)
    rows = {r.name: r for r in compliance_by_unit(user=world.alice, day=DAY, kind="checkin")}
    assert set(rows) == {"一车间", "一班", "二车间"}
    ws1 = rows["一车间"]
    assert (ws1.expected, ws1.done, ws1.missing, ws1.abnormal, ws1.waived) == (2, 1, 1, 0, 1)
    assert (rows["一班"].done, rows["一班"].abnormal) == (1, 1)
    # bob leads workshop 1: he sees it and its team, not workshop 2.
    assert {r.name for r in compliance_by_unit(user=world.bob, day=DAY, kind="checkin")} == {"一车间", "一班"}
    # charlie is another tenant: nothing.
    assert compliance_by_unit(user=world.charlie, day=DAY, kind="checkin") == []
    assert obligation_list(user=world.charlie).count() == 0
    assert obligation_list(user=world.bob, status="open").count() == 1


def test_generate_refuses_empty_window(world):
    start, _ = _window()
    with pytest.raises(ServiceError):
        services.obligations_generate_for_people(
            organization=world.factory, people=Person.objects.all(), kind="x", day=DAY, due_from=start,
            due_until=start, source="",
        )


def test_bulk_create_rows_of_several_kinds_is_idempotent(world, make_person):
    p = make_person(unit=world.workshop1)
    start, until = _window()

    def rows():
        return [
            Obligation(organization_id=world.factory.pk, person=p, unit_id=p.unit_id, kind=kind, day=DAY,
                       due_from=start, due_until=until, source="measure:1")
            for kind in ("test_nat", "checkin_morning")
        ]

    assert services.obligations_bulk_create(rows=rows()) == 2
    services.obligations_bulk_create(rows=rows())
    assert Obligation.objects.filter(person=p).count() == 2
    assert set(Obligation.objects.values_list("subject_type", "subject_id").distinct()) == {("person", p.pk)}
    bad = rows()[:1]
    bad[0].due_until = start
    with pytest.raises(ServiceError):
        services.obligations_bulk_create(rows=bad)


def test_compliance_page_and_api_name_the_unassigned_row_in_english(client, world, make_person):
    from django.conf import settings

    from fangkong.core.tokens import token_issue

    make_person(unit=world.workshop1)
    make_person()  # no unit
    _generate(world)
    client.force_login(world.alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/health/compliance/?date={DAY.isoformat()}").content.decode()
    assert "(no unit)" in page and "（未分配部门）" not in page
    _t, raw = token_issue(user=world.alice, name="t")
    rows = client.get(f"/api/v1/compliance?date={DAY.isoformat()}", HTTP_AUTHORIZATION=f"Bearer {raw}",
                      HTTP_ACCEPT_LANGUAGE="en").json()
    assert "(no unit)" in [r["name"] for r in rows]
