"""API bearer tokens: issued once in clear, stored as SHA-256, revocable.

`token_user` is on every API request: it answers from the per-process auth cache (`fangkong.core.authcache`,
ADR 0009) and reads the database only on a miss. Revoking a token, deactivating its user or changing the user
drops the cached entry at once in this process and within the documented bound elsewhere.

A miss is the common case for a member's check-in (one request a day per token), so on PostgreSQL it is one
prepared statement (`core/fastsql.py`, ADR 0010): the token, its user, the user's roles and the organisations of
the user's memberships. With those, a check-in never loads the memberships themselves.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from fangkong.core import authcache, fastsql
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
# The organisations the user's memberships name (directly or through a unit), read with the token (PostgreSQL).
ORGANIZATIONS_ATTR = "_fangkong_organizations"
TOUCH_EVERY = 60.0


@dataclass
class _CachedToken:
    token_id: int
    user: Any  # a snapshot: never handed out, only copied
    touched: float  # time.monotonic() when this process last queued a last_used_at write for the token
    roles: tuple[str, ...] | None = None  # the user's membership roles, read with the token (PostgreSQL)
    organizations: tuple[int, ...] | None = None  # the organisations of the user's memberships (PostgreSQL)


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


@functools.cache
def _token_sql() -> tuple[str, list[str]]:
    """The one statement that reads a token on PostgreSQL, and the user fields its columns fill, in order.

    Built from the models' metadata at first use. The memberships are tenancy's: core names them through the app
    registry instead of importing tenancy, as the relation `user.memberships` does.
    """
    user_model = get_user_model()
    fields = user_model._meta.concrete_fields
    membership = apps.get_model("tenancy", "Membership")._meta.db_table
    unit = apps.get_model("tenancy", "Unit")._meta.db_table
    sql = f"""
    SELECT t.id, t.last_used_at, {", ".join(f'u."{f.column}"' for f in fields)},
           ARRAY(SELECT DISTINCT m.role FROM "{membership}" m WHERE m.user_id = u.id),
           ARRAY(SELECT DISTINCT coalesce(m.organization_id, n.organization_id)
                 FROM "{membership}" m LEFT JOIN "{unit}" n ON n.id = m.unit_id
                 WHERE m.user_id = u.id AND coalesce(m.organization_id, n.organization_id) IS NOT NULL)
    FROM "{ApiToken._meta.db_table}" t JOIN "{user_model._meta.db_table}" u ON u.id = t.user_id
    WHERE t.key_hash = %s AND t.revoked_at IS NULL"""
    return sql, [f.attname for f in fields]


def _token_load(key_hash: str) -> _CachedToken | None:
    """The live token with this hash and its active user, from the database; None if there is none."""
    if fastsql.available():
        sql, attnames = _token_sql()
        row = fastsql.fetch_one(sql, (key_hash,), native_timestamps=True)  # three timestamps: see fastsql
        if row is None:
            return None
        token_id, last_used_at, *values, roles, organizations = row
        user = get_user_model().from_db(connection.alias, attnames, values)
    else:
        token = ApiToken.objects.select_related("user").filter(key_hash=key_hash, revoked_at__isnull=True).first()
        if token is None:
            return None
        token_id, last_used_at, user, roles, organizations = token.pk, token.last_used_at, token.user, None, None
    if not user.is_active:
        return None
    stale = last_used_at is None or (timezone.now() - last_used_at).total_seconds() > TOUCH_EVERY
    return _CachedToken(token_id, user, -TOUCH_EVERY - 1 if stale else time.monotonic(),
                        tuple(r for r in roles if r) if roles is not None else None,
                        tuple(organizations) if organizations is not None else None)


def token_user(raw: str) -> Any | None:
    """The user a raw token belongs to, or None. Records last_used_at at most once a minute (hot path)."""
    if not raw.startswith(PREFIX):
        return None
    key = ("token", hash_token(raw))
    hit = authcache.get(key)
    if hit is None:
        gen = authcache.generation()
        hit = _token_load(key[1])
        if hit is None:
            return None
        authcache.put(key, hit, user_id=hit.user.pk, generation=gen)
    _touch(hit)
    user = copy.copy(hit.user)
    setattr(user, CACHED_AUTH_ATTR, True)
    if hit.roles is not None:
        setattr(user, ROLES_ATTR, hit.roles)
    if hit.organizations is not None:
        setattr(user, ORGANIZATIONS_ATTR, hit.organizations)
    return user


# Invalidation (ADR 0009): a revoked or deleted token, a changed, deactivated or deleted user.
_on_token = authcache.receiver_for(lambda token: token.user_id)
_on_user = authcache.receiver_for(lambda user: user.pk)
post_save.connect(_on_token, sender=ApiToken, dispatch_uid="authcache_token_save")
post_delete.connect(_on_token, sender=ApiToken, dispatch_uid="authcache_token_delete")
post_save.connect(_on_user, sender=get_user_model(), dispatch_uid="authcache_user_save")
post_delete.connect(_on_user, sender=get_user_model(), dispatch_uid="authcache_user_delete")
