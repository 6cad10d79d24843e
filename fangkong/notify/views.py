from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.access import requires
from fangkong.core.errors import ServiceError
from fangkong.notify import services
from fangkong.notify.forms import PreferenceForm, WebhookEditForm, WebhookForm
from fangkong.notify.models import Delivery, Level, Notification, WebhookEndpoint
from fangkong.tenancy.models import Organization

PAGE_SIZE = 25


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# Inbox --------------------------------------------------------------------------------------------------------------


@requires("notify.inbox")
def inbox(request: HttpRequest) -> HttpResponse:
    mine = Notification.objects.for_user(request.user)
    show = request.GET.get("show", "")
    level = request.GET.get("level", "")
    q = request.GET.get("q", "").strip()
    qs = mine.unread() if show == "unread" else mine
    if level in Level.values:
        qs = qs.filter(level=level)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(body__icontains=q))
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notify/inbox.html", {
        "page": page, "show": show, "level": level, "q": q, "levels": Level.choices,
        "unread_count": mine.unread().count(),
    })


@requires("notify.inbox")
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification's link, marking it read on the way (the link is the reason it was sent)."""
    notification = get_object_or_404(Notification.objects.for_user(request.user), pk=pk)
    services.notification_mark_read(notification=notification, user=request.user)
    link = notification.link
    if link and url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}):
        return redirect(link)
    return redirect("notify_inbox")


@require_POST
@requires("notify.inbox")
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(Notification.objects.for_user(request.user), pk=pk)
    services.notification_mark_read(notification=notification, user=request.user)
    if request.headers.get("HX-Request"):
        unread = Notification.objects.for_user(request.user).unread().count()
        response = render(request, "notify/_read.html", {"n": notification, "unread_count": unread})
        response["HX-Trigger"] = "notify-changed"  # the header badge refreshes itself
        return response
    return redirect(_safe_next(request, reverse("notify_inbox")))


@require_POST
@requires("notify.inbox")
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.notification_mark_all_read(user=request.user)
    messages.success(request, _("已将 %(count)d 条通知标为已读") % {"count": count})
    return redirect(_safe_next(request, reverse("notify_inbox")))


@requires("notify.inbox")
def badge(request: HttpRequest) -> HttpResponse:
    """The header's bell with the unread count; base.html loads it with HTMX and refreshes it every minute."""
    mine = Notification.objects.for_user(request.user).unread()
    count = mine.count()
    has_alert = count > 0 and mine.filter(level=Level.ALERT).exists()
    return render(request, "notify/badge.html", {"count": count, "has_alert": has_alert})


# Preferences --------------------------------------------------------------------------------------------------------


@requires("notify.inbox")
def preferences(request: HttpRequest) -> HttpResponse:
    pref = services.preference_of(request.user)
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            try:
                services.preference_update(user=request.user, **form.cleaned_data)
            except ServiceError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("通知设置已保存"))
                return redirect("notify_preferences")
    else:
        form = PreferenceForm(initial={
            "email": pref.email, "sms": pref.sms, "quiet_start": pref.quiet_start, "quiet_end": pref.quiet_end,
        })
    user: Any = request.user
    return render(request, "notify/preferences.html", {
        "form": form, "has_email": bool(user.email), "has_phone": bool(user.phone),
    })


# Organisation webhooks ----------------------------------------------------------------------------------------------


def _webhook_orgs(request: HttpRequest) -> Any:
    return Organization.objects.visible_to(request.user, "notify.webhooks")


@requires("notify.webhooks")
def webhooks(request: HttpRequest) -> HttpResponse:
    orgs = _webhook_orgs(request)
    membership = getattr(request, "membership", None)
    acting_org = getattr(membership, "organization_id", None) if membership else None
    if request.method == "POST":
        form = WebhookForm(request.POST, organizations=orgs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                endpoint = services.webhook_create(
                    organization=data["organization"], name=data["name"], kind=data["kind"], url=data["url"],
                    secret=data["secret"], levels=data["levels"], actor=request.user,
                )
            except ServiceError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("已添加 Webhook：%(name)s") % {"name": endpoint.name})
                return redirect("notify_webhooks")
    else:
        form = WebhookForm(organizations=orgs, initial={"organization": acting_org})
    endpoints = WebhookEndpoint.objects.visible_to(request.user).select_related("organization")
    q = request.GET.get("q", "").strip()
    if q:
        endpoints = endpoints.filter(Q(name__icontains=q) | Q(organization__name__icontains=q))
    page = Paginator(endpoints.order_by("organization__name", "name", "id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notify/webhooks.html", {"form": form, "page": page, "q": q})


def _endpoint(request: HttpRequest, pk: int) -> WebhookEndpoint:
    return get_object_or_404(
        WebhookEndpoint.objects.visible_to(request.user).select_related("organization"), pk=pk
    )


@requires("notify.webhooks")
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    if request.method == "POST":
        form = WebhookEditForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            secret = "" if data["clear_secret"] else (data["secret"] or None)
            try:
                services.webhook_update(
                    endpoint=endpoint, name=data["name"], kind=data["kind"], levels=data["levels"],
                    is_active=data["is_active"], url=data["url"], secret=secret, actor=request.user,
                )
            except ServiceError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("已保存 Webhook：%(name)s") % {"name": endpoint.name})
                return redirect("notify_webhooks")
    else:
        form = WebhookEditForm(initial={
            "name": endpoint.name, "kind": endpoint.kind, "levels": endpoint.levels, "is_active": endpoint.is_active,
        })
    return render(request, "notify/webhook_edit.html", {"form": form, "endpoint": endpoint})


@require_POST
@requires("notify.webhooks")
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    name = endpoint.name
    services.webhook_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, _("已删除 Webhook：%(name)s") % {"name": name})
    return redirect("notify_webhooks")


@require_POST
@requires("notify.webhooks")
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    services.webhook_send_test(endpoint=endpoint, actor=request.user)
    messages.info(request, _("测试消息已排队发送到“%(name)s”，结果见发送记录。") % {"name": endpoint.name})
    return redirect(f"{reverse('notify_deliveries')}?webhook={endpoint.pk}")


# Delivery log -------------------------------------------------------------------------------------------------------


@requires("notify.webhooks")
def deliveries(request: HttpRequest) -> HttpResponse:
    qs = Delivery.objects.visible_to(request.user).select_related("webhook", "notification", "organization")
    status = request.GET.get("status", "")
    channel = request.GET.get("channel", "")
    webhook_id = request.GET.get("webhook", "")
    if status in Delivery.Status.values:
        qs = qs.filter(status=status)
    if channel in Delivery.Channel.values:
        qs = qs.filter(channel=channel)
    if webhook_id.isdigit():
        qs = qs.filter(webhook_id=int(webhook_id))
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notify/deliveries.html", {
        "page": page, "status": status, "channel": channel, "webhook": webhook_id,
        "statuses": Delivery.Status.choices, "channels": Delivery.Channel.choices,
    })
