"""Huey tasks that take notifications out of the system. Each attempt is recorded in Delivery; a failed attempt
raises so Huey retries it (3 more times, a minute apart), and the last failure leaves the row 'failed'."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from fangkong.core.rule_errors import RuleError, gettext_noop
from fangkong.notify import rules
from fangkong.notify.channels import DeliveryError, post_webhook, send_email, send_sms
from fangkong.notify.models import Delivery, Notification, NotificationPreference, WebhookEndpoint

logger = logging.getLogger("fangkong.notify")

RETRIES = 3
RETRY_DELAY = 60


class DeliveryIncomplete(Exception):
    """Raised after recording a failed attempt, so that Huey schedules the retry."""


def _targets(user: Any, pref: NotificationPreference) -> list[tuple[str, str]]:
    """(channel, address) pairs the user wants and can receive; a channel without an address is skipped."""
    targets: list[tuple[str, str]] = []
    if pref.email and user.email:
        targets.append((Delivery.Channel.EMAIL, user.email))
    if pref.sms and user.phone:
        targets.append((Delivery.Channel.SMS, user.phone))
    return targets


def _masked(channel: str, address: str) -> str:
    from fangkong.core.crypto import mask_phone

    return rules.mask_email(address) if channel == Delivery.Channel.EMAIL else mask_phone(address)


@db_task()
def dispatch_notifications(notification_ids: list[int], message: dict[str, Any] | None = None) -> None:
    """Fan out what notify_send committed: one delivery task per notification that has somewhere to go, and one
    per organisation webhook whose levels include the message's level."""
    notifications = list(Notification.objects.filter(pk__in=notification_ids).select_related("recipient"))
    prefs = {
        p.user_id: p
        for p in NotificationPreference.objects.filter(user_id__in=[n.recipient_id for n in notifications])
    }
    now = timezone.localtime()
    for n in notifications:
        pref = prefs.get(n.recipient_id) or NotificationPreference(user=n.recipient)
        if not _targets(n.recipient, pref):
            continue
        hold_until = (
            rules.quiet_hours_end(now, pref.quiet_start, pref.quiet_end)
            if rules.holds_for_quiet_hours(n.level) else None
        )
        if hold_until is not None:
            deliver_notification.schedule((n.pk,), eta=hold_until)
        else:
            deliver_notification(n.pk)
    if message and message.get("organization_id"):
        message = dict(message)
        dedupe_key = message.pop("dedupe_key", "") or ""
        endpoints = WebhookEndpoint.objects.filter(organization_id=message["organization_id"], is_active=True)
        for endpoint in endpoints:
            if not endpoint.forwards(message.get("level", "")):
                continue
            if dedupe_key and Delivery.objects.filter(webhook=endpoint, dedupe_key=dedupe_key).exists():
                continue
            try:
                with transaction.atomic():
                    delivery = Delivery.objects.create(
                        webhook=endpoint, organization_id=endpoint.organization_id,
                        channel=Delivery.Channel.WEBHOOK, target=endpoint.url_masked, payload=message,
                        dedupe_key=dedupe_key,
                    )
            except IntegrityError:  # a concurrent dispatch of the same alert got there first
                continue
            deliver_webhook(delivery.pk)


def _record(delivery: Delivery, error: str | RuleError, final: bool) -> None:
    """One attempt: sent, or the error (a RuleError keeps its template and values, for the log to word)."""
    delivery.attempts += 1
    if error:
        delivery.last_error = str(error)[:2000]
        delivery.last_error_wording = _wording(error)
        delivery.status = Delivery.Status.FAILED if final else Delivery.Status.QUEUED
    else:
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = timezone.now()
    delivery.save(update_fields=["attempts", "last_error", "last_error_wording", "status", "sent_at"])


def _wording(error: str | RuleError) -> dict[str, Any]:
    if not isinstance(error, RuleError):
        return {}
    return {"msgid": error.message, "params": {k: v if isinstance(v, int | float) else str(v)
                                                for k, v in error.params.items()}}


_CHANNEL_CLOSED = RuleError(gettext_noop("接收人已关闭该渠道或未登记地址，不再发送"))


def _final(task: Any) -> bool:
    """Whether this run is the last one Huey will make (task.retries counts the retries left)."""
    return task is None or not task.retries


@db_task(retries=RETRIES, retry_delay=RETRY_DELAY, context=True)
def deliver_notification(notification_id: int, task: Any = None) -> None:
    """Send one notification by e-mail and/or SMS. A retry only repeats the channels that have not gone out."""
    n = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if n is None:  # deleted in the meantime (the user was removed): nothing to send
        return
    pref = NotificationPreference.objects.filter(user_id=n.recipient_id).first() or NotificationPreference()
    failed = []
    targets = _targets(n.recipient, pref)
    # A retry after the user switched a channel off (or removed the address) has nothing to send there any more.
    Delivery.objects.filter(notification=n, webhook=None, status=Delivery.Status.QUEUED).exclude(
        channel__in=[channel for channel, _ in targets]
    ).update(status=Delivery.Status.FAILED, last_error=str(_CHANNEL_CLOSED), last_error_wording=_wording(_CHANNEL_CLOSED))
    for channel, address in targets:
        delivery, _ = Delivery.objects.get_or_create(
            notification=n, channel=channel, webhook=None,
            defaults={"organization_id": n.organization_id, "target": _masked(channel, address)},
        )
        if delivery.status == Delivery.Status.SENT:
            continue
        try:
            if channel == Delivery.Channel.EMAIL:
                send_email(n, address)
            else:
                send_sms(n, address)
        except Exception as exc:  # any backend failure is logged on the row and retried
            logger.warning("notification %s via %s failed: %s", n.pk, channel, exc)
            _record(delivery, f"{type(exc).__name__}: {exc}", _final(task))
            failed.append(channel)
        else:
            _record(delivery, "", True)
    if failed:
        raise DeliveryIncomplete(f"notification {n.pk}: {', '.join(failed)} failed")


@db_task(retries=RETRIES, retry_delay=RETRY_DELAY, context=True)
def deliver_webhook(delivery_id: int, task: Any = None) -> None:
    """POST one webhook delivery (its payload was fixed when it was queued)."""
    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.webhook is None or delivery.status == Delivery.Status.SENT:
        return
    try:
        post_webhook(delivery.webhook, delivery.payload)
    except DeliveryError as exc:
        _record(delivery, exc, _final(task))
        raise DeliveryIncomplete(f"webhook delivery {delivery.pk}: {exc}") from None
    _record(delivery, "", True)


@db_periodic_task(crontab(hour="3", minute="40"))
def purge_notifications() -> None:
    from fangkong.notify.services import notifications_purge

    counts = notifications_purge()
    logger.info("purged %(notifications)s notifications and %(deliveries)s delivery records", counts)
