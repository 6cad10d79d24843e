"""The channels that leave the system: e-mail, SMS and webhooks. Each function sends one message or raises."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from fangkong.core.rule_errors import RuleError, gettext_noop
from fangkong.notify import rules
from fangkong.notify.models import Notification, WebhookEndpoint
from fangkong.notify.sms import get_sms_backend

WEBHOOK_TIMEOUT = 10  # seconds; a task waits, never a request


class DeliveryError(RuleError):
    """A channel refused or could not be reached, and why. It is raised in a task (the site's language), so the
    delivery log keeps its template and values and words it for whoever reads the log."""


def _link(notification: Notification) -> str:
    return rules.absolute_link(notification.link, getattr(settings, "FANGKONG_BASE_URL", ""))


def send_email(notification: Notification, address: str) -> None:
    body = notification.body
    link = _link(notification)
    if link:
        body = f"{body}\n\n{link}"
    send_mail(
        subject=f"[防控] {notification.title}", message=body, from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[address], fail_silently=False,
    )


def send_sms(notification: Notification, phone: str) -> None:
    get_sms_backend().send(phone, rules.sms_text(notification.title, notification.body))


def allow_internal() -> bool:
    return bool(getattr(settings, "FANGKONG_WEBHOOK_ALLOW_INTERNAL", False))


def check_destination(url: str) -> None:
    """Refuse hosts that resolve to the server's own network, so an organisation admin cannot use the webhook
    to probe internal services. (The lookup is repeated by urllib; a rebinding DNS server could still race it.)"""
    if allow_internal():
        return
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(gettext_noop("地址必须以 http:// 或 https:// 开头"))
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise DeliveryError(gettext_noop("无法解析域名 %(host)s：%(error)s"), host=parts.hostname, error=str(exc)) from None
    for info in infos:
        if not rules.is_public_address(str(info[4][0])):
            raise DeliveryError(gettext_noop("目标地址 %(host)s 指向内网（%(address)s），已拒绝发送"),
                                host=parts.hostname, address=str(info[4][0]))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook is posted only where check_destination looked: a public address that answers with a redirect to
    169.254.169.254 or 127.0.0.1 would otherwise lead the server into its own network."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise DeliveryError(gettext_noop("目标地址要求重定向到 %(location)s（HTTP %(code)s），为安全起见不跟随：请填写最终地址"),
                            location=newurl, code=code)


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_webhook(endpoint: WebhookEndpoint, message: dict[str, Any]) -> None:
    msg = rules.Message(**{k: message.get(k) for k in rules.Message.__dataclass_fields__})  # type: ignore[arg-type]
    payload = rules.payload_for(endpoint.kind, msg)
    url = endpoint.url
    check_destination(url)
    if endpoint.kind == WebhookEndpoint.Kind.DINGTALK and endpoint.secret:
        url = rules.signed_dingtalk_url(url, endpoint.secret, int(time.time() * 1000))
    request = urllib.request.Request(
        url, data=json.dumps(payload, ensure_ascii=False).encode(), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "Fangkong-notify/1"},
    )
    try:
        with _OPENER.open(request, timeout=WEBHOOK_TIMEOUT) as response:  # the URL was checked to be http(s)
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError("HTTP %(code)s %(reason)s", code=exc.code, reason=str(exc.reason)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(gettext_noop("无法连接：%(reason)s"), reason=str(reason)) from None
    refused = rules.robot_error(endpoint.kind, answer)
    if refused:
        raise DeliveryError(gettext_noop("机器人拒绝：%(reason)s"), reason=str(refused))
