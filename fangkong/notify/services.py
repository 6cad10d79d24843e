"""Writes of the notify app. `notify_send` is what other apps call; it never sends anything itself: it writes inbox
rows in the caller's transaction and, once that commits, hands the other channels to a Huey task."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import time, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import enumeration, worded
from fangkong.notify import rules
from fangkong.notify.models import Delivery, Notification, NotificationPreference, WebhookEndpoint
from fangkong.tenancy.models import Organization


def _base_url() -> str:
    return getattr(settings, "FANGKONG_BASE_URL", "")


@transaction.atomic
def notify_send(
    *,
    recipients: Iterable[Any],
    title: Mapping[str, str],
    body: Mapping[str, str],
    link: str = "",
    level: str = "info",
    organization_id: int | None = None,
    event: str = "",
    dedupe_key: str = "",
) -> list[Notification]:
    """One inbox notification per recipient, in the recipient's language (User.language, else zh-hans).

    Rows are written in the caller's transaction, so a rollback removes them; e-mail, SMS and the organisation's
    webhooks are queued with `transaction.on_commit`, so a rolled-back change tells nobody anything. A second call
    with the same `dedupe_key` creates nothing for the recipients who already have it. Returns the new rows.
    """
    if level not in rules.LEVELS:
        raise ServiceError(gettext("通知级别“%(level)s”无效，可选：%(choices)s") % {
            "level": level, "choices": enumeration(rules.LEVELS)}, {"level": [gettext("无效的级别")]})
    if len(link) > 500 or len(dedupe_key) > 200 or len(event) > 64:
        raise ServiceError(gettext("通知的链接（≤500）、去重键（≤200）或事件名（≤64）过长"), {"link": [gettext("过长")]})
    for texts, what, field in ((title, "通知标题", "title"), (body, "通知内容", "body")):
        try:
            rules.check_texts(texts, what)
        except ValueError as exc:
            raise ServiceError(worded(exc), {field: [worded(exc)]}) from None

    users: dict[int, Any] = {}
    for user in recipients:
        if user is not None and user.pk is not None and user.is_active:
            users.setdefault(user.pk, user)
    anyone = bool(users)
    if dedupe_key and users:
        already = set(
            Notification.objects.filter(dedupe_key=dedupe_key, recipient_id__in=list(users)).values_list(
                "recipient_id", flat=True
            )
        )
        for user_id in already:
            users.pop(user_id)

    rows = [
        Notification(
            recipient=user,
            title=rules.pick_text(title, user.language)[:200],
            body=rules.pick_text(body, user.language),
            link=link,
            level=level,
            event=event,
            organization_id=organization_id,
            dedupe_key=dedupe_key,
        )
        for user in users.values()
    ]
    created = _insert(rows)

    # Webhooks tell the organisation's group chat once per event, not once per recipient. A call whose recipients
    # all had the dedupe key already is a repeat and stays silent. Without recipients (nobody assigned yet) the
    # group chat is still told, so an alert is never lost for want of an account; the dispatch task then dedupes
    # on the webhook deliveries instead.
    tell_webhooks = organization_id is not None and (bool(created) or not anyone)
    if created or tell_webhooks:
        message = None
        if tell_webhooks:
            message = rules.Message(
                event=event, level=level, title=rules.pick_text(title, rules.DEFAULT_LANGUAGE),
                body=rules.pick_text(body, rules.DEFAULT_LANGUAGE), link=rules.absolute_link(link, _base_url()),
                organization_id=organization_id, at=timezone.localtime().isoformat(),
            ).as_dict()
            message["dedupe_key"] = dedupe_key
        ids = [n.pk for n in created]
        transaction.on_commit(lambda: _queue_dispatch(ids, message))
    return created


def _insert(rows: list[Notification]) -> list[Notification]:
    if not rows:
        return []
    try:
        with transaction.atomic():  # a savepoint, so a lost race on the dedupe key does not spoil the caller
            return Notification.objects.bulk_create(rows)
    except IntegrityError:
        # Another run with the same dedupe key committed between our check and our insert: keep the others.
        created = []
        for row in rows:
            row.pk = None
            try:
                with transaction.atomic():
                    row.save()
            except IntegrityError:
                continue
            created.append(row)
        return created


def _queue_dispatch(notification_ids: list[int], message: dict[str, Any] | None) -> None:
    from fangkong.notify.tasks import dispatch_notifications

    dispatch_notifications(notification_ids, message)


# The inbox -----------------------------------------------------------------------------------------------------------


@transaction.atomic
def notification_mark_read(*, notification: Notification, user: Any) -> Notification:
    """Mark one of the user's own notifications read (marking it again changes nothing)."""
    if notification.recipient_id != user.pk:
        # Callers look notifications up through for_user(); this guards against a caller that did not.
        raise ServiceError(gettext("只能标记自己的通知"), status=404)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


@transaction.atomic
def notification_mark_all_read(*, user: Any) -> int:
    return Notification.objects.for_user(user).unread().update(read_at=timezone.now())


def preference_of(user: Any) -> NotificationPreference:
    """The user's preferences, or the unsaved defaults when they never changed them."""
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref or NotificationPreference(user=user)


@transaction.atomic
def preference_update(
    *, user: Any, email: bool, sms: bool, quiet_start: time | None = None, quiet_end: time | None = None
) -> NotificationPreference:
    if (quiet_start is None) != (quiet_end is None):
        msg = gettext("免打扰时段：开始和结束时间需同时填写")
        raise ServiceError(msg, {"quiet_start": [msg], "quiet_end": [msg]})
    if quiet_start is not None and quiet_start == quiet_end:
        msg = gettext("免打扰时段：开始和结束时间不能相同")
        raise ServiceError(msg, {"quiet_end": [msg]})
    pref, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    pref.email, pref.sms, pref.quiet_start, pref.quiet_end = email, sms, quiet_start, quiet_end
    pref.save()
    return pref


# Organisation webhooks -----------------------------------------------------------------------------------------------


def _clean_webhook(*, name: str, kind: str, url: str, levels: Iterable[str]) -> tuple[str, str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    url = (url or "").strip()
    levels = [lv for lv in rules.LEVELS if lv in set(levels)]
    if not name:
        errors["name"] = [gettext("请填写名称")]
    if kind not in WebhookEndpoint.Kind.values:
        errors["kind"] = [gettext("未知的类型“%(kind)s”，可选：%(choices)s") % {
            "kind": kind, "choices": enumeration(WebhookEndpoint.Kind.values)}]
    if not url.startswith(("https://", "http://")) or len(url) > 1000:
        errors["url"] = [gettext("地址必须以 http:// 或 https:// 开头")]
    elif rules.literal_host_is_internal(url) and not getattr(settings, "FANGKONG_WEBHOOK_ALLOW_INTERNAL", False):
        errors["url"] = [gettext("不能指向本机或内网地址")]
    if not levels:
        errors["levels"] = [gettext("至少选择一个转发级别")]
    if errors:
        field, messages = next(iter(errors.items()))
        label = {"name": gettext("名称"), "kind": gettext("类型"), "url": gettext("地址"),
                 "levels": gettext("转发级别")}[field]
        raise ServiceError(gettext("Webhook %(field)s：%(error)s") % {"field": label, "error": messages[0]}, errors)
    return name, url, levels


@transaction.atomic
def webhook_create(
    *, organization: Organization, name: str, kind: str, url: str, secret: str = "", levels: Iterable[str],
    actor: Any,
) -> WebhookEndpoint:
    name, url, level_list = _clean_webhook(name=name, kind=kind, url=url, levels=levels)
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, name=name, kind=kind, url=url, url_masked=rules.mask_url(url),
        secret=(secret or "").strip(), levels=level_list,
    )
    audit_record(
        actor=actor, action="notify.webhook_create", obj=endpoint, organization_id=organization.pk,
        changes={"kind": [None, kind], "url": [None, endpoint.url_masked], "levels": [None, level_list]},
    )
    return endpoint


@transaction.atomic
def webhook_update(
    *, endpoint: WebhookEndpoint, name: str, kind: str, levels: Iterable[str], is_active: bool, actor: Any,
    url: str = "", secret: str | None = None,
) -> WebhookEndpoint:
    """Change an endpoint; an empty `url` keeps the stored one and `secret=None` keeps the stored secret (the form
    never shows either back)."""
    name, url, level_list = _clean_webhook(name=name, kind=kind, url=url or endpoint.url, levels=levels)
    before = {"name": endpoint.name, "kind": endpoint.kind, "url": endpoint.url_masked, "levels": endpoint.levels,
              "is_active": endpoint.is_active}
    endpoint.name, endpoint.kind, endpoint.levels, endpoint.is_active = name, kind, level_list, is_active
    endpoint.url, endpoint.url_masked = url, rules.mask_url(url)
    if secret is not None:
        endpoint.secret = secret.strip()
    endpoint.save()
    after = {"name": name, "kind": kind, "url": endpoint.url_masked, "levels": level_list, "is_active": is_active}
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if secret is not None:
        changes["secret"] = ["***", "***"]
    audit_record(
        actor=actor, action="notify.webhook_update", obj=endpoint, organization_id=endpoint.organization_id,
        changes=changes,
    )
    return endpoint


@transaction.atomic
def webhook_delete(*, endpoint: WebhookEndpoint, actor: Any) -> None:
    audit_record(
        actor=actor, action="notify.webhook_delete", obj=endpoint, organization_id=endpoint.organization_id,
        changes={"url": [endpoint.url_masked, None]},
    )
    endpoint.delete()


@transaction.atomic
def webhook_send_test(*, endpoint: WebhookEndpoint, actor: Any) -> Delivery:
    """Queue a test message to one endpoint (whatever its levels), so an admin sees the robot answer."""
    message = rules.Message(
        event="notify.test", level="info", title="防控系统测试消息",
        body=f"这是一条来自防控系统的测试消息（{endpoint.organization}，由 {actor} 发送）。收到即表示配置正确。",
        link="", organization_id=endpoint.organization_id, at=timezone.localtime().isoformat(),
    ).as_dict()
    delivery = Delivery.objects.create(
        webhook=endpoint, organization_id=endpoint.organization_id, channel=Delivery.Channel.WEBHOOK,
        target=endpoint.url_masked, payload=message,
    )
    audit_record(actor=actor, action="notify.webhook_test", obj=endpoint, organization_id=endpoint.organization_id)
    transaction.on_commit(lambda: _queue_webhook(delivery.pk))
    return delivery


def _queue_webhook(delivery_id: int) -> None:
    from fangkong.notify.tasks import deliver_webhook

    deliver_webhook(delivery_id)


# Retention -----------------------------------------------------------------------------------------------------------

RETENTION_DAYS = 180


@transaction.atomic
def notifications_purge(*, now: Any = None, days: int | None = None) -> dict[str, int]:
    """Delete notifications and delivery records older than the retention period.

    Their texts name people and their temperatures (health data), so they are not kept beyond their use; unread
    ones go too, since a half-year-old reminder has nothing left to remind of.
    """
    days = days if days is not None else getattr(settings, "FANGKONG_NOTIFY_RETENTION_DAYS", RETENTION_DAYS)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deliveries = Delivery.objects.filter(created_at__lt=cutoff).delete()[1].get("notify.Delivery", 0)
    removed = Notification.objects.filter(created_at__lt=cutoff).delete()[1]
    return {
        "notifications": removed.get("notify.Notification", 0),
        "deliveries": deliveries + removed.get("notify.Delivery", 0),  # later retries of old notifications
    }
