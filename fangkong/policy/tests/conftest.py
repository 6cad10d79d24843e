"""A small seed-003-like policy written out here, so these tests do not depend on the built-in packs' wording."""

from __future__ import annotations

from datetime import date

import pytest

from fangkong.core.tokens import token_issue
from fangkong.policy import services
from fangkong.policy.models import Policy, Rule

NAT_14_3 = [{"kind": "nat", "day": 1}, {"kind": "nat", "day": 7}, {"kind": "nat", "day": 14}]
TEST_RULES = [
    ("high14", "第二条", {"stayed_in_area": {"level": "high", "within_days": 14, "arrival_word": "返长"}},
     {"kind": "centralized_quarantine", "days": 14, "tests": NAT_14_3, "counted_from": "arrival"}),
    ("medium14", "第三条", {"stayed_in_area": {"level": "medium", "within_days": 14, "arrival_word": "返长"}},
     {"kind": "home_quarantine", "days": 14, "tests": NAT_14_3, "counted_from": "arrival"}),
    ("near7", "第四条", {"stayed_near_area": {"min_level": "medium", "within_days": 14, "arrival_word": "返长"}},
     {"kind": "home_quarantine", "days": 7, "tests": [{"kind": "nat", "day": 1}, {"kind": "nat", "day": 7}],
      "counted_from": "arrival"}),
]


@pytest.fixture
def city_policy(world):
    """长疫情防控办发〔2021〕38号 (test copy) in force for the 长治 city jurisdiction and everyone under it."""
    policy = Policy.objects.create(title="测试政策", number="长疫情防控办发〔2021〕38号", issuer="长治市疫情防控办",
                                   jurisdiction=world.city, effective_from=date(2021, 9, 17))
    for i, (key, clause, cond, measure) in enumerate(TEST_RULES):
        Rule.objects.create(policy=policy, key=key, clause=clause, condition=cond, measure=measure,
                            precedence=(i + 1) * 10)
    services.policy_activation_set(jurisdiction=world.city, policy=policy, enabled=True, actor=world.admin)
    return policy


@pytest.fixture
def high_area(world):
    """石家庄市藁城区 high risk from 2021-09-10, announced by the city (so it counts for the county's people)."""
    return services.risk_area_announce(jurisdiction=world.city, region_code="130109", level="high",
                                       effective_from=date(2021, 9, 10), actor=world.admin, reevaluate=False)


def bearer(user):
    """The API headers of a new token of this user."""
    _t, raw = token_issue(user=user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def before_the_trip(time_machine):
    """2021-09-20 10:00 in Shanghai: before the trips these tests file, after the stays they record."""
    time_machine.move_to("2021-09-20 10:00 +0800", tick=False)
