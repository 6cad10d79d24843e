"""The SMS gateway interface. A deployment plugs in its provider's client (Aliyun, Tencent Cloud …) by naming a class
in settings.FANGKONG_SMS_BACKEND; the default only logs, so nothing is sent until someone configures a gateway."""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from fangkong.core.crypto import mask_phone

logger = logging.getLogger("fangkong.notify.sms")


class SmsBackend:
    """Send one text to one phone number; raise on failure so the delivery is retried and logged."""

    def send(self, phone: str, text: str) -> None:
        raise NotImplementedError


class LoggingSmsBackend(SmsBackend):
    """Writes the message to the log (number masked) instead of sending it."""

    def send(self, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)


class MemorySmsBackend(SmsBackend):
    """Keeps sent messages in `outbox` (tests, demos), like Django's locmem mail backend."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        MemorySmsBackend.outbox.append((phone, text))


@cache
def _backend_class(path: str) -> type[SmsBackend]:
    cls = import_string(path)
    if not (isinstance(cls, type) and issubclass(cls, SmsBackend)):
        raise TypeError(f"FANGKONG_SMS_BACKEND={path!r} is not an SmsBackend")
    return cls


def get_sms_backend() -> SmsBackend:
    path = getattr(settings, "FANGKONG_SMS_BACKEND", "fangkong.notify.sms.LoggingSmsBackend")
    return _backend_class(path)()
