"""Which rows a user may see for a permission: the memberships whose role grants it, each covering its subtree.

`scope_q(user, perm, org="person__organization", unit="person__unit")` gives a Q for any model that reaches an
organisation (and optionally a unit) through the named fields. QuerySets call it in `visible_to(user, perm)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from fangkong.core import authcache
from fangkong.core.tokens import CACHED_AUTH_ATTR, ROLES_ATTR
from fangkong.tenancy.models import Authority, Jurisdiction, Membership, Organization, Unit
from fangkong.tenancy.roles import Role, role_grants

_CACHE_ATTR = "_fangkong_memberships"


def _load_memberships(user: Any) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user).select_related(
            "jurisdiction", "authority", "authority__jurisdiction", "organization", "organization__jurisdiction",
            "unit",
        ).order_by("id")
    )


def memberships_of(user: Any) -> list[Membership]:
    """The user's memberships, loaded once per user object (one query per request).

    API requests authenticated by a bearer token (users handed out by `token_user`) take them from the per-process
    auth cache (ADR 0009): no query at all while the entry lives; a membership change drops it. The list and its
    objects are shared between requests: read them, never change them.
    """
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        if getattr(user, CACHED_AUTH_ATTR, False):
            key = ("memberships", user.pk)
            cached = authcache.get(key)
            if cached is None:
                gen = authcache.generation()
                cached = _load_memberships(user)
                authcache.put(key, cached, user_id=user.pk, generation=gen)
        else:
            cached = _load_memberships(user)
        setattr(user, _CACHE_ATTR, cached)
    return cached


# Invalidation (ADR 0009): a membership granted, changed or revoked drops its user's entries; a tenancy node saved
# or deleted (its path, and so every scope below it, may have moved) drops everything.
_on_membership = authcache.receiver_for(lambda m: m.user_id)
_on_node = authcache.receiver_for(lambda node: None)
post_save.connect(_on_membership, sender=Membership, dispatch_uid="authcache_membership_save")
post_delete.connect(_on_membership, sender=Membership, dispatch_uid="authcache_membership_delete")
for _model in (Jurisdiction, Authority, Organization, Unit):
    post_save.connect(_on_node, sender=_model, dispatch_uid=f"authcache_{_model.__name__}_save")
    post_delete.connect(_on_node, sender=_model, dispatch_uid=f"authcache_{_model.__name__}_delete")


def forget_memberships(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def has_perm(user: Any, perm: str) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    if getattr(user, _CACHE_ATTR, None) is None:
        roles = getattr(user, ROLES_ATTR, None)  # read with the bearer token: no memberships query needed
        if roles is not None:
            return any(role_grants(role, perm) for role in roles)
    return any(role_grants(m.role, perm) for m in memberships_of(user))


@dataclass
class Scope:
    everything: bool = False
    jurisdiction_paths: list[str] = field(default_factory=list)
    authority_ids: list[int] = field(default_factory=list)
    organization_ids: list[int] = field(default_factory=list)
    unit_paths: list[str] = field(default_factory=list)
    unit_org_ids: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.everything or self.jurisdiction_paths or self.authority_ids or self.organization_ids
            or self.unit_paths
        )


def user_scope(user: Any, perm: str) -> Scope:
    scope = Scope()
    if getattr(user, "is_superuser", False):
        scope.everything = True
        return scope
    for m in memberships_of(user):
        if not role_grants(m.role, perm):
            continue
        if m.role == Role.PLATFORM_ADMIN:
            scope.everything = True
        elif m.unit is not None and m.organization_id is not None:
            scope.unit_paths.append(m.unit.path)
            scope.unit_org_ids.append(m.organization_id)
        elif m.organization_id:
            scope.organization_ids.append(m.organization_id)
        elif m.authority_id:
            scope.authority_ids.append(m.authority_id)
        elif m.jurisdiction is not None:
            scope.jurisdiction_paths.append(m.jurisdiction.path)
    return scope


NOTHING = Q(pk__in=[])


def _f(prefix: str, name: str) -> str:
    return f"{prefix}__{name}" if prefix else name


def scope_q(user: Any, perm: str, *, org: str = "organization", unit: str | None = "unit") -> Q:
    """A filter for rows whose organisation is reached by `org` ('' when the model is Organization itself)."""
    scope = user_scope(user, perm)
    if scope.everything:
        return Q()
    q = NOTHING
    for path in scope.jurisdiction_paths:
        q |= Q(**{_f(org, "jurisdiction__path__startswith"): path})
    if scope.authority_ids:
        q |= Q(**{_f(org, "authority_id__in"): scope.authority_ids})
    if scope.organization_ids:
        q |= Q(**{_f(org, "id__in") if not org else f"{org}_id__in": scope.organization_ids})
    if scope.unit_paths:
        if unit is None:
            # Rows that belong to the organisation as a whole: a unit leader sees them for their organisation.
            q |= Q(**{_f(org, "id__in") if not org else f"{org}_id__in": scope.unit_org_ids})
        else:
            for path in scope.unit_paths:
                q |= Q(**{_f(unit, "path__startswith"): path})
    return q


def jurisdiction_scope_q(user: Any, perm: str, *, field_prefix: str = "") -> Q:
    """For rows that belong to a jurisdiction (risk areas, policies): the officer's jurisdiction and below."""
    scope = user_scope(user, perm)
    if scope.everything:
        return Q()
    q = NOTHING
    for path in scope.jurisdiction_paths:
        q |= Q(**{_f(field_prefix, "path__startswith"): path})
    return q


def may_govern(user: Any, organization: Organization) -> bool:
    """May the user change the organisation's place in the reporting chains (its industry bureau, its activation)?

    Only the prevention office over the organisation's jurisdiction (a role granting "org.govern" held on that
    jurisdiction or one above it: the county or the city office) or a platform administrator. A role held on the
    organisation itself never counts, whatever it is called: an organisation must not detach itself from its bureau.
    """
    scope = user_scope(user, "org.govern")
    if scope.everything:
        return True
    path = organization.jurisdiction.path
    return bool(path) and any(p and path.startswith(p) for p in scope.jurisdiction_paths)
