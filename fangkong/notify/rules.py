"""Pure notification logic: language choice, quiet hours, webhook message formats and the DingTalk signature.

No database here: these are tested on plain values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

from fangkong.core.rule_errors import RuleError, gettext_noop

DEFAULT_LANGUAGE = "zh-hans"
LEVELS = ("info", "warning", "alert")
LEVEL_LABELS_ZH = {"info": "通知", "warning": "提醒", "alert": "警报"}


def pick_text(texts: Mapping[str, str], language: str) -> str:
    """The text for a language: exact ('en'), then its base ('en-us' → 'en'), then zh-hans, then whatever there is."""
    if not texts:
        return ""
    lang = (language or "").lower()
    normalized = {k.lower(): v for k, v in texts.items() if v}
    for candidate in (lang, lang.split("-")[0], DEFAULT_LANGUAGE, "zh"):
        if candidate and candidate in normalized:
            return normalized[candidate]
    return next(iter(normalized.values()), "")


# What is said when one of a notification's two texts is missing: empty, then without Chinese (whole sentences, so
# that each is translated as one).
_TEXT_ERRORS = {
    "通知标题": (gettext_noop("通知标题不能为空"), gettext_noop("通知标题缺少中文（zh-hans）文本")),
    "通知内容": (gettext_noop("通知内容不能为空"), gettext_noop("通知内容缺少中文（zh-hans）文本")),
}


def check_texts(texts: Mapping[str, str], what: str) -> None:
    """A notification without a Chinese text would reach most users empty-handed. `what` is "通知标题" (the title)
    or "通知内容" (the body)."""
    empty, no_chinese = _TEXT_ERRORS[what]
    if not isinstance(texts, Mapping) or not any((v or "").strip() for v in texts.values()):
        raise RuleError(empty)
    if not (texts.get(DEFAULT_LANGUAGE) or "").strip():
        raise RuleError(no_chinese)


def in_quiet_hours(now: time, start: time | None, end: time | None) -> bool:
    """Whether a local time lies in [start, end); a window may cross midnight (22:00–07:00)."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def quiet_hours_end(now: datetime, start: time | None, end: time | None) -> datetime | None:
    """When the quiet hours that contain `now` (an aware local datetime) end, or None when it is not quiet."""
    if not in_quiet_hours(now.timetz().replace(tzinfo=None), start, end):
        return None
    assert end is not None
    candidate = now.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= now:
        candidate += timedelta(days=1)
    return candidate


def holds_for_quiet_hours(level: str) -> bool:
    """Alerts (a fever, a positive result) go out at once; routine messages wait for the quiet hours to end."""
    return level != "alert"


def mask_email(address: str) -> str:
    name, _, domain = address.partition("@")
    if not domain:
        return "***"
    return (name[:1] + "***" + (name[-1:] if len(name) > 2 else "")) + "@" + domain


def mask_url(url: str) -> str:
    """scheme://host/path with the query (robot access keys) and any credentials hidden."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = parts.path if len(parts.path) <= 40 else parts.path[:37] + "…"
    masked = urlunsplit((parts.scheme, host, path, "", ""))
    return masked + ("?***" if parts.query else "")


def is_public_address(address: str) -> bool:
    """Whether an IP address is on the public internet: webhooks must not reach the server's own network
    (loopback, private ranges, link-local cloud metadata at 169.254.169.254) unless a deployment allows it."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


def literal_host_is_internal(url: str) -> bool:
    """For form validation: a URL whose host is 'localhost' or a non-public IP literal (no DNS lookup here)."""
    import ipaddress

    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return not is_public_address(host)


def absolute_link(link: str, base_url: str) -> str:
    if not link or link.startswith(("http://", "https://")) or not base_url:
        return link
    return base_url.rstrip("/") + "/" + link.lstrip("/")


@dataclass(frozen=True)
class Message:
    """What one webhook delivery says; built once per notify_send call, in the organisation's language (zh-hans)."""

    event: str
    level: str
    title: str
    body: str
    link: str
    organization_id: int | None
    at: str  # ISO 8601

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": self.event, "level": self.level, "title": self.title, "body": self.body, "link": self.link,
            "organization_id": self.organization_id, "at": self.at,
        }


def _markdown_text(msg: Message) -> str:
    label = LEVEL_LABELS_ZH.get(msg.level, msg.level)
    lines = [f"**【{label}】{msg.title}**", "", msg.body]
    if msg.link:
        lines += ["", f"[查看详情]({msg.link})"]
    return "\n".join(lines).strip()


def generic_payload(msg: Message) -> dict[str, Any]:
    return msg.as_dict()


def wecom_payload(msg: Message) -> dict[str, Any]:
    # WeCom group robots accept markdown up to 4096 bytes.
    return {"msgtype": "markdown", "markdown": {"content": _truncate_bytes(_markdown_text(msg), 4096)}}


def dingtalk_payload(msg: Message) -> dict[str, Any]:
    # DingTalk shows `title` in the conversation list and renders `text` as markdown.
    return {"msgtype": "markdown", "markdown": {"title": msg.title, "text": _markdown_text(msg)}}


def payload_for(kind: str, msg: Message) -> dict[str, Any]:
    return {"wecom": wecom_payload, "dingtalk": dingtalk_payload}.get(kind, generic_payload)(msg)


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    """DingTalk robot signing: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")), URL-encoded."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def signed_dingtalk_url(url: str, secret: str, timestamp_ms: int) -> str:
    if not secret:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(timestamp_ms, secret)}"


def _truncate_bytes(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "…"


def robot_error(kind: str, response_body: bytes) -> str:
    """WeCom and DingTalk answer HTTP 200 with {"errcode": n, "errmsg": ...}; a non-zero errcode is a failure."""
    if kind not in ("wecom", "dingtalk"):
        return ""
    import json

    try:
        data = json.loads(response_body.decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(data, dict) and data.get("errcode", 0) not in (0, "0"):
        return f"errcode={data.get('errcode')} {data.get('errmsg', '')}".strip()
    return ""


def sms_text(title: str, body: str, limit: int = 300) -> str:
    """Gateways require the signature in 【】 and charge per 70 characters, so keep it to title and body."""
    text = f"【防控】{title}：{body}" if body else f"【防控】{title}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
