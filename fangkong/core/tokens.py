"""API bearer tokens: issued once in clear, stored as SHA-256, revocable.

`token_user` is on every API request: it answers from the per-process auth cache (`fangkong.core.authcache`,
ADR 0009) and reads the database only on a miss. Revoking a token, deactivating its user or changing the user
drops the cached entry at once in this process and within the documented bound elsewhere.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from fangkong.core import authcache
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


# Set on the user copies token_user hands out: memberships_of() may then serve the memberships from the cache too.
CACHED_AUTH_ATTR = "_fangkong_auth_cached"
# The user's roles as read with the token: enough for has_perm() without loading the memberships.
ROLES_ATTR = "_fangkong_roles"
TOUCH_EVERY = 60.0


@dataclass
class _CachedToken:
    token_id: int
    user: Any  # a snapshot: never handed out, only copied
    touched: float  # time.monotonic() when this process last queued a last_used_at write for the token
    roles: tuple[str, ...] | None = None  # the user's membership roles, read with the token (PostgreSQL)


# last_used_at writes are queued and flushed together, one UPDATE per process at most every TOUCH_EVERY seconds:
# otherwise every first request of a token in a minute (a member's daily check-in: every request) paid a write
# transaction of its own. The column therefore lags by up to about a minute.
_pending_touch: dict[int, Any] = {}
_touch_lock = threading.Lock()
_flushed_at = [0.0]


def _touch(hit: _CachedToken) -> None:
    now = time.monotonic()
    if now - hit.touched > TOUCH_EVERY:
        hit.touched = now
        _pending_touch[hit.token_id] = timezone.now()
    if _pending_touch and now - _flushed_at[0] >= TOUCH_EVERY:
        with _touch_lock:
            if now - _flushed_at[0] < TOUCH_EVERY:
                return
            _flushed_at[0] = now
            ids = list(_pending_touch)
            at = max(_pending_touch.pop(i) for i in ids)
        ApiToken.objects.filter(pk__in=ids).update(last_used_at=at)


def token_user(raw: str) -> Any | None:
    """The user a raw token belongs to, or None. Records last_used_at at most once a minute (hot path)."""
    if not raw.startswith(PREFIX):
        return None
    key = ("token", hash_token(raw))
    hit = authcache.get(key)
    if hit is None:
        gen = authcache.generation()
        tokens = ApiToken.objects.select_related("user").filter(key_hash=key[1], revoked_at__isnull=True)
        if connection.vendor == "postgresql":
            # The roles come along in the same query: permission checks that need no row scope (a check-in) then
            # never load the memberships. (`memberships` is tenancy's related name; core does not import tenancy.)
            tokens = tokens.annotate(roles=ArrayAgg("user__memberships__role", distinct=True))
        token = tokens.first()
        if token is None or not token.user.is_active:
            return None
        roles = getattr(token, "roles", None)
        now = timezone.now()
        stale = token.last_used_at is None or (now - token.last_used_at).total_seconds() > TOUCH_EVERY
        hit = _CachedToken(token.pk, token.user, -TOUCH_EVERY - 1 if stale else time.monotonic(),
                           tuple(r for r in roles if r) if roles is not None else None)
        authcache.put(key, hit, user_id=token.user_id, generation=gen)
    _touch(hit)
    user = copy.copy(hit.user)
    setattr(user, CACHED_AUTH_ATTR, True)
    if hit.roles is not None:
        setattr(user, ROLES_ATTR, hit.roles)
    return user


# Invalidation (ADR 0009): a revoked or deleted token, a changed, deactivated or deleted user.
_on_token = authcache.receiver_for(lambda token: token.user_id)
_on_user = authcache.receiver_for(lambda user: user.pk)
post_save.connect(_on_token, sender=ApiToken, dispatch_uid="authcache_token_save")
post_delete.connect(_on_token, sender=ApiToken, dispatch_uid="authcache_token_delete")
post_save.connect(_on_user, sender=get_user_model(), dispatch_uid="authcache_user_save")
post_delete.connect(_on_user, sender=get_user_model(), dispatch_uid="authcache_user_delete")
