"""Home-page cards of the ledger: how many people the acting organisation has on it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from fangkong.core.access import user_has_perm
from fangkong.people.models import ImportJob, Person


def cards(request: HttpRequest) -> list[dict[str, Any]]:
    if not user_has_perm(request.user, "people.view"):
        return []
    membership = getattr(request, "membership", None)
    qs = Person.objects.visible_to(request.user).filter(is_active=True)
    if membership and membership.organization_id:
        qs = qs.filter(organization_id=membership.organization_id)
    out = [{"title": _("在册人员"), "value": qs.count(), "url": reverse("people_list")}]
    if user_has_perm(request.user, "people.import"):
        waiting = ImportJob.objects.visible_to(request.user).filter(status=ImportJob.Status.VALIDATED).count()
        if waiting:
            out.append({"title": _("待确认的导入"), "value": waiting, "url": reverse("people_import"), "tone": "warning",
                        "note": _("已校验，等待确认写入")})
    return out
