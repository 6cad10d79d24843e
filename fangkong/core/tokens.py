"""API bearer tokens: issued once in clear, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from fangkong.core.audit import audit_record
from fangkong.core.models import ApiToken

PREFIX = "fk_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_issue(*, user: Any, name: str, actor: Any = None) -> tuple[ApiToken, str]:
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name or "API", prefix=raw[:10], key_hash=hash_token(raw))
    audit_record(actor=actor or user, action="token.issue", obj=token, changes={"name": [None, token.name]})
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken, actor: Any) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, action="token.revoke", obj=token)
    return token


def token_user(raw: str) -> Any | None:
    """The user a raw token belongs to, or None. Touches last_used_at at most once a minute (hot path)."""
    if not raw.startswith(PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw), revoked_at__isnull=True).first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
