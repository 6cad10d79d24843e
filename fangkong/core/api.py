from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from fangkong.core.access import AUTHENTICATED, PUBLIC, api_permission
from fangkong.tenancy.scope import memberships_of

router = Router(tags=["core"])


class MembershipOut(Schema):
    id: int
    role: str
    role_label: str
    node_type: str
    node_id: int | None
    node_name: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    is_platform_admin: bool
    person_id: int | None
    memberships: list[MembershipOut]


@router.get("/me", response=MeOut, summary="The caller and their memberships")
@api_permission(AUTHENTICATED)
def me(request: HttpRequest) -> dict:
    user = request.user
    out = []
    for m in memberships_of(user):
        node_type = "unit" if m.unit_id else "organization" if m.organization_id else (
            "authority" if m.authority_id else "jurisdiction" if m.jurisdiction_id else "platform")
        node = m.node
        out.append({
            "id": m.pk, "role": m.role, "role_label": str(m.get_role_display()), "node_type": node_type,
            "node_id": node.pk if node else None, "node_name": m.node_label,
        })
    person = getattr(user, "person", None) if hasattr(user, "person") else None
    return {
        "id": user.pk, "username": user.username, "display_name": str(user),
        "is_platform_admin": user.is_superuser or any(m.role == "platform_admin" for m in memberships_of(user)),
        "person_id": person.pk if person else None, "memberships": out,
    }


@router.get("/ping", auth=None, summary="Bare JSON endpoint (health check; the benchmarks' baseline)")
@api_permission(PUBLIC)
def ping(request: HttpRequest) -> dict:
    return {"ok": True}
