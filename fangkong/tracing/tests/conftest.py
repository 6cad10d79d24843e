from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fangkong.access.models import Scan, Venue
from fangkong.core.tokens import token_issue

SH = ZoneInfo("Asia/Shanghai")
# Day 0 of the scenarios: the case's onset is two days later, so its exposure window opens at T0's midnight.
T0 = datetime(2021, 9, 20, 8, 0, tzinfo=SH)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def venues(world: Any) -> dict[str, Venue]:
    make = lambda name, kind, org=world.factory, ms=240: Venue.objects.create(  # noqa: E731
        organization=org, name=name, kind=kind, max_stay_minutes=ms)
    return {"canteen": make("一食堂", "canteen"), "meeting": make("三楼会议室", "meeting_room"),
            "gate": make("东大门", "gate"), "workshop": make("一车间厂房", "workshop", ms=720),
            "other": make("门诊楼", "building", org=world.other_org)}


@pytest.fixture
def scan():
    def make(person: Any, venue: Venue, start: datetime, end: datetime | None, decision: str = "admit") -> Scan:
        return Scan.objects.create(organization_id=venue.organization_id, venue=venue, person=person,
                                   direction="entry", at=start, left_at=end, decision=decision)

    return make


@pytest.fixture
def seed003(world: Any) -> None:
    from fangkong.policy import services
    from fangkong.policy.demo import SEED003

    services.policy_activation_set(
        jurisdiction=world.city, actor=world.admin, enabled=True,
        policy=services.policy_pack_install(pack_key=SEED003, jurisdiction=world.city, actor=world.admin))


@pytest.fixture
def api(client: Any):
    class Caller:
        def __init__(self, user: Any) -> None:
            _, self.raw = token_issue(user=user, name="test")

        def _h(self) -> dict[str, str]:
            return {"HTTP_AUTHORIZATION": f"Bearer {self.raw}"}

        def get(self, path: str, **params: Any) -> Any:
            return client.get("/api/v1" + path, params, **self._h())

        def post(self, path: str, data: Any) -> Any:
            return client.post("/api/v1" + path, data, content_type="application/json", **self._h())

        def patch(self, path: str, data: Any) -> Any:
            return client.patch("/api/v1" + path, data, content_type="application/json", **self._h())

    return Caller
