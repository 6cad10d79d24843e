"""Which rows each membership covers: the rules every visible_to() relies on."""

from __future__ import annotations

import pytest

from fangkong.core.access import user_has_perm
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization, Unit

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_unit_paths_nest(world):
    assert world.team1.path.startswith(world.workshop1.path)
    assert not world.workshop2.path.startswith(world.workshop1.path)
    assert world.county.path.startswith(world.city.path)


def test_organization_scope_by_membership(world):
    assert set(Organization.objects.visible_to(world.alice)) == {world.factory}
    assert set(Organization.objects.visible_to(world.bob)) == {world.factory}
    assert set(Organization.objects.visible_to(world.charlie)) == {world.other_org}
    assert set(Organization.objects.visible_to(world.officer)) == {world.factory}
    assert set(Organization.objects.visible_to(world.admin)) == {world.factory, world.other_org}


def test_unit_scope(world):
    assert set(Unit.objects.visible_to(world.bob)) == {world.workshop1, world.team1}
    assert set(Unit.objects.visible_to(world.alice)) == {world.workshop1, world.team1, world.workshop2}
    assert not Unit.objects.visible_to(world.charlie).exists()


def test_people_scope_follows_jurisdiction_tree(world, make_person):
    p = make_person(unit=world.team1)
    make_person(organization=world.other_org)
    assert list(Person.objects.visible_to(world.officer)) == [p]


def test_permissions_follow_the_role_table(world):
    assert user_has_perm(world.alice, "people.unmask")
    assert not user_has_perm(world.bob, "people.unmask")
    assert user_has_perm(world.bob, "people.view")
    assert not user_has_perm(world.alice, "riskareas.change")
    assert user_has_perm(world.officer, "riskareas.change")
    assert user_has_perm(world.admin, "anything.at_all")


def test_anonymous_has_nothing(db):
    from django.contrib.auth.models import AnonymousUser

    assert not user_has_perm(AnonymousUser(), "people.view")
    assert not Person.objects.visible_to(AnonymousUser()).exists()
