from __future__ import annotations

from typing import Any

from django import template

from fangkong.core.access import user_has_perm

register = template.Library()


@register.filter
def can(user: Any, perm: str) -> bool:
    """`{% if user|can:"measures.view" %}`: show a link only to those who may follow it (same table as the views)."""
    return bool(user is not None and user_has_perm(user, perm))


@register.simple_tag(takes_context=True)
def query_replace(context: dict[str, Any], **kwargs: Any) -> str:
    """The current query string with some parameters replaced: keeps filters across pagination links."""
    query = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    return query.urlencode()
