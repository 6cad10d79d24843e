"""A small seed-003-like policy written out here, so these tests do not depend on the built-in packs' wording."""

from __future__ import annotations

from datetime import date

import pytest

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


# English of the messages these tests read in English that are new in this app (the lead merges them into
# locale/en from /tmp/po). Used only where the catalogue has no translation yet: once merged, the catalogue's own
# English is what the tests read, so they assert words that both say, not the whole sentence.
PENDING_EN = {
    "%(place)s (%(level)s, %(since)s 起)": "%(place)s (%(level)s, from %(since)s)",
    "未知的行政区划代码 %(code)s": "Unknown administrative division code %(code)s",
    "应为 高/中/低（high/medium/low），收到“%(value)s”": "Must be high, medium or low (高/中/低), got “%(value)s”",
    "不能超过 %(max)d 个字符（现为 %(n)d 个）": "At most %(max)d characters (this one has %(n)d)",
    "日期 %(value)s 早于 %(earliest)s，请核对": "The date %(value)s is before %(earliest)s; please check it",
}


@pytest.fixture
def english(monkeypatch):
    """The English catalogue with PENDING_EN behind it (after the catalogue's own entries)."""
    from django.utils.translation import trans_real

    catalog = trans_real.translation("en")._catalog
    monkeypatch.setattr(catalog, "_catalogs", [*catalog._catalogs, dict(PENDING_EN)])
    monkeypatch.setattr(catalog, "_plurals", [*catalog._plurals, catalog._plurals[-1]])
