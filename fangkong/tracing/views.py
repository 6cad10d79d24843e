"""Pages: cases (list, register, detail with contacts and evidence, confirm, trace, manual contact), the transmission
graph, investigation tasks, assist lists."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.access.models import Venue
from fangkong.core import crypto
from fangkong.core.access import requires, user_has_perm
from fangkong.core.errors import ServiceError
from fangkong.people.models import Person
from fangkong.tracing import selectors, services
from fangkong.tracing.models import AssistList, Case, InvestigationTask
from fangkong.tracing.wording import evidence_line


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _case(request: HttpRequest, pk: int, perm: str = "cases.view") -> Case:
    return get_object_or_404(Case.objects.visible_to(request.user, perm).select_related(
        "person", "person__unit", "organization"), pk=pk)


def _error(request: HttpRequest, exc: ServiceError) -> None:
    details = _("；").join(m for ms in exc.field_errors.values() for m in ms)
    if details and details not in exc.message:
        messages.error(request, _("%(message)s（%(details)s）") % {"message": exc.message, "details": details})
    else:
        messages.error(request, exc.message)


@requires("cases.view")
def case_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    qs = selectors.case_list(user=request.user, q=q, status=status if status in Case.Status.values else "")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "tracing/case_list.html", {
        "page": page, "q": q, "status": status, "statuses": Case.Status.choices,
        "may_create": user_has_perm(request.user, "cases.change"),
    })


@requires("cases.change")
def case_create(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    people: list[Person] = []
    if q:
        qs = Person.objects.visible_to(request.user, "cases.change").select_related("organization")
        match = Q(name__icontains=q) | Q(id_number_hash=crypto.lookup_hash(q)) | Q(phone_hash=crypto.lookup_hash(q))
        people = list(qs.filter(match)[:30])
    values: dict[str, Any] = {}
    if request.method == "POST":
        values = request.POST.dict()
        try:
            isolated = parse_datetime(values.get("isolated_at", "")) if values.get("isolated_at") else None
            if isolated is not None and timezone.is_naive(isolated):
                isolated = timezone.make_aware(isolated)
            case = services.case_create(
                person_id=int(values.get("person_id") or 0), actor=request.user,
                status=values.get("status", "suspected"), onset_date=_date(values.get("onset_date", "")),
                sample_date=_date(values.get("sample_date", "")), report_date=_date(values.get("report_date", "")),
                isolated_at=isolated, source=values.get("source", "clinic"),
                source_reference=values.get("source_reference", ""),
            )
        except ServiceError as exc:
            _error(request, exc)
        except ValueError:
            messages.error(request, _("请选择人员"))
        else:
            messages.success(request, _("已登记病例 %(name)s") % {"name": case.person.name})
            return redirect("tracing:case_detail", pk=case.pk)
    return render(request, "tracing/case_form.html", {
        "q": q, "people": people, "values": values, "statuses": [s for s in Case.Status.choices if s[0] != "excluded"],
        "sources": Case.Source.choices, "today": timezone.localdate(),
    }, status=400 if request.method == "POST" else 200)


@requires("cases.view")
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    degree = request.GET.get("degree", "")
    new_only = request.GET.get("new") == "1"
    contacts = selectors.contact_list(case=case, degree=int(degree) if degree in ("1", "2") else None,
                                      new_only=new_only)
    page = Paginator(contacts, 100).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    venue_ids = {e.get("venue_id") for c in rows for e in c.evidence if e.get("venue_id")}
    venue_names = dict(Venue.objects.filter(pk__in=venue_ids).values_list("pk", "name"))
    tz = timezone.get_current_timezone()
    for c in rows:
        c.evidence_lines = [evidence_line(e, venue_names, tz) for e in c.evidence[:5]]  # type: ignore[attr-defined]
        c.more_evidence = max(0, len(c.evidence) - 5)  # type: ignore[attr-defined]
    snapshot = case.snapshots.order_by("-started_at", "-id").first()
    tasks = list(InvestigationTask.objects.filter(investigation__case=case, person__isnull=True)
                 .select_related("assignee"))
    return render(request, "tracing/case_detail.html", {
        "case": case, "page": page, "rows": rows, "degree": degree, "new_only": new_only, "snapshot": snapshot,
        "snapshots": case.snapshots.order_by("-started_at", "-id")[:10], "history": case.history.select_related(
            "actor"), "tasks": tasks, "now": timezone.now(), "assists": case.assist_lists.all()[:5],
        "may_confirm": user_has_perm(request.user, "cases.confirm") and case.status in ("suspected", "asymptomatic"),
        "may_trace": user_has_perm(request.user, "tracing.run") and case.status != "excluded",
        "may_assist": user_has_perm(request.user, "assists.manage"),
        "default_deadline": (timezone.localtime() + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"),
    })


@require_POST
@requires("cases.confirm")
def case_status(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk, "cases.confirm")
    status = request.POST.get("status", "confirmed")
    try:
        services.case_set_status(case=case, status=status, actor=request.user, note=request.POST.get("note", ""))
    except ServiceError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("病例状态已更新为“%(s)s”") % {"s": Case.Status(status).label})
    return redirect("tracing:case_detail", pk=case.pk)


@require_POST
@requires("tracing.run")
def case_trace(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk, "tracing.run")
    params: dict[str, Any] = {"secondary": request.POST.get("secondary", "1") == "1"}
    if request.POST.get("window_days", "").isdigit():
        params["window_days"] = int(request.POST["window_days"])
    try:
        snap = services.trace_run(case=case, actor=request.user, params=params)
    except ServiceError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("追踪完成：密接 %(c)d 人，次密接 %(s)d 人，新增 %(n)d 人") % {
            "c": snap.counts["close"], "s": snap.counts["secondary"], "n": snap.counts["new"]})
    return redirect("tracing:case_detail", pk=case.pk)


@require_POST
@requires("tracing.run")
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk, "tracing.run")
    raw = request.POST.get("person", "").strip()
    person = Person.objects.visible_to(request.user, "people.view").filter(
        Q(id_number_hash=crypto.lookup_hash(raw)) | Q(phone_hash=crypto.lookup_hash(raw))
        | (Q(pk=int(raw)) if raw.isdigit() and len(raw) < 12 else Q(pk__in=[]))).first() if raw else None
    if person is None:
        messages.error(request, _("未找到人员“%(raw)s”：请输入人员编号、身份证号或手机号") % {"raw": raw})
        return redirect("tracing:case_detail", pk=case.pk)
    try:
        services.contact_add_manual(case=case, person_id=person.pk, reason=request.POST.get("reason", ""),
                                    actor=request.user)
    except ServiceError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("已将 %(name)s 添加为密接") % {"name": person.name})
    return redirect("tracing:case_detail", pk=case.pk)


@requires("tracing.view")
def graph(request: HttpRequest) -> HttpResponse:
    return render(request, "tracing/graph.html", {"since": request.GET.get("since", ""),
                                                  "until": request.GET.get("until", "")})


@requires("tracing.view")
def graph_data(request: HttpRequest) -> JsonResponse:
    return JsonResponse(selectors.graph_data(user=request.user, since=_date(request.GET.get("since", "")),
                                             until=_date(request.GET.get("until", ""))))


@requires("investigations.view")
def task_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    status = request.GET.get("status", "open")
    overdue = request.GET.get("overdue") == "1"
    kind = request.GET.get("kind", "")
    qs = InvestigationTask.objects.visible_to(request.user, "investigations.view").select_related(
        "person", "assignee", "organization", "investigation__case__person")
    if status in InvestigationTask.Status.values:
        qs = qs.filter(status=status)
    if kind in InvestigationTask.Kind.values:
        qs = qs.filter(kind=kind)
    if overdue:
        qs = qs.filter(status="open", due_at__lt=now)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    may_change = user_has_perm(request.user, "investigations.change")
    # Only people who may take the task: the acting organisation's office and the officers above it.
    membership = getattr(request, "membership", None)
    org = membership.organization if membership and membership.organization_id else None
    if org is None and membership and membership.jurisdiction_id:
        users = list(get_user_model().objects.filter(
            is_active=True, memberships__role="jurisdiction_officer",
            memberships__jurisdiction_id=membership.jurisdiction_id).distinct().order_by("username")[:200])
    else:
        users = list(services.assignable_users(org)[:200]) if org is not None else []
    users = users if may_change else []
    # A contact's organisation sees the task but maybe not the case (another organisation's): no link, no name.
    case_ids = {t.investigation.case_id for t in page.object_list if t.investigation is not None}
    visible_cases = set(Case.objects.visible_to(request.user).filter(pk__in=case_ids).values_list("pk", flat=True))
    return render(request, "tracing/task_list.html", {
        "page": page, "status": status, "overdue": overdue, "kind": kind, "now": now, "users": users,
        "visible_cases": visible_cases,
        "statuses": InvestigationTask.Status.choices, "kinds": InvestigationTask.Kind.choices,
        "may_change": may_change,
    })


@require_POST
@requires("investigations.change")
def task_update(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(InvestigationTask.objects.visible_to(request.user, "investigations.change"), pk=pk)
    assignee = None
    if request.POST.get("assignee", "").isdigit():
        assignee = get_object_or_404(get_user_model(), pk=int(request.POST["assignee"]), is_active=True)
    try:
        services.task_update(task=task, actor=request.user, status=request.POST.get("status") or None,
                             assignee=assignee, note=request.POST.get("note"))
    except ServiceError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("任务已更新"))
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect("tracing:task_list")


@requires("assists.view")
def assist_list(request: HttpRequest) -> HttpResponse:
    qs = AssistList.objects.visible_to(request.user, "assists.view").select_related("case__person")
    direction = request.GET.get("direction", "")
    if direction in AssistList.Direction.values:
        qs = qs.filter(direction=direction)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    membership = getattr(request, "membership", None)
    return render(request, "tracing/assist_list.html", {
        "page": page, "direction": direction, "may_manage": user_has_perm(request.user, "assists.manage"),
        "organization_id": membership.organization_id if membership else None,
        "default_deadline": (timezone.localtime() + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"),
    })


def _deadline(raw: str) -> datetime:
    value = parse_datetime(raw) if raw else None
    if value is None:
        raise ServiceError(_("反馈期限格式应为 YYYY-MM-DD HH:MM"), {"deadline": [_("格式有误")]})
    return timezone.make_aware(value) if timezone.is_naive(value) else value


@require_POST
@requires("assists.manage")
def assist_outgoing(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk, "tracing.view")
    try:
        assist = services.assist_create_outgoing(case=case, deadline=_deadline(request.POST.get("deadline", "")),
                                                 actor=request.user)
    except ServiceError as exc:
        _error(request, exc)
        return redirect("tracing:case_detail", pk=case.pk)
    messages.success(request, _("已生成协查名单（%(n)d 人），可下载 Excel") % {"n": assist.counts["contacts"]})
    return redirect("tracing:assist_list")


@require_POST
@requires("assists.manage")
def assist_import(request: HttpRequest) -> HttpResponse:
    from fangkong.tenancy.models import Organization

    upload = request.FILES.get("file")
    org_id = request.POST.get("organization_id", "")
    org = Organization.objects.visible_to(request.user, "assists.manage").filter(
        pk=int(org_id) if org_id.isdigit() else 0).first()
    if upload is None or org is None:
        messages.error(request, _("请选择协查名单文件（.xlsx）和接收单位"))
        return redirect("tracing:assist_list")
    try:
        assist = services.assist_import(data=upload.read(), filename=upload.name or "", organization_id=org.pk,
                                        deadline=_deadline(request.POST.get("deadline", "")), actor=request.user)
    except ServiceError as exc:
        _error(request, exc)
        return redirect("tracing:assist_list")
    messages.success(request, _("协查名单已导入：%(rows)d 行，找到 %(found)d 人，未找到 %(nf)d 人") % {
        "rows": assist.counts["rows"], "found": assist.counts["found"], "nf": assist.counts["not_found"]})
    return redirect("tracing:assist_list")


@requires("assists.view")
def assist_download(request: HttpRequest, pk: int) -> HttpResponse:
    assist = get_object_or_404(AssistList.objects.visible_to(request.user, "assists.view"), pk=pk)
    content = services.assist_workbook(assist=assist, actor=request.user)
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="assist-{assist.pk}.xlsx"'
    return response



def _people_lines(request: HttpRequest, raw: str) -> list[int]:
    """One ID number or mobile number per line → people in the caller's scope; an unknown line is an error."""
    ids: list[int] = []
    scope = Person.objects.visible_to(request.user, "people.view")
    for n, line in enumerate(raw.splitlines(), start=1):
        value = line.strip()
        if not value:
            continue
        h = crypto.lookup_hash(value)
        pid = scope.filter(Q(id_number_hash=h) | Q(phone_hash=h)).values_list("pk", flat=True).first()
        if pid is None:
            shown = crypto.mask_id_number(value) if len(value) > 11 else value[:3] + "****" + value[-4:]
            raise ServiceError(_("人员名单第 %(n)d 行：未找到 %(shown)s（按身份证号或手机号匹配，限本人管辖范围）")
                               % {"n": n, "shown": shown}, {"people": [_("第 %(n)d 行未找到") % {"n": n}]})
        ids.append(pid)
    return ids


def _aware(raw: str) -> datetime | None:
    value = parse_datetime(raw) if raw else None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@requires("cases.view")
def groups(request: HttpRequest) -> HttpResponse:
    """Households and meetings: declared here, used by every later tracing run as close-contact evidence."""
    from fangkong.tracing.models import Household, Meeting

    membership = getattr(request, "membership", None)
    org_id = membership.organization_id if membership else None
    may_change = user_has_perm(request.user, "cases.change") and org_id is not None
    if request.method == "POST":
        if not may_change or org_id is None:
            raise PermissionDenied("cases.change")
        try:
            people = _people_lines(request, request.POST.get("people", ""))
            if request.POST.get("kind") == "meeting":
                starts, ends = _aware(request.POST.get("starts_at", "")), _aware(request.POST.get("ends_at", ""))
                if starts is None or ends is None:
                    raise ServiceError(_("请填写会议的开始和结束时间"), {"starts_at": [_("必填")]})
                venue = request.POST.get("venue_id", "")
                services.meeting_declare(organization_id=org_id, title=request.POST.get("title", ""),
                                         starts_at=starts, ends_at=ends, person_ids=people, actor=request.user,
                                         venue_id=int(venue) if venue.isdigit() else None)
                messages.success(request, _("会议已登记"))
            else:
                services.household_declare(organization_id=org_id, name=request.POST.get("name", ""),
                                           person_ids=people, actor=request.user)
                messages.success(request, _("同住家庭已登记"))
        except ServiceError as exc:
            _error(request, exc)
        return redirect("tracing:groups")
    households = Household.objects.visible_to(request.user, "cases.view").prefetch_related("members")[:50]
    meetings = Meeting.objects.visible_to(request.user, "cases.view").select_related("venue").prefetch_related(
        "attendees")[:50]
    venues = Venue.objects.filter(organization_id=org_id, active=True).order_by("kind", "name") if org_id else []
    return render(request, "tracing/groups.html", {
        "households": households, "meetings": meetings, "venues": venues, "may_change": may_change})
