"""Visitors beyond appointments: finding the host without exposing the ledger, and walk-ins at the gate.

A walk-in (a visitor without an appointment) is registered by the gatekeeper: the visitor becomes a ledger person of
kind visitor (de-duplicated by ID number) with a pending visit that the host, or an approver of the organisation
(`visits.approve`), approves. The gate console polls the visit and admits once it is approved; the admission is an
ordinary scan, so the decision (approved visit, fever, health code) is the one every other entry gets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Replace
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.access import rules, services
from fangkong.access.models import Scan, Venue, Visit
from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import worded
from fangkong.people.models import Person

HOST_SALT = "fangkong.host"
HOST_MIN_CHARS = 2
HOST_LIMIT = 5
# A walk-in's visit lasts this long from registration (the approval must come while the visitor waits).
WALKIN_WINDOW = timedelta(hours=4)


def _fail(field_name: str, message: str) -> ServiceError:
    return ServiceError(message, {field_name: [message]})


# --- host search ---------------------------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """张三 → 张*, 王主任 → 王*任, 欧阳娜娜 → 欧**娜: enough for the visitor to recognise, not to harvest."""
    name = name or ""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


@dataclass(frozen=True)
class HostQuery:
    text: str  # a part of the Chinese name, or pinyin (words separated by spaces, or initials)
    unit_hint: str

    @property
    def is_latin(self) -> bool:
        return bool(re.fullmatch(r"[a-z ]+", self.text))


def parse_host_query(raw: str, unit_hint: str = "") -> HostQuery:
    """'wzr 财务' → name 'wzr', unit hint '财务'; 'wang zhu' → pinyin 'wang zhu'; '王 财务' → '王', '财务'.
    Latin words belong to the name (pinyin); the first Chinese word is the name unless pinyin came first, and
    further Chinese words are the unit hint. A separate unit hint (a form field) wins."""
    words = " ".join(str(raw or "").split()).lower().split(" ")
    latin = [w for w in words if re.fullmatch(r"[a-z]+", w)]
    other = [w for w in words if w and w not in latin]
    if latin:
        text, hint = " ".join(latin), " ".join(other)
    else:
        text, hint = (other[0] if other else ""), " ".join(other[1:])
    return HostQuery(text, " ".join(str(unit_hint or "").split()) or hint)


def _initials_regex(initials: str) -> str:
    # name_sort is 'wang zhu ren': initials 'wzr' match '^w[a-z]* z[a-z]* r[a-z]*( |$)'; 'wz' matches the start.
    return "^" + " ".join(f"{c}[a-z]*" for c in initials) + "( |$)"


def host_candidates(*, organization_id: int, q: str, unit_hint: str = "", limit: int = HOST_LIMIT
                    ) -> tuple[list[Person], bool]:
    """People of the organisation a visitor may name as host, for a query of at least two characters: a part of
    the Chinese name, the full pinyin ('wangzhuren', 'wang zhu'), or the pinyin initials ('wzr'), optionally
    narrowed by a unit hint ('wzr 财务'). Returns (at most `limit` people, whether there were more)."""
    query = parse_host_query(q, unit_hint)
    if len(query.text.replace(" ", "")) < HOST_MIN_CHARS:
        raise _fail("q", gettext("请至少输入 %(n)d 个字（或拼音字母）") % {"n": HOST_MIN_CHARS})
    if len(query.text) > 32 or len(query.unit_hint) > 32:
        raise _fail("q", gettext("输入过长，请只输入被访人姓名（或拼音首字母）和部门"))
    qs = (Person.objects.filter(organization_id=organization_id, is_active=True)
          .exclude(kind=Person.Kind.VISITOR).select_related("unit").defer("id_number", "phone"))
    if query.is_latin:
        joined = query.text.replace(" ", "")
        qs = qs.annotate(_joined=Replace("name_sort", Value(" "), Value("")))
        match = Q(name_sort__startswith=query.text) | Q(_joined__startswith=joined)
        if " " not in query.text:
            match |= Q(name_sort__regex=_initials_regex(query.text))
    else:
        match = Q(name__contains=query.text)
    qs = qs.filter(match)
    if query.unit_hint:
        qs = qs.filter(unit__name__contains=query.unit_hint)
    rows = list(qs.order_by("name_sort", "id")[:limit + 1])
    return rows[:limit], len(rows) > limit


def host_token(person: Person) -> str:
    """What the booking form carries for the picked host: signed, so a visitor cannot name an arbitrary id."""
    return signing.dumps([person.organization_id, person.pk], salt=HOST_SALT)


def host_from_token(token: str, *, organization_id: int) -> Person:
    try:
        org_id, person_id = signing.loads(token, salt=HOST_SALT, max_age=timedelta(days=1))
    except (signing.BadSignature, ValueError, TypeError):
        raise _fail("host_name", gettext("被访人选择无效，请重新搜索并选择被访人")) from None
    person = Person.objects.filter(pk=person_id, organization_id=organization_id, is_active=True).exclude(
        kind=Person.Kind.VISITOR).first()
    if org_id != organization_id or person is None:
        raise _fail("host_name", gettext("被访人选择无效，请重新搜索并选择被访人"))
    return person


# --- walk-ins at the gate ------------------------------------------------------------------------------------------


@dataclass
class WalkIn:
    visit: Visit | None
    scan: Scan | None  # a refusal recorded at once (fever, yellow or red code): no host is bothered then


def _approvers(visit: Visit) -> list[Any]:
    from fangkong.notify.recipients import org_admins, person_user

    users = person_user(visit.host) if visit.host.user_id else []
    return users or org_admins(visit.organization)


@transaction.atomic
def walkin_register(*, venue: Venue, host: Person, name: str, id_number: str, phone: str, purpose: str,
                    actor: Any, company: str = "", temperature: Decimal | None = None, health_code: str = "",
                    now: datetime | None = None) -> WalkIn:
    """Register a visitor who came without an appointment. A fever or a yellow/red code is refused on the spot
    (an ordinary scan: the refusal is logged and a fever alerts the prevention office); otherwise the visit waits
    for the host's approval and the gate console shows it."""
    now = now or timezone.now()
    if host.organization_id != venue.organization_id or not host.is_active or host.kind == Person.Kind.VISITOR:
        raise _fail("host", gettext("请选择本单位的被访人"))
    if not (purpose or "").strip():
        raise _fail("purpose", gettext("请填写来访事由"))
    try:
        temperature = rules.check_temperature(temperature)
        health_code = rules.check_health_code(health_code)
    except ValueError as exc:
        raise _fail("temperature" if "体温" in str(exc) else "health_code", worded(exc)) from None
    visitor = services.visitor_find_or_create(organization=venue.organization, name=name, id_number=id_number,
                                              phone=phone, actor=actor)
    threshold = services.effective_fever_threshold(services.setting_for(venue.organization_id), venue)
    if (temperature is not None and temperature >= threshold) or health_code in ("yellow", "red"):
        scan, _ = services.scan_record(
            actor=actor, venues=Venue.objects.filter(pk=venue.pk), people=Person.objects.filter(pk=visitor.pk),
            venue_id=venue.pk, person_id=visitor.pk, at=now, temperature=temperature, health_code=health_code,
            device_id=f"gate-user-{getattr(actor, 'pk', '')}",
        )
        return WalkIn(None, scan)
    open_visit = Visit.objects.filter(
        visitor=visitor, walk_in=True, status__in=[Visit.Status.PENDING, Visit.Status.APPROVED], ends_at__gte=now,
    ).first()
    if open_visit is not None:
        raise _fail("id_number", gettext("%(name)s 已在 %(at)s 登记，当前状态：%(status)s，请在待审批列表中查看") % {
            "name": visitor.name, "at": f"{timezone.localtime(open_visit.created_at):%H:%M}",
            "status": open_visit.get_status_display()})
    visit = Visit.objects.create(
        organization_id=venue.organization_id, visitor=visitor, host=host, company=(company or "").strip(),
        purpose=purpose.strip(), starts_at=now, ends_at=now + WALKIN_WINDOW, health_code=health_code,
        walk_in=True, venue=venue, gate_temperature=temperature,
        registered_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(actor=actor, action="visit.walk_in", obj=visit, organization_id=venue.organization_id,
                 changes={"host": [None, host.name], "venue": [None, venue.name]})
    from fangkong.notify.services import notify_send

    temp = f"，体温 {temperature}℃" if temperature is not None else ""
    notify_send(
        recipients=_approvers(visit),
        title={"zh-hans": f"访客在{venue.name}等候审批：{visitor.name}",
               "en": f"Visitor waiting at {venue.name}: {visitor.name}"},
        body={"zh-hans": f"{visitor.name}（{company or '个人'}）未预约来访，现在{venue.name}等候{temp}。"
                         f"被访人：{host.name}，事由：{purpose}。请尽快同意或拒绝。",
              "en": f"{visitor.name} came without an appointment to see {host.name}: {purpose}. Please decide."},
        link=reverse("access:visit_list") + "?status=pending", level="warning",
        organization_id=venue.organization_id, event="access.walk_in", dedupe_key=f"access.visit.{visit.pk}.walkin",
    )
    return WalkIn(visit, None)


def walkins_at_gate(*, organization_id: int | None, now: datetime | None = None) -> Any:
    """Today's walk-ins still in play at the gate: waiting, approved and not yet admitted, or refused in the
    last hour (so the gatekeeper sees the answer)."""
    now = now or timezone.now()
    return (Visit.objects.filter(organization_id=organization_id or 0, walk_in=True)
            .filter(Q(status__in=[Visit.Status.PENDING, Visit.Status.APPROVED], ends_at__gte=now)
                    | Q(status=Visit.Status.REFUSED, decided_at__gte=now - timedelta(hours=1)))
            .select_related("visitor", "host", "venue").defer("visitor__id_number", "visitor__phone")
            .order_by("created_at"))


# --- changing a visit ----------------------------------------------------------------------------------------------

_VISIT_FIELDS = ("host", "company", "purpose", "starts_at", "ends_at", "places_14d", "health_code")


@transaction.atomic
def visit_update(*, visit: Visit, actor: Any, **values: Any) -> Visit:
    """Correct a visit that has not happened yet (a new time window, another host). Arrived, refused and
    cancelled visits are history and stay as they were."""
    unknown = set(values) - set(_VISIT_FIELDS)
    if unknown:
        raise ServiceError(gettext("未知字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if visit.status not in (Visit.Status.PENDING, Visit.Status.APPROVED):
        raise _fail("status", gettext("该预约当前为“%(status)s”，不能修改") % {"status": visit.get_status_display()})
    host = values.get("host")
    if host is not None and (host.organization_id != visit.organization_id or not host.is_active
                             or host.kind == Person.Kind.VISITOR):
        raise _fail("host_id", gettext("被访人不在本单位台账中"))
    if "purpose" in values and not (values["purpose"] or "").strip():
        raise _fail("purpose", gettext("请填写来访事由"))
    if "health_code" in values:
        try:
            values["health_code"] = rules.check_health_code(values["health_code"] or "")
        except ValueError as exc:
            raise _fail("health_code", worded(exc)) from None
    starts, ends = values.get("starts_at", visit.starts_at), values.get("ends_at", visit.ends_at)
    try:
        rules.check_visit_window(starts, ends)
    except ValueError as exc:
        raise _fail("ends_at", worded(exc)) from None
    changes = {k: [str(getattr(visit, k)), str(v)] for k, v in values.items() if getattr(visit, k) != v}
    for key, value in values.items():
        setattr(visit, key, value.strip() if isinstance(value, str) else value)
    if visit.status == Visit.Status.APPROVED and {"host", "starts_at", "ends_at"} & set(changes):
        # Another host or another time is another request: it needs a new approval.
        changes["status"] = [visit.status, Visit.Status.PENDING]
        visit.status = Visit.Status.PENDING
    visit.save()
    if changes:
        audit_record(actor=actor, action="visit.update", obj=visit, organization_id=visit.organization_id,
                     changes=changes)
    return visit
