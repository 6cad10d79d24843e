"""The person ledger (人员台账) pages: list, detail, create/edit, archive, unmask, Excel import and export.

Every person is looked up through `Person.objects.visible_to(user, perm)` with the permission the action needs, so a
person of another tenant (or outside a unit leader's units) is a 404 and a POST to it changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.core.access import requires, user_has_perm
from fangkong.core.errors import ServiceError
from fangkong.people import exporting, forms, services, tasks
from fangkong.people.models import ImportJob, Person
from fangkong.people.selectors import person_list
from fangkong.tenancy.models import Organization, Unit

PAGE_SIZE = 50


def _apply_errors(form: Any, error: ServiceError) -> None:
    """A service's refusal on the form: on the named fields when the form has them, otherwise on top."""
    placed = False
    for field, msgs in error.field_errors.items():
        name = {"unit_id": "unit", "residence_region_code": "residence_region"}.get(field, field)
        if name in form.fields:
            for msg in msgs:
                form.add_error(name, msg)
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _acting_org(request: HttpRequest, perm: str) -> Organization | None:
    """The organisation the user acts for: the header's membership, or (officers) the `org` parameter."""
    orgs = Organization.objects.visible_to(request.user, perm)
    membership = getattr(request, "membership", None)
    org_id = membership.organization_id if membership else None
    if not org_id:
        raw = request.GET.get("org") or request.POST.get("org") or ""
        org_id = int(raw) if raw.isdigit() else None
    if not org_id:
        return None
    return orgs.filter(pk=org_id).first()


def _units_for(request: HttpRequest, org: Organization | None, perm: str) -> Any:
    if org is None:
        return Unit.objects.none()
    return Unit.objects.visible_to(request.user, perm).filter(organization=org).order_by("path")


def _filters(request: HttpRequest) -> dict[str, Any]:
    g = request.GET
    unit = g.get("unit", "")
    kind = g.get("kind", "")
    return {
        "q": g.get("q", "").strip(),
        "unit_id": int(unit) if unit.isdigit() else None,
        "kind": kind if kind in Person.Kind.values else "",
        "include_archived": g.get("archived") == "1",
    }


def _filtered(request: HttpRequest) -> tuple[Any, Organization | None, dict[str, Any]]:
    org = _acting_org(request, "people.view")
    f = _filters(request)
    membership = getattr(request, "membership", None)
    if membership and membership.organization_id and org is None:
        # The acting organisation is not one the user may see people of: show nothing rather than everything.
        return Person.objects.none(), None, f
    qs = person_list(user=request.user, organization_id=org.pk if org else None, **f)
    return qs, org, f


def _may(request: HttpRequest, perm: str, person: Person) -> bool:
    return Person.objects.visible_to(request.user, perm).filter(pk=person.pk).exists()


@requires("people.view")
def people_list(request: HttpRequest) -> HttpResponse:
    qs, org, f = _filtered(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    membership = getattr(request, "membership", None)
    choose_org = not (membership and membership.organization_id)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "people/people_list.html", {
        "page": page, "org": org, "f": f, "kinds": Person.Kind.choices,
        "units": _units_for(request, org, "people.view"),
        "orgs": Organization.objects.visible_to(request.user, "people.view").order_by("name") if choose_org else None,
        "filtered": bool(f["q"] or f["unit_id"] or f["kind"] or f["include_archived"]),
        "query": query.urlencode(),
        "query_items": [(k, v) for k, values in query.lists() for v in values if k != "unmasked"],
        "can_unmask": org is not None and Person.objects.visible_to(request.user, "people.unmask")
        .filter(organization=org).exists(),
        "can_export": user_has_perm(request.user, "people.export"),
        "can_create": org is not None and Organization.objects.visible_to(request.user, "people.change")
        .filter(pk=org.pk).exists(),
        "can_import": org is not None and Organization.objects.visible_to(request.user, "people.import")
        .filter(pk=org.pk).exists(),
    })


@requires("people.view")
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(
        Person.objects.visible_to(request.user, "people.view").select_related("unit", "organization",
                                                                             "residence_region"), pk=pk)
    return _detail(request, person)


def _detail(request: HttpRequest, person: Person, revealed: dict[str, str] | None = None) -> HttpResponse:
    return render(request, "people/person_detail.html", {
        "person": person, "revealed": revealed or {},
        "can_unmask": _may(request, "people.unmask", person),
        "can_edit": _may(request, "people.change", person),
        "can_archive": person.is_active and _may(request, "people.delete", person),
    })


@requires("people.unmask")
@require_POST
def person_unmask(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one personal value in clear, once, and record who looked (the service audits it)."""
    person = get_object_or_404(
        Person.objects.visible_to(request.user, "people.unmask").select_related("unit", "organization",
                                                                               "residence_region"), pk=pk)
    field = request.POST.get("field", "id_number")
    try:
        value = services.person_unmask(person=person, actor=request.user, field=field)
    except ServiceError as e:
        messages.error(request, e.message)
        return redirect("person_detail", pk=person.pk)
    return _detail(request, person, revealed={field: value})


@requires("people.delete")
@require_POST
def person_archive(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.visible_to(request.user, "people.delete"), pk=pk)
    services.person_archive(person=person, actor=request.user, reason=request.POST.get("reason", "").strip())
    messages.success(request, _("已将 %(name)s 移出在册人员（记录保留）") % {"name": person.name})
    return redirect("person_detail", pk=person.pk)


def _unit_required(request: HttpRequest, org: Organization, units: Any) -> bool:
    """A unit leader may only add people to their own units: a person without a unit would vanish from their view."""
    return units.count() < Unit.objects.filter(organization=org).count()


@requires("people.change")
def person_create(request: HttpRequest) -> HttpResponse:
    org = _acting_org(request, "people.change")
    if org is None:
        messages.error(request, _("请先在页眉选择要添加人员的单位"))
        return redirect("people_list")
    units = _units_for(request, org, "people.change")
    form = forms.PersonForm(request.POST or None, units=units)
    if _unit_required(request, org, units):
        form.fields["unit"].required = True
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_create(organization=org, actor=request.user, **form.service_values())
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, _("已添加：%(name)s") % {"name": person.name})
            return redirect("person_detail", pk=person.pk)
    return render(request, "people/person_form.html", {"form": form, "org": org, "person": None})


@requires("people.change")
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(Person.objects.visible_to(request.user, "people.change").select_related("organization"),
                               pk=pk)
    units = _units_for(request, person.organization, "people.change")
    form = forms.PersonForm(request.POST or None, units=units, person=person, initial=forms.person_initial(person))
    if _unit_required(request, person.organization, units):
        form.fields["unit"].required = True
    if request.method == "POST" and form.is_valid():
        try:
            services.person_update(person=person, actor=request.user, **form.service_values(editing=True))
        except ServiceError as e:
            _apply_errors(form, e)
        else:
            messages.success(request, _("已保存：%(name)s") % {"name": person.name})
            return redirect("person_detail", pk=person.pk)
    return render(request, "people/person_form.html", {"form": form, "org": person.organization, "person": person})


# --- Excel import and export ---------------------------------------------------------------------------------------


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=exporting.XLSX)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@requires("people.import")
def people_import_template(request: HttpRequest) -> HttpResponse:
    org = _acting_org(request, "people.import")
    return _xlsx(exporting.template_workbook(org), "人员台账导入模板.xlsx")


@requires("people.import")
def people_import(request: HttpRequest) -> HttpResponse:
    org = _acting_org(request, "people.import")
    if org is None:
        messages.error(request, _("请先在页眉选择要导入人员的单位"))
        return redirect("people_list")
    form = forms.ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        job = ImportJob(organization=org, created_by=request.user, original_name=upload.name[:255])  # type: ignore[misc]
        job.file.save(f"{org.pk}-{timezone.now():%Y%m%d%H%M%S}.xlsx", upload, save=False)
        job.save()
        # Autocommit has written the job: the worker will find it (in tests Huey runs the task right here).
        tasks.import_validate(job.pk, translation.get_language())
        return redirect("people_import_job", pk=job.pk)
    jobs = ImportJob.objects.visible_to(request.user).filter(organization=org).select_related("created_by")[:10]
    return render(request, "people/import.html", {"form": form, "org": org, "jobs": jobs})


def _job(request: HttpRequest, pk: int) -> ImportJob:
    return get_object_or_404(ImportJob.objects.visible_to(request.user).select_related("organization"), pk=pk)


@requires("people.import")
def people_import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    return render(request, "people/import_job.html", {"job": job, "error_lines": job.error_lines()})


@requires("people.import")
def people_import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """Polled by HTMX every second while the job runs; when it stops, the whole page reloads to show the result."""
    job = _job(request, pk)
    response = render(request, "people/_import_progress.html", {"job": job})
    if not job.running:
        response["HX-Refresh"] = "true"
    return response


@requires("people.import")
@require_POST
def people_import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    counts = job.counts or {}
    if job.status == ImportJob.Status.VALIDATED and not sum(counts.get(k, 0) for k in ("new", "updated", "unchanged")):
        # Nothing valid to write: "importing" it would only record an empty import (the button is not shown).
        messages.error(request, _("没有可导入的有效行：请按问题清单修改文件后重新上传"))
        return redirect("people_import_job", pk=job.pk)
    # A conditional update: a double click (or two tabs) cannot start the same import twice.
    started = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATED).update(
        status=ImportJob.Status.COMMITTING, processed=0, updated_at=timezone.now())
    if not started:
        messages.error(request, _("该导入任务当前不能确认（状态：%(s)s）") % {"s": job.get_status_display()})
        return redirect("people_import_job", pk=job.pk)
    tasks.import_commit(job.pk, request.user.pk, translation.get_language())
    job.refresh_from_db()
    if job.status == ImportJob.Status.DONE:
        messages.success(request, _("导入完成：新增 %(c)s 人，更新 %(u)s 人，跳过 %(s)s 行") % {
            "c": job.counts.get("created", 0), "u": job.counts.get("updated", 0), "s": job.counts.get("skipped", 0)})
    return redirect("people_import_job", pk=job.pk)


@requires("people.import")
@require_POST
def people_import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    cancelled = ImportJob.objects.filter(
        pk=job.pk, status__in=[ImportJob.Status.PENDING, ImportJob.Status.VALIDATING, ImportJob.Status.VALIDATED,
                               ImportJob.Status.FAILED],
    ).update(status=ImportJob.Status.CANCELLED, updated_at=timezone.now())
    if cancelled:
        job.refresh_from_db()
        if job.file:
            job.file.delete(save=True)
        messages.info(request, _("已取消导入，未写入任何数据"))
    return redirect("people_import")


@requires("people.export")
def people_export(request: HttpRequest) -> HttpResponse:
    """The list page's filters, as a spreadsheet. Masked unless `unmasked=1` and the user may unmask every row."""
    qs, org, f = _filtered(request)
    qs = qs.filter(pk__in=Person.objects.visible_to(request.user, "people.export").values("pk"))
    unmasked = request.GET.get("unmasked") == "1"
    if unmasked:
        outside = qs.exclude(pk__in=Person.objects.visible_to(request.user, "people.unmask").values("pk"))
        if outside.exists():
            return HttpResponseForbidden(_("没有导出完整证件号码和手机号的权限"))
    content = exporting.export_workbook(
        people=qs, actor=request.user, unmasked=unmasked, organization_id=org.pk if org else None,
        filters={k: v for k, v in f.items() if v},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return _xlsx(content, f"人员台账-{stamp}.xlsx")
