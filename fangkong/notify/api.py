"""The caller's own notifications. Another user's notification is a 404, like anything outside one's scope."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from fangkong.core.access import api_permission
from fangkong.core.api_support import paginate
from fangkong.notify import services
from fangkong.notify.models import Notification

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: int
    title: str
    body: str
    link: str
    level: str
    event: str
    organization_id: int | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(Schema):
    count: int
    limit: int
    offset: int
    unread_count: int
    items: list[NotificationOut]


class MarkedOut(Schema):
    updated: int


@router.get("/notifications", response=NotificationPage, summary="The caller's notifications, newest first")
@api_permission("notify.inbox")
def list_notifications(
    request: HttpRequest, unread: bool = False, level: str = "", limit: int = 50, offset: int = 0
) -> dict:
    mine = Notification.objects.for_user(request.user)
    qs = mine.unread() if unread else mine
    if level:
        qs = qs.filter(level=level)
    items, page = paginate(qs.order_by("-created_at", "-id"), limit, offset, max_limit=200)
    return {**page, "unread_count": mine.unread().count(), "items": items}


@router.post("/notifications/read-all", response=MarkedOut, summary="Mark all the caller's notifications read")
@api_permission("notify.inbox")
def read_all_notifications(request: HttpRequest) -> dict:
    return {"updated": services.notification_mark_all_read(user=request.user)}


@router.post("/notifications/{notification_id}/read", response=NotificationOut,
             summary="Mark one of the caller's notifications read")
@api_permission("notify.inbox")
def read_notification(request: HttpRequest, notification_id: int) -> Notification:
    notification = get_object_or_404(Notification.objects.for_user(request.user), pk=notification_id)
    return services.notification_mark_read(notification=notification, user=request.user)
