"""A person's stays, arrivals and measures (what was decided, and what changed), and the list of proposals."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.access import requires, user_has_perm
from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.measures import documents, rules, services
from fangkong.measures.models import Measure, MeasureCustodian
from fangkong.people.models import Person
from fangkong.policy import forms as policy_forms
from fangkong.policy import services as policy_services
from fangkong.policy.models import Arrival, Stay
from fangkong.policy.views import decision_items


@requires("measures.view")
def measure_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "proposed")
    kind = request.GET.get("kind", "")
    q = (request.GET.get("q") or "").strip()
    qs = Measure.objects.visible_to(request.user, "measures.view").select_related("person", "person__organization")
    if status in Measure.Status.values:
        qs = qs.filter(status=status)
    if kind in Measure.Kind.values:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(person__name__contains=q) | Q(policy_number__contains=q))
    return render(request, "measures/measure_list.html", {
        "page": Paginator(qs, 50).get_page(request.GET.get("page")), "status": status, "kind": kind, "q": q,
        "statuses": Measure.Status.choices, "kinds": Measure.Kind.choices,
        "can_confirm": user_has_perm(request.user, "measures.change"),
    })


@requires("measures.view")
def person_measures(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.visible_to(request.user, "measures.view").select_related(
        "organization", "unit"), pk=pk)
    can_stays = Person.objects.visible_to(request.user, "stays.change").filter(pk=pk).exists()
    stay_form = policy_forms.StayForm(prefix="stay")
    arrival_form = policy_forms.ArrivalForm(prefix="arrival")
    formset = policy_forms.StayFormSet(prefix="stays")
    decisions = None
    if request.method == "POST" and can_stays:
        action = request.POST.get("action")
        try:
            if action == "stay":
                stay_form = policy_forms.StayForm(request.POST, prefix="stay")
                if stay_form.is_valid():
                    policy_services.stay_add(person=person, actor=request.user, **stay_form.cleaned_data)
                    messages.success(request, _("已添加旅居史"))
                    return redirect("measures:person", pk)
            elif action == "arrival":
                arrival_form = policy_forms.ArrivalForm(request.POST, prefix="arrival")
                formset = policy_forms.StayFormSet(request.POST, prefix="stays")
                if arrival_form.is_valid() and formset.is_valid():
                    result = policy_services.arrival_record(
                        person=person, arrived_on=arrival_form.cleaned_data["arrived_on"], stays=policy_forms.stays_of(formset),
                        actor=request.user)
                    decisions = result.decisions
                    messages.success(request, _("已记录抵达报备，新增待确认措施 %(n)d 条") % {"n": len(result.measures)})
        except ServiceError as e:
            messages.error(request, e.message)
    measures = list(Measure.objects.filter(person=person).select_related("supersedes").prefetch_related(
        "tests", "custodians"))
    for m in measures:
        m.person = person  # already loaded: the blockers read its symptom flag
        actions = rules.allowed_actions(m.status)
        # Shown beside the release button, so the reasons are visible before anyone presses it.
        m.actions = actions  # type: ignore[attr-defined]
        m.blockers = services.measure_release_blockers(measure=m) if "release" in actions else []  # type: ignore[attr-defined]
    return render(request, "measures/person.html", {
        "person": person, "measures": measures,
        "stays": Stay.objects.filter(person=person).select_related("region")[:100],
        "arrivals": Arrival.objects.filter(person=person)[:50],
        "can_stays": can_stays, "can_confirm": user_has_perm(request.user, "measures.change"),
        "can_release": user_has_perm(request.user, "measures.release"),
        "custodian_roles": MeasureCustodian.Role.choices,
        "stay_form": stay_form, "arrival_form": arrival_form, "formset": formset,
        "decisions": decision_items(decisions), "english": False,
    })


@require_POST
@requires("measures.change")
def measure_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    measure = get_object_or_404(Measure.objects.visible_to(request.user, "measures.change"), pk=pk)
    try:
        services.measure_confirm(measure=measure, actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("已确认：%(m)s") % {"m": measure})
    target = request.POST.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//") else "measures:measure_list")


def _back_to_person(measure: Measure) -> HttpResponse:
    return redirect("measures:person", measure.person_id)


def _run(request: HttpRequest, measure: Measure, action: Callable[[], object], done: str) -> HttpResponse:
    """Run a lifecycle service; its ServiceError (with the blockers for a release) becomes an error toast."""
    try:
        action()
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, done)
    return _back_to_person(measure)


@require_POST
@requires("measures.change")
def measure_start(request: HttpRequest, pk: int) -> HttpResponse:
    measure = get_object_or_404(Measure.objects.visible_to(request.user, "measures.change"), pk=pk)
    return _run(request, measure, lambda: services.measure_start(
        measure=measure, place=request.POST.get("place", ""), actor=request.user), _("已开始执行：%(m)s") % {"m": measure})


@require_POST
@requires("measures.release")
def measure_release(request: HttpRequest, pk: int) -> HttpResponse:
    measure = get_object_or_404(Measure.objects.visible_to(request.user, "measures.release"), pk=pk)
    return _run(request, measure, lambda: services.measure_release(
        measure=measure, approver=request.user, actor=request.user), _("已解除：%(m)s") % {"m": measure})


@require_POST
@requires("measures.change")
def measure_extend(request: HttpRequest, pk: int) -> HttpResponse:
    measure = get_object_or_404(Measure.objects.visible_to(request.user, "measures.change"), pk=pk)
    try:
        days = int(request.POST.get("days") or 0)
    except ValueError:
        days = 0
    return _run(request, measure, lambda: services.measure_extend(
        measure=measure, days=days, reason=request.POST.get("reason", ""), actor=request.user),
        _("已延长 %(n)d 天") % {"n": days})


@require_POST
@requires("measures.change")
def measure_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    measure = get_object_or_404(Measure.objects.visible_to(request.user, "measures.change"), pk=pk)
    return _run(request, measure, lambda: services.measure_escalate(
        measure=measure, reason=request.POST.get("reason", ""), actor=request.user), _("已升级：%(m)s") % {"m": measure})


@require_POST
@requires("measures.change")
def custodian_add(request: HttpRequest, pk: int) -> HttpResponse:
    measure = get_object_or_404(Measure.objects.visible_to(request.user, "measures.change"), pk=pk)
    return _run(request, measure, lambda: services.custodian_add(
        measure=measure, role=request.POST.get("role", ""), name=request.POST.get("name", ""),
        phone=request.POST.get("phone", ""), actor=request.user), _("已添加包保人员"))


@require_POST
@requires("measures.change")
def custodian_remove(request: HttpRequest, pk: int) -> HttpResponse:
    custodian = get_object_or_404(
        MeasureCustodian.objects.visible_to(request.user, "measures.change").select_related("measure"), pk=pk)
    return _run(request, custodian.measure, lambda: services.custodian_remove(custodian=custodian, actor=request.user),
                _("已移除包保人员"))


def _measure_document(request: HttpRequest, pk: int, what: str) -> HttpResponse:
    measure = get_object_or_404(Measure.objects.visible_to(request.user, "measures.view").select_related(
        "person", "person__organization", "released_by"), pk=pk)
    try:
        if what == "record":
            body = documents.daily_record_xlsx(measure=measure)
            ctype, name = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"measure-{pk}-record.xlsx"
        elif what == "certificate":
            body = documents.release_certificate_pdf(measure=measure)
            ctype, name = "application/pdf", f"measure-{pk}-release.pdf"
        else:
            body = documents.notice_pdf(measure=measure)
            ctype, name = "application/pdf", f"measure-{pk}-notice.pdf"
    except ServiceError as e:  # not released yet, or no CJK font on the server
        messages.error(request, e.message)
        return _back_to_person(measure)
    # Health data about a named person leaves the system: recorded like any other export.
    audit_record(actor=request.user, action=f"measure.export_{what}", obj=measure,
                 organization_id=measure.person.organization_id)
    response = HttpResponse(body, content_type=ctype)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@requires("measures.view")
def measure_record(request: HttpRequest, pk: int) -> HttpResponse:
    return _measure_document(request, pk, "record")


@requires("measures.view")
def measure_notice(request: HttpRequest, pk: int) -> HttpResponse:
    return _measure_document(request, pk, "notice")


@requires("measures.view")
def measure_certificate(request: HttpRequest, pk: int) -> HttpResponse:
    return _measure_document(request, pk, "certificate")
