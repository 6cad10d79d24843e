"""Home cards: today's check-in completion, open symptomatic flags, open cluster warnings, my own check-in."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.core.access import user_has_perm
from fangkong.health import selectors
from fangkong.obligations.selectors import compliance_by_unit


def cards(request: HttpRequest) -> list[dict[str, Any]]:
    user = request.user
    out: list[dict[str, Any]] = []
    m = getattr(request, "membership", None)
    org_id = m.organization_id if m else None
    today = timezone.localdate()
    if user_has_perm(user, "self.checkin"):
        from fangkong.health.models import Checkin

        done = Checkin.objects.filter(person__user_id=cast(int, user.pk), date=today).exists()
        out.append({"title": _("我的今日打卡"), "value": _("已完成") if done else _("未完成"),
                    "url": reverse("health:checkin"), "tone": "success" if done else "warning"})
    if user_has_perm(user, "compliance.view"):
        rows = compliance_by_unit(user=user, day=today, kind="checkin", organization_id=org_id)
        expected = sum(r.expected for r in rows)
        done_n = sum(r.done for r in rows)
        out.append({"title": _("今日打卡完成"), "value": f"{done_n}/{expected}", "url": reverse("health:compliance"),
                    "tone": "success" if expected and done_n == expected else "warning",
                    "note": _("异常 %(n)d 人次") % {"n": sum(r.abnormal for r in rows)}})
    if user_has_perm(user, "health.flags"):
        n = selectors.flag_list(user=user, state="open", organization_id=org_id).count()
        out.append({"title": _("症状标记（未解除）"), "value": n, "url": reverse("health:flags"),
                    "tone": "danger" if n else "success"})
    if user_has_perm(user, "checkins.view"):
        n = selectors.cluster_list(user=user, state="open", organization_id=org_id).count()
        if n:
            out.append({"title": _("聚集性预警待报告"), "value": n, "url": reverse("health:clusters"),
                        "tone": "danger"})
    return out
