"""Home-page cards: the active organisation's tree, or an officer's count of organisations."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from fangkong.core.access import user_has_perm
from fangkong.tenancy.models import Organization, Taskforce, Unit


def cards(request: HttpRequest) -> list[dict[str, Any]]:
    user = request.user
    if not user_has_perm(user, "org.view"):
        return []
    membership = getattr(request, "membership", None)
    out: list[dict[str, Any]] = []
    if membership and membership.organization_id:  # a lazy object wrapping None is falsy, not None
        org_id = membership.organization_id
        units = Unit.objects.visible_to(user).filter(organization_id=org_id).count()
        out.append({"title": _("部门/网格"), "value": units, "url": reverse("tenancy:unit_tree", args=[org_id])})
        if not Taskforce.objects.filter(organization_id=org_id, kind=Taskforce.Kind.LEADING).exists():
            out.append({
                "title": _("领导小组"), "value": _("未建立"), "tone": "warning",
                "url": reverse("tenancy:taskforce_list", args=[org_id]), "note": _("请按模板建立领导小组和工作组"),
            })
    elif membership and (membership.jurisdiction_id or membership.authority_id):
        count = Organization.objects.visible_to(user).filter(is_active=True).count()
        out.append({"title": _("辖区单位"), "value": count, "url": reverse("tenancy:org_list")})
    return out
