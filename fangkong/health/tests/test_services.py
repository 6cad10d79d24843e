"""Health services on PostgreSQL: obligations per setting, check-ins, flags, reminders, absences, integrity."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from fangkong.conftest import make_user
from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.health import services, tasks
from fangkong.health.models import Checkin, CheckinSetting, ClusterWarning, IntegrityFlag, SymptomFlag
from fangkong.notify.models import Notification
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2021, 11, 10)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH)


@pytest.fixture
def setting(world):
    return CheckinSetting.objects.create(organization=world.factory)


@pytest.fixture
def people(world, make_person):
    return {
        "ann": make_person(unit=world.workshop1, name="安安", user=make_user("ann")),
        "ben": make_person(unit=world.team1, name="本本"),
        "cat": make_person(unit=world.workshop2, name="猫猫"),
    }


def test_generate_day_daily_and_measure_twice_idempotent(world, setting, people):
    Person.objects.filter(pk=people["cat"].pk).update(measure_kind="home_health_monitoring")
    make = services.obligations_generate_for_day
    assert make(day=DAY) == 4  # ann, ben daily; cat morning + afternoon (seed 002)
    assert make(day=DAY) == 0
    kinds = dict(Obligation.objects.filter(person=people["ann"]).values_list("kind", "due_until"))
    assert kinds == {"checkin": at(10)}
    assert set(Obligation.objects.filter(person=people["cat"]).values_list("kind", flat=True)) == {
        "checkin_morning", "checkin_afternoon"}
    assert Obligation.objects.get(person=people["cat"], kind="checkin_afternoon").due_until == at(16)
    call_command("generate_obligations", "--date", "2021-11-11")
    assert Obligation.objects.filter(day=date(2021, 11, 11)).count() == 4


def test_setting_filters_kinds_and_units(world, people, make_person):
    CheckinSetting.objects.create(organization=world.factory, unit_ids=[world.workshop1.pk], person_kinds=["employee"])
    make_person(unit=world.team1, kind="contractor")
    assert services.obligations_generate_for_day(day=DAY) == 2  # ann and ben (team1 is under workshop1)


def test_normal_checkin_fulfils_with_two_writes(world, setting, people):
    services.obligations_generate_for_day(day=DAY)
    ann = Person.objects.select_related("unit", "organization").get(pk=people["ann"].pk)
    user = ann.user
    with time_machine.travel(at(8), tick=False), CaptureQueriesContext(connection) as ctx:
        r = services.checkin_submit(actor=user, person=ann, temperature="36.5", setting=setting)
    statements = [q["sql"].split()[0] for q in ctx.captured_queries]
    if connection.vendor == "postgresql":
        # The hot path: one statement inserts the check-in and fulfils the obligation; no BEGIN/SAVEPOINT/COMMIT.
        assert statements == ["WITH"]
    else:
        assert [s for s in statements if s != "SAVEPOINT"] == ["INSERT", "UPDATE"]
    assert r.created and not r.checkin.abnormal and r.instruction == ""
    ob = Obligation.objects.get(person=ann)
    assert (ob.status, ob.evidence_type, ob.evidence_id) == ("fulfilled", "health.checkin", r.checkin.pk)
    assert r.checkin.date == DAY and r.checkin.slot == "day"


def test_replayed_client_key_stores_once_and_fulfils_once(world, setting, people):
    services.obligations_generate_for_day(day=DAY)
    ann = Person.objects.get(pk=people["ann"].pk)
    with time_machine.travel(at(8), tick=False):
        first = services.checkin_submit(actor=ann.user, person=ann, temperature="36.5", client_key="k-1")
    with time_machine.travel(at(9), tick=False):
        again = services.checkin_submit(actor=ann.user, person=ann, temperature="36.9", client_key="k-1")
        other = services.checkin_submit(actor=ann.user, person=ann, temperature="36.6", client_key="k-2")
    assert first.created and not again.created and other.created
    assert again.checkin.pk == first.checkin.pk and again.checkin.temperature == Decimal("36.5")
    assert Checkin.objects.filter(person=ann).count() == 2
    ob = Obligation.objects.get(person=ann)
    # The obligation keeps the evidence that fulfilled it first.
    assert (ob.status, ob.evidence_id, ob.fulfilled_at) == ("fulfilled", first.checkin.pk, at(8))


def test_fever_flags_notifies_and_instructs(world, setting, people):
    services.obligations_generate_for_day(day=DAY)
    ann = Person.objects.select_related("unit", "organization").get(pk=people["ann"].pk)
    with time_machine.travel(at(8), tick=False):
        r = services.checkin_submit(actor=ann.user, person=ann, temperature=Decimal("37.3"), symptoms=["dry_cough"])
    assert r.fever and r.checkin.abnormal and "发热门诊" in r.instruction
    ann.refresh_from_db()
    assert ann.symptomatic_since == at(8)
    flag = SymptomFlag.objects.get(person=ann)
    assert flag.cleared_at is None and flag.symptoms == ["dry_cough"]
    assert AuditEvent.objects.filter(action="person.symptomatic", object_id=str(ann.pk)).exists()
    alerts = Notification.objects.filter(level="alert", event="health.symptomatic")
    assert set(alerts.values_list("recipient__username", flat=True)) == {"bob", "alice"}
    assert Obligation.objects.get(person=ann).abnormal
    # A second abnormal check-in the same day: still one open flag, no second alarm.
    with time_machine.travel(at(9), tick=False):
        services.checkin_submit(actor=ann.user, person=ann, temperature="38.0", slot="day")
    assert SymptomFlag.objects.filter(person=ann).count() == 1
    assert alerts.count() == 2


def test_fever_after_a_normal_checkin_shows_in_compliance(world, setting, people):
    """The morning's normal check-in fulfilled the obligation; the afternoon's fever must still count as abnormal
    on the compliance page, which reads the obligation."""
    from fangkong.obligations.selectors import compliance_by_unit

    services.obligations_generate_for_day(day=DAY)
    ann = Person.objects.select_related("unit", "organization").get(pk=people["ann"].pk)
    with time_machine.travel(at(8), tick=False):
        first = services.checkin_submit(actor=ann.user, person=ann, temperature="36.5")
    assert not Obligation.objects.get(person=ann).abnormal
    with time_machine.travel(at(14), tick=False):
        services.checkin_submit(actor=ann.user, person=ann, temperature="38.2")
    ob = Obligation.objects.get(person=ann)
    assert ob.abnormal and (ob.status, ob.evidence_id, ob.fulfilled_at) == ("fulfilled", first.checkin.pk, at(8))
    admin = get_user_model().objects.get(username="alice")
    rows = compliance_by_unit(user=admin, day=DAY, kind="checkin", organization_id=ann.organization_id)
    row = next(r for r in rows if r.unit_id == ann.unit_id)
    assert (row.done, row.abnormal) == (1, 1)
    # A later normal check-in does not clear it: the fever was reported.
    with time_machine.travel(at(15), tick=False):
        services.checkin_submit(actor=ann.user, person=ann, temperature="36.6")
    assert Obligation.objects.get(person=ann).abnormal


def test_flag_cleared_only_with_reason(world, setting, people):
    ann = Person.objects.select_related("unit", "organization").get(pk=people["ann"].pk)
    services.checkin_submit(actor=ann.user, person=ann, temperature="38.2")
    flag = SymptomFlag.objects.get(person=ann)
    with pytest.raises(ServiceError, match="原因"):
        services.flag_clear(flag=flag, reason="", actor=world.bob)
    services.flag_clear(flag=flag, reason="发热门诊排除，复测 36.6", actor=world.bob)
    ann.refresh_from_db()
    assert ann.symptomatic_since is None
    assert AuditEvent.objects.filter(action="person.symptomatic_clear").exists()
    with pytest.raises(ServiceError, match="已于"):
        services.flag_clear(flag=flag, reason="again", actor=world.bob)
    with translation.override("en"), pytest.raises(ServiceError, match=r"^The symptom flag of 安安 was already cleared"):
        services.flag_clear(flag=flag, reason="again", actor=world.bob)


@pytest.mark.parametrize("kwargs,field", [
    ({"temperature": "43.5"}, "temperature"),
    ({"temperature": "33"}, "temperature"),
    ({"temperature": "abc"}, "temperature"),
    ({"symptoms": ["sneeze"]}, "symptoms"),
    ({"region_code": "999999"}, "region_code"),
    ({"slot": "evening"}, "slot"),
])
def test_bad_input_is_refused_with_the_field(world, setting, people, kwargs, field):
    ann = people["ann"]
    with pytest.raises(ServiceError) as exc:
        services.checkin_submit(actor=ann.user, person=ann, **kwargs)
    assert field in exc.value.field_errors
    assert Checkin.objects.count() == 0


def test_future_date_refused(world, setting, people):
    with time_machine.travel(at(8), tick=False), pytest.raises(ServiceError, match="之后"):
        services.checkin_submit(actor=world.bob, person=people["ann"], day=DAY + timedelta(days=1))


def test_client_key_replay_stores_once(world, setting, people):
    ann = people["ann"]
    first = services.checkin_submit(actor=ann.user, person=ann, temperature="36.4", client_key="k-1")
    again = services.checkin_submit(actor=ann.user, person=ann, temperature="39.0", client_key="k-1")
    assert first.created and not again.created
    assert again.checkin.pk == first.checkin.pk and again.checkin.temperature == Decimal("36.4")
    assert Checkin.objects.count() == 1
    # The same key from another submitter is another check-in.
    assert services.checkin_submit(actor=world.bob, person=ann, client_key="k-1", proxy=True).created


def test_region_by_code_or_name(world, setting, people):
    ann = people["ann"]
    r = services.checkin_submit(actor=ann.user, person=ann, region_code="140428")
    assert r.checkin.region_id == "140428"


def test_twice_daily_slots_are_picked_by_time(world, people):
    CheckinSetting.objects.create(organization=world.factory, frequency="twice")
    services.obligations_generate_for_day(day=DAY)
    ann = Person.objects.select_related("unit", "organization").get(pk=people["ann"].pk)
    with time_machine.travel(at(8), tick=False):
        assert services.checkin_submit(actor=ann.user, person=ann).checkin.slot == "morning"
    with time_machine.travel(at(14), tick=False):
        assert services.checkin_submit(actor=ann.user, person=ann).checkin.slot == "afternoon"
    assert set(Obligation.objects.filter(person=ann).values_list("status", flat=True)) == {"fulfilled"}


def test_overdue_at_ten_reminds_person_then_leader_after_delay(world, setting, people):
    services.obligations_generate_for_day(day=DAY)
    with time_machine.travel(at(9, 55), tick=False):
        tasks.sweep_overdue.call_local()
    assert not Obligation.objects.filter(status="overdue").exists()
    with time_machine.travel(at(10, 0), tick=False):
        tasks.sweep_overdue.call_local()
    assert Obligation.objects.filter(status="overdue").count() == 3
    reminders = Notification.objects.filter(event="health.checkin_overdue")
    assert list(reminders.values_list("recipient__username", flat=True)) == ["ann"]  # only ann has an account
    assert not Notification.objects.filter(event="health.checkin_missing").exists()
    with time_machine.travel(at(10, 25), tick=False):
        tasks.sweep_overdue.call_local()
    assert not Notification.objects.filter(event="health.checkin_missing").exists()
    with time_machine.travel(at(10, 30), tick=False):
        tasks.sweep_overdue.call_local()
        tasks.sweep_overdue.call_local()  # dedupe: a second sweep tells nobody twice
    leader = Notification.objects.filter(event="health.checkin_missing", recipient=world.bob)
    assert leader.count() == 2  # workshop 1 (ann) and its team 1 (ben)
    assert reminders.count() == 1
    # A late check-in still fulfils the overdue obligation.
    ann = Person.objects.select_related("unit", "organization").get(pk=people["ann"].pk)
    with time_machine.travel(at(11), tick=False):
        services.checkin_submit(actor=ann.user, person=ann)
    assert Obligation.objects.get(person=ann).status == "fulfilled"


def test_cluster_of_three_absences_raises_warning_due_in_two_hours(world, setting, make_person):
    kids = [make_person(unit=world.team1, kind="student") for _ in range(4)]
    with time_machine.travel(at(9), tick=False):
        services.absence_register(person=kids[0], started_on=DAY - timedelta(days=2), reason="发热",
                                  symptoms=["fever"], actor=world.bob)
        _, w = services.absence_register(person=kids[1], started_on=DAY - timedelta(days=1), reason="发热咳嗽",
                                         symptoms=["fever", "dry_cough"], actor=world.bob)
        assert w == []
        _, w = services.absence_register(person=kids[2], started_on=DAY, reason="发热", symptoms=["fever"],
                                         actor=world.bob)
    assert len(w) == 1
    warning = ClusterWarning.objects.get()
    assert warning.symptom == "fever" and warning.report_due == at(11) and warning.status == "open"
    assert set(warning.people.values_list("pk", flat=True)) == {k.pk for k in kids[:3]}
    assert Notification.objects.filter(event="health.cluster", level="alert", recipient=world.alice).exists()
    # A fourth case joins the open warning instead of raising another.
    with time_machine.travel(at(10), tick=False):
        services.absence_register(person=kids[3], started_on=DAY, reason="发热", symptoms=["fever"], actor=world.bob)
    assert ClusterWarning.objects.count() == 1 and warning.people.count() == 4
    services.cluster_report(warning=warning, note="已报县疾控", actor=world.alice)
    warning.refresh_from_db()
    assert warning.status == "reported"


def test_absence_follow_up_until_return(world, setting, make_person):
    p = make_person(unit=world.team1)
    with time_machine.travel(at(9), tick=False):
        a, _ = services.absence_register(person=p, started_on=DAY, reason="腹泻", symptoms=["diarrhoea"],
                                         actor=world.bob)
        services.absence_follow_up(absence=a, day=DAY, status="seeing_doctor", actor=world.bob)
        with pytest.raises(ServiceError):
            services.absence_follow_up(absence=a, day=DAY + timedelta(days=1), status="returned", actor=world.bob)
    with time_machine.travel(at(9, day=DAY + timedelta(days=2)), tick=False):
        services.absence_follow_up(absence=a, day=DAY + timedelta(days=2), status="returned", actor=world.bob)
    a.refresh_from_db()
    assert a.returned_on == DAY + timedelta(days=2) and a.follow_ups.count() == 2


def test_integrity_scan_flags_scripted_checkins(world, setting, people):
    ann, ben = people["ann"], people["ben"]
    for i in range(8):
        day = DAY - timedelta(days=7 - i)
        with time_machine.travel(at(7, 30, day=day), tick=False):
            services.checkin_submit(actor=ann.user, person=ann, temperature="36.5", device_id="x")
        with time_machine.travel(at(8 + i % 3, 7 * i, day=day), tick=False):
            services.checkin_submit(actor=world.bob, person=ben, temperature=f"36.{i}", proxy=True)
    with time_machine.travel(at(22, day=DAY), tick=False):
        assert services.integrity_scan(organization=world.factory, day=DAY) == 2
        assert services.integrity_scan(organization=world.factory, day=DAY) == 0
    reasons = set(IntegrityFlag.objects.values_list("person__name", "reason"))
    assert reasons == {("安安", "same_temperature"), ("安安", "same_time")}
    # Kept in Chinese as found; shown in the reader's language.
    flag = IntegrityFlag.objects.get(reason="same_temperature")
    assert flag.detail == "连续 8 天体温相同" and flag.facts == {"days": 8}
    with translation.override("en"):
        assert flag.detail_text == "Same temperature on 8 days running"
    with translation.override("zh-hans"):
        assert flag.detail_text == "连续 8 天体温相同"


def test_periodic_generation_at_five_past_midnight(world, setting, people):
    with time_machine.travel(at(0, 5), tick=False):
        assert tasks.generate_todays_obligations.call_local() == 3
        assert tasks.generate_todays_obligations.call_local() == 0
    assert set(Obligation.objects.values_list("day", flat=True)) == {DAY}
