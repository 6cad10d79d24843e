"""Writes of contact tracing: cases and their status, tracing runs (snapshots, contacts, proposed measures,
disinfection obligations, investigation tasks), manual contacts, tasks, assist lists."""

from __future__ import annotations

import dataclasses
import io
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from fangkong.core import crypto
from fangkong.core.access import user_has_perm
from fangkong.core.audit import audit_record
from fangkong.core.errors import NotFound, ServiceError
from fangkong.core.rule_errors import worded
from fangkong.people.models import Person
from fangkong.tracing import isolation, rules, selectors
from fangkong.tracing.models import (
    AssistList,
    Case,
    CaseStatusChange,
    Contact,
    ContactFinding,
    Household,
    Investigation,
    InvestigationTask,
    ManualContact,
    Meeting,
    TraceSnapshot,
)
from fangkong.tracing.wording import evidence_line

CASE_FIELDS = ("onset_date", "sample_date", "report_date", "isolated_at", "source", "source_reference", "window_days")
# Seed 003: spatio-temporal companions checked within 24 h, key-area visitors within 48 h; a close contact is verified
# within a day of being found.
COMPANIONS_HOURS = 24
KEY_AREA_HOURS = 48
VERIFY_HOURS = 24


def _tz() -> Any:
    return timezone.get_current_timezone()


def _check_dates(values: Mapping[str, Any]) -> None:
    """The dates of a case checked together (creation and every update, from the pages and the API alike): none
    after today, no isolation in the future, onset and sample date within their limits of the report date."""
    problems = rules.case_date_problems(
        onset=values.get("onset_date"), sample_date=values.get("sample_date"), report_date=values.get("report_date"),
        isolated_at=values.get("isolated_at"), window_days=int(values.get("window_days") or 0), tz=_tz(),
        now=timezone.now(),
    )
    if problems:
        errors = {field: [worded(e) for e in found] for field, found in problems.items()}
        first = next(iter(errors.values()))[0]
        raise ServiceError(gettext("病例日期有误：%(error)s") % {"error": first}, errors)


def _person_in_scope(person_id: int, actor: Any, perm: str) -> Person:
    person = Person.objects.visible_to(actor, perm).select_related("organization").filter(pk=person_id).first()
    if person is None:
        raise NotFound(gettext("人员 #%(id)s 不存在或不在您的管辖范围内") % {"id": person_id})
    return person


def _history(case: Case, before: str, actor: Any, note: str = "") -> None:
    CaseStatusChange.objects.create(case=case, from_status=before, to_status=case.status, note=note[:200],
                                    actor=actor if getattr(actor, "is_authenticated", False) else None,
                                    system_actor=str(actor)[:50] if _is_system(actor) else "")


class SystemActor:
    """The system acting on its own (no user): audited as such, never allowed what needs a person's judgement."""

    is_authenticated = False

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


# A positive result proposes a case: the system records it as suspected, an office officer confirms it.
SYSTEM = SystemActor("system:positive-result")


def _is_system(actor: Any) -> bool:
    return isinstance(actor, SystemActor)


@transaction.atomic
def case_create(
    *, person_id: int, actor: Any, status: str = Case.Status.SUSPECTED, onset_date: date | None = None,
    sample_date: date | None = None, report_date: date | None = None, isolated_at: datetime | None = None,
    source: str = Case.Source.CLINIC, source_reference: str = "", window_days: int = 2,
    positive_finding_id: int | None = None,
) -> Case:
    """A case for a person in the caller's scope. Creating it as confirmed needs the confirmation right.

    The system (`SystemActor`, no user) may create suspected cases only, for any person: it acts on a positive
    result already recorded by someone entitled to, and the office confirms."""
    if _is_system(actor):
        person = Person.objects.select_related("organization").filter(pk=person_id).first()
        if person is None:
            raise NotFound(gettext("人员 #%(id)s 不存在") % {"id": person_id})
        if status != Case.Status.SUSPECTED:
            raise PermissionDenied("cases.confirm")
    else:
        person = _person_in_scope(person_id, actor, "cases.change")
    if status not in Case.Status.values or status == Case.Status.EXCLUDED:
        raise ServiceError(gettext("病例状态“%(status)s”无效，新建病例可选：疑似、确诊、无症状") % {"status": status},
                           {"status": [gettext("无效的状态")]})
    if status in (Case.Status.CONFIRMED, Case.Status.ASYMPTOMATIC) and not user_has_perm(actor, "cases.confirm"):
        raise PermissionDenied("cases.confirm")
    if source not in Case.Source.values:
        raise ServiceError(gettext("病例来源“%(source)s”无效") % {"source": source}, {"source": [gettext("无效的来源")]})
    values = {"onset_date": onset_date, "sample_date": sample_date, "report_date": report_date or timezone.localdate(),
              "isolated_at": isolated_at, "window_days": window_days}
    _check_dates(values)
    if Case.objects.filter(person=person).exclude(status=Case.Status.EXCLUDED).exists():
        raise ServiceError(gettext("%(name)s 已有未排除的病例记录，请在原病例上更新") % {"name": person.name},
                           {"person_id": [gettext("该人员已有病例")]})
    case = Case.objects.create(
        organization=person.organization, person=person, status=status, source=source,
        source_reference=source_reference, created_by=actor if getattr(actor, "is_authenticated", False) else None,
        confirmed_at=timezone.now() if status != Case.Status.SUSPECTED else None,
        positive_finding_id=positive_finding_id, **values,
    )
    _history(case, "", actor)
    Investigation.objects.create(case=case)
    audit_record(actor=actor, action="case.create", obj=case, organization_id=case.organization_id,
                 changes={"status": [None, status], "person": [None, person.name], "source": [None, source],
                          **({"positive_finding": [None, positive_finding_id]} if positive_finding_id else {}),
                          **isolation.refresh(case)})
    _alert_case(case)
    return case


def case_propose_from_finding(*, finding_id: int, actor: Any = SYSTEM) -> Case | None:
    """A positive individual result proposes a suspected case (sample date from the result, linked to the finding),
    unless the person already has an open case; the finding is marked case_proposed either way, in the same
    transaction. Returns the new case, or None when nothing was created (already handled, or an open case exists).
    Safe to call twice for the same finding: the row lock and the status check make the second call a no-op."""
    from fangkong.testing.models import PositiveFinding
    from fangkong.testing.services import finding_mark

    with transaction.atomic():
        finding = PositiveFinding.objects.select_for_update(of=("self",)).select_related("person", "sample").filter(
            pk=finding_id).first()
        if finding is None or finding.status != PositiveFinding.Status.OPEN:
            return None
        existing = Case.objects.filter(person_id=finding.person_id).exclude(status=Case.Status.EXCLUDED).first()
        case = None
        if existing is None:
            tz = _tz()
            # The registered tube's sampling time: the finding's own copy is the result row's, or the time the
            # result was entered when the row had none.
            sample_on = timezone.localtime(finding.sample.sampled_at if finding.sample_id else finding.sampled_at,
                                           tz).date()
            report_on = max(timezone.localtime(finding.reported_at, tz).date(), sample_on)
            case = case_create(
                person_id=finding.person_id, actor=actor, status=Case.Status.SUSPECTED, sample_date=sample_on,
                report_date=report_on, source=Case.Source.POSITIVE_RESULT,
                source_reference=Case.finding_reference(finding.pk, finding.sample_id),
                positive_finding_id=finding.pk)
        else:
            audit_record(actor=actor, action="case.finding_attached", obj=existing,
                         organization_id=existing.organization_id,
                         changes={"positive_finding": [None, finding.pk]})
        finding_mark(finding=finding, status=PositiveFinding.Status.CASE_PROPOSED, actor=actor)
        return case


def cases_propose_from_open_findings(*, organization_id: int | None = None) -> list[int]:
    """Every open finding (those written in bulk send no post_save): one transaction each; returns new case ids."""
    from fangkong.testing.selectors import open_findings_for_tracing

    created = []
    for fid in open_findings_for_tracing(organization_id=organization_id).order_by("id").values_list("id", flat=True):
        try:
            case = case_propose_from_finding(finding_id=fid)
        except ServiceError:
            continue  # e.g. inconsistent dates on the result: left open for the office to handle by hand
        if case is not None:
            created.append(case.pk)
    return created


@transaction.atomic
def case_update(*, case: Case, actor: Any, **values: Any) -> Case:
    """Dates and source; a status change goes through `case_set_status`."""
    unknown = set(values) - set(CASE_FIELDS) - {"status"}
    if unknown:
        raise ServiceError(gettext("不能修改的字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))},
                           {k: [gettext("不能修改")] for k in unknown})
    case = Case.objects.select_for_update().get(pk=case.pk)
    status = values.pop("status", None)
    old = {f: getattr(case, f) for f in CASE_FIELDS}
    merged = {**old, **values}
    _check_dates(merged)
    if merged.get("source") not in Case.Source.values:
        raise ServiceError(gettext("病例来源“%(source)s”无效") % {"source": merged.get("source")},
                           {"source": [gettext("无效的来源")]})
    for field, value in values.items():
        setattr(case, field, value)
    case.save()
    from fangkong.core.audit import diff

    changes = diff(old, {f: getattr(case, f) for f in CASE_FIELDS})
    if changes:
        audit_record(actor=actor, action="case.update", obj=case, organization_id=case.organization_id,
                     changes=changes)
    if status and status != case.status:
        case = case_set_status(case=case, status=status, actor=actor)
    return case


@transaction.atomic
def case_set_status(*, case: Case, status: str, actor: Any, note: str = "") -> Case:
    """suspected → confirmed / asymptomatic / excluded; confirming and excluding are the office's call."""
    if not user_has_perm(actor, "cases.confirm"):
        raise PermissionDenied("cases.confirm")
    case = Case.objects.select_for_update().select_related("person").get(pk=case.pk)
    before = case.status
    if status not in rules.TRANSITIONS.get(before, frozenset()):
        current, wanted = _status_label(before), _status_label(status)
        raise ServiceError(
            gettext("病例#%(case)s（%(name)s）当前为“%(current)s”，不能改为“%(status)s”") % {
                "case": case.pk, "name": case.person.name, "current": current, "status": wanted},
            {"status": [gettext("不允许的状态变化：%(before)s → %(status)s") % {"before": current, "status": wanted}]})
    case.status = status
    if status in (Case.Status.CONFIRMED, Case.Status.ASYMPTOMATIC) and case.confirmed_at is None:
        case.confirmed_at = timezone.now()
    case.save(update_fields=["status", "confirmed_at", "updated_at"])
    _history(case, before, actor, note)
    audit_record(actor=actor, action="case.status", obj=case, organization_id=case.organization_id,
                 changes={"status": [before, status], **isolation.refresh(case)})
    if status != Case.Status.EXCLUDED:
        _alert_case(case)
    return case


def _status_label(status: str) -> str:
    """A status by its name in the reader's language (an unknown code as it was given)."""
    return str(Case.Status(status).label) if status in Case.Status.values else status


def case_confirm(*, case: Case, actor: Any, note: str = "") -> Case:
    return case_set_status(case=case, status=Case.Status.CONFIRMED, actor=actor, note=note)


def _alert_case(case: Case) -> None:
    from fangkong.notify import recipients
    from fangkong.notify.services import notify_send

    org = case.organization
    users = recipients.org_admins(org) + recipients.jurisdiction_officers(org.jurisdiction)
    label = Case.Status(case.status).label
    notify_send(
        recipients=users, level="alert" if case.status == Case.Status.CONFIRMED else "warning",
        title={"zh-hans": f"{org.name}：{label} {case.person.name}", "en": f"{org.name}: case {case.person.name}"},
        body={"zh-hans": f"{case.person.name}（{org.name}）登记为{label}，请立即开展流调。",
              "en": f"{case.person.name} ({org.name}) is recorded as a case ({case.status}); start tracing now."},
        link=f"/tracing/cases/{case.pk}/", organization_id=org.pk, event="tracing.case",
        dedupe_key=f"case:{case.pk}:{case.status}",
    )


# --- tracing -------------------------------------------------------------------------------------------------------


# Same team on the same shift days only for a unit this small: a person attached to a workshop of hundreds is not a
# close contact of all of them (the issue: "the same team or unit"; the unit tree's leaves are teams).
TEAM_MAX = 30


def trace_params(case: Case, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults completed and checked: {window_days, min_minutes: {kind: minutes}, secondary, team_max}."""
    params = dict(params or {})
    unknown = set(params) - {"window_days", "min_minutes", "secondary", "team_max"}
    if unknown:
        raise ServiceError(gettext("未知的追踪参数：%(params)s") % {"params": ", ".join(sorted(unknown))},
                           {k: [gettext("未知参数")] for k in unknown})
    minutes = dict(rules.DEFAULT_MIN_MINUTES)
    for kind, value in dict(params.get("min_minutes") or {}).items():
        if kind not in minutes:
            raise ServiceError(gettext("场所类型“%(kind)s”不存在") % {"kind": kind},
                               {f"min_minutes.{kind}": [gettext("未知场所类型")]})
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 24 * 60:
            raise ServiceError(gettext("%(kind)s 的接触时长阈值应为 0–1440 的整数（分钟），收到 %(value)s")
                               % {"kind": kind, "value": repr(value)},
                               {f"min_minutes.{kind}": [gettext("应为 0–1440 的整数")]})
        minutes[kind] = value
    window_days = params.get("window_days", case.window_days)
    if not isinstance(window_days, int) or not 0 <= window_days <= 21:
        raise ServiceError(gettext("暴露窗口天数应为 0–21 的整数，收到 %(value)s") % {"value": repr(window_days)},
                           {"window_days": [gettext("应为 0–21")]})
    team_max = params.get("team_max", TEAM_MAX)
    if not isinstance(team_max, int) or isinstance(team_max, bool) or not 0 <= team_max <= 500:
        raise ServiceError(gettext("同班组规则的人数上限应为 0–500 的整数，收到 %(value)s") % {"value": repr(team_max)},
                           {"team_max": [gettext("应为 0–500")]})
    return {"window_days": window_days, "min_minutes": minutes, "secondary": bool(params.get("secondary", True)),
            "team_max": team_max}


def _co_evidence(items: list[rules.Evidence]) -> list[dict[str, Any]]:
    return [{"kind": "co_presence", "venue_id": e.venue_id, "from": e.start.isoformat(), "to": e.end.isoformat(),
             "minutes": e.minutes} for e in items]


def _entry_span(entry: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """First and last exposure of a found person: a secondary contact's come with its summary (its evidence lists
    only the longest co-presences), a close contact's from all its evidence."""
    if "first" in entry:
        return entry["first"], entry["last"]
    return _span(entry["evidence"])


def _span(evidence: list[dict[str, Any]]) -> tuple[datetime | None, datetime | None]:
    starts = [datetime.fromisoformat(e["from"]) for e in evidence if e.get("from")]
    ends = [datetime.fromisoformat(e["to"]) for e in evidence if e.get("to")]
    return (min(starts) if starts else None), (max(ends) if ends else None)


@dataclasses.dataclass
class TraceResult:
    window: tuple[datetime, datetime]
    found: dict[int, dict[str, Any]]
    # What the computation left out and why, stored with the snapshot: {"same_unit_skipped": {unit_id, members}}
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)


def _window(case: Case, params: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime]:
    try:
        return rules.exposure_window(onset=case.onset_date, sample_date=case.sample_date,
                                     isolated_at=case.isolated_at, until=now, tz=_tz(),
                                     days_before=params["window_days"])
    except ValueError as exc:
        error = worded(exc)
        raise ServiceError(gettext("病例#%(case)s（%(name)s）无法追踪：%(error)s") % {
            "case": case.pk, "name": case.person.name, "error": error}, {"onset_date": [error]}) from None


def find_contacts(*, case: Case, params: Mapping[str, Any], now: datetime,
                  ) -> tuple[tuple[datetime, datetime], dict[int, dict[str, Any]]]:
    """The window and {person: {degree, via, evidence}} for a case; reads only."""
    result = find_contacts_many(cases=[case], params={case.pk: params}, now=now)[case.pk]
    if isinstance(result, ServiceError):
        raise result
    return result.window, result.found


def find_contacts_many(*, cases: Sequence[Case], params: Mapping[int, Mapping[str, Any]], now: datetime,
                       ) -> dict[int, TraceResult | ServiceError]:
    """Contacts of many cases with a fixed number of queries whatever their number: one co-presence query per set of
    thresholds for all windows, one per group rule (same team on shift days, dormitory room, household, meeting),
    one for the manual contacts, one for the quarantine starts and one co-presence query for every close contact's
    secondary window (one per ≈ 400 close contacts, sent together in pipeline mode). A case that cannot be traced (no onset nor sample date) gets its ServiceError instead."""
    with selectors.gc_paused():
        return _find_contacts_many(cases=cases, params=params, now=now)


def _find_contacts_many(*, cases: Sequence[Case], params: Mapping[int, Mapping[str, Any]], now: datetime,
                        ) -> dict[int, TraceResult | ServiceError]:
    out: dict[int, TraceResult | ServiceError] = {}
    windows: dict[int, selectors.CaseWindow] = {}
    for case in cases:
        try:
            start, end = _window(case, params[case.pk], now)
        except ServiceError as exc:
            out[case.pk] = exc
            continue
        p = case.person
        windows[case.pk] = selectors.CaseWindow(case.pk, p.pk, p.organization_id, p.unit_id,
                                                p.dormitory or "", start, end)
        out[case.pk] = TraceResult(window=(start, end), found={})
    live = [c for c in cases if c.pk in windows]
    if not live:
        return out

    def add(cid: int, pid: int, evidence: list[dict[str, Any]], degree: int = 1, via: int | None = None) -> None:
        if pid == windows[cid].person_id:
            return
        found = out[cid].found  # type: ignore[union-attr]
        entry = found.setdefault(pid, {"degree": degree, "via": via, "evidence": []})
        entry["evidence"].extend(evidence)

    # Close: co-presence at venues, grouped by thresholds (one query per distinct set, usually one).
    by_thresholds: dict[str, list[int]] = defaultdict(list)
    for c in live:
        by_thresholds[json.dumps(params[c.pk]["min_minutes"], sort_keys=True)].append(c.pk)
    for key, cids in by_thresholds.items():
        wins = [selectors.IndexWindow(windows[cid].person_id, windows[cid].start, windows[cid].end) for cid in cids]
        for cid, others in zip(cids, selectors.co_presence_windows(wins, json.loads(key)), strict=True):
            for pid, items in others.items():
                add(cid, pid, _co_evidence(items))

    # Same team on shift days, for units no larger than the case's team_max.
    sizes = selectors.unit_sizes([w.unit_id for w in windows.values() if w.unit_id])
    teams = []
    for c in live:
        w = windows[c.pk]
        if not w.unit_id:
            continue
        if sizes.get(w.unit_id, 0) - 1 <= params[c.pk]["team_max"]:
            teams.append(w)
        else:
            out[c.pk].notes["same_unit_skipped"] = {  # type: ignore[union-attr]
                "unit_id": w.unit_id, "members": sizes.get(w.unit_id, 0), "team_max": params[c.pk]["team_max"]}
    for rule in (selectors.same_unit_shift_many(teams), selectors.same_dormitory_many(list(windows.values())),
                 selectors.households_many(list(windows.values())), selectors.meetings_many(list(windows.values()))):
        for cid, people in rule.items():
            for pid, ev in people.items():
                add(cid, pid, ev)
    for m in ManualContact.objects.filter(case_id__in=list(windows)).select_related("added_by"):
        at = (m.exposed_at or m.added_at).isoformat()
        add(m.case_id, m.person_id, [{"kind": "manual", "from": at, "to": at, "minutes": 0, "reason": m.reason,
                                      "by": str(m.added_by or "")}])

    # Secondary: every close contact of every case, from its first exposure to its quarantine, in one query per set
    # of thresholds.
    wanted = [c for c in live if params[c.pk]["secondary"] and out[c.pk].found]  # type: ignore[union-attr]
    starts = selectors.quarantine_starts(sorted({pid for c in wanted for pid in out[c.pk].found}))  # type: ignore
    by_thresholds = defaultdict(list)
    for c in wanted:
        by_thresholds[json.dumps(params[c.pk]["min_minutes"], sort_keys=True)].append(c.pk)
    for key, cids in by_thresholds.items():
        groups: list[list[selectors.IndexWindow]] = []
        for cid in cids:
            group = []
            for pid, entry in out[cid].found.items():  # type: ignore[union-attr]
                first, _last = _span(entry["evidence"])
                win = rules.secondary_window(first_exposure=first or windows[cid].start,
                                             quarantine_start=starts.get(pid), until=now)
                if win:
                    group.append(selectors.IndexWindow(pid, *win))
            groups.append(group)
        # Each secondary person once per case, with the co-presences of the first close contact (lowest id) who met
        # them, summarised by the server: their number, total minutes, first and last instant, and only the longest
        # three as evidence (a hundred cases' secondary search meets ≈ 2,000,000 co-presences).
        exclude = [[windows[cid].person_id] for cid in cids]
        for cid, met in zip(cids, selectors.secondary_evidence(groups, json.loads(key), exclude), strict=True):
            found = out[cid].found  # type: ignore[union-attr]
            for pid, sec in met.items():
                if pid == windows[cid].person_id or pid in found:  # the case, or a close contact already
                    continue
                found[pid] = {"degree": 2, "via": sec.via, "evidence": sec.evidence, "co_presences": sec.times,
                              "minutes_together": sec.minutes, "first": sec.first, "last": sec.last}
    for c in live:
        for entry in out[c.pk].found.values():  # type: ignore[union-attr]
            if entry["degree"] == 1 and len(entry["evidence"]) > 1:
                entry["evidence"].sort(key=lambda e: (-int(e.get("minutes") or 0), e.get("from") or ""))
    return out



def trace_check(*, case: Case, params: Mapping[str, Any] | None, now: datetime | None = None) -> dict[str, Any]:
    """What a run refuses before it computes anything, with the errors the run gives: an excluded case, bad
    parameters, a case without an exposure window (no onset nor sample date, or isolated before the window starts).
    Returns the completed parameters. Whoever queues a run calls it first, so the caller hears the refusal, not the
    worker."""
    if case.status == Case.Status.EXCLUDED:
        raise ServiceError(gettext("病例#%(case)s（%(name)s）已排除，不再追踪") % {"case": case.pk, "name": case.person.name},
                           {"status": [gettext("已排除")]})
    clean = trace_params(case, params)
    _window(case, clean, now or timezone.now())
    return clean


@transaction.atomic
def trace_run(*, case: Case, actor: Any, params: Mapping[str, Any] | None = None,
              now: datetime | None = None, result: TraceResult | None = None) -> TraceSnapshot:
    """Find the case's contacts, store a snapshot, update the contacts, propose their measures, create the
    investigation tasks and the terminal disinfection obligations. Re-running is safe: only people absent from the
    previous snapshot are marked new, measures and obligations already on file are not repeated.

    `result` is the computation when the caller made it for many cases at once (`trace_run_many`)."""
    now = now or timezone.now()
    case = Case.objects.select_related("person", "organization", "organization__jurisdiction").get(pk=case.pk)
    clean = trace_check(case=case, params=params, now=now)
    if result is None:
        computed = find_contacts_many(cases=[case], params={case.pk: clean}, now=now)[case.pk]
        if isinstance(computed, ServiceError):
            raise computed
        result = computed
    (start, end), found = result.window, result.found
    previous = case.snapshots.order_by("-started_at", "-id").first()
    before = set(previous.findings.values_list("person_id", flat=True)) if previous else set()
    snapshot = TraceSnapshot.objects.create(
        case=case, params=clean, window_start=start, window_end=end, started_at=now,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    write = _write_contacts_pg if connection.vendor == "postgresql" else _write_contacts_orm
    write(case=case, snapshot=snapshot, found=found, before=before)
    # Contacts the new computation no longer finds (a narrower window, corrected scans) stop being contacts; their
    # findings stay in the earlier snapshots.
    Contact.objects.filter(case=case).exclude(person_id__in=list(found)).delete()
    measures = _propose_measures(case=case, found=found, actor=actor, on=timezone.localdate(now))
    obligations = _disinfection(case=case, start=start, end=end)
    tasks = _investigation_tasks(case=case, found=found, now=now)
    snapshot.counts = {
        "close": sum(1 for e in found.values() if e["degree"] == 1),
        "secondary": sum(1 for e in found.values() if e["degree"] == 2),
        "new": sum(1 for pid in found if pid not in before), "measures": len(measures),
        "obligations": obligations, "tasks": tasks, **result.notes,
    }
    snapshot.finished_at = timezone.now()
    snapshot.save(update_fields=["counts", "finished_at"])
    audit_record(actor=actor, action="tracing.run", obj=snapshot, organization_id=case.organization_id,
                 object_repr=f"病例#{case.pk} {case.person.name} 追踪", changes={
                     "counts": [None, snapshot.counts], "params": [None, clean],
                     "measures_proposed": [None, [m.pk for m in measures][:500]]})
    return snapshot


# The findings and the contacts of a run (upserted on (case, person)) from one JSON document each: bulk_create passes
# arrays whose every element psycopg quotes with a regular expression (the evidence is JSON full of quotes: 3.3 s of
# a 5.4 s trace_run with 14,104 contacts).
_FINDINGS_SQL = """
INSERT INTO tracing_contactfinding (snapshot_id, person_id, degree, via_person_id, evidence, co_presences,
                                    minutes_together, is_new)
SELECT %(snapshot)s, r.p, r.d, r.v, r.e, r.c, r.m, r.n
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(p bigint, d smallint, v bigint, e jsonb, c integer, m integer,
                                              n boolean)
"""
_CONTACTS_SQL = """
INSERT INTO tracing_contact (case_id, person_id, degree, via_person_id, evidence, co_presences, minutes_together,
                             first_exposure_at, last_exposure_at, first_snapshot_id, last_snapshot_id, is_new, found_at)
SELECT %(case)s, r.p, r.d, r.v, r.e, r.c, r.m, r.f, r.l, %(snapshot)s, %(snapshot)s, r.n, %(now)s
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(p bigint, d smallint, v bigint, e jsonb, c integer, m integer,
                                              f timestamptz, l timestamptz, n boolean)
ON CONFLICT (case_id, person_id) DO UPDATE SET
    degree = EXCLUDED.degree, via_person_id = EXCLUDED.via_person_id, evidence = EXCLUDED.evidence,
    co_presences = EXCLUDED.co_presences, minutes_together = EXCLUDED.minutes_together,
    first_exposure_at = EXCLUDED.first_exposure_at, last_exposure_at = EXCLUDED.last_exposure_at,
    last_snapshot_id = EXCLUDED.last_snapshot_id, is_new = EXCLUDED.is_new
"""


def _write_contacts_orm(*, case: Case, snapshot: TraceSnapshot, found: Mapping[int, Mapping[str, Any]],
                        before: set[int]) -> None:
    """The run's findings, and its contacts upserted on (case, person)."""
    ContactFinding.objects.bulk_create([
        ContactFinding(snapshot=snapshot, person_id=pid, degree=e["degree"], via_person_id=e["via"],
                       evidence=e["evidence"], co_presences=e.get("co_presences"),
                       minutes_together=e.get("minutes_together"), is_new=pid not in before)
        for pid, e in found.items()
    ], batch_size=2000)
    rows = []
    for pid, e in found.items():
        first, last = _entry_span(e)
        rows.append(Contact(case=case, person_id=pid, degree=e["degree"], via_person_id=e["via"],
                            evidence=e["evidence"], co_presences=e.get("co_presences"),
                            minutes_together=e.get("minutes_together"), first_exposure_at=first, last_exposure_at=last,
                            first_snapshot=snapshot, last_snapshot=snapshot, is_new=pid not in before))
    Contact.objects.bulk_create(
        rows, batch_size=2000, update_conflicts=True, unique_fields=["case", "person"],
        update_fields=["degree", "via_person", "evidence", "co_presences", "minutes_together", "first_exposure_at",
                       "last_exposure_at", "last_snapshot", "is_new"],
    )


def _write_contacts_pg(*, case: Case, snapshot: TraceSnapshot, found: Mapping[int, Mapping[str, Any]],
                       before: set[int]) -> None:
    """What `_write_contacts_orm` writes, on PostgreSQL, in two statements."""
    findings, contacts = [], []
    for pid, e in found.items():
        first, last = _entry_span(e)
        row = {"p": pid, "d": e["degree"], "v": e["via"], "e": e["evidence"], "n": pid not in before,
               "c": e.get("co_presences"), "m": e.get("minutes_together")}
        findings.append(row)
        contacts.append({**row, "f": first.isoformat() if first else None, "l": last.isoformat() if last else None})
    with connection.cursor() as cur:
        cur.execute(_FINDINGS_SQL, {"snapshot": snapshot.pk, "rows": json.dumps(findings)})
        cur.execute(_CONTACTS_SQL, {"case": case.pk, "snapshot": snapshot.pk, "now": timezone.now(),
                                    "rows": json.dumps(contacts)})


def trace_run_many(*, case_ids: Sequence[int], actor: Any, params: Mapping[str, Any] | None = None,
                   now: datetime | None = None) -> tuple[list[TraceSnapshot], dict[int, str]]:
    """Many cases at once: the reads for all of them together (`find_contacts_many`), then each case's writes in its
    own transaction, so one case that cannot be traced does not stop the others. Returns the snapshots and
    {case id: error message}."""
    now = now or timezone.now()
    cases = list(Case.objects.filter(pk__in=list(case_ids)).exclude(status=Case.Status.EXCLUDED).select_related(
        "person").order_by("pk"))
    errors: dict[int, str] = {}
    clean: dict[int, dict[str, Any]] = {}
    for case in cases:
        try:
            clean[case.pk] = trace_params(case, params)
        except ServiceError as exc:
            errors[case.pk] = exc.message
    cases = [c for c in cases if c.pk in clean]
    results = find_contacts_many(cases=cases, params=clean, now=now)
    snapshots = []
    for case in cases:
        result = results[case.pk]
        if isinstance(result, ServiceError):
            errors[case.pk] = result.message
            continue
        try:
            snapshots.append(trace_run(case=case, actor=actor, params=params, now=now, result=result))
        except ServiceError as exc:
            errors[case.pk] = exc.message
    return snapshots, errors


def _propose_measures(*, case: Case, found: Mapping[int, Mapping[str, Any]], actor: Any, on: date) -> list[Any]:
    """Contacts feed the policy engine: flags say the degree, the last exposure and the case with its evidence."""
    from fangkong.access.models import Venue
    from fangkong.measures.services import record_decisions_bulk
    from fangkong.policy import rules as policy_rules
    from fangkong.policy import selectors as policy
    from fangkong.tenancy.models import Jurisdiction

    if not found:
        return []
    facts, jurisdiction_of = policy.bulk_facts(list(found), on)
    jurisdictions = Jurisdiction.objects.in_bulk(set(jurisdiction_of.values()))
    engine: dict[int, tuple[Any, Any]] = {}
    venue_ids = {e.get("venue_id") for f in found.values() for e in f["evidence"][:1] if e.get("venue_id")}
    venue_names = dict(Venue.objects.filter(pk__in=venue_ids).values_list("pk", "name"))
    decisions: dict[int, list[Any]] = {}
    digests: dict[int, str] = {}
    tz = _tz()  # once: a run proposes measures for thousands of contacts
    for pid, f in facts.items():
        entry = found[pid]
        _first, last = _entry_span(entry)
        labels = [rules.case_label(case_id=case.pk, name=case.person.name, evidence=entry["evidence"][:1],
                                   venue_names=venue_names, tz=tz, english=english) for english in (False, True)]
        flags = dataclasses.replace(
            f.flags, contact_degree=entry["degree"],
            last_exposure_on=timezone.localtime(last, tz).date() if last else on,
            case_label=labels[0], case_label_en=labels[1])
        person_facts = dataclasses.replace(f, flags=flags)
        jid = jurisdiction_of[pid]
        if jid not in engine:
            j = jurisdictions[jid]
            engine[jid] = (policy.rules_in_force(j, on), policy.area_index(policy.areas_counting(j, on)))
        rule_specs, areas = engine[jid]
        decisions[pid] = list(policy_rules.evaluate(person_facts, rule_specs, areas, on))
        digests[pid] = policy.digest_of(person_facts, on)
    return record_decisions_bulk(decisions_by_person=decisions, evaluation_date=on, actor=actor, digests=digests)


def _disinfection(*, case: Case, start: datetime, end: datetime) -> int:
    """A terminal disinfection obligation for each venue the case used in its window (one per venue and case)."""
    from fangkong.obligations.models import Obligation

    due_from = datetime.combine(case.report_date, time.min, tzinfo=_tz())
    rows = [
        Obligation(organization_id=org_id, subject_type="venue", subject_id=venue_id, kind="disinfection_terminal",
                   day=case.report_date, due_from=due_from, due_until=due_from + timedelta(days=2),
                   source=f"case:{case.pk}")
        for venue_id, org_id in selectors.venues_used(case.person_id, start, end)
    ]
    Obligation.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _investigation_tasks(*, case: Case, found: Mapping[int, Mapping[str, Any]], now: datetime) -> int:
    investigation, _ = Investigation.objects.get_or_create(case=case)
    base = investigation.created_at
    tasks = [
        InvestigationTask(investigation=investigation, organization_id=case.organization_id,
                          kind=InvestigationTask.Kind.COMPANIONS_24H, due_at=base + timedelta(hours=COMPANIONS_HOURS)),
        InvestigationTask(investigation=investigation, organization_id=case.organization_id,
                          kind=InvestigationTask.Kind.KEY_AREA_48H, due_at=base + timedelta(hours=KEY_AREA_HOURS)),
    ]
    close = [pid for pid, e in found.items() if e["degree"] == 1]
    orgs = dict(Person.objects.filter(pk__in=close).values_list("pk", "organization_id"))
    tasks += [
        InvestigationTask(investigation=investigation, organization_id=orgs[pid], person_id=pid,
                          kind=InvestigationTask.Kind.VERIFY_CONTACT, due_at=now + timedelta(hours=VERIFY_HOURS))
        for pid in close
    ]
    InvestigationTask.objects.bulk_create(tasks, ignore_conflicts=True, batch_size=2000)
    return investigation.tasks.count()


@transaction.atomic
def contact_add_manual(*, case: Case, person_id: int, reason: str, actor: Any,
                       exposed_at: datetime | None = None) -> Contact:
    """An investigator's own finding: kept by every later run; the contact gets its measures at once."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(gettext("请填写判定为密接的原因"), {"reason": [gettext("必填")]})
    person = _person_in_scope(person_id, actor, "people.view")
    if person.pk == case.person_id:
        raise ServiceError(gettext("病例本人不能作为自己的密接"), {"person_id": [gettext("病例本人")]})
    _manual, created = ManualContact.objects.get_or_create(
        case=case, person=person,
        defaults={"reason": reason[:200], "exposed_at": exposed_at,
                  "added_by": actor if getattr(actor, "is_authenticated", False) else None})
    if not created:
        raise ServiceError(gettext("%(name)s 已由人工添加为本病例的密接") % {"name": person.name},
                           {"person_id": [gettext("已添加")]})
    at = (exposed_at or timezone.now()).isoformat()
    evidence = [{"kind": "manual", "from": at, "to": at, "minutes": 0, "reason": reason[:200], "by": str(actor)}]
    contact = Contact.objects.filter(case=case, person=person).first()
    if contact is None:
        contact = Contact.objects.create(case=case, person=person, degree=1, evidence=evidence, is_new=True,
                                         first_exposure_at=exposed_at, last_exposure_at=exposed_at)
    else:
        contact.degree, contact.via_person = 1, None
        contact.evidence = evidence + list(contact.evidence)
        contact.save(update_fields=["degree", "via_person", "evidence"])
    case = Case.objects.select_related("person").get(pk=case.pk)
    _propose_measures(case=case, found={person.pk: {"degree": 1, "via": None, "evidence": contact.evidence}},
                      actor=actor, on=timezone.localdate())
    _investigation_tasks(case=case, found={person.pk: {"degree": 1}}, now=timezone.now())
    audit_record(actor=actor, action="tracing.contact_add", obj=contact, organization_id=case.organization_id,
                 object_repr=f"病例#{case.pk} 密接 {person.name}", changes={"reason": [None, reason[:200]]})
    return contact


# --- investigation tasks -------------------------------------------------------------------------------------------


def assignable_users(organization: Any) -> Any:
    """Who may be named on a task of this organisation: its admins (the prevention office) and the officers of its
    jurisdiction or any jurisdiction above it."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    path = organization.jurisdiction.path
    above = [path[: i + 1] for i, ch in enumerate(path) if ch == "/" and i > 0]
    return get_user_model().objects.filter(is_active=True).filter(
        Q(memberships__role="org_admin", memberships__organization=organization, memberships__unit__isnull=True)
        | Q(memberships__role="jurisdiction_officer", memberships__jurisdiction__path__in=above)
    ).distinct().order_by("username")


@transaction.atomic
def task_update(*, task: InvestigationTask, actor: Any, status: str | None = None, assignee: Any = None,
                note: str | None = None) -> InvestigationTask:
    task = InvestigationTask.objects.select_for_update(of=("self",)).select_related(
        "organization__jurisdiction").get(pk=task.pk)
    old = {"status": task.status, "assignee": str(task.assignee or ""), "note": task.note}
    if status is not None:
        if status not in InvestigationTask.Status.values:
            raise ServiceError(gettext("任务状态“%(status)s”无效") % {"status": status}, {"status": [gettext("无效的状态")]})
        task.status = status
        task.completed_at = timezone.now() if status == InvestigationTask.Status.DONE else None
    if assignee is not None:
        if not assignable_users(task.organization).filter(pk=assignee.pk).exists():
            raise ServiceError(gettext("%(user)s 不是%(organization)s的防疫办人员或属地防控办人员，不能负责该任务") % {
                "user": assignee, "organization": task.organization.name}, {"assignee": [gettext("不能指派给该用户")]})
        task.assignee = assignee
    if note is not None:
        task.note = note[:200]
    task.save()
    from fangkong.core.audit import diff

    audit_record(actor=actor, action="tracing.task", obj=task, organization_id=task.organization_id,
                 changes=diff(old, {"status": task.status, "assignee": str(task.assignee or ""), "note": task.note}))
    return task


def tasks_alert_overdue(now: datetime | None = None) -> int:
    """Tell each organisation's office (and its jurisdiction's officers) once about its overdue tracing tasks."""
    from fangkong.notify import recipients
    from fangkong.notify.services import notify_send
    from fangkong.tenancy.models import Organization

    now = now or timezone.now()
    alerted = 0
    with transaction.atomic():
        overdue = list(InvestigationTask.objects.select_for_update(skip_locked=True).filter(
            status=InvestigationTask.Status.OPEN, due_at__lt=now, alerted_at__isnull=True))
        by_org: dict[int, list[InvestigationTask]] = {}
        for t in overdue:
            by_org.setdefault(t.organization_id, []).append(t)
        for org in Organization.objects.filter(pk__in=list(by_org)).select_related("jurisdiction"):
            tasks = by_org[org.pk]
            users = recipients.org_admins(org) + recipients.jurisdiction_officers(org.jurisdiction)
            users += [t.assignee for t in tasks if t.assignee_id]
            notify_send(
                recipients=users, level="warning",
                title={"zh-hans": f"{org.name}：{len(tasks)} 项流调任务已逾期",
                       "en": f"{org.name}: {len(tasks)} tracing tasks overdue"},
                body={"zh-hans": "逾期任务：" + "；".join(f"{t.get_kind_display()}（期限 "
                                                      f"{timezone.localtime(t.due_at):%m-%d %H:%M}）"
                                                      for t in tasks[:10]),
                      "en": f"{len(tasks)} tracing tasks passed their deadline."},
                link="/tracing/investigations/?overdue=1", organization_id=org.pk, event="tracing.overdue",
                dedupe_key=f"tracing-overdue:{org.pk}:{min(t.pk for t in tasks)}:{len(tasks)}",
            )
            alerted += len(tasks)
        InvestigationTask.objects.filter(pk__in=[t.pk for t in overdue]).update(alerted_at=now)
    return alerted


# --- assist lists (协查) -------------------------------------------------------------------------------------------


@transaction.atomic
def assist_create_outgoing(*, case: Case, deadline: datetime, actor: Any) -> AssistList:
    """The contacts who belong to another organisation, to be sent for verification with a deadline."""
    if deadline <= timezone.now():
        raise ServiceError(gettext("反馈期限应晚于当前时间"), {"deadline": [gettext("应晚于当前时间")]})
    contacts = list(Contact.objects.filter(case=case).exclude(person__organization_id=case.organization_id)
                    .select_related("person__organization").order_by("degree", "id"))
    rows = [{"contact_id": c.pk, "person_id": c.person_id, "organization": c.person.organization.name,
             "degree": c.degree} for c in contacts]
    assist = AssistList.objects.create(
        direction=AssistList.Direction.OUTGOING, organization_id=case.organization_id, case=case,
        title=f"病例#{case.pk} {case.person.name} 密接协查函", deadline=deadline, rows=rows,
        counts={"contacts": len(rows)}, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    audit_record(actor=actor, action="assist.create", obj=assist, organization_id=case.organization_id,
                 changes={"contacts": [None, len(rows)]})
    return assist


def assist_workbook(*, assist: AssistList, actor: Any) -> bytes:
    """The .xlsx of an assist list: outgoing → the contacts to verify; incoming → the report (found / where / status).

    Full ID numbers and phones only of the people the caller may unmask (`people.unmask` in the scope holding that
    person: a list of another organisation's contacts is mostly masked); the export is audited either way, with whose
    numbers were shown. The sheet is the record sent to (or kept for) another office under Chinese headers: its
    labels and evidence are worded in Chinese too, whatever the language of the page that asked for it."""
    listed = [r["person_id"] for r in assist.rows if r.get("person_id")] \
        if assist.direction == AssistList.Direction.OUTGOING else []
    unmask = set(Person.objects.visible_to(actor, "people.unmask").filter(pk__in=listed).values_list("pk", flat=True))
    with translation.override("zh-hans"):
        content = _assist_workbook(assist, unmask=unmask)
    audit_record(actor=actor, action="assist.export", obj=assist, organization_id=assist.organization_id,
                 changes={"unmasked": [None, bool(unmask)], "unmasked_people": [None, sorted(unmask)[:500]]})
    return content


def _assist_workbook(assist: AssistList, *, unmask: set[int]) -> bytes:
    import openpyxl

    from fangkong.access.models import Venue

    wb = openpyxl.Workbook()
    ws = wb.active
    tz = _tz()
    deadline = timezone.localtime(assist.deadline, tz).strftime("%Y-%m-%d %H:%M")
    if assist.direction == AssistList.Direction.OUTGOING:
        ws.title = "协查名单"
        ws.append(["姓名", "身份证号", "手机号", "所属单位", "类别", "最后接触", "依据", "反馈期限"])
        ids = [r["contact_id"] for r in assist.rows]
        contacts = list(Contact.objects.filter(pk__in=ids).select_related("person__organization")
                        .order_by("degree", "id"))
        venue_ids = {c.evidence[0].get("venue_id") for c in contacts if c.evidence and c.evidence[0].get("venue_id")}
        venue_names = dict(Venue.objects.filter(pk__in=venue_ids).values_list("pk", "name"))
        for c in contacts:
            p = c.person
            full = p.pk in unmask
            ws.append([p.name, p.id_number if full else p.id_number_masked, p.phone if full else p.phone_masked,
                       p.organization.name, str(c.get_degree_display()),
                       timezone.localtime(c.last_exposure_at, tz).strftime("%Y-%m-%d %H:%M")
                       if c.last_exposure_at else "",
                       evidence_line(c.evidence[0], venue_names, tz) if c.evidence else "", deadline])
    else:
        ws.title = "协查反馈"
        ws.append(["行号", "姓名", "身份证号", "是否找到", "所属单位", "当前措施", "核实任务状态", "反馈期限"])
        task_status = dict(assist.tasks.values_list("person_id", "status"))
        people = Person.objects.select_related("organization").in_bulk(
            [r["person_id"] for r in assist.rows if r.get("person_id")])
        for r in assist.rows:
            found = people.get(r.get("person_id"))
            status = InvestigationTask.Status(task_status[found.pk]).label if found and found.pk in task_status else ""
            ws.append([r["row"], r["name"], r["id_masked"], "是" if found else "否",
                       found.organization.name if found else "", (found.measure_kind or "无") if found else "",
                       str(status), deadline])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_IMPORT_COLUMNS = {"name": ("姓名", "name"), "id_number": ("身份证号", "证件号码", "id_number"),
                   "phone": ("手机号", "phone")}


@transaction.atomic
def assist_import(*, data: bytes, filename: str, deadline: datetime, organization_id: int, actor: Any,
                  title: str = "") -> AssistList:
    """An incoming list matched to the ledger in the caller's scope by the ID number's and the phone's keyed hash;
    each person found gets one verification task for the organisation that holds them (a person listed on several
    rows, by ID number on one and by phone on another, still gets one: the later rows say `duplicate_of`).

    The deadline must lie ahead; a naive one is read in local time."""
    import openpyxl

    if timezone.is_naive(deadline):
        deadline = timezone.make_aware(deadline, _tz())
    if deadline <= timezone.now():
        raise ServiceError(gettext("反馈期限应晚于当前时间"), {"deadline": [gettext("应晚于当前时间")]})
    if not filename.lower().endswith(".xlsx"):
        raise ServiceError(gettext("协查名单应为 .xlsx 文件（列：姓名、身份证号、手机号）"), {"file": [gettext("只支持 .xlsx")]})
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ServiceError(gettext("Excel 文件无法读取：%(error)s") % {"error": exc}, {"file": [gettext("无法读取")]}) from None
    values = list(wb.worksheets[0].iter_rows(values_only=True))
    if not values:
        raise ServiceError(gettext("协查名单是空的"), {"file": [gettext("空文件")]})
    header = [str(h or "").strip() for h in values[0]]
    col = {key: next((header.index(n) for n in names if n in header), None) for key, names in _IMPORT_COLUMNS.items()}
    if col["id_number"] is None and col["phone"] is None:
        raise ServiceError(gettext("协查名单第 1 行缺少“身份证号”或“手机号”列"), {"file": [gettext("缺少列")]})

    def cell(row: tuple[Any, ...], key: str) -> str:
        i = col[key]
        return str(row[i]).strip() if i is not None and i < len(row) and row[i] is not None else ""

    parsed = []
    for n, row in enumerate(values[1:], start=2):
        if not any(c not in (None, "") for c in row):
            continue
        parsed.append((n, cell(row, "name"), cell(row, "id_number"), cell(row, "phone")))
    if not parsed:
        raise ServiceError(gettext("协查名单只有表头，没有人员"), {"file": [gettext("没有数据行")]})
    id_hashes = {crypto.lookup_hash(i): n for n, _nm, i, _p in parsed if i}
    phone_hashes = {crypto.lookup_hash(p): n for n, _nm, _i, p in parsed if p}
    scope = Person.objects.visible_to(actor, "assists.manage")
    by_id = {p.id_number_hash: p for p in scope.filter(id_number_hash__in=list(id_hashes)).select_related(
        "organization")}
    by_phone = {p.phone_hash: p for p in scope.filter(phone_hash__in=list(phone_hashes)).select_related(
        "organization")}
    assist = AssistList.objects.create(
        direction=AssistList.Direction.INCOMING, organization_id=organization_id, deadline=deadline,
        title=title or f"协查名单 {filename}", created_by=actor if getattr(actor, "is_authenticated", False) else None)
    rows, tasks = [], []
    first_row: dict[int, int] = {}  # person → the first row that found them
    for n, name, id_number, phone in parsed:
        person = by_id.get(crypto.lookup_hash(id_number)) if id_number else None
        if person is None and phone:
            person = by_phone.get(crypto.lookup_hash(phone))
        duplicate_of = first_row.get(person.pk) if person else None
        rows.append({"row": n, "name": name, "id_masked": crypto.mask_id_number(id_number) if id_number else "",
                     "person_id": person.pk if person else None,
                     "organization": person.organization.name if person else "",
                     "matched_by": ("id_number" if id_number and person and person.id_number_hash ==
                                    crypto.lookup_hash(id_number) else "phone") if person else "",
                     "duplicate_of": duplicate_of})
        if person and duplicate_of is None:
            first_row[person.pk] = n
            tasks.append(InvestigationTask(assist_list=assist, organization_id=person.organization_id,
                                           person=person, kind=InvestigationTask.Kind.ASSIST_VERIFY, due_at=deadline))
    InvestigationTask.objects.bulk_create(tasks)
    found = sum(1 for r in rows if r["person_id"])
    assist.rows = rows
    assist.counts = {"rows": len(rows), "found": found, "not_found": len(rows) - found, "people": len(tasks)}
    assist.save(update_fields=["rows", "counts"])
    audit_record(actor=actor, action="assist.import", obj=assist, organization_id=organization_id,
                 changes={"counts": [None, assist.counts]})
    return assist


# --- declared groups: households and meetings ----------------------------------------------------------------------


def _people_in_scope(person_ids: Sequence[int], actor: Any) -> list[Person]:
    ids = list(dict.fromkeys(int(i) for i in person_ids))
    people = Person.objects.visible_to(actor, "people.view").in_bulk(ids)
    missing = [i for i in ids if i not in people]
    if missing:
        raise NotFound(gettext("人员 #%(id)s 不存在或不在您的管辖范围内") % {"id": missing[0]})
    return [people[i] for i in ids]


def _organization_in_scope(organization_id: int, actor: Any) -> Any:
    from fangkong.tenancy.models import Organization

    org = Organization.objects.visible_to(actor, "cases.change").filter(pk=organization_id).first()
    if org is None:
        raise NotFound(gettext("单位 #%(id)s 不存在或不在您的管辖范围内") % {"id": organization_id})
    return org


@transaction.atomic
def household_declare(*, organization_id: int, name: str, person_ids: Sequence[int], actor: Any) -> Household:
    """People living together: when one becomes a case, the others are close contacts for its whole window."""
    name = (name or "").strip()
    if not name:
        raise ServiceError(gettext("请填写户名或住址"), {"name": [gettext("必填")]})
    org = _organization_in_scope(organization_id, actor)
    people = _people_in_scope(person_ids, actor)
    if len(people) < 2:
        raise ServiceError(gettext("同住家庭至少需要 2 名成员"), {"person_ids": [gettext("至少 2 人")]})
    household = Household.objects.create(organization=org, name=name[:200])
    household.members.set(people)
    audit_record(actor=actor, action="tracing.household", obj=household, organization_id=org.pk,
                 changes={"members": [None, [p.pk for p in people]]})
    return household


@transaction.atomic
def meeting_declare(*, organization_id: int, title: str, starts_at: datetime, ends_at: datetime, actor: Any,
                    venue_id: int | None = None, person_ids: Sequence[int] = ()) -> Meeting:
    """A meeting: its attendee list and/or its room (everyone admitted there during the session attended)."""
    from fangkong.access.models import Venue

    title = (title or "").strip()
    if not title:
        raise ServiceError(gettext("请填写会议名称"), {"title": [gettext("必填")]})
    if ends_at <= starts_at:
        end, start = f"{timezone.localtime(ends_at):%Y-%m-%d %H:%M}", f"{timezone.localtime(starts_at):%Y-%m-%d %H:%M}"
        raise ServiceError(gettext("会议结束时间 %(end)s 应晚于开始时间 %(start)s") % {"end": end, "start": start},
                           {"ends_at": [gettext("应晚于开始时间")]})
    org = _organization_in_scope(organization_id, actor)
    if venue_id is not None and not Venue.objects.filter(pk=venue_id, organization=org).exists():
        raise ServiceError(gettext("场所 #%(venue)s 不属于%(organization)s") % {"venue": venue_id, "organization": org.name},
                           {"venue_id": [gettext("不属于该单位")]})
    people = _people_in_scope(person_ids, actor)
    if venue_id is None and not people:
        raise ServiceError(gettext("会议需要参会人员名单或会议室（按扫码认定参会人员）"), {"person_ids": [gettext("必填其一")]})
    meeting = Meeting.objects.create(organization=org, title=title[:200], venue_id=venue_id, starts_at=starts_at,
                                     ends_at=ends_at)
    meeting.attendees.set(people)
    audit_record(actor=actor, action="tracing.meeting", obj=meeting, organization_id=org.pk,
                 changes={"attendees": [None, [p.pk for p in people]], "venue": [None, venue_id]})
    return meeting
