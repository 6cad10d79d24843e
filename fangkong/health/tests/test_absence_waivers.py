"""People absent through illness are followed up, not counted missing: their check-ins are waived with the reason."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from fangkong.conftest import make_user
from fangkong.core.models import AuditEvent
from fangkong.health import services, tasks
from fangkong.health.models import CheckinSetting
from fangkong.notify.models import Notification
from fangkong.obligations.models import Obligation

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2021, 11, 10)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SH)


@pytest.fixture
def setting(world):
    return CheckinSetting.objects.create(organization=world.factory)


def test_registering_an_absence_waives_its_checkins_up_to_today(world, setting, make_person):
    sick = make_person(unit=world.team1, name="病假", user=make_user("sick"))
    well = make_person(unit=world.team1, name="在岗")
    services.obligations_generate_for_day(day=DAY - timedelta(days=1))
    services.obligations_generate_for_day(day=DAY)
    with time_machine.travel(at(8), tick=False):
        absence, _ = services.absence_register(person=sick, started_on=DAY - timedelta(days=1), reason="发热",
                                               symptoms=["fever"], actor=world.bob)
    waived = Obligation.objects.filter(person=sick)
    assert set(waived.values_list("status", flat=True)) == {"waived"}
    assert waived.count() == 2
    assert all("因病缺勤（发热" in r for r in waived.values_list("waived_reason", flat=True))
    assert set(Obligation.objects.filter(person=well).values_list("status", flat=True)) == {"due"}
    assert AuditEvent.objects.filter(action="obligation.waive", actor=world.bob).count() == 2
    # At the deadline the absent person is neither overdue nor reminded; the one at work is.
    with time_machine.travel(at(10, 30), tick=False):
        tasks.sweep_overdue.call_local()
    assert Obligation.objects.get(person=well, day=DAY).status == "overdue"
    assert Obligation.objects.get(person=sick, day=DAY).status == "waived"
    assert not Notification.objects.filter(event="health.checkin_overdue", recipient__username="sick").exists()
    assert absence.pk


def test_the_next_days_are_waived_until_the_person_returns(world, setting, make_person):
    sick = make_person(unit=world.team1, name="病假")
    with time_machine.travel(at(8), tick=False):
        absence, _ = services.absence_register(person=sick, started_on=DAY, reason="腹泻", symptoms=["diarrhoea"],
                                               actor=world.bob)
    # The next morning: generation, then the waiver of the periodic task.
    with time_machine.travel(at(0, 5, DAY + timedelta(days=1)), tick=False):
        tasks.generate_todays_obligations.call_local()
    assert Obligation.objects.get(person=sick, day=DAY + timedelta(days=1)).status == "waived"
    # Back at work on day 3: that day's check-in is owed again.
    with time_machine.travel(at(9, day=DAY + timedelta(days=2)), tick=False):
        services.absence_follow_up(absence=absence, day=DAY + timedelta(days=2), status="returned", actor=world.bob)
    with time_machine.travel(at(0, 5, DAY + timedelta(days=2)), tick=False):
        tasks.generate_todays_obligations.call_local()
    assert Obligation.objects.get(person=sick, day=DAY + timedelta(days=2)).status == "due"


def test_an_absence_registered_after_generation_is_waived_by_the_sweep(world, setting, make_person):
    sick = make_person(unit=world.team1, name="病假")
    services.obligations_generate_for_day(day=DAY)
    # Registered directly (as an import would) without the service's waiver: the sweep still catches it.
    from fangkong.health.models import Absence

    Absence.objects.create(person=sick, organization=world.factory, unit=world.team1, started_on=DAY, reason="咳嗽")
    with time_machine.travel(at(10, 0), tick=False):
        tasks.sweep_overdue.call_local()
    assert Obligation.objects.get(person=sick, day=DAY).status == "waived"
