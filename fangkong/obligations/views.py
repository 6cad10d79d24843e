"""The obligations list (the compliance page's drill-down) and waiving one with a reason."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.shortcuts import render as render_page
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.access import requires, user_has_perm
from fangkong.core.errors import ServiceError
from fangkong.obligations import services
from fangkong.obligations.models import Obligation
from fangkong.obligations.selectors import obligation_list
from fangkong.tenancy.models import Unit


@requires("obligations.view")
def obligations(request: HttpRequest) -> HttpResponse:
    m = getattr(request, "membership", None)
    org_id = m.organization_id if m else None
    try:
        day = date.fromisoformat(request.GET["day"]) if request.GET.get("day") else None
    except ValueError:
        day = None
    unit_id = int(request.GET["unit"]) if request.GET.get("unit", "").isdigit() else None
    status, kind = request.GET.get("status", ""), request.GET.get("kind", "")
    qs = obligation_list(user=request.user, organization_id=org_id, status=status, kind=kind, unit_id=unit_id,
                         day=day).order_by("-day", "unit__path", "person__name_sort", "kind")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(person__name__contains=q)
    units = Unit.objects.visible_to(request.user, "obligations.view")
    if org_id:
        units = units.filter(organization_id=org_id)
    return render_page(request, "obligations/list.html", {
        "page": Paginator(qs, 50).get_page(request.GET.get("page")), "day": day, "unit_id": unit_id,
        "status": status, "kind": kind, "q": q, "units": units.order_by("path"),
        "statuses": Obligation.Status.choices, "can_waive": user_has_perm(request.user, "obligations.change"),
    })


@require_POST
@requires("obligations.change")
def waive(request: HttpRequest, pk: int) -> HttpResponse:
    ob = get_object_or_404(Obligation.objects.visible_to(request.user, "obligations.change"), pk=pk)
    try:
        services.obligation_waive(obligation=ob, reason=request.POST.get("reason", ""), actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("已免除该义务。"))
    nxt = request.POST.get("next", "")
    # Only back to a page of this site: the form posts the current list URL with its filters.
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    return redirect("obligations:list")
