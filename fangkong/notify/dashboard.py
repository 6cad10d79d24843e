"""Home-page card: the user's unread notifications, in red when an alert is among them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from fangkong.core.access import user_has_perm
from fangkong.notify.models import Level, Notification


def cards(request: HttpRequest) -> list[dict[str, Any]]:
    if not user_has_perm(request.user, "notify.inbox"):
        return []
    unread = Notification.objects.for_user(request.user).unread()
    count = unread.count()
    alerts = unread.filter(level=Level.ALERT).count() if count else 0
    card: dict[str, Any] = {
        "title": _("未读通知"), "value": count, "url": reverse("notify_inbox") + "?show=unread",
        "tone": "danger" if alerts else ("warning" if count else ""),
    }
    if alerts:
        card["note"] = _("其中 %(n)d 条警报") % {"n": alerts}
    return [card]
