"""core.model_rows: instances built without Model.__init__ behave as the ones Django builds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangkong.access.models import Scan, Venue
from fangkong.core import model_rows
from fangkong.people.models import Person

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

READ = ["id", "organization_id", "name", "kind", "is_active", "measure_kind"]  # in the model's field order


def _row(person: Person) -> dict:
    return {f: getattr(person, f) for f in READ}


def test_a_row_read_is_the_instance_from_db_gives_with_the_rest_deferred(world, make_person):
    person = make_person(name="张三")
    assert [f.attname for f in Person._meta.concrete_fields if f.attname in READ] == READ
    fast = model_rows.instance(Person, _row(person), db="default")
    django = Person.from_db("default", READ, list(_row(person).values()))
    assert {k: v for k, v in fast.__dict__.items() if k != "_state"} == {
        k: v for k, v in django.__dict__.items() if k != "_state"}
    assert (fast._state.adding, fast._state.db) == (False, "default")
    assert fast.get_deferred_fields() == django.get_deferred_fields() and "unit_id" in fast.get_deferred_fields()
    with CaptureQueriesContext(connection) as read:
        assert fast.unit_id == person.unit_id  # a deferred field loads on first read, as from_db's do
    assert len(read) == 1
    assert fast == person and fast.organization == world.factory


def test_a_new_instance_saves_like_a_constructed_one(world, make_person):
    person = make_person()
    venue = Venue.objects.create(organization=world.factory, name="东门", kind="gate")
    values = {f.attname: f.get_default() for f in Scan._meta.concrete_fields}
    values.update(organization_id=world.factory.pk, venue_id=venue.pk, person_id=person.pk, direction="entry",
                  at=timezone.now() - timedelta(minutes=1), decision="admit", reasons=[], device_id="d",
                  created_at=timezone.now())
    scan = model_rows.instance(Scan, values)
    assert scan._state.adding and scan.pk is None
    scan.save()
    stored = Scan.objects.get(pk=scan.pk)
    assert (stored.venue, stored.person, stored.decision) == (venue, person, "admit")
    assert not scan._state.adding and scan._state.db == "default"


def test_a_listener_to_the_init_signals_still_sees_every_instance(world, make_person):
    person = make_person()
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(listener, sender=Person)
    try:
        made = model_rows.instance(Person, _row(person), db="default")
    finally:
        post_init.disconnect(listener, sender=Person)
    assert seen == [made] and made.get_deferred_fields() >= {"unit_id"} and not made._state.adding
