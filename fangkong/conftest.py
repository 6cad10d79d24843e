"""Shared fixtures. Three users in the spirit of Healthchecks' alice/bob/charlie:

- alice: organisation admin of the factory (full access to it);
- bob: unit leader of workshop 1 of the same factory (narrower);
- charlie: organisation admin of another organisation under another jurisdiction (must get 404 on alice's objects).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from fangkong.people.idgen import synthetic_id_number, synthetic_mobile
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.models import Authority, Jurisdiction, Organization, Unit
from fangkong.tenancy.roles import Role


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from fangkong.geo.loader import load_regions

    with django_db_blocker.unblock():
        load_regions()


@dataclass
class World:
    city: Jurisdiction
    county: Jurisdiction
    other_jurisdiction: Jurisdiction
    bureau: Authority
    factory: Organization
    workshop1: Unit
    team1: Unit
    workshop2: Unit
    other_org: Organization
    alice: Any
    bob: Any
    charlie: Any
    officer: Any
    admin: Any


def make_user(username: str, **extra: Any) -> Any:
    return get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)


@pytest.fixture
def world(db) -> World:
    admin = get_user_model().objects.create_superuser("root", password="pw-root")
    city = tenancy.jurisdiction_create(name="长治市疫情防控指挥部", region_code="1404", actor=admin)
    county = tenancy.jurisdiction_create(name="长子县疫情防控指挥部", region_code="140428", parent=city, actor=admin)
    other_j = tenancy.jurisdiction_create(name="太原市疫情防控指挥部", region_code="1401", actor=admin)
    bureau = tenancy.authority_create(name="长子县工信局", jurisdiction=county, sector="industry", actor=admin)
    factory = tenancy.organization_create(
        name="长子县示范机械厂", kind="enterprise", region_code="140428", jurisdiction=county, authority=bureau,
        actor=admin, taskforce_template="enterprise",
    )
    ws1 = tenancy.unit_create(organization=factory, name="一车间", kind="workshop", actor=admin)
    team1 = tenancy.unit_create(organization=factory, name="一班", kind="team", parent=ws1, actor=admin)
    ws2 = tenancy.unit_create(organization=factory, name="二车间", kind="workshop", actor=admin)
    other = tenancy.organization_create(
        name="太原某医院", kind="hospital", region_code="140105", jurisdiction=other_j, actor=admin,
    )
    alice, bob, charlie, officer = (make_user(n) for n in ("alice", "bob", "charlie", "officer"))
    tenancy.membership_grant(user=alice, role=Role.ORG_ADMIN, organization=factory, actor=admin)
    tenancy.membership_grant(user=bob, role=Role.UNIT_LEADER, unit=ws1, actor=admin)
    tenancy.membership_grant(user=charlie, role=Role.ORG_ADMIN, organization=other, actor=admin)
    tenancy.membership_grant(user=officer, role=Role.JURISDICTION_OFFICER, jurisdiction=county, actor=admin)
    return World(city, county, other_j, bureau, factory, ws1, team1, ws2, other, alice, bob, charlie, officer, admin)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20211917)


@pytest.fixture
def make_person(world: World, rng: random.Random):
    from fangkong.people.services import person_create

    def make(organization: Organization | None = None, unit: Unit | None = None, **values: Any):
        values.setdefault("name", "测试" + str(rng.randrange(10000)))
        values.setdefault("id_number", synthetic_id_number(rng))
        values.setdefault("phone", synthetic_mobile(rng))
        return person_create(organization=organization or world.factory, unit=unit, actor=world.admin, **values)

    return make
