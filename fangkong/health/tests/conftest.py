"""Fixtures shared by the health tests."""

from __future__ import annotations

from typing import Any

import pytest

from fangkong.conftest import make_user
from fangkong.health.models import CheckinSetting
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role


@pytest.fixture
def checkin_member(world: Any, make_person: Any) -> Any:
    """checkin_member(username, name): the factory's default check-in setting (once), a member account and its
    person in workshop 1. Returns the person (`person.user` is the account)."""

    def make(username: str = "ann", name: str = "安安") -> Any:
        CheckinSetting.objects.get_or_create(organization=world.factory)
        user = make_user(username)
        tenancy.membership_grant(user=user, role=Role.MEMBER, organization=world.factory, actor=world.admin)
        return make_person(unit=world.workshop1, name=name, user=user)

    return make
