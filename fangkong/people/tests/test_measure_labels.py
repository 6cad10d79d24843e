"""The ledger names a person's current measure (the field keeps a code written by measures and tracing)."""

from __future__ import annotations

import pytest
from django.conf import settings

from fangkong.people.models import Person

pytestmark = pytest.mark.django_db


def test_people_pages_name_the_current_measure_in_the_readers_language(client, world, make_person):
    quarantined = make_person(name="居隔者")
    case = make_person(name="病例者")
    Person.objects.filter(pk=quarantined.pk).update(measure_kind="home_quarantine")
    Person.objects.filter(pk=case.pk).update(measure_kind="isolation")
    client.force_login(world.alice)
    page = client.get("/people/").content.decode()
    assert "居家隔离医学观察" in page and "病例隔离" in page and "home_quarantine" not in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/people/{quarantined.pk}/").content.decode()
    assert "Home quarantine" in page and "居家隔离医学观察" not in page
    page = client.get(f"/measures/person/{case.pk}/").content.decode()
    assert "Isolation as a case" in page and ">isolation<" not in page
