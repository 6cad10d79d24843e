"""Pages: risk areas (list as of a date, announce/change/end, import, history, re-evaluation progress), policies
(rules as sentences, packs per jurisdiction), the what-if tester and travel requests."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.access import requires, user_has_perm
from fangkong.core.errors import ServiceError
from fangkong.people.models import Person
from fangkong.policy import forms, packs, rules, selectors, services
from fangkong.policy.models import Policy, ReevaluationRun, RiskArea, TravelRequest
from fangkong.tenancy.models import Jurisdiction
from fangkong.tenancy.scope import jurisdiction_scope_q


def _form_errors(form: Any, exc: ServiceError) -> None:
    """Put a service error on the form field it names (or on the form as a whole)."""
    placed = False
    for field, errs in exc.field_errors.items():
        name = field.split(".")[-1]
        if name in form.fields:
            for e in errs:
                form.add_error(name, e)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _acting_jurisdiction(request: HttpRequest, perm: str) -> Jurisdiction | None:
    return selectors.jurisdiction_for(request.user, perm, membership=getattr(request, "membership", None))


def _parse_date(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


# --- risk areas -------------------------------------------------------------------------------------------------


@requires("riskareas.view")
def risk_area_list(request: HttpRequest) -> HttpResponse:
    as_of = _parse_date(request.GET.get("as_of"))
    level = request.GET.get("level", "")
    q = (request.GET.get("q") or "").strip()
    qs = RiskArea.objects.visible_to(request.user, "riskareas.view").as_of(as_of).select_related(
        "region", "jurisdiction")
    if level in RiskArea.Level.values:
        qs = qs.filter(level=level)
    if q:
        qs = qs.filter(Q(region__code__startswith=q) | Q(region__full_name__contains=q) | Q(locality__contains=q))
    page = Paginator(qs.order_by("-level", "region_id"), 50).get_page(request.GET.get("page"))
    can_change = user_has_perm(request.user, "riskareas.change")
    runs = ReevaluationRun.objects.filter(
        risk_area__in=RiskArea.objects.filter(
            jurisdiction_scope_q(request.user, "riskareas.change", field_prefix="jurisdiction"))
    ).select_related("risk_area", "risk_area__region")[:5] if can_change else []
    return render(request, "policy/risk_area_list.html", {
        "page": page, "as_of": as_of, "level": level, "q": q, "levels": RiskArea.Level.choices,
        "can_change": can_change, "runs": runs, "announce_form": forms.AnnounceForm(),
        "import_form": forms.ImportForm(),
    })


@requires("riskareas.change")
def risk_area_announce(request: HttpRequest) -> HttpResponse:
    form = forms.AnnounceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        jurisdiction = _acting_jurisdiction(request, "riskareas.change")
        if jurisdiction is None:
            messages.error(request, _("您不是防控办人员，不能发布风险地区"))
            return redirect("policy:risk_area_list")
        try:
            area = services.risk_area_announce(jurisdiction=jurisdiction, actor=request.user, **form.cleaned_data)
        except ServiceError as e:
            _form_errors(form, e)
        else:
            messages.success(request, _("已发布：%(area)s；正在重新判定受影响人员") % {"area": area})
            return redirect("policy:risk_area_detail", area.pk)
    return render(request, "policy/risk_area_form.html", {"form": form, "title": _("发布风险地区")})


def _changeable_area(request: HttpRequest, pk: int) -> RiskArea:
    return get_object_or_404(RiskArea.objects.filter(
        jurisdiction_scope_q(request.user, "riskareas.change", field_prefix="jurisdiction")), pk=pk)


@requires("riskareas.view")
def risk_area_detail(request: HttpRequest, pk: int) -> HttpResponse:
    area = get_object_or_404(RiskArea.objects.visible_to(request.user, "riskareas.view").select_related(
        "region", "jurisdiction"), pk=pk)
    latest = area
    while (nxt := RiskArea.objects.filter(supersedes=latest).first()) is not None:
        latest = nxt
    can_change = RiskArea.objects.filter(
        jurisdiction_scope_q(request.user, "riskareas.change", field_prefix="jurisdiction"), pk=latest.pk).exists()
    return render(request, "policy/risk_area_detail.html", {
        "area": area, "latest": latest, "history": latest.chain(), "can_change": can_change,
        "change_form": forms.ChangeLevelForm(), "end_form": forms.EndForm(),
        "runs": ReevaluationRun.objects.filter(
            Q(risk_area__in=[a.pk for a in latest.chain()]) | Q(also_areas__in=[a.pk for a in latest.chain()])
        ).distinct().select_related("risk_area__region")[:5],
    })


@require_POST
@requires("riskareas.change")
def risk_area_change(request: HttpRequest, pk: int) -> HttpResponse:
    area = _changeable_area(request, pk)
    ending = request.POST.get("action") == "end"
    form = forms.EndForm(request.POST) if ending else forms.ChangeLevelForm(request.POST)
    if form.is_valid():
        try:
            if ending:
                new = services.risk_area_end(area=area, actor=request.user, **form.cleaned_data)
            else:
                new = services.risk_area_change_level(area=area, actor=request.user, **form.cleaned_data)
        except ServiceError as e:
            messages.error(request, e.message)
            return redirect("policy:risk_area_detail", area.pk)
        messages.success(request, _("已记录：%(area)s（原记录保留）") % {"area": new})
        return redirect("policy:risk_area_detail", new.pk)
    messages.error(request, "; ".join(_("%(field)s：%(error)s") % {"field": form.fields[k].label, "error": v[0]}
                                      for k, v in form.errors.items() if k in form.fields) or _("输入有误"))
    return redirect("policy:risk_area_detail", area.pk)


@require_POST
@requires("riskareas.change")
def risk_area_import(request: HttpRequest) -> HttpResponse:
    form = forms.ImportForm(request.POST, request.FILES)
    jurisdiction = _acting_jurisdiction(request, "riskareas.change")
    if not form.is_valid() or jurisdiction is None:
        messages.error(request, _("请选择要导入的文件"))
        return redirect("policy:risk_area_list")
    upload = form.cleaned_data["file"]
    try:
        result = services.risk_areas_import(jurisdiction=jurisdiction, data=upload.read(), filename=upload.name,
                                            actor=request.user)
    except ServiceError as e:
        for errs in list(e.field_errors.values())[:20]:
            for err in errs:
                messages.error(request, err)
        if not e.field_errors:
            messages.error(request, e.message)
        else:
            messages.error(request, _("导入失败，未导入任何记录。"))
        return redirect("policy:risk_area_list")
    messages.success(request, _("已导入 %(n)d 条风险地区") % {"n": len(result.created)})
    return redirect("policy:risk_area_list")


@requires("riskareas.view")
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """HTMX fragment: polls itself every second while the run is queued or running."""
    visible = RiskArea.objects.visible_to(request.user, "riskareas.view")
    run = get_object_or_404(ReevaluationRun.objects.filter(risk_area__in=visible).select_related(
        "risk_area", "risk_area__region"), pk=pk)
    return render(request, "policy/_run.html", {"run": run})


# --- policies ---------------------------------------------------------------------------------------------------


def decision_items(decisions: list[Any] | None) -> list[dict[str, Any]] | None:
    """Decisions with their measure's label, for policy/_decisions.html."""
    from fangkong.measures.models import Measure, MeasureTest

    if decisions is None:
        return None
    labels = dict(Measure.Kind.choices)
    test_labels = dict(MeasureTest.Kind.choices)
    return [{"d": d, "label": labels.get(d.measure_kind, d.measure_kind),
             "tests": [(test_labels.get(t.kind, t.kind), t.due_date) for t in d.tests]} for d in decisions]


def _lang() -> str:
    return "en" if (get_language() or "").lower().startswith("en") else "zh"


@requires("policy.view")
def policy_list(request: HttpRequest) -> HttpResponse:
    jurisdiction = _acting_jurisdiction(request, "policy.view")
    on = timezone.localdate()
    in_force = set(selectors.policies_in_force(jurisdiction, on)) if jurisdiction else set()
    policies = list(Policy.objects.visible_to(request.user, "policy.view").select_related("jurisdiction")
                    .prefetch_related("rules"))
    lang = _lang()
    for p in policies:
        p.in_force = p.pk in in_force  # type: ignore[attr-defined]
        p.sentences = [(r, rules.describe_rule(rules.rule_from_dict(selectors.rule_dict(r)), lang))  # type: ignore
                       for r in p.rules.all()]
    can_change = user_has_perm(request.user, "policy.change") and \
        _acting_jurisdiction(request, "policy.change") is not None
    owned = set(Policy.objects.filter(
        jurisdiction_scope_q(request.user, "policy.change", field_prefix="jurisdiction")).values_list("pk", flat=True))
    for p in policies:
        p.owned = p.pk in owned  # type: ignore[attr-defined]
    installed = {p.pack_key for p in policies if p.pack_key and jurisdiction and p.jurisdiction_id == jurisdiction.pk}
    return render(request, "policy/policy_list.html", {
        "policies": policies, "jurisdiction": jurisdiction, "can_change": can_change,
        "packs": [p for k, p in sorted(packs.PACKS.items()) if k not in installed],
    })


@require_POST
@requires("policy.change")
def pack_install(request: HttpRequest) -> HttpResponse:
    jurisdiction = _acting_jurisdiction(request, "policy.change")
    if jurisdiction is None:
        raise Http404
    try:
        policy = services.policy_pack_install(pack_key=request.POST.get("pack_key", ""), jurisdiction=jurisdiction,
                                              actor=request.user)
        services.policy_activation_set(jurisdiction=jurisdiction, policy=policy, enabled=True, actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("已安装并启用：%(p)s") % {"p": policy})
    return redirect("policy:policy_list")


@require_POST
@requires("policy.change")
def policy_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    jurisdiction = _acting_jurisdiction(request, "policy.change")
    policy = get_object_or_404(Policy.objects.visible_to(request.user, "policy.view"), pk=pk)
    if jurisdiction is None:
        raise Http404
    enabled = request.POST.get("enabled") == "1"
    try:
        services.policy_activation_set(jurisdiction=jurisdiction, policy=policy, enabled=enabled, actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, (_("已在 %(j)s 启用：%(p)s") if enabled else _("已在 %(j)s 停用：%(p)s"))
                         % {"j": jurisdiction.name, "p": policy})
    return redirect("policy:policy_list")


@require_POST
@requires("policy.change")
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch one rule of a policy on or off: only officers of the policy's own jurisdiction (or above)."""
    from fangkong.policy.models import Rule

    owned = Policy.objects.filter(jurisdiction_scope_q(request.user, "policy.change", field_prefix="jurisdiction"))
    rule = get_object_or_404(Rule.objects.filter(policy__in=owned).select_related("policy__jurisdiction"), pk=pk)
    enabled = request.POST.get("enabled") == "1"
    services.rule_set_enabled(rule=rule, enabled=enabled, actor=request.user)
    messages.success(request, (_("已启用规则：%(r)s") if enabled else _("已停用规则：%(r)s")) % {"r": rule})
    return redirect("policy:policy_list")


@requires("policy.view")
def what_if(request: HttpRequest) -> HttpResponse:
    """The tester: stays + flags + dates → decisions with explanations. Nothing is stored."""
    jurisdiction = _acting_jurisdiction(request, "policy.view")
    data = request.POST if request.method == "POST" else None
    form = forms.WhatIfForm(data, initial={"evaluation_date": timezone.localdate()})
    formset = forms.StayFormSet(data, prefix="stays")
    decisions = None
    if data is not None and form.is_valid() and formset.is_valid() and jurisdiction is not None:
        on = form.cleaned_data["evaluation_date"]
        arrived = form.cleaned_data["arrived_on"]
        try:
            checked = services.stays_validate(person=None, stays=forms.stays_of(formset), today=max(on, arrived or on),
                                              arrived_on=arrived)
            decisions = selectors.evaluate_what_if(
                jurisdiction=jurisdiction, on=on, arrived_on=arrived,
                flags=selectors.flags_from_dict(form.flags()),
                stays=[rules.StayFact(region_code=s.region_code, from_date=s.from_date, to_date=s.to_date,
                                      locality=s.locality) for s, _r in checked],
            )
        except ServiceError as e:
            form.add_error("arrived_on" if "arrived_on" in e.field_errors else None, e.message)
    return render(request, "policy/what_if.html", {
        "form": form, "formset": formset, "decisions": decision_items(decisions), "jurisdiction": jurisdiction,
        "english": _lang() == "en",
    })


# --- travel requests --------------------------------------------------------------------------------------------


def _travel_qs(request: HttpRequest) -> Any:
    own = Q(person__user=request.user)
    approvable = TravelRequest.objects.visible_to(request.user, "travel.approve").values("pk")
    return TravelRequest.objects.filter(own | Q(pk__in=approvable)).select_related("person", "destination")


@requires("travel.request")
def travel_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    q = (request.GET.get("q") or "").strip()
    qs = _travel_qs(request)
    if status in TravelRequest.Status.values:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(person__name__contains=q) | Q(destination__full_name__contains=q))
    own = Person.objects.filter(user_id=request.user.pk or 0, is_active=True).first()  # @requires: signed in
    form = forms.TravelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if own is None:
            messages.error(request, _("您的账号未关联人员台账，无法提交外出报备"))
        else:
            try:
                services.travel_request_create(person=own, actor=request.user, **form.cleaned_data)
            except ServiceError as e:
                _form_errors(form, e)
            else:
                messages.success(request, _("外出报备已提交，等待审批"))
                return redirect("policy:travel_list")
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    for t in page:  # only the requester withdraws or reports the return; approvers approve or refuse
        t.mine = t.person.user_id == request.user.pk
    return render(request, "policy/travel_list.html", {
        "page": page, "status": status, "q": q,
        "statuses": TravelRequest.Status.choices, "form": form, "own": own,
        "can_approve": user_has_perm(request.user, "travel.approve"), "decide_form": forms.DecideForm(),
        "return_form": forms.ReturnForm(),
    })


@require_POST
@requires("travel.approve")
def travel_decide(request: HttpRequest, pk: int) -> HttpResponse:
    tr = get_object_or_404(TravelRequest.objects.visible_to(request.user, "travel.approve"), pk=pk)
    reason = request.POST.get("reason", "")
    try:
        if request.POST.get("decision") == "approve":
            services.travel_request_approve(request=tr, reason=reason, actor=request.user)
            messages.success(request, _("已批准外出报备"))
        else:
            services.travel_request_refuse(request=tr, reason=reason, actor=request.user)
            messages.success(request, _("已不予批准"))
    except ServiceError as e:
        messages.error(request, e.message)
    return redirect("policy:travel_list")


@require_POST
@requires("travel.request")
def travel_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """The requester takes back a request still waiting (kept, marked withdrawn)."""
    tr = get_object_or_404(_travel_qs(request), pk=pk)
    try:
        services.travel_request_withdraw(request=tr, actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("外出报备已撤回"))
    return redirect("policy:travel_list")


@require_POST
@requires("travel.request")
def travel_return(request: HttpRequest, pk: int) -> HttpResponse:
    tr = get_object_or_404(_travel_qs(request), pk=pk)
    form = forms.ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写返回日期"))
        return redirect("policy:travel_list")
    try:
        result = services.travel_request_return(request=tr, returned_on=form.cleaned_data["returned_on"], stays=None,
                                                actor=request.user)
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _("已报备返回；判定结果：%(d)s") % {
            "d": _("；").join(d.explanation_en if _lang() == "en" else d.explanation_zh for d in result.decisions)
            or _("无需管控措施")})
    return redirect("policy:travel_list")
