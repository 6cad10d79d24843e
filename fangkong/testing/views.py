"""Testing and vaccination pages: programmes (with completion per day), sample registration (single or pooled, scan
or type members), result entry and import, overdue tests, positive findings, vaccination records per person,
coverage, the unvaccinated list with .xlsx export and the vaccination import.

Objects are looked up through `visible_to(user, perm)` with the permission of the action: outside scope is a 404.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from fangkong.core import crypto
from fangkong.core.access import requires, user_has_perm
from fangkong.core.errors import ServiceError
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization, Unit
from fangkong.tenancy.unit_names import unit_full_names
from fangkong.testing import forms, importing, rules, selectors, services
from fangkong.testing.models import Contraindication, TestProgram

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# gettext_lazy by its own name: makemessages does not know an alias such as _lazy, and would not extract these.
STATUS_LABELS = {"none": gettext_lazy("未接种"), "partial": gettext_lazy("未全程"), "complete": gettext_lazy("已全程"),
                 "booster": gettext_lazy("已加强")}


def _org_id(request: HttpRequest) -> int | None:
    m = getattr(request, "membership", None)
    return m.organization_id if m else None


def _acting_org(request: HttpRequest, perm: str) -> Organization:
    """The organisation a write acts for: the header's, else the only one in the user's scope."""
    orgs = Organization.objects.visible_to(request.user, perm)
    org_id = _org_id(request)
    org = orgs.filter(pk=org_id).first() if org_id is not None else (orgs.first() if orgs.count() == 1 else None)
    if org is None:
        raise Http404(_("请先在页眉选择单位"))
    return org


def _page(request: HttpRequest, qs: Any, per_page: int = 50) -> Any:
    return Paginator(qs, per_page).get_page(request.GET.get("page"))


def _units(request: HttpRequest, perm: str) -> Any:
    qs = Unit.objects.visible_to(request.user, perm)
    org_id = _org_id(request)
    if org_id is not None:
        qs = qs.filter(organization_id=org_id)
    return qs.order_by("path")


def _unit(request: HttpRequest, perm: str) -> Unit | None:
    raw = request.GET.get("unit", "")
    if not raw.isdigit():
        return None
    unit = _units(request, perm).filter(pk=int(raw)).first()
    if unit is None:
        raise Http404
    return unit


def _form_errors(form: Any, error: ServiceError) -> None:
    placed = False
    for name, msgs in error.field_errors.items():
        if name in form.fields:
            for msg in msgs:
                form.add_error(name, msg)
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# ----- programmes ---------------------------------------------------------------------------------------------------


@requires("tests.view")
def program_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = _page(request, selectors.program_list(user=request.user, organization_id=_org_id(request), q=q))
    today = timezone.localdate()
    for program in page:
        days = selectors.program_completion(program=program, days=1, until=today)
        program.today = days[0] if days else None
    return render(request, "testing/programs.html", {"page": page, "q": q, "today": today,
                                                     "can_change": user_has_perm(request.user, "tests.change")})


@requires("tests.change")
def program_new(request: HttpRequest) -> HttpResponse:
    org = _acting_org(request, "tests.change")
    units = Unit.objects.filter(organization=org).order_by("path")
    form = forms.ProgramForm(request.POST or None, units=units,
                             initial={"start_date": timezone.localdate(), "test_kind": "nat"})
    if request.method == "POST" and form.is_valid():
        try:
            program = services.program_create(organization=org, actor=request.user, **form.cleaned_data)
        except ServiceError as e:
            _form_errors(form, e)
        else:
            created = services.program_generate(program=program, day=timezone.localdate())
            messages.success(request, _("已创建检测计划“%(name)s”，今日生成 %(n)d 项检测任务")
                             % {"name": program.name, "n": created})
            return redirect("testing:program", pk=program.pk)
    return render(request, "testing/program_new.html", {"form": form, "org": org})


@requires("tests.view")
def program_detail(request: HttpRequest, pk: int) -> HttpResponse:
    program = get_object_or_404(TestProgram.objects.visible_to(request.user, "tests.view").select_related("unit"),
                                pk=pk)
    days = selectors.program_completion(program=program, days=14, until=timezone.localdate())
    return render(request, "testing/program_detail.html", {
        "program": program, "days": days, "can_change": user_has_perm(request.user, "tests.change"),
        "categories": [dict(Person.PostCategory.choices).get(c, c) for c in program.post_categories],
    })


@requires("tests.change")
@require_POST
def program_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    program = get_object_or_404(TestProgram.objects.visible_to(request.user, "tests.change"), pk=pk)
    services.program_set_active(program=program, active=not program.active, actor=request.user)
    messages.success(request, _("已启用") if program.active else _("已停用"))
    return redirect("testing:program", pk=pk)


@requires("tests.change")
@require_POST
def program_generate(request: HttpRequest, pk: int) -> HttpResponse:
    program = get_object_or_404(TestProgram.objects.visible_to(request.user, "tests.change"), pk=pk)
    created = services.program_generate(program=program, day=timezone.localdate())
    messages.success(request, _("今日新生成 %(n)d 项检测任务（已有的不会重复）") % {"n": created})
    return redirect("testing:program", pk=pk)


# ----- samples and results ------------------------------------------------------------------------------------------


@requires("tests.view")
def sample_list(request: HttpRequest) -> HttpResponse:
    q, state = request.GET.get("q", "").strip(), request.GET.get("state", "")
    qs = selectors.sample_list(user=request.user, organization_id=_org_id(request), q=q, state=state)
    return render(request, "testing/samples.html", {"page": _page(request, qs), "q": q, "state": state,
                                                    "can_change": user_has_perm(request.user, "tests.change")})


def _members(org: Organization, user: Any, text: str) -> list[Person]:
    """Each line a scanned or typed ID number, or a person id: resolved in the organisation, in the given order."""
    tokens = [t.strip() for t in text.replace(",", "\n").replace("，", "\n").splitlines() if t.strip()]
    people = Person.objects.visible_to(user, "tests.change").filter(organization=org, is_active=True)
    found: list[Person] = []
    unknown: list[str] = []
    for token in tokens:
        person = (people.filter(pk=int(token)).first() if token.isdigit() and len(token) < 12 else
                  people.filter(id_number_hash=crypto.lookup_hash(token)).first())
        if person is None:
            unknown.append(crypto.mask_id_number(token) if len(token) > 12 else token)
        else:
            found.append(person)
    if unknown:
        message = _("本单位找不到这些人员：%(people)s") % {"people": services.listed(unknown)}
        raise ServiceError(message, {"members": [message]})
    return found


@requires("tests.change")
def sample_new(request: HttpRequest) -> HttpResponse:
    org = _acting_org(request, "tests.change")
    form = forms.SampleForm(request.POST or None, initial={"pooled": True, "kind": "nat"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            people = _members(org, request.user, data["members"])
            sample = services.sample_register(organization=org, tube_code=data["tube_code"], members=people,
                                              kind=data["kind"], pooled=data["pooled"], site=data["site"],
                                              sampled_at=data.get("sampled_at"), actor=request.user)
        except ServiceError as e:
            _form_errors(form, e)
        else:
            messages.success(request, _("已登记管码 %(code)s（%(n)d 人）") % {"code": sample.tube_code, "n": len(people)})
            return redirect("testing:sample_new")
    return render(request, "testing/sample_new.html", {"form": form, "org": org,
                                                       "pool_size": rules.DEFAULT_POOL_SIZE})


@requires("tests.change")
def result_new(request: HttpRequest) -> HttpResponse:
    org = _acting_org(request, "tests.change")
    form = forms.ResultForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            report = services.result_record(organization=org, actor=request.user, tube_code=data["tube_code"],
                                            result=data["result"], reported_at=data["reported_at"], lab=data["lab"])
        except ServiceError as e:
            _form_errors(form, e)
        else:
            note = _("管码 %(code)s：%(label)s") % {"code": data["tube_code"],
                                                 "label": forms.RESULT_LABELS[data["result"]]}
            if report.retests:
                messages.warning(request, note + _("，已为 %(n)d 人生成立即复检任务并通知防控办") % {"n": report.retests})
            elif report.findings:
                messages.error(request, note + _("，已通知防控办并记录阳性发现"))
            else:
                messages.success(request, note + _("，完成 %(n)d 项检测任务") % {"n": report.fulfilled})
            return redirect("testing:result_new")
    return render(request, "testing/result_new.html", {"form": form, "org": org})


@requires("tests.change")
def result_import(request: HttpRequest) -> HttpResponse:
    org = _acting_org(request, "tests.change")
    form = forms.ImportForm(request.POST or None, request.FILES or None, initial={"mode": "all"})
    report = None
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = importing.import_results(organization=org, name=upload.name, data=upload.read(),
                                              actor=request.user, valid_only=form.cleaned_data["mode"] == "valid")
        except ServiceError as e:
            problems = e.field_errors.get("rows") or [e.message]
            messages.error(request, _("导入未执行：%(msg)s") % {"msg": e.message})
        else:
            messages.success(request, _("已导入 %(n)d 条结果") % {"n": report.applied})
            problems = report.error_lines()
    return render(request, "testing/import.html", {"form": form, "org": org, "report": report,
                                                   "problems": problems[:500], "more": max(0, len(problems) - 500),
                                                   "what": "results"})


@requires("tests.view")
def overdue_list(request: HttpRequest) -> HttpResponse:
    unit = _unit(request, "tests.view")
    qs = selectors.overdue_tests(user=request.user, organization_id=_org_id(request),
                                 unit_path=unit.path if unit else "")
    return render(request, "testing/overdue.html", {"page": _page(request, qs), "units": _units(request, "tests.view"),
                                                    "unit_id": unit.pk if unit else None})


@requires("tests.view")
def finding_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    qs = selectors.finding_list(user=request.user, organization_id=_org_id(request),
                                status="" if status == "all" else status)
    return render(request, "testing/findings.html", {"page": _page(request, qs), "status": status})


# ----- vaccination --------------------------------------------------------------------------------------------------


@requires("vaccinations.view")
def person_vaccinations(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.visible_to(request.user, "vaccinations.view"), pk=person_id)
    can_change = Person.objects.visible_to(request.user, "vaccinations.change").filter(pk=person.pk).exists()
    form = forms.VaccinationForm(request.POST if request.POST.get("form") == "dose" else None,
                                 initial={"vaccinated_on": timezone.localdate()})
    contra_form = forms.ContraindicationForm(request.POST if request.POST.get("form") == "contra" else None)
    if request.method == "POST":
        if not can_change:
            raise Http404
        try:
            if request.POST.get("form") == "dose" and form.is_valid():
                services.vaccination_record(person=person, actor=request.user, **form.cleaned_data)
                messages.success(request, _("已登记第 %(n)d 剂") % {"n": form.cleaned_data["dose_number"]})
                return redirect("testing:person_vaccinations", person_id=person.pk)
            if request.POST.get("form") == "contra" and contra_form.is_valid():
                services.contraindication_record(person=person, actor=request.user, **contra_form.cleaned_data)
                messages.success(request, _("已登记接种禁忌"))
                return redirect("testing:person_vaccinations", person_id=person.pk)
        except ServiceError as e:
            _form_errors(form if request.POST.get("form") == "dose" else contra_form, e)
    status = services.person_vaccination_status(person)
    return render(request, "testing/person_vaccinations.html", {
        "person": person, "records": selectors.vaccinations_of(user=request.user, person=person),
        "contraindications": Contraindication.objects.filter(person=person), "status": status,
        "status_label": STATUS_LABELS[status], "form": form, "contra_form": contra_form, "can_change": can_change,
    })


@requires("vaccinations.view")
def coverage(request: HttpRequest) -> HttpResponse:
    by = request.GET.get("by", "unit")
    if by not in selectors.GROUPS:
        by = "unit"
    unit = _unit(request, "vaccinations.view")
    rows = selectors.coverage(user=request.user, by=by, organization_id=_org_id(request),
                              unit_path=unit.path if unit else "")
    return render(request, "testing/coverage.html", {
        "rows": rows, "total": selectors.coverage_total(rows), "by": by, "units": _units(request, "vaccinations.view"),
        "unit_id": unit.pk if unit else None, "complete_doses": services.complete_doses(),
    })


def _unvaccinated_qs(request: HttpRequest) -> Any:
    unit = _unit(request, "vaccinations.view")
    return selectors.unvaccinated(user=request.user, organization_id=_org_id(request),
                                  unit_path=unit.path if unit else "", q=request.GET.get("q", "").strip(),
                                  post_only=request.GET.get("post") == "1"), unit


@requires("vaccinations.view")
def unvaccinated(request: HttpRequest) -> HttpResponse:
    qs, unit = _unvaccinated_qs(request)
    page = _page(request, qs)
    units = unit_full_names(p.unit_id for p in page)
    for p in page:
        p.unit_label = units.get(p.unit_id, "")
    return render(request, "testing/unvaccinated.html", {
        "page": page, "units": _units(request, "vaccinations.view"), "unit_id": unit.pk if unit else None,
        "q": request.GET.get("q", ""), "post": request.GET.get("post") == "1",
    })


@requires("vaccinations.view")
def unvaccinated_export(request: HttpRequest) -> HttpResponse:
    """The mobilisation list (seed 000) as .xlsx; ID numbers stay masked."""
    from openpyxl import Workbook

    qs, _unit_obj = _unvaccinated_qs(request)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("未接种人员")
    sheet.append(["姓名", "证件号码", "部门", "人员类别", "重点岗位", "手机号", "接种禁忌"])
    posts = dict(Person.PostCategory.choices)
    kinds = dict(Person.Kind.choices)
    # The list is kept under Chinese headers: the people's kinds and posts are worded in Chinese too, whatever
    # language the page that asked for it is in.
    units = unit_full_names(qs.order_by().values_list("unit_id", flat=True).distinct())
    with translation.override("zh-hans"):
        for p in qs.iterator(chunk_size=2000):
            sheet.append([p.name, p.id_number_masked, units.get(p.unit_id, ""), str(kinds.get(p.kind, p.kind)),
                          str(posts.get(p.post_category, "")) if p.post_category else "", p.phone_masked,
                          "有" if p.contra else ""])
    out = BytesIO()
    book.save(out)
    return _xlsx(out.getvalue(), f"未接种人员-{timezone.localdate():%Y%m%d}.xlsx")


@requires("vaccinations.change")
def vaccination_import(request: HttpRequest) -> HttpResponse:
    org = _acting_org(request, "vaccinations.change")
    form = forms.ImportForm(request.POST or None, request.FILES or None, initial={"mode": "all"})
    report = None
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = importing.import_vaccinations(organization=org, name=upload.name, data=upload.read(),
                                                   actor=request.user,
                                                   valid_only=form.cleaned_data["mode"] == "valid")
        except ServiceError as e:
            problems = e.field_errors.get("rows") or [e.message]
            messages.error(request, _("导入未执行：%(msg)s") % {"msg": e.message})
        else:
            problems = report.error_lines()
            if report.applied:
                messages.success(request, _("已导入 %(n)d 条接种记录") % {"n": report.applied})
            elif problems:
                messages.error(request, _("文件有 %(n)d 处问题，未导入任何记录") % {"n": len(problems)})
    return render(request, "testing/import.html", {"form": form, "org": org, "report": report,
                                                   "problems": problems[:500], "more": max(0, len(problems) - 500),
                                                   "what": "vaccinations"})

