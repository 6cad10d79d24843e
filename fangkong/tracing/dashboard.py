"""Home-page cards: open cases in scope and overdue tracing tasks."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.core.access import user_has_perm
from fangkong.tracing.models import Case, InvestigationTask


def cards(request: HttpRequest) -> list[dict[str, Any]]:
    user = request.user
    out: list[dict[str, Any]] = []
    if user_has_perm(user, "cases.view"):
        open_cases = Case.objects.visible_to(user, "cases.view").exclude(status="excluded").count()
        if open_cases:
            out.append({"title": _("病例（未排除）"), "value": open_cases, "tone": "danger",
                        "url": reverse("tracing:case_list")})
    if user_has_perm(user, "investigations.view"):
        overdue = InvestigationTask.objects.visible_to(user, "investigations.view").filter(
            status="open", due_at__lt=timezone.now()).count()
        if overdue:
            out.append({"title": _("逾期流调任务"), "value": overdue, "tone": "warning",
                        "url": reverse("tracing:task_list") + "?overdue=1"})
    return out
