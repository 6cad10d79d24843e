"""Entry-control pages: venues and posters, the scan log, the gate console (HTMX), the member's pass, the public
venue-scan and booking pages, visits for hosts, vehicle passes.

Every object is looked up through `visible_to(user, perm)`, so another tenant's venue is a 404. The public pages
trust only signed tokens (venue code, booking link, visit pass).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.access import (
    capacity,
    exporting,
    forms,
    healthcodes,
    posters,
    ratelimit,
    rules,
    selectors,
    services,
    visitors,
)
from fangkong.access.models import Scan, VehiclePass, Venue, Visit
from fangkong.core import crypto
from fangkong.core.access import public, requires
from fangkong.core.errors import NotFound, ServiceError
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization


def _org_id(request: HttpRequest) -> int | None:
    membership = getattr(request, "membership", None)
    return membership.organization_id if membership else None


def _may(request: HttpRequest, perm: str, organization_id: int | None) -> bool:
    return organization_id is not None and Organization.objects.visible_to(request.user, perm).filter(
        pk=organization_id).exists()


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _apply_errors(form: Any, error: ServiceError) -> None:
    placed = False
    for name, msgs in error.field_errors.items():
        if name in form.fields:
            for msg in msgs:
                form.add_error(name, msg)
            placed = True
    if not placed:
        form.add_error(None, error.message)


def _filters(request: HttpRequest) -> str:
    """The list's query string without paging or export: what an export link carries and its audit notes."""
    query = request.GET.copy()
    for key in ("page", "export"):
        query.pop(key, None)
    return query.urlencode()


def _xlsx(data: bytes, title: str) -> HttpResponse:
    response = HttpResponse(data, content_type=exporting.XLSX)
    response["Content-Disposition"] = content_disposition_header(
        True, f"{title}-{timezone.localdate():%Y%m%d}.xlsx")
    return response


def _scan_url(request: HttpRequest, venue: Venue) -> str:
    return request.build_absolute_uri(reverse("access:venue_scan", args=[services.venue_token(venue)]))


# --- venues --------------------------------------------------------------------------------------------------------


@requires("venues.view")
def venue_list(request: HttpRequest) -> HttpResponse:
    org_id = _org_id(request)
    qs = Venue.objects.visible_to(request.user, "venues.view")
    if org_id:
        qs = qs.filter(organization_id=org_id)
    q, kind = request.GET.get("q", "").strip(), request.GET.get("kind", "")
    if q:
        qs = qs.filter(name__icontains=q)
    if kind:
        qs = qs.filter(kind=kind)
    can_change = _may(request, "venues.change", org_id)
    form = forms.VenueForm(request.POST or None)
    if request.method == "POST":
        if not can_change or org_id is None:
            raise Http404
        if form.is_valid():
            try:
                venue = services.venue_create(organization=Organization.objects.get(pk=org_id), actor=request.user,
                                              **form.cleaned_data)
            except ServiceError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("已添加场所“%(name)s”") % {"name": venue.name})
                return redirect("access:venue_detail", pk=venue.pk)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    inside = selectors.occupancy_by_venue(Venue.objects.filter(pk__in=[v.pk for v in page]))
    rows = [{"venue": v, "inside": inside.get(v.pk, 0), "state": rules.occupancy_state(inside.get(v.pk, 0),
                                                                                       v.capacity)} for v in page]
    return render(request, "access/venue_list.html", {
        "page": page, "rows": rows, "q": q, "kind": kind, "kinds": Venue.Kind.choices, "form": form,
        "can_change": can_change, "show_form": request.method == "POST",
    })


@requires("venues.view")
def venue_detail(request: HttpRequest, pk: int) -> HttpResponse:
    venue = get_object_or_404(Venue.objects.visible_to(request.user, "venues.view").select_related("organization"),
                              pk=pk)
    can_change = _may(request, "venues.change", venue.organization_id)
    form = forms.VenueForm(request.POST or None, initial={
        "name": venue.name, "kind": venue.kind, "capacity": venue.capacity,
        "max_stay_minutes": venue.max_stay_minutes, "fever_threshold": venue.fever_threshold,
        "active": venue.active})
    if request.method == "POST":
        if not can_change:
            raise Http404
        if form.is_valid():
            try:
                services.venue_update(venue=venue, actor=request.user, **form.cleaned_data)
            except ServiceError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("已保存"))
                return redirect("access:venue_detail", pk=venue.pk)
    url = _scan_url(request, venue)
    inside = services.occupancy(venue)
    return render(request, "access/venue_detail.html", {
        "venue": venue, "form": form, "can_change": can_change, "scan_url": url, "qr": posters.qr_svg(url),
        "inside": inside, "state": rules.occupancy_state(inside, venue.capacity),
    })


@require_POST
@requires("venues.change")
def venue_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    venue = get_object_or_404(Venue.objects.visible_to(request.user, "venues.change"), pk=pk)
    services.venue_rotate_code(venue=venue, actor=request.user)
    messages.success(request, _("场所码已更换，请重新打印张贴，旧码已失效"))
    return redirect("access:venue_detail", pk=venue.pk)


@requires("venues.view")
def venue_posters(request: HttpRequest) -> HttpResponse:
    """One PDF with a page per venue: ?ids=1&ids=2, or every active venue of the acting organisation."""
    qs = Venue.objects.visible_to(request.user, "venues.view").select_related("organization")
    ids = [i for i in map(selectors.query_id, request.GET.getlist("ids")) if i is not None]
    qs = qs.filter(pk__in=ids) if ids else qs.filter(organization_id=_org_id(request), active=True)
    venues = list(qs)
    if ids and len(venues) != len(set(ids)):
        raise Http404
    try:
        pdf = posters.posters_pdf(
            (v.organization.name, v.name, v.get_kind_display(), _scan_url(request, v)) for v in venues)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("access:venue_list")
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"venue-{venues[0].pk}.pdf" if len(venues) == 1 else "venue-posters.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@requires("venues.change")
def settings_page(request: HttpRequest) -> HttpResponse:
    org = get_object_or_404(Organization.objects.visible_to(request.user, "venues.change"), pk=_org_id(request) or 0)
    setting = services.setting_for(org.pk)
    form = forms.SettingForm(request.POST or None, initial={
        "fever_threshold": setting.fever_threshold, "refuse_unknown": setting.refuse_unknown,
        "health_code_provider": setting.health_code_provider})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        provider = data.pop("health_code_provider") or setting.health_code_provider
        try:
            with transaction.atomic():
                services.setting_update(organization=org, actor=request.user, **data)
                healthcodes.setting_provider_update(organization=org, actor=request.user,
                                                    health_code_provider=provider)
        except ServiceError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("出入管理设置已保存"))
            return redirect("access:settings")
    return render(request, "access/settings.html", {
        "org": org, "form": form, "setting": setting, "effective": services.effective_fever_threshold(setting),
        "provider_manual": healthcodes.is_manual(), "provider_label": healthcodes.provider_label()})


# --- scan log ---------------------------------------------------------------------------------------------------

VENUE_CHOICES = 100


@requires("scans.view")
def scan_list(request: HttpRequest) -> HttpResponse:
    org_id = _org_id(request)
    venue_id = request.GET.get("venue", "")
    person_id = request.GET.get("person", "")
    decision = request.GET.get("decision", "")
    day_raw = request.GET.get("day", "")
    try:
        day = date.fromisoformat(day_raw) if day_raw else None
    except ValueError:
        day = None
        messages.error(request, _("日期格式应为 YYYY-MM-DD"))
    if day is not None and not selectors.day_in_range(day):
        messages.error(request, _("日期应在 %(first)s 至 %(last)s 之间") % {
            "first": selectors.FIRST_DAY.isoformat(), "last": selectors.LAST_DAY.isoformat()})
        day = None
    qs = selectors.scan_list(
        user=request.user, organization_id=org_id, venue_id=selectors.query_id(venue_id),
        person_id=selectors.query_id(person_id), day=day, decision=decision,
    )
    # The count of a big, filtered log is the slow part; a venue+day filter keeps it on the (venue, at) index.
    venue_q = request.GET.get("venue_q", "").strip()
    if venue_q:
        qs = qs.filter(venue__name__icontains=venue_q)
    if request.GET.get("export") == "xlsx":
        return _xlsx(exporting.scans_xlsx(scans=qs, actor=request.user, filters=_filters(request),
                                          organization_id=org_id), "出入记录")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    venues = Venue.objects.visible_to(request.user, "scans.view")
    if org_id:
        venues = venues.filter(organization_id=org_id)
    # A drop-down for a gate or two; a large organisation (hundreds of venues) gets a name search instead.
    venue_choices = list(venues.only("id", "name")[:VENUE_CHOICES + 1])
    many = len(venue_choices) > VENUE_CHOICES
    current = next((v for v in venue_choices if str(v.pk) == venue_id), None)
    if many and selectors.query_id(venue_id) and current is None:
        current = venues.filter(pk=selectors.query_id(venue_id)).only("id", "name").first()
    return render(request, "access/scan_list.html", {
        "page": page, "venues": [] if many else venue_choices, "many_venues": many, "current_venue": current,
        "venue_id": venue_id, "venue_q": venue_q, "person_id": person_id, "decision": decision, "day": day_raw,
        "export_query": _filters(request),
    })


# --- gate console --------------------------------------------------------------------------------------------------


def _gate_venues(request: HttpRequest) -> Any:
    qs = Venue.objects.visible_to(request.user, "scans.create").filter(active=True)
    org_id = _org_id(request)
    return qs.filter(organization_id=org_id) if org_id else qs


def _gate_people(request: HttpRequest) -> Any:
    org_id = _org_id(request)
    return Person.objects.filter(organization_id__in=_gate_venues(request).values("organization_id"),
                                 **({"organization_id": org_id} if org_id else {}))


def _today_visits(request: HttpRequest) -> Any:
    start, end = selectors.day_bounds(timezone.localdate())
    return (Visit.objects.visible_to(request.user, "visits.view").filter(
        organization_id=_org_id(request), starts_at__lt=end, ends_at__gte=start)
        .exclude(status=Visit.Status.CANCELLED).select_related("visitor", "host").order_by("starts_at"))


@requires("scans.create")
def gate(request: HttpRequest) -> HttpResponse:
    # Gates first: the console is for gatekeepers, and the first venue is the one preselected.
    venues = sorted(_gate_venues(request), key=lambda v: (v.kind != Venue.Kind.GATE, v.name))
    return render(request, "access/gate.html", {
        "venues": venues, "form": forms.GateScanForm(initial={"venue": request.GET.get("venue")}),
        "walkin": forms.WalkInForm(), "visits": _today_visits(request).exclude(walk_in=True),
        "codes": forms._CODE_CHOICES,
        "selected_venue": request.GET.get("venue", str(venues[0].pk) if venues else ""),
    })


def _decision_response(request: HttpRequest, scan: Scan | None, error: str = "", replay: bool = False,
                       health: healthcodes.Consultation | None = None) -> HttpResponse:
    inside = capacity_state = None
    if scan is not None and scan.direction == "entry" and scan.decision == "admit" and not replay:
        inside, capacity_state = capacity.after_admit(scan)
    elif scan is not None:
        inside = services.occupancy(scan.venue)
        capacity_state = rules.occupancy_state(inside, scan.venue.capacity)
    return render(request, "access/_decision.html", {
        "scan": scan, "error": error, "inside": inside, "state": capacity_state, "replay": replay,
        "health": health,
    })


@require_POST
@requires("scans.create")
def gate_scan(request: HttpRequest) -> HttpResponse:
    form = forms.GateScanForm(request.POST)
    if not form.is_valid():
        first = next(iter(form.errors.values()))[0]
        return _decision_response(request, None, error=str(first))
    data = form.cleaned_data
    people = _gate_people(request)
    try:
        if data["code"]:
            person = services.person_from_pass(data["code"], people=people)
        elif data["person"]:
            person = people.filter(pk=data["person"]).first()
            if person is None:
                raise NotFound(_("人员不在本单位台账中"))
        else:
            raise ServiceError(_("请扫描或输入通行码，或先搜索人员"))
        now = timezone.now()
        direction = data["direction"] or "entry"
        health_code = data["health_code"] or ""
        health = None
        if not health_code and direction == "entry":
            # Nothing entered (a scanner gun submits at once): the interface's colour, if the organisation uses
            # one; down or unknown → the decision goes without it and the console says so.
            health = healthcodes.consult(person, now)
            health_code = health.colour
        scan, replay = services.scan_record(
            actor=request.user, venues=_gate_venues(request), people=people, venue_id=data["venue"],
            person_id=person.pk, direction=direction, at=now, temperature=data["temperature"],
            health_code=health_code, device_id=f"gate-user-{request.user.pk}",
        )
    except ServiceError as exc:
        return _decision_response(request, None, error=exc.message)
    return _decision_response(request, scan, replay=replay, health=health)


@requires("scans.create")
def gate_health_code(request: HttpRequest) -> HttpResponse:
    """The interface's colour for the person just identified (picked from the search, or a typed pass code), to
    pre-select on the console before the gatekeeper submits; they can choose another. Empty when the organisation
    enters codes by hand."""
    people = _gate_people(request)
    person = None
    person_id, code = request.GET.get("person", ""), request.GET.get("code", "").strip()
    if selectors.query_id(person_id) is not None:
        person = people.filter(pk=selectors.query_id(person_id)).first()
    elif code:
        try:
            person = services.person_from_pass(code, people=people)
        except ServiceError:
            person = None  # the scan itself words the error
    health = healthcodes.consult(person) if person is not None else healthcodes.OFF
    return render(request, "access/_health_code.html", {
        "health": health, "person": person, "code": code if selectors.query_id(person_id) is None else ""})


@requires("scans.create")
def gate_search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    people: list[Person] = []
    if len(q) >= 1:
        # A full phone number is found by its hash (the number itself is encrypted); otherwise search by name.
        match = Q(name__icontains=q) | Q(phone_hash=crypto.lookup_hash(q)) if q.isdigit() else Q(name__icontains=q)
        people = list(_gate_people(request).filter(match, is_active=True).order_by("name_sort")[:10])
    return render(request, "access/_search_results.html", {"people": people, "q": q})


@requires("scans.create")
def gate_hosts(request: HttpRequest) -> HttpResponse:
    """Host search for the walk-in form (staff see full names: they have the ledger anyway)."""
    q = request.GET.get("host_q", "").strip()
    people: list[Person] = []
    error, more = "", False
    if q:
        try:
            people, more = visitors.host_candidates(organization_id=_org_id(request) or 0, q=q, limit=8)
        except ServiceError as exc:
            error = exc.message
    return render(request, "access/_gate_hosts.html", {"people": people, "q": q, "error": error, "more": more})


def _may_approve(request: HttpRequest) -> bool:
    return _may(request, "visits.approve", _org_id(request))


def _walkins_response(request: HttpRequest, notice: str = "") -> HttpResponse:
    walkins = list(visitors.walkins_at_gate(organization_id=_org_id(request)))
    return render(request, "access/_walkins.html", {
        "walkins": walkins, "can_approve": _may_approve(request), "notice": notice,
    })


@requires("scans.create")
def gate_walkins(request: HttpRequest) -> HttpResponse:
    """The gate's walk-ins waiting for approval or admission; the console polls this every few seconds."""
    return _walkins_response(request)


@require_POST
@requires("scans.create")
def gate_walkin(request: HttpRequest) -> HttpResponse:
    """A visitor without an appointment at the gate: on the ledger as a visitor, with a visit that waits for the
    host's (or an approver's) decision. A fever or a yellow/red code is refused at once instead."""
    form = forms.WalkInForm(request.POST)
    if not form.is_valid():
        return _decision_response(request, None, error=str(next(iter(form.errors.values()))[0]))
    data = form.cleaned_data
    venue = _gate_venues(request).filter(pk=data["venue"]).select_related("organization").first()
    if venue is None:
        return _decision_response(request, None, error=_("请选择场所"))
    host = Person.objects.filter(organization_id=venue.organization_id, pk=data["host"] or 0).first()
    if host is None:
        return _decision_response(request, None, error=_("请先搜索并选择被访人"))
    try:
        result = visitors.walkin_register(
            venue=venue, host=host, name=data["name"], id_number=data["id_number"], phone=data["phone"],
            purpose=data["purpose"], company=data["company"], temperature=data["temperature"],
            health_code=data["health_code"] or "", actor=request.user,
        )
    except ServiceError as exc:
        return _decision_response(request, None, error=exc.message)
    if result.scan is not None:
        return _decision_response(request, result.scan)
    assert result.visit is not None
    response = render(request, "access/_walkin_registered.html", {"visit": result.visit})
    response["HX-Trigger"] = "walkins-changed"
    return response


@require_POST
@requires("visits.approve")
def gate_visit_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """An authorised approver at the gate decides a walk-in on the console itself."""
    visit = get_object_or_404(Visit.objects.visible_to(request.user, "visits.approve").filter(
        organization_id=_org_id(request)), pk=pk)
    notice = ""
    try:
        services.visit_decide(visit=visit, approve=request.POST.get("approve") == "1",
                              note=request.POST.get("note", ""), actor=request.user)
    except ServiceError as exc:
        notice = exc.message
    return _walkins_response(request, notice)


# --- the member's pass and the public venue-scan page --------------------------------------------------------------


@requires("self.view")
def pass_page(request: HttpRequest) -> HttpResponse:
    person = Person.objects.filter(user_id=request.user.pk or 0, is_active=True).first()
    if person is None:
        return render(request, "access/pass.html", {"person": None})
    code = services.pass_code_issue(person=person)
    token = services.pass_token(person)
    return render(request, "access/pass.html", {
        "person": person, "code": code, "qr": posters.qr_svg(token, scale=5), "ttl": services.PASS_TTL.seconds // 60,
    })


@public
def venue_scan(request: HttpRequest, token: str) -> HttpResponse:
    if not request.user.is_authenticated:  # visitors identify by form: limited per IP and per venue code
        wait = ratelimit.check(request, "venue_scan", token)
        if wait is not None:
            return ratelimit.too_many(request, wait)
    try:
        venue = services.venue_from_token(token)
    except ServiceError as exc:
        return render(request, "access/venue_scan.html", {"error": exc.message}, status=exc.status)
    member = None
    if request.user.is_authenticated:
        member = Person.objects.filter(user=request.user, organization_id=venue.organization_id).first()
    form = forms.VisitorIdentityForm(request.POST or None)
    direction = request.POST.get("direction", "entry") if request.method == "POST" else "entry"
    if request.method == "POST":
        try:
            if member is not None:
                person = member
            elif form.is_valid():
                person = services.visitor_find_or_create(
                    organization=venue.organization, name=form.cleaned_data["name"],
                    id_number=form.cleaned_data["id_number"], phone=form.cleaned_data["phone"])
            else:
                person = None
            if person is not None:
                now = timezone.now()
                # Nobody enters a colour on the phone: the interface's, if the organisation uses one (else, or when
                # it is down, the last colour seen at a gate within a day decides, as before).
                code = healthcodes.consult(person, now).colour if direction != "exit" else ""
                scan, _replay = services.scan_record(
                    actor=request.user if member else "扫码登记", venues=Venue.objects.filter(pk=venue.pk),
                    people=Person.objects.filter(pk=person.pk), venue_id=venue.pk, person_id=person.pk,
                    direction="exit" if direction == "exit" else "entry", at=now, device_id="phone",
                    health_code=code,
                )
                inside, state = capacity.after_admit(scan)
                return render(request, "access/venue_scan.html", {"venue": venue, "scan": scan, "person": person,
                                                                  "inside": inside, "state": state})
        except ServiceError as exc:
            _apply_errors(form, exc)
            if member is not None:
                return render(request, "access/venue_scan.html", {"venue": venue, "error": exc.message})
    return render(request, "access/venue_scan.html", {"venue": venue, "member": member, "form": form})


# --- visitors ------------------------------------------------------------------------------------------------------


@requires("visits.view")
def visit_book_link(request: HttpRequest) -> HttpResponse:
    """The booking link and its QR for the acting organisation, to print at the gate."""
    org = get_object_or_404(Organization.objects.visible_to(request.user, "visits.view"), pk=_org_id(request) or 0)
    url = request.build_absolute_uri(reverse("access:book", args=[services.book_token(org)]))
    return render(request, "access/book_link.html", {"org": org, "url": url, "qr": posters.qr_svg(url)})


@public
@ratelimit.rate_limited("book")
def book(request: HttpRequest, token: str) -> HttpResponse:
    try:
        org = services.organization_from_book_token(token)
    except ServiceError:
        raise Http404 from None
    form = forms.BookingForm(request.POST or None)
    picked = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        host = None
        try:
            if data["host"]:
                host = visitors.host_from_token(data["host"], organization_id=org.pk)
                picked = visitors.mask_name(host.name)
            else:
                # Without a pick (no JavaScript): an exact, unique full name still works.
                hosts = Person.objects.filter(organization=org, is_active=True).exclude(kind=Person.Kind.VISITOR)
                matches = list(hosts.filter(name=data["host_name"].strip())[:2])
                if len(matches) != 1:
                    raise ServiceError(_("请输入被访人姓名（或拼音首字母）后，从搜索结果中选择被访人"),
                                       {"host_name": [_("请输入被访人姓名（或拼音首字母）后，从搜索结果中选择被访人")]})
                host = matches[0]
            visit = services.visit_book(
                organization=org, host=host, name=data["name"], id_number=data["id_number"],
                phone=data["phone"], company=data["company"], purpose=data["purpose"],
                starts_at=data["starts_at"], ends_at=data["ends_at"], places_14d=data["places_14d"],
                health_code=data["health_code"],
            )
        except ServiceError as exc:
            _apply_errors(form, exc)
        else:
            return redirect("access:visit_pass", token=services.visit_token(visit))
    return render(request, "access/book.html", {"org": org, "form": form, "token": token, "picked": picked,
                                                "min_chars": visitors.HOST_MIN_CHARS})


@public
@ratelimit.rate_limited("host_search")
def book_hosts(request: HttpRequest, token: str) -> HttpResponse:
    """The public host search: masked names and unit names only, a few results, at least two characters."""
    try:
        org = services.organization_from_book_token(token)
    except ServiceError:
        raise Http404 from None
    q = request.GET.get("host_name", "").strip()
    unit = (request.GET.get("host_unit") or request.GET.get("unit") or "").strip()
    rows: list[dict[str, str]] = []
    error, more = "", False
    if q:
        try:
            people, more = visitors.host_candidates(organization_id=org.pk, q=q, unit_hint=unit)
        except ServiceError as exc:
            error = exc.message
        else:
            rows = [{"token": visitors.host_token(p), "name": visitors.mask_name(p.name),
                     "unit": p.unit.name if p.unit else ""} for p in people]
    return render(request, "access/_book_hosts.html", {"rows": rows, "q": q, "error": error, "more": more})


@public
@ratelimit.rate_limited("visit_pass")
def visit_pass(request: HttpRequest, token: str) -> HttpResponse:
    try:
        visit = services.visit_from_token(token)
    except ServiceError:
        raise Http404 from None
    qr, code = "", None
    if visit.status == Visit.Status.APPROVED:
        # The QR is signed with its time and lives five minutes: the page reloads itself before it runs out, and
        # also shows a short code the visitor can read out at the gate.
        qr = posters.qr_svg(services.pass_token(visit.visitor), scale=5)
        code = services.pass_code_issue(person=visit.visitor)
    refresh = 240 if qr else 30 if visit.status == Visit.Status.PENDING else 0
    return render(request, "access/visit_pass.html", {"visit": visit, "qr": qr, "code": code, "refresh": refresh,
                                                      "host_name": visitors.mask_name(visit.host.name)})


@requires("visits.host")
def visit_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "pending")
    approver = Visit.objects.visible_to(request.user, "visits.approve").values("pk")
    qs = Visit.objects.filter(Q(pk__in=approver) | Q(host__user=request.user)).select_related("visitor", "host")
    if status in Visit.Status.values:
        qs = qs.filter(status=status)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(visitor__name__icontains=q) | Q(company__icontains=q) | Q(host__name__icontains=q))
    if request.GET.get("export") == "xlsx":
        return _xlsx(exporting.visits_xlsx(visits=qs.order_by("-starts_at", "-id"), actor=request.user,
                                           filters=_filters(request), organization_id=_org_id(request)), "访客登记")
    page = Paginator(qs.order_by("-starts_at", "-id"), 30).get_page(request.GET.get("page"))
    return render(request, "access/visit_list.html", {
        "page": page, "status": status, "statuses": Visit.Status.choices, "q": q, "export_query": _filters(request),
    })


@require_POST
@requires("visits.host")
def visit_decide(request: HttpRequest, pk: int) -> HttpResponse:
    approver = Visit.objects.visible_to(request.user, "visits.approve").values("pk")
    visit = get_object_or_404(Visit.objects.filter(Q(pk__in=approver) | Q(host__user=request.user)), pk=pk)
    approve = request.POST.get("approve") == "1"
    try:
        services.visit_decide(visit=visit, approve=approve, note=request.POST.get("note", ""), actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已同意来访") if approve else _("已拒绝来访"))
    return redirect(reverse("access:visit_list") + "?status=pending")


# --- vehicles ------------------------------------------------------------------------------------------------------


@requires("vehicles.view")
def vehicle_list(request: HttpRequest) -> HttpResponse:
    org_id = _org_id(request)
    qs = VehiclePass.objects.visible_to(request.user, "vehicles.view").select_related("driver")
    if org_id:
        qs = qs.filter(organization_id=org_id)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(plate__icontains=q.upper()) | Q(driver__name__icontains=q))
    if request.GET.get("inside") == "1":
        qs = qs.filter(time_out__isnull=True)
    if request.GET.get("export") == "xlsx":
        return _xlsx(exporting.vehicles_xlsx(vehicles=qs, actor=request.user, filters=_filters(request),
                                             organization_id=org_id), "车辆通行")
    can_change = _may(request, "vehicles.change", org_id)
    form = forms.VehicleForm(request.POST or None)
    if request.method == "POST":
        if not can_change or org_id is None:
            raise Http404
        if form.is_valid():
            data = form.cleaned_data
            org = Organization.objects.get(pk=org_id)
            try:
                driver = Person.objects.filter(organization=org, pk=data["driver"]).first() if data["driver"] else None
                if driver is None:
                    # Staff register the driver: one of the organisation's own people is found too (by ID number
                    # and name), not only a visitor.
                    driver = services.visitor_find_or_create(
                        organization=org, name=data["driver_name"], id_number=data["driver_id_number"],
                        phone=data["driver_phone"], actor=request.user, members=True)
                services.vehicle_create(
                    organization=org, actor=request.user, plate=data["plate"], driver=driver,
                    origin=data["origin"], destination=data["destination"], cargo=data["cargo"],
                    disinfected=data["disinfected"], disinfected_by=data["disinfected_by"],
                    disinfectant=data["disinfectant"],
                )
            except ServiceError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("已登记车辆 %(plate)s") % {"plate": data["plate"].upper()})
                return redirect("access:vehicle_list")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "access/vehicle_list.html", {
        "page": page, "q": q, "form": form, "can_change": can_change, "show_form": request.method == "POST",
        "inside": request.GET.get("inside", ""), "export_query": _filters(request),
    })


@require_POST
@requires("vehicles.change")
def vehicle_exit(request: HttpRequest, pk: int) -> HttpResponse:
    vehicle = get_object_or_404(VehiclePass.objects.visible_to(request.user, "vehicles.change"), pk=pk)
    try:
        services.vehicle_exit(vehicle=vehicle, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已登记 %(plate)s 离开") % {"plate": vehicle.plate})
    return redirect("access:vehicle_list")
