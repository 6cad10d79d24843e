"""Home cards: open positive findings, overdue tests, vaccination coverage of the organisation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from fangkong.core.access import user_has_perm
from fangkong.testing import selectors


def cards(request: HttpRequest) -> list[dict[str, Any]]:
    user = request.user
    m = getattr(request, "membership", None)
    org_id = m.organization_id if m else None
    out: list[dict[str, Any]] = []
    if user_has_perm(user, "tests.view"):
        n = selectors.finding_list(user=user, organization_id=org_id).count()
        if n:
            out.append({"title": _("阳性发现待处置"), "value": n, "url": reverse("testing:findings"), "tone": "danger"})
        overdue = selectors.overdue_tests(user=user, organization_id=org_id).count()
        out.append({"title": _("逾期未检"), "value": overdue, "url": reverse("testing:overdue"),
                    "tone": "warning" if overdue else "success"})
    if user_has_perm(user, "vaccinations.view"):
        rows = selectors.coverage(user=user, by="organization", organization_id=org_id)
        total = selectors.coverage_total(rows)
        if total.people:
            out.append({"title": _("疫苗接种率"), "value": f"{total.vaccinated_rate}%",
                        "url": reverse("testing:coverage"),
                        "note": _("全程 %(c)s%% · 未接种 %(n)d 人") % {"c": total.complete_rate, "n": total.unvaccinated}})
    return out
