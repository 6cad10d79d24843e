from __future__ import annotations

from typing import Any

from django.db import models

from fangkong.core import crypto


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; reads give the plaintext. Never filter on it: use the HMAC beside it."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value in (None, ""):
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return crypto.encrypt(value)
