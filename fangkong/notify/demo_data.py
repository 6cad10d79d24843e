"""Demo notifications (picked up by fangkong.tenancy.demo.run_demo after the base steps; notify comes last, so the
alerts the other apps' demo steps sent are already in the inboxes).

Each organisation's office sends its staff with sign-ins this week's notice (`notify_send`), so every inbox, the
gatekeeper's and the worker's too, has something to read.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from fangkong.notify.services import notify_send

NOTICE = {
    "zh-hans": "冬季疫情防控提醒：请坚持每日健康打卡，进出厂区、院区、校园主动扫码测温；近 14 天有中高风险地区旅居史的，"
               "返回前须向单位报备。发热、干咳、乏力等症状者不得带病上岗（上学），请立即报告并到发热门诊就诊。",
    "en": "Winter reminder: check in daily, scan and take your temperature at every entrance, report any stay in a "
          "medium- or high-risk area before you come back, and do not come to work or school with symptoms.",
}


def seed(ctx: Any) -> None:
    User = get_user_model()
    for key, org in ctx.orgs.items():
        users = User.objects.filter(memberships__organization=org, is_active=True).distinct()
        notify_send(
            recipients=list(users), level="info", organization_id=org.pk, event="notice",
            title={"zh-hans": f"{org.name}防控办：冬季疫情防控提醒", "en": f"{org.name}: winter prevention reminder"},
            body=NOTICE, link="/", dedupe_key=f"demo.notice:{key}:{ctx.today}",
        )
