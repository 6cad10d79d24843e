from __future__ import annotations

from typing import Any

import pytest

from fangkong.access import services
from fangkong.core.tokens import token_issue


@pytest.fixture
def gate_venue(world: Any):
    return services.venue_create(organization=world.factory, actor=world.admin, name="东大门", kind="gate",
                                 capacity=3, max_stay_minutes=60)


@pytest.fixture
def other_venue(world: Any):
    return services.venue_create(organization=world.other_org, actor=world.admin, name="门诊楼", kind="building")


@pytest.fixture
def api(client: Any):
    """Call the API with a user's bearer token: api(user).post(path, json)."""

    class Caller:
        def __init__(self, user: Any) -> None:
            _, self.raw = token_issue(user=user, name="test")

        def _h(self) -> dict[str, str]:
            return {"HTTP_AUTHORIZATION": f"Bearer {self.raw}"}

        def get(self, path: str, **params: Any) -> Any:
            return client.get("/api/v1" + path, params, **self._h())

        def post(self, path: str, data: Any) -> Any:
            return client.post("/api/v1" + path, data, content_type="application/json", **self._h())

    return Caller


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
