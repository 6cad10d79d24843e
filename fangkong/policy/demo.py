"""Demo policies: the seed 003 pack (长疫情防控办发〔2021〕38号) in force for the 长治市 jurisdiction, so the county's
organisations are under it, and a few historic risk areas (one lowered, so the history page has something to show)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fangkong.policy import services
from fangkong.policy.models import RiskArea
from fangkong.tenancy.models import Jurisdiction

SEED003 = "seed003_changzhi_2021_38"
CITY_REGION = "1404"

# (region, locality, level, from, lowered to low on, source): Sept 2021, when seed 003 was written.
HISTORIC_AREAS = [
    ("130109", "", "high", date(2021, 9, 10), date(2021, 10, 8), "石家庄市新冠肺炎疫情防控工作领导小组办公室通告"),
    ("130102", "", "medium", date(2021, 9, 10), date(2021, 9, 30), "石家庄市新冠肺炎疫情防控工作领导小组办公室通告"),
    ("350304", "", "medium", date(2021, 9, 15), None, "福建省莆田市通告"),
]


def seed_policy_demo(*, city: Jurisdiction | None = None, actor: Any = "seed_demo") -> None:
    """Idempotent: installing the pack twice or re-adding an area already there changes nothing."""
    city = city or Jurisdiction.objects.filter(region_id=CITY_REGION, parent__isnull=True).order_by("id").first()
    if city is None:
        return
    policy = services.policy_pack_install(pack_key=SEED003, jurisdiction=city, actor=actor)
    services.policy_activation_set(jurisdiction=city, policy=policy, enabled=True, actor=actor)
    for code, locality, level, start, lowered, source in HISTORIC_AREAS:
        if RiskArea.objects.filter(jurisdiction=city, region_id=code, locality=locality).exists():
            continue
        area = services.risk_area_announce(jurisdiction=city, region_code=code, locality=locality, level=level,
                                           effective_from=start, source=source, actor=actor, reevaluate=False)
        if lowered is not None:
            services.risk_area_end(area=area, ended_on=lowered, source=source, actor=actor)
