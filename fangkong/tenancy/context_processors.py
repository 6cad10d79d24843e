from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from fangkong.core.access import user_has_perm
from fangkong.core.navigation import all_items
from fangkong.tenancy.scope import memberships_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    entries = []
    path = request.path
    best = ""
    # request.membership is a lazy object that may wrap None (a platform admin without memberships): `is not None`
    # is true for the wrapper, so read the attribute defensively.
    membership = getattr(request, "membership", None)
    acting_organization_id = getattr(membership, "organization_id", None) if membership else None
    for item in all_items():
        if not user_has_perm(user, item.perm):
            continue
        if item.needs_organization and acting_organization_id is None:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        if (path == url or (url != "/" and path.startswith(url))) and len(url) > len(best):
            best = url  # only the most specific entry is highlighted (/org/list/ over /org/)
        entries.append({"label": item.label, "url": url, "icon": item.icon, "group": item.group, "active": False})
    for entry in entries:
        entry["active"] = entry["url"] == best
    return {
        "nav_entries": entries,
        "memberships": memberships_of(user),
        "active_membership": membership,
        "acting_organization_id": acting_organization_id,
    }
