"""Reads over the tenancy tree for the pages: organisation lists, figures, unit trees, memberships."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from fangkong.tenancy.models import Membership, Organization, Taskforce, TaskforceMember, Unit


def organization_list(*, user: Any, q: str = "", kind: str = "", perm: str = "org.view") -> QuerySet[Organization]:
    """Organisations the user may see (an officer: the whole jurisdiction subtree), searchable by name or address."""
    qs = Organization.objects.visible_to(user, perm).select_related("jurisdiction", "authority", "region")
    q = q.strip()
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(address__contains=q) | Q(industry__contains=q))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.annotate(unit_count=Count("units", distinct=True)).order_by("name", "id")


@dataclass(frozen=True)
class OrganizationFigures:
    units: int
    people: int
    memberships: int
    taskforces: int
    taskforce_members: int


def organization_figures(organization: Organization) -> OrganizationFigures:
    # people is an app above tenancy; counting through the reverse relation avoids importing it.
    return OrganizationFigures(
        units=organization.units.count(),
        people=organization.people.filter(is_active=True).count(),  # type: ignore[attr-defined]
        memberships=Membership.objects.filter(organization=organization).count(),
        taskforces=organization.taskforces.count(),
        taskforce_members=TaskforceMember.objects.filter(taskforce__organization=organization).count(),
    )


def unit_tree(*, user: Any, organization: Organization, perm: str = "org.view") -> list[Unit]:
    """The units the user may see, in path order, each with `level` (0 at the shallowest visible node) and a
    `people_count`, so the template can indent the tree without recursion."""
    units: list[Unit] = list(
        Unit.objects.visible_to(user, perm)
        .filter(organization=organization)
        .select_related("grid_leader")
        .annotate(people_count=Count("people", filter=Q(people__is_active=True)))
    )
    # Paths are '/3/17/' with numeric ids, so ordering by string would put /10/ before /9/; order by the id list.
    units.sort(key=lambda u: [int(p) for p in u.path.strip("/").split("/") if p])
    top = min((u.depth for u in units), default=0)
    by_id = {u.pk: u for u in units}
    for u in units:
        u.level = u.depth - top  # type: ignore[attr-defined]
        u.subtree_people = 0  # type: ignore[attr-defined]
    for u in units:
        # Add each unit's people to itself and every visible ancestor: a workshop shows its teams' people too.
        for ancestor_id in (int(p) for p in u.path.strip("/").split("/") if p):
            if ancestor_id in by_id:
                by_id[ancestor_id].subtree_people += u.people_count  # type: ignore[attr-defined]
    return units


def taskforces_of(organization: Organization) -> tuple[Taskforce | None, list[Taskforce]]:
    """The leading group and its working groups (with members prefetched)."""
    groups = list(
        organization.taskforces.prefetch_related("members").order_by("position", "id")
    )
    order = {r: i for i, r in enumerate(TaskforceMember.Role.values)}  # leader, deputy, member, liaison
    for g in groups:
        g.sorted_members = sorted(g.members.all(), key=lambda m: (order.get(m.role, 9), m.pk))  # type: ignore[attr-defined]
    leading = next((g for g in groups if g.kind == Taskforce.Kind.LEADING), None)
    working = [g for g in groups if g.kind == Taskforce.Kind.WORKING]
    return leading, working


def memberships_at(organization: Organization, q: str = "") -> QuerySet[Membership]:
    qs = Membership.objects.filter(organization=organization).select_related("user", "unit")
    q = q.strip()
    if q:
        qs = qs.filter(Q(user__username__icontains=q) | Q(user__display_name__contains=q))
    return qs.order_by("role", "user__username", "id")
