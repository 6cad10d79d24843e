"""The audit trail. Services call `audit_record` inside their transaction so the trail and the change commit together."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import models

from fangkong.core import crypto
from fangkong.core.context import client_ip
from fangkong.core.models import AuditEvent

MASKERS = {"id_number": crypto.mask_id_number, "phone": crypto.mask_phone}


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def diff(old: Mapping[str, Any], new: Mapping[str, Any], masked: Iterable[str] = ("id_number", "phone")) -> dict:
    """{field: [old, new]} for the fields that changed; personal values are masked, never stored in clear."""
    masked = set(masked)
    changes: dict[str, list[Any]] = {}
    for key in new:
        before, after = old.get(key), new[key]
        if before == after:
            continue
        if key in masked:
            mask = MASKERS.get(key, lambda v: "***")
            before = mask(before) if before else before
            after = mask(after) if after else after
        changes[key] = [_plain(before), _plain(after)]
    return changes


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    organization_id: int | None = None,
    jurisdiction_path: str = "",
    changes: Mapping[str, Any] | None = None,
) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_repr=str(actor_obj) if actor_obj else str(actor or "system"),
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        organization_id=organization_id,
        jurisdiction_path=jurisdiction_path,
        changes=dict(changes or {}),
        ip=client_ip.get(),
    )
