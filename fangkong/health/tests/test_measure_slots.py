"""Twice-daily check-ins follow the person's measure while it lasts, and stop the day after it ends."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fangkong.health import services
from fangkong.health.models import CheckinSetting
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person

pytestmark = pytest.mark.django_db
DAY = date(2021, 11, 10)


def kinds(person, day):
    return set(Obligation.objects.filter(person=person, day=day).values_list("kind", flat=True))


def test_slots_follow_the_measure_until_its_last_day(world, make_person):
    CheckinSetting.objects.create(organization=world.factory)
    open_ended = make_person(unit=world.team1, name="无截止")
    ending = make_person(unit=world.team1, name="今日截止")
    ended = make_person(unit=world.team1, name="已截止")
    Person.objects.filter(pk=open_ended.pk).update(measure_kind="home_quarantine", measure_until=None)
    Person.objects.filter(pk=ending.pk).update(measure_kind="home_quarantine", measure_until=DAY)
    Person.objects.filter(pk=ended.pk).update(measure_kind="home_quarantine", measure_until=DAY - timedelta(days=1))
    services.obligations_generate_for_day(day=DAY)
    twice = {"checkin_morning", "checkin_afternoon"}
    assert kinds(open_ended, DAY) == twice
    assert kinds(ending, DAY) == twice
    assert kinds(ended, DAY) == {"checkin"}  # ended yesterday, not yet released: back to the daily check-in
