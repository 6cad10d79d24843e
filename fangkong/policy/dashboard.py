"""Home-page cards: risk areas in force today and measures waiting for confirmation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.core.access import user_has_perm
from fangkong.policy.models import RiskArea


def cards(request: HttpRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if user_has_perm(request.user, "riskareas.view"):
        today = timezone.localdate()
        qs = RiskArea.objects.visible_to(request.user, "riskareas.view").as_of(today)
        high = qs.filter(level="high").count()
        medium = qs.filter(level="medium").count()
        out.append({"title": _("高/中风险地区"), "value": f"{high} / {medium}", "url": reverse("policy:risk_area_list"),
                    "tone": "red" if high else ("orange" if medium else "green"), "note": _("今日有效")})
    if user_has_perm(request.user, "measures.view"):
        from fangkong.measures.models import Measure

        n = Measure.objects.visible_to(request.user, "measures.view").filter(status="proposed").count()
        out.append({"title": _("待确认的管控措施"), "value": n, "url": reverse("measures:measure_list"),
                    "tone": "yellow" if n else "green"})
    return out
