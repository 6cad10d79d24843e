"""A person's stays, arrivals and measures (what was decided, and what changed), and the list of proposals."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from fangkong.core.access import requires, user_has_perm
from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.measures import documents, rules, selectors, services
from fangkong.measures.models import Measure, MeasureCustodian
from fangkong.people.models import Person
from fangkong.policy import forms as policy_forms
from fangkong.policy import services as policy_services
from fangkong.policy.models import Arrival, Stay
from fangkong.policy.views import decision_items
from fangkong.tenancy.models import Jurisdiction, Unit
from fangkong.tenancy.unit_names import unit_full_names

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


LIST_VIEWS = [("proposed", _lazy("待确认")), ("active", _lazy("管控中")), ("in_progress", _lazy("执行中")),
              ("ready_for_release", _lazy("待解除")), ("overdue", _lazy("逾期未检")), ("released", _lazy("已解除")),
              ("escalated", _lazy("已升级")), ("all", _lazy("全部"))]


def _units(request: HttpRequest) -> Any:
    qs = Unit.objects.visible_to(request.user, "measures.view")
    # A lazy object that may wrap None (a platform admin without memberships): truthiness, not `is not None`.
    m = getattr(request, "membership", None)
    if m and m.organization_id:
        qs = qs.filter(organization_id=m.organization_id)
    return qs.order_by("path")


def _list_filters(request: HttpRequest) -> dict[str, Any]:
    """The list's and the counts' filters from the query string; a unit or jurisdiction outside scope is a 404."""
    view = request.GET.get("status", "proposed")
    if view not in selectors.VIEWS:
        view = "proposed"
    unit = jurisdiction = None
    raw = request.GET.get("unit", "")
    if raw.isdigit():
        unit = get_object_or_404(_units(request), pk=int(raw))
    raw = request.GET.get("jurisdiction", "")
    if raw.isdigit():
        jurisdiction = get_object_or_404(Jurisdiction, pk=int(raw))
    return {"view": view, "kind": request.GET.get("kind", ""), "place": (request.GET.get("place") or "").strip(),
            "q": (request.GET.get("q") or "").strip(), "unit": unit, "jurisdiction": jurisdiction}


def _list_qs(request: HttpRequest, f: dict[str, Any]) -> Any:
    return selectors.measure_list(
        user=request.user, view=f["view"], kind=f["kind"], place=f["place"], q=f["q"],
        unit_path=f["unit"].path if f["unit"] else "",
        jurisdiction_path=f["jurisdiction"].path if f["jurisdiction"] else "")


@requires("measures.view")
def measure_list(request: HttpRequest) -> HttpResponse:
    """Everyone under a measure: by status (tabs), kind, place, unit, jurisdiction; day N of M and overdue tests."""
    f = _list_filters(request)
    page = Paginator(_list_qs(request, f), 50).get_page(request.GET.get("page"))
    today = timezone.localdate()
    units = unit_full_names(m.person.unit_id for m in page)
    for m in page:
        m.unit_label = units.get(m.person.unit_id, "")  # type: ignore[attr-defined]
        m.day_label = selectors.day_label(m, today)  # type: ignore[attr-defined]
        m.place_label = selectors.place_label(m.place)  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("status", None)
    return render(request, "measures/measure_list.html", {
        "page": page, "status": f["view"], "kind": f["kind"], "q": f["q"], "place": f["place"],
        "unit_id": f["unit"].pk if f["unit"] else None, "jurisdiction": f["jurisdiction"],
        "views": LIST_VIEWS, "kinds": Measure.Kind.choices, "units": _units(request),
        "query": query.urlencode(), "export_query": request.GET.urlencode(),
        "can_confirm": user_has_perm(request.user, "measures.change"),
    })


@requires("measures.view")
def measure_list_export(request: HttpRequest) -> HttpResponse:
    """The list as it is filtered, as .xlsx (names and masked ID numbers; audited like every export of people)."""
    from openpyxl import Workbook

    f = _list_filters(request)
    qs = _list_qs(request, f)
    today = timezone.localdate()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("管控人员")
    sheet.append(["姓名", "证件号码", "单位", "部门", "属地", "措施", "状态", "执行地点", "开始日期", "结束日期", "第几天",
                  "逾期未检（次）", "文号", "条款"])
    n = 0
    # The rows are the record kept under Chinese headers: kinds, statuses, places and days are worded in Chinese
    # whatever language the page that asked for them is in.
    units = unit_full_names(qs.order_by().values_list("person__unit_id", flat=True).distinct())
    with translation.override("zh-hans"):
        for m in qs.iterator(chunk_size=2000):
            p = m.person
            org = p.organization
            sheet.append([p.name, p.id_number_masked, org.name, units.get(p.unit_id, ""),
                          org.jurisdiction.name if org.jurisdiction else "", m.get_kind_display(),
                          m.get_status_display(), selectors.place_label(m.place), m.start_date, m.end_date,
                          selectors.day_label(m, today), m.overdue_tests, m.policy_number, m.clause])
            n += 1
    out = BytesIO()
    book.save(out)
    audit_record(actor=request.user, action="measure.export_list", object_type="measures.measure", object_id="",
                 object_repr=f"{n} rows", changes={"filters": [None, request.GET.urlencode()]})
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, f"管控人员-{today:%Y%m%d}.xlsx")
    return response


@requires("measures.view")
def measure_counts(request: HttpRequest) -> HttpResponse:
    """Active measures counted by unit, organisation or jurisdiction (per kind, per status, with overdue tests)."""
    by = request.GET.get("by", "unit")
    if by not in selectors.GROUPS:
        by = "unit"
    f = _list_filters(request)
    if request.GET.get("format") == "xlsx":
        return _counts_xlsx(request, by, f)
    rows = _counts(request, by, f)
    kinds = dict(Measure.Kind.choices)
    return render(request, "measures/measure_counts.html", {
        "rows": rows, "total": selectors.counts_total(rows), "by": by, "kind": f["kind"],
        "kinds": Measure.Kind.choices, "units": _units(request), "unit_id": f["unit"].pk if f["unit"] else None,
        "counted": [(k, kinds[k]) for k in selectors.COUNTED_KINDS], "export_query": request.GET.urlencode(),
    })


def _counts(request: HttpRequest, by: str, f: dict[str, Any]) -> list[selectors.MeasureCount]:
    return selectors.measure_counts(
        user=request.user, by=by, kind=f["kind"], unit_path=f["unit"].path if f["unit"] else "",
        jurisdiction_path=f["jurisdiction"].path if f["jurisdiction"] else "")


def _counts_xlsx(request: HttpRequest, by: str, f: dict[str, Any]) -> HttpResponse:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("管控人数统计")
    # The record kept under Chinese headers: the kinds in the header, "（未分配）" and "合计" stay Chinese whatever
    # language the page that asked for it is in.
    with translation.override("zh-hans"):
        rows = _counts(request, by, f)
        kinds = dict(Measure.Kind.choices)
        first = {"unit": "部门", "organization": "单位", "jurisdiction": "属地"}[by]
        head = [first] + (["单位"] if by == "unit" else []) + [
            "管控中合计", *[str(kinds[k]) for k in selectors.COUNTED_KINDS], "其他", "已确认", "执行中", "待解除",
            "有逾期未检"]
        sheet.append(head)
        for r in [*rows, selectors.counts_total(rows)] if rows else []:
            sheet.append([r.name] + ([r.parent] if by == "unit" else []) + [
                r.total, *[r.by_kind[k] for k in selectors.COUNTED_KINDS], r.other, r.confirmed, r.in_progress,
                r.ready, r.with_overdue])
    out = BytesIO()
    book.save(out)
    audit_record(actor=request.user, action="measure.export_counts", object_type="measures.measure", object_id="",
                 object_repr=f"by {by}", changes={"filters": [None, request.GET.urlencode()]})
    response = HttpResponse(out.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(
        True, f"管控人数统计-{timezone.localdate():%Y%m%d}.xlsx")
    return response


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
    measures = list(Measure.objects.filter(person=person).select_related("supersedes", "released_by").prefetch_related(
        "tests", "custodians"))
    for m in measures:
        m.person = person  # already loaded: the blockers read its symptom flag
        actions = rules.allowed_actions(m.status)
        # Shown beside the release button, so the reasons are visible before anyone presses it.
        m.actions = actions  # type: ignore[attr-defined]
        m.blockers = services.measure_release_blockers(measure=m) if "release" in actions else []  # type: ignore[attr-defined]
    return render(request, "measures/person.html", {
        "unit_label": unit_full_names([person.unit_id]).get(person.unit_id or 0, ""),
        "person": person, "measures": measures,
        "stays": Stay.objects.filter(person=person).select_related("region")[:100],
        "arrivals": Arrival.objects.filter(person=person)[:50],
        "can_stays": can_stays, "can_confirm": user_has_perm(request.user, "measures.change"),
        "can_release": user_has_perm(request.user, "measures.release"),
        "custodian_roles": MeasureCustodian.Role.choices,
        "stay_form": stay_form, "arrival_form": arrival_form, "formset": formset,
        "decisions": decision_items(decisions), "english": (translation.get_language() or "").startswith("en"),
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
