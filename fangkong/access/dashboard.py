"""Home-page cards: today's scans and refusals, visits waiting for approval."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.access import selectors
from fangkong.core.access import user_has_perm


def cards(request: HttpRequest) -> list[dict[str, Any]]:
    user = request.user
    out: list[dict[str, Any]] = []
    membership = getattr(request, "membership", None)
    org_id = membership.organization_id if membership else None
    if org_id and user_has_perm(user, "scans.view"):
        figures = selectors.refused_today(organization_id=org_id)
        day = timezone.localdate().isoformat()
        out.append({"title": _("今日出入扫码"), "value": figures["total"],
                    "url": reverse("access:scan_list") + f"?day={day}"})
        if figures["refused"]:
            out.append({"title": _("今日拒绝进入"), "value": figures["refused"], "tone": "danger",
                        "url": reverse("access:scan_list") + f"?day={day}&decision=refuse"})
    if user_has_perm(user, "visits.host"):
        pending = selectors.pending_visits_for(user).count()
        if pending:
            out.append({"title": _("待审批访客"), "value": pending, "tone": "warning",
                        "url": reverse("access:visit_list")})
    return out
