"""Health pages: phone-first self check-in, entry for a person and roll call by unit leaders, check-in list,
symptomatic flags, compliance (with drill-down and .xlsx export), absences and cluster warnings, 待核实, settings.

Objects are looked up through `visible_to(user, perm)` with the permission of the action: outside scope is a 404.
"""

from __future__ import annotations

import uuid
from datetime import date
from io import BytesIO
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.access import requires, user_has_perm
from fangkong.core.audit import audit_record
from fangkong.core.context import client_ip
from fangkong.core.errors import ServiceError
from fangkong.health import forms, rules, selectors, services
from fangkong.health.models import Absence, Checkin, CheckinSetting, ClusterWarning, IntegrityFlag, SymptomFlag
from fangkong.obligations.models import KIND_LABELS
from fangkong.obligations.selectors import compliance_by_unit
from fangkong.people.models import Person
from fangkong.tenancy.models import Unit

# A check-in never needs the person's ID or phone number: skip loading and decrypting them.
NO_PII_SELF = ("id_number", "phone")


def _org_id(request: HttpRequest) -> int | None:
    m = getattr(request, "membership", None)
    return m.organization_id if m else None


def _page(request: HttpRequest, qs: Any, per_page: int = 50) -> Any:
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


def _units(request: HttpRequest, perm: str) -> Any:
    qs = Unit.objects.visible_to(request.user, perm)
    org_id = _org_id(request)
    if org_id:
        qs = qs.filter(organization_id=org_id)
    return qs.order_by("path")


# Ids beyond the databases' integer range name no row: they become an id that matches none, like an unknown id.
ID_MAX = 2**63 - 1
NO_ID = -1


def _int(value: str | None) -> int | None:
    """An id from the query string: None when it is not a number (the filter is ignored)."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= ID_MAX else NO_ID


def _form_errors(form: Any, error: ServiceError) -> None:
    placed = False
    for field, msgs in error.field_errors.items():
        name = {"region_code": "region"}.get(field, field)
        if name in form.fields:
            for msg in msgs:
                form.add_error(name, msg)
            placed = True
    if not placed:
        form.add_error(None, error.message)


# ----- check-in -----------------------------------------------------------------------------------------------------


def _checkin_page(request: HttpRequest, person: Person, *, proxy: bool) -> HttpResponse:
    setting = services.setting_for(person)
    template = "health/checkin.html"
    if request.method == "POST":
        form = forms.CheckinForm(request.POST, symptoms=setting.symptoms)
        if form.is_valid():
            data = form.cleaned_data
            all_normal = "all_normal" in request.POST
            try:
                result = services.checkin_submit(
                    actor=request.user, person=person, temperature=None if all_normal else data["temperature"],
                    symptoms=[] if all_normal else data["symptoms"], region_code=data["region"], note=data["note"],
                    client_key=data["client_key"], ip=client_ip.get() or None, proxy=proxy, setting=setting,
                    device_id=request.COOKIES.get(DEVICE_COOKIE, "")[:64],
                )
            except ServiceError as e:
                _form_errors(form, e)
            else:
                return render(request, "health/checkin_done.html", {"person": person, "result": result,
                                                                      "proxy": proxy})
    else:
        form = forms.CheckinForm(initial={"client_key": uuid.uuid4().hex}, symptoms=setting.symptoms)
    today = timezone.localdate()
    done_today = person.checkins.filter(date=today).order_by("-submitted_at")[:4]
    return render(request, template, {"form": form, "person": person, "proxy": proxy, "today": today,
                                      "done_today": done_today, "setting": setting})


DEVICE_COOKIE = "fk_device"


@requires("self.checkin")
def checkin(request: HttpRequest) -> HttpResponse:
    person = Person.objects.select_related("unit", "organization").defer(*NO_PII_SELF).filter(
        user_id=cast(int, request.user.pk), is_active=True).first()
    if person is None:
        return render(request, "health/checkin_unlinked.html", status=200)
    response = _checkin_page(request, person, proxy=False)
    if not request.COOKIES.get(DEVICE_COOKIE):
        # A random id per browser, so the integrity check can see one device submitting for many people.
        response.set_cookie(DEVICE_COOKIE, uuid.uuid4().hex, max_age=400 * 86400, httponly=True, samesite="Lax")
    return response


@requires("checkins.submit_others")
def checkin_for(request: HttpRequest, person_id: int) -> HttpResponse:
    qs = Person.objects.visible_to(request.user, "checkins.submit_others").select_related("unit", "organization").defer(*NO_PII_SELF)
    person = get_object_or_404(qs.filter(is_active=True), pk=person_id)
    return _checkin_page(request, person, proxy=True)


def _offered_slots(unit: Unit | None) -> set[str]:
    """The slots the organisation's people check in for (their settings', and a measure's): the roll call offers
    no other, since a check-in for a slot nobody has is refused."""
    if unit is None:
        return set(rules.SLOTS)
    frequencies = {s.frequency for s in services.active_settings(unit.organization_id)} or {
        CheckinSetting.Frequency.DAILY}
    return {slot for f in frequencies for measure in (False, True) for slot in rules.slots_for(f, measure)}


@requires("checkins.submit_others")
def rollcall(request: HttpRequest) -> HttpResponse:
    """晨午检: one row per person of a unit, temperature and symptom, all normal by default, one submit."""
    units = _units(request, "checkins.submit_others")
    unit_id = _int(request.GET.get("unit") or request.POST.get("unit"))
    unit = units.filter(pk=unit_id).first() if unit_id else None
    if unit_id and unit is None:
        raise Http404
    people: list[Person] = []
    if unit is not None:
        people = list(Person.objects.visible_to(request.user, "checkins.submit_others")
                      .filter(is_active=True, unit__path__startswith=unit.path).select_related("unit", "organization").defer(*NO_PII_SELF))
    slot = request.POST.get("slot") or request.GET.get("slot") or ""
    errors: dict[int, str] = {}
    if request.method == "POST" and unit is not None:
        saved = abnormal = 0
        for p in people:
            if request.POST.get(f"skip_{p.pk}"):
                continue
            sym = request.POST.get(f"symptom_{p.pk}", "")
            try:
                result = services.checkin_submit(
                    actor=request.user, person=p, slot=slot or None,
                    temperature=request.POST.get(f"t_{p.pk}", ""), symptoms=[sym] if sym else [],
                    client_key=f"{request.POST.get('batch', '')}:{p.pk}"[:64] if request.POST.get("batch") else "",
                    ip=client_ip.get() or None, proxy=True,
                )
            except ServiceError as e:
                errors[p.pk] = e.message
                continue
            saved += 1
            abnormal += int(result.checkin.abnormal)
        if not errors:
            messages.success(request, _("已提交 %(n)d 人的晨午检，其中异常 %(a)d 人。") % {"n": saved, "a": abnormal})
            return redirect(reverse("health:rollcall") + f"?unit={unit.pk}")
        # Row by row: say what was stored as well as what was not, and that sending the page again is safe.
        messages.error(request, _("已提交 %(saved)d 人；有 %(n)d 行未能提交，请改正标红的行后再次提交（已提交的不会重复）。")
                       % {"saved": saved, "n": len(errors)})
    rows = [{"person": p, "error": errors.get(p.pk, ""), "t": request.POST.get(f"t_{p.pk}", ""),
             "symptom": request.POST.get(f"symptom_{p.pk}", "")} for p in people]
    return render(request, "health/rollcall.html", {
        "units": units, "unit": unit, "rows": rows, "slot": slot,
        # After a partly failed submit the same batch goes back, so the rows already stored replay instead of doubling.
        "batch": (request.POST.get("batch") or uuid.uuid4().hex)[:16],
        "slots": [("", _("自动")), *[(s, label) for s, label in
                                      [("day", _("每日")), ("morning", _("晨检/上午")), ("noon", _("午检")),
                                       ("afternoon", _("下午"))] if s in _offered_slots(unit)]],
        "symptoms": forms.symptom_choices(),
    })


@requires("checkins.view")
def checkin_list(request: HttpRequest) -> HttpResponse:
    day = _day(request.GET.get("date"))
    unit_id = _int(request.GET.get("unit"))
    status = request.GET.get("status", "")
    q = request.GET.get("q", "")
    qs = selectors.checkin_list(user=request.user, day=day, unit_id=unit_id, status=status, q=q,
                                organization_id=_org_id(request))
    return render(request, "health/checkin_list.html", {
        "page": _page(request, qs), "day": day, "unit_id": unit_id, "status": status, "q": q,
        "units": _units(request, "checkins.view"),
        "can_enter": user_has_perm(request.user, "checkins.submit_others"),
    })


# ----- flags --------------------------------------------------------------------------------------------------------


@requires("health.flags")
def flag_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "open")
    q = request.GET.get("q", "")
    qs = selectors.flag_list(user=request.user, state=state, q=q, organization_id=_org_id(request))
    return render(request, "health/flags.html", {"page": _page(request, qs), "state": state, "q": q})


@require_POST
@requires("health.flags")
def flag_clear(request: HttpRequest, pk: int) -> HttpResponse:
    flag = get_object_or_404(SymptomFlag.objects.visible_to(request.user, "health.flags").select_related("person"),
                             pk=pk)
    try:
        services.flag_clear(flag=flag, reason=request.POST.get("reason", ""), actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("已解除 %(name)s 的症状标记。") % {"name": flag.person.name})
    return redirect("health:flags")


# ----- compliance ---------------------------------------------------------------------------------------------------


@requires("compliance.view")
def compliance(request: HttpRequest) -> HttpResponse:
    day = _day(request.GET.get("date"))
    unit_id = _int(request.GET.get("unit"))
    rows = compliance_by_unit(user=request.user, day=day, kind="checkin", unit_id=unit_id,
                              organization_id=_org_id(request))
    totals = {k: sum(getattr(r, k) for r in rows) for k in ("expected", "done", "missing", "abnormal")}
    if request.GET.get("export") == "xlsx":
        return _compliance_xlsx(request, day, rows, unit_id)
    return render(request, "health/compliance.html", {
        "day": day, "rows": rows, "totals": totals, "unit_id": unit_id, "units": _units(request, "compliance.view"),
        "obligations_url": reverse("obligations:list"),
    })


def _slot_label(kind: str) -> str:
    """The check-in slot of an obligation kind in the reader's words ("checkin_noon" → 午检), not its code."""
    slot = "day" if kind == "checkin" else kind.removeprefix("checkin_")
    if slot in Checkin.Slot.values:
        return str(Checkin.Slot(slot).label)
    return str(KIND_LABELS.get(kind, kind))


def _compliance_xlsx(request: HttpRequest, day: date, rows: list[Any], unit_id: int | None) -> HttpResponse:
    from openpyxl import Workbook

    from fangkong.obligations.selectors import obligation_list

    wb = Workbook()
    ws = wb.active
    ws.title = _("汇总")
    ws.append([_("部门"), _("应打卡"), _("已打卡"), _("未打卡"), _("异常"), _("完成率%")])
    for r in rows:
        ws.append([r.name, r.expected, r.done, r.missing, r.abnormal, r.rate])
    detail = wb.create_sheet(_("未打卡与异常"))
    detail.append([_("部门"), _("姓名"), _("时段"), _("状态"), _("异常"), _("截止")])
    qs = (obligation_list(user=request.user, kind="checkin", day=day, unit_id=unit_id, perm="compliance.view",
                          organization_id=_org_id(request))
          .exclude(status="fulfilled", abnormal=False).exclude(status="waived").order_by("unit__path", "person__name"))
    named = 0
    for o in qs.iterator(chunk_size=2000):
        detail.append([o.unit.name if o.unit else "", o.person.name if o.person else o.subject_id, _slot_label(o.kind),
                       o.get_status_display(), _("是") if o.abnormal else "",
                       timezone.localtime(o.due_until).strftime("%H:%M")])
        named += 1
    buf = BytesIO()
    wb.save(buf)
    # The sheet names people (who missed a check-in, who reported a fever): audited like every export of people.
    query = request.GET.copy()
    for key in ("page", "export"):
        query.pop(key, None)
    audit_record(actor=request.user, action="compliance.export", object_type="obligations.obligation", object_id="",
                 object_repr=f"{named} rows", organization_id=_org_id(request),
                 changes={"filters": [None, query.urlencode()], "day": [None, day.isoformat()]})
    response = HttpResponse(buf.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="compliance-{day}.xlsx"'
    return response


# ----- absences and clusters ----------------------------------------------------------------------------------------


@requires("checkins.view")
def absence_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "open")
    unit_id = _int(request.GET.get("unit"))
    q = request.GET.get("q", "")
    qs = selectors.absence_list(user=request.user, state=state, unit_id=unit_id, q=q,
                                organization_id=_org_id(request))
    return render(request, "health/absences.html", {
        "page": _page(request, qs), "state": state, "unit_id": unit_id, "q": q,
        "units": _units(request, "checkins.view"), "can_change": user_has_perm(request.user, "absences.change"),
        "open_clusters": selectors.cluster_list(user=request.user, state="open",
                                                organization_id=_org_id(request)).count(),
    })


@requires("absences.change")
def absence_new(request: HttpRequest) -> HttpResponse:
    people = Person.objects.visible_to(request.user, "absences.change").filter(is_active=True)
    initial = {"started_on": timezone.localdate(), "person": request.GET.get("person")}
    form = forms.AbsenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        person = people.select_related("unit", "organization").defer(*NO_PII_SELF).filter(pk=data["person"]).first()
        if person is None:
            form.add_error("person", _("人员不存在或不在您的管理范围内"))
        else:
            try:
                absence, warnings = services.absence_register(
                    person=person, started_on=data["started_on"], reason=data["reason"], symptoms=data["symptoms"],
                    expected_until=data["expected_until"], actor=request.user,
                )
            except ServiceError as e:
                _form_errors(form, e)
            else:
                messages.success(request, _("已登记 %(name)s 的因病缺勤。") % {"name": person.name})
                for w in warnings:
                    messages.error(request, _("聚集性预警：%(unit)s %(n)d 人因“%(s)s”缺勤，请在 2 小时内报告。") % {
                        "unit": w.unit.name if w.unit else "", "n": w.people.count(), "s": w.symptom_label})
                return redirect("health:absence", pk=absence.pk)
    pick = people.order_by("name_sort")[:500]
    return render(request, "health/absence_new.html", {"form": form, "people": pick})


@requires("checkins.view")
def absence_detail(request: HttpRequest, pk: int) -> HttpResponse:
    absence = get_object_or_404(Absence.objects.visible_to(request.user, "checkins.view").select_related("person"),
                                pk=pk)
    can_change = Absence.objects.visible_to(request.user, "absences.change").filter(pk=pk).exists()
    form = forms.FollowUpForm(request.POST or None, initial={"date": timezone.localdate(), "status": "ill_at_home"})
    if request.method == "POST":
        if not can_change:
            raise Http404
        if form.is_valid():
            try:
                services.absence_follow_up(absence=absence, day=form.cleaned_data["date"],
                                           status=form.cleaned_data["status"], note=form.cleaned_data["note"],
                                           actor=request.user)
            except ServiceError as e:
                _form_errors(form, e)
            else:
                messages.success(request, _("已记录随访。"))
                return redirect("health:absence", pk=pk)
    return render(request, "health/absence_detail.html", {
        "absence": absence, "follow_ups": absence.follow_ups.all(), "form": form, "can_change": can_change,
    })


@requires("checkins.view")
def cluster_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    qs = selectors.cluster_list(user=request.user, state=state, organization_id=_org_id(request))
    return render(request, "health/clusters.html", {"page": _page(request, qs), "state": state,
                                                    "now": timezone.now(),
                                                    "can_change": user_has_perm(request.user, "absences.change")})


@require_POST
@requires("absences.change")
def cluster_report(request: HttpRequest, pk: int) -> HttpResponse:
    warning = get_object_or_404(ClusterWarning.objects.visible_to(request.user, "absences.change"), pk=pk)
    try:
        services.cluster_report(warning=warning, note=request.POST.get("note", ""), actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("已标记为已报告。"))
    return redirect("health:clusters")


# ----- integrity ----------------------------------------------------------------------------------------------------


@requires("checkins.view")
def integrity(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "open")
    reason = request.GET.get("reason", "")
    qs = selectors.integrity_list(user=request.user, state=state, reason=reason, organization_id=_org_id(request))
    return render(request, "health/integrity.html", {
        "page": _page(request, qs), "state": state, "reason": reason,
        "reasons": IntegrityFlag._meta.get_field("reason").choices,
        "can_resolve": user_has_perm(request.user, "health.flags"),
    })


@require_POST
@requires("health.flags")
def integrity_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    flag = get_object_or_404(IntegrityFlag.objects.visible_to(request.user, "health.flags"), pk=pk)
    try:
        services.integrity_resolve(flag=flag, resolution=request.POST.get("resolution", ""), actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("已记录核实结果。"))
    return redirect("health:integrity")


# ----- settings -----------------------------------------------------------------------------------------------------


@requires("checkins.settings")
def settings_edit(request: HttpRequest) -> HttpResponse:
    from fangkong.tenancy.models import Organization

    org_id = _org_id(request)
    org = get_object_or_404(Organization.objects.visible_to(request.user, "checkins.settings"), pk=org_id or 0)
    setting = CheckinSetting.objects.filter(organization=org).order_by("id").first() or CheckinSetting(
        organization=org)
    form = forms.SettingForm(request.POST or None, instance=setting,
                             units=Unit.objects.filter(organization=org).order_by("path"))
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        saved.organization = org
        saved.save()
        audit_record(actor=request.user, action="checkin_setting.change", obj=saved, organization_id=org.pk,
                     changes={k: [None, str(form.cleaned_data[k])] for k in form.changed_data})
        messages.success(request, _("打卡设置已保存。"))
        return redirect("health:settings")
    return render(request, "health/settings.html", {"form": form, "org": org,
                                                    "symptom_labels": rules.SYMPTOMS})
