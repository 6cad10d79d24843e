"""Recording the engine's decisions as measures, and confirming them.

Decisions come from `fangkong.policy.rules.evaluate` (plain dataclasses). Recording is idempotent: a decision that
is already on file (same person, rule, start and end) or that repeats a current measure (same rule and end date, found
again later by a re-evaluation) creates nothing. A different decision of the same kind creates a new measure and
marks the current one superseded, linked from the new one, so nothing recorded is ever rewritten.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.core import crypto
from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import enumeration, worded
from fangkong.measures import bulk, rules
from fangkong.measures.models import Measure, MeasureCustodian, MeasureTest
from fangkong.people.models import Person

# The restriction kinds replace each other (a raised area turns home quarantine into centralized); other kinds
# (routine testing, temperature checks …) stand beside them, one current measure per kind.
RESTRICTIONS = frozenset({"centralized_quarantine", "home_quarantine", "home_health_monitoring"})


def kind_group(kind: str) -> str:
    return "restriction" if kind in RESTRICTIONS else kind


# Which test kinds of the engine map to MeasureTest kinds (the engine may say "nucleic_acid" or "nat").
_TEST_KINDS = {"nat": "nat", "nucleic_acid": "nat", "antigen": "antigen", "antibody": "antibody"}


def _rule_ids(decisions: Iterable[Any]) -> dict[tuple[str, str], int]:
    """(policy number, rule key) → Rule id, in one query, so the measure links the rule that decided it."""
    from fangkong.policy.models import Rule

    keys = {(d.policy_number, d.rule_key) for d in decisions}
    if not keys:
        return {}
    numbers = {n for n, _k in keys}
    rule_keys = {k for _n, k in keys}
    out: dict[tuple[str, str], int] = {}
    for rid, number, key in Rule.objects.filter(policy__number__in=numbers, key__in=rule_keys).values_list(
        "id", "policy__number", "key"
    ).order_by("id"):
        out.setdefault((number, key), rid)
    return out


def _tests_of(decision: Any) -> list[tuple[str, int, date]]:
    """(kind, day, due date) of a decision's tests, once each."""
    out: list[tuple[str, int, date]] = []
    seen: set[tuple[str, int]] = set()
    for t in getattr(decision, "tests", ()) or ():
        kind = _TEST_KINDS.get(str(t.kind), str(t.kind))
        if (kind, t.day) not in seen:
            seen.add((kind, t.day))
            out.append((kind, t.day, t.due_date))
    return out


def _followups(decision: Any) -> list[Any]:
    out = []
    for f in getattr(decision, "followups", ()) or ():
        if isinstance(f, str | int | float | dict | list) or f is None:
            out.append(f)
        else:
            out.append(str(f))
    return out


class _Existing(NamedTuple):
    id: int
    person_id: int
    kind: str
    status: str
    rule_key: str
    start_date: date
    end_date: date | None


def _existing_measures(person_ids: Sequence[int]) -> list[_Existing]:
    where, params = bulk.in_ids("person_id", person_ids)
    rows = bulk.fetch(
        f"SELECT id, person_id, kind, status, rule_key, start_date, end_date FROM {Measure._meta.db_table} "
        f"WHERE {where}", params)
    return [_Existing(*r) for r in rows]


def record_decisions_bulk(
    *,
    decisions_by_person: Mapping[int, Sequence[Any]],
    evaluation_date: date,
    actor: Any,
    digests: Mapping[int, str] | None = None,
) -> list[Measure]:
    """Set-based recording for many people at once (re-evaluation); returns the measures created.

    Whatever the number of people: one query for their measures on file, one for the rules, one id allocation,
    one COPY of measures, one of tests, one insert of test obligations, one update of the superseded ones.
    Call it inside a transaction.
    """
    decisions_by_person = {pid: list(ds) for pid, ds in decisions_by_person.items() if ds}
    if not decisions_by_person:
        return []
    digests = digests or {}
    existing: dict[int, list[_Existing]] = defaultdict(list)
    exact: set[tuple[int, str, date, date | None]] = set()
    for m in _existing_measures(list(decisions_by_person)):
        exact.add((m.person_id, m.rule_key, m.start_date, m.end_date))
        if m.status in Measure.CURRENT:
            existing[m.person_id].append(m)
    rule_ids = _rule_ids(d for ds in decisions_by_person.values() for d in ds)
    user_id = actor.pk if getattr(actor, "is_authenticated", False) else None

    new: list[tuple[Measure, Any]] = []
    superseded: list[int] = []
    for pid, decisions in decisions_by_person.items():
        for d in decisions:
            key = (pid, d.rule_key, d.start_date, d.end_date)
            if key in exact:
                continue
            group = kind_group(d.measure_kind)
            same_kind = [m for m in existing[pid] if kind_group(m.kind) == group]
            # Found again later (re-evaluation on another day starts the measure that day): same rule, same end.
            if any(m.rule_key == d.rule_key and m.kind == d.measure_kind and m.end_date == d.end_date
                   for m in same_kind):
                continue
            previous = max(same_kind, key=lambda m: (m.start_date, m.id), default=None)
            measure = Measure(
                person_id=pid, kind=d.measure_kind, status=Measure.Status.PROPOSED, start_date=d.start_date,
                end_date=d.end_date, rule_id=rule_ids.get((d.policy_number, d.rule_key)), rule_key=d.rule_key,
                policy_number=d.policy_number, clause=d.clause, explanation_zh=d.explanation_zh,
                explanation_en=d.explanation_en, followups=_followups(d),
                every_n_days=getattr(d, "every_n_days", None), evaluation_date=evaluation_date,
                facts_digest=digests.get(pid, ""), supersedes_id=previous.id if previous else None,
                created_by_id=user_id,
            )
            superseded.extend(m.id for m in same_kind)
            exact.add(key)
            existing[pid] = [m for m in existing[pid] if kind_group(m.kind) != group]
            new.append((measure, d))
    if not new:
        return []
    created = _insert_measures(new)
    if superseded:
        Measure.objects.filter(pk__in=superseded).update(status=Measure.Status.SUPERSEDED)
    return created


_MEASURE_COLUMNS = (
    "id", "person_id", "kind", "status", "start_date", "end_date", "rule_id", "rule_key", "policy_number", "clause",
    "explanation_zh", "explanation_en", "every_n_days", "followups", "evaluation_date", "facts_digest",
    "supersedes_id", "created_by_id", "created_at", "confirmed_by_id", "confirmed_at",
)


def _insert_measures(new: list[tuple[Measure, Any]]) -> list[Measure]:
    measures = [m for m, _d in new]
    ids = bulk.allocate_ids(Measure, len(measures))
    if ids is None:  # not PostgreSQL: the ORM's bulk insert sets the ids on SQLite
        measures = Measure.objects.bulk_create(measures)
        MeasureTest.objects.bulk_create([
            MeasureTest(measure=m, kind=kind, day=day, due_date=due)
            for m, (_m, d) in zip(measures, new, strict=True) for kind, day, due in _tests_of(d)])
    else:
        now = timezone.now()
        for m, pk in zip(measures, ids, strict=True):
            m.pk = m.id = pk
            m.created_at = now
        bulk.copy_rows(Measure._meta.db_table, _MEASURE_COLUMNS, (
            (m.id, m.person_id, m.kind, m.status, m.start_date, m.end_date, m.rule_id, m.rule_key, m.policy_number,
             m.clause, m.explanation_zh, m.explanation_en, m.every_n_days, json.dumps(m.followups, ensure_ascii=False),
             m.evaluation_date, m.facts_digest, m.supersedes_id, m.created_by_id, now, None, None)
            for m in measures))
        bulk.copy_rows(MeasureTest._meta.db_table, ("measure_id", "kind", "day", "due_date"), (
            (m.id, kind, day, due) for m, (_m, d) in zip(measures, new, strict=True)
            for kind, day, due in _tests_of(d)))
    _test_obligations([(m, d) for m, (_m, d) in zip(measures, new, strict=True)])
    return measures


# Above this many test obligations the rows are copied in set-based (COPY + ON CONFLICT DO NOTHING) instead of the
# obligations service's ORM bulk_create: 28,899 rows took 10.6 s through the service and 4.3 s copied (bench/README).
OBLIGATIONS_COPY_THRESHOLD = 2000


def _test_obligations(pairs: Sequence[tuple[Measure, Any]]) -> int:
    """The scheduled tests become the person's obligations (kind "test_<kind>", source "measure:<id>", one day each).

    One set of rows, written through the obligations service (`obligations_bulk_create`, which validates and skips
    existing windows) for an arrival or a small re-evaluation; copied in for a large one, with the same
    skip-existing semantics (the unique window (kind, subject, due_from)), so a re-run is a no-op either way.
    """
    import datetime as dt

    from fangkong.obligations.models import Obligation
    from fangkong.obligations.services import obligations_bulk_create

    if not pairs:
        return 0
    where, params = bulk.in_ids("id", sorted({m.person_id for m, _d in pairs}))
    people = {pid: (org, unit) for pid, org, unit in bulk.fetch(
        f"SELECT id, organization_id, unit_id FROM {Person._meta.db_table} WHERE {where}", params)}
    tz = timezone.get_current_timezone()
    now = timezone.now()
    values = []
    for m, d in pairs:
        org, unit = people[m.person_id]
        for kind, _day, due in _tests_of(d):
            start = dt.datetime.combine(due, dt.time.min, tzinfo=tz)
            values.append({
                "organization_id": org, "subject_type": Obligation.SubjectType.PERSON.value,
                "subject_id": m.person_id, "person_id": m.person_id, "unit_id": unit, "kind": f"test_{kind}",
                "day": due, "due_from": start, "due_until": start + dt.timedelta(days=1),
                "status": Obligation.Status.DUE.value, "source": f"measure:{m.pk}", "created_at": now,
            })
    if len(values) <= OBLIGATIONS_COPY_THRESHOLD:
        return obligations_bulk_create(rows=[Obligation(**v) for v in values])
    bulk.copy_rows_skip_conflicts(Obligation, values)
    return len(values)


@transaction.atomic
def measures_record_decisions(
    *, person: Person, decisions: Sequence[Any], actor: Any, evaluation_date: date | None = None,
    facts_digest: str = "",
) -> list[Measure]:
    """Record one person's decisions as proposed measures (idempotent); audited per measure created."""
    on = evaluation_date or timezone.localdate()
    created = record_decisions_bulk(
        decisions_by_person={person.pk: decisions}, evaluation_date=on, actor=actor,
        digests={person.pk: facts_digest},
    )
    for m in created:
        audit_record(
            actor=actor, action="measure.propose", obj=m, organization_id=person.organization_id,
            changes={"kind": [None, m.kind], "start_date": [None, m.start_date.isoformat()],
                     "end_date": [None, m.end_date.isoformat() if m.end_date else None], "rule": [None, f"{m.policy_number} {m.clause}"],
                     **({"supersedes": [None, m.supersedes_id]} if m.supersedes_id else {})},
        )
    return created


@transaction.atomic
def measure_confirm(*, measure: Measure, actor: Any) -> Measure:
    """The organisation or office confirms a proposal; only now does the person's current status change."""
    measure = Measure.objects.select_for_update().select_related("person").get(pk=measure.pk)
    if measure.status != Measure.Status.PROPOSED:
        raise ServiceError(
            gettext("措施 #%(pk)s（%(kind)s）当前状态为“%(status)s”，只能确认待确认的措施") % {
                "pk": measure.pk, "kind": measure.get_kind_display(), "status": measure.get_status_display()},
            {"status": [gettext("只能确认待确认的措施")]},
        )
    measure.status = Measure.Status.CONFIRMED
    measure.confirmed_by = actor if getattr(actor, "is_authenticated", False) else None
    measure.confirmed_at = timezone.now()
    measure.save(update_fields=["status", "confirmed_by", "confirmed_at"])
    person = measure.person
    changes: dict[str, Any] = {"status": ["proposed", "confirmed"]}
    # Only kinds that require twice-daily temperature put the person on twice-daily check-ins (rules.TWICE_DAILY_KINDS).
    changes.update(_set_person_measure(person))
    audit_record(actor=actor, action="measure.confirm", obj=measure, organization_id=person.organization_id,
                 changes=changes)
    return measure


# ---------------------------------------------------------------------------------------------------------------
# Lifecycle after confirmation: start → (extend) → release, or escalate; and the custodians (四包一).
# ---------------------------------------------------------------------------------------------------------------

HOME = "home"
ACTIVE = (Measure.Status.CONFIRMED, Measure.Status.IN_PROGRESS, Measure.Status.READY_FOR_RELEASE)


def _locked(measure: Measure) -> Measure:
    return Measure.objects.select_for_update().select_related("person").get(pk=measure.pk)


def _refusal(error: rules.TransitionError) -> str:
    """The lifecycle's refusal in the reader's language, the statuses named by their (translated) labels."""
    if not error.current:
        return worded(error)
    labels = dict(Measure.Status.choices)
    return gettext(error.message) % {
        **error.params, "status": labels.get(error.current, error.current),
        "allowed": enumeration(str(labels.get(s, s)) for s in error.sources)}


def _move(measure: Measure, action: str) -> str:
    """The next status by the lifecycle table, or a ServiceError naming the measure."""
    try:
        return rules.next_status(action, measure.status)
    except rules.TransitionError as e:
        reason = _refusal(e)
        raise ServiceError(gettext("措施 #%(pk)s（%(kind)s）：%(error)s") % {
            "pk": measure.pk, "kind": measure.get_kind_display(), "error": reason}, {"status": [reason]}) from None


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def measure_test_results(*, measure: Measure, today: date | None = None) -> list[tuple[str, date, str | None]]:
    """(kind, due date, result or None) of the measure's scheduled tests, plus any positive in its period.

    Results come from the testing app (a sample of the person with that kind taken on the due date, single tube or
    pooled) or from the person's test obligation of this measure fulfilled with evidence (abnormal = positive).
    A pooled positive is not the person's result: it waits for the single-tube re-test.
    testing sits beside measures (it reads measures' obligations), so its models are imported here, not at the top.
    """
    from fangkong.obligations.models import Obligation
    from fangkong.testing.models import Result, Sample

    today = today or timezone.localdate()
    until = min(d for d in (measure.end_date, today) if d is not None)
    by_day: dict[tuple[str, date], set[str]] = defaultdict(set)
    positives: list[tuple[str, date]] = []
    samples = (Sample.objects.filter(members__person_id=measure.person_id, sampled_on__gte=measure.start_date,
                                     sampled_on__lte=until, result__isnull=False)
               .values_list("kind", "sampled_on", "pooled", "result__result"))
    for kind, on, pooled, value in samples:
        if value == Result.Value.POSITIVE and pooled:
            by_day[(kind, on)].add("pooled_positive")
        else:
            by_day[(kind, on)].add(value)
            if value == Result.Value.POSITIVE:
                positives.append((kind, on))
    for kind, on, abnormal in Obligation.objects.filter(
            source=f"measure:{measure.pk}", status=Obligation.Status.FULFILLED, evidence_id__isnull=False,
    ).values_list("kind", "day", "abnormal"):
        by_day[(kind.removeprefix("test_"), on)].add("positive" if abnormal else "negative")
        if abnormal:
            positives.append((kind.removeprefix("test_"), on))
    out: list[tuple[str, date, str | None]] = []
    scheduled: set[tuple[str, date]] = set()
    for t in measure.tests.all():
        scheduled.add((t.kind, t.due_date))
        seen = by_day.get((t.kind, t.due_date), set())
        result = next((v for v in ("positive", "negative", "invalid") if v in seen), None)
        out.append((t.kind, t.due_date, result))
    out.extend((k, on, "positive") for k, on in positives if (k, on) not in scheduled)
    return out


def measure_release_blockers(*, measure: Measure, today: date | None = None) -> list[str]:
    """Why the measure cannot be released today, in the reader's language; empty when it can."""
    today = today or timezone.localdate()
    return [worded(e) for e in rules.release_blocker_errors(
        today=today, end_date=measure.end_date, start_date=measure.start_date,
        tests=measure_test_results(measure=measure, today=today),
        symptomatic=measure.person.symptomatic_since is not None,
    )]


@transaction.atomic
def measure_start(*, measure: Measure, place: str, actor: Any) -> Measure:
    """Confirmed → in progress, where it is carried out: a centralized site's name, or "home"."""
    measure = _locked(measure)
    new_status = _move(measure, "start")
    place = (place or "").strip()
    if not place:
        raise ServiceError(gettext("措施 #%(pk)s：请填写执行地点（集中隔离点名称，居家填 home）") % {"pk": measure.pk},
                           {"place": [gettext("请填写执行地点")]})
    limit = Measure._meta.get_field("place").max_length or 100
    if len(place) > limit:  # longer than the column: a database error on PostgreSQL
        raise ServiceError(gettext("执行地点最多 %(limit)d 个字") % {"limit": limit},
                           {"place": [gettext("最多 %(limit)d 个字") % {"limit": limit}]})
    if measure.kind == Measure.Kind.CENTRALIZED_QUARANTINE and place == HOME:
        raise ServiceError(gettext("措施 #%(pk)s（集中隔离医学观察）须在集中隔离点执行，不能居家") % {"pk": measure.pk},
                           {"place": [gettext("请填写集中隔离点名称")]})
    old = measure.status
    measure.status, measure.place, measure.started_at = new_status, place, timezone.now()
    measure.save(update_fields=["status", "place", "started_at"])
    audit_record(actor=actor, action="measure.start", obj=measure, organization_id=measure.person.organization_id,
                 changes={"status": [old, new_status], "place": ["", place]})
    return measure


# Restrictions other apps hold on a person that are not measures of this app (tracing: an open case isolates the
# person). Each callable takes a person id and returns (kind, end date or None, start date) entries; registered in
# the other app's AppConfig.ready, so this app never imports it.
PERSON_RESTRICTIONS: list[Callable[[int], list[tuple[str, date | None, date]]]] = []


def _set_person_measure(person: Person) -> dict[str, list[Any]]:
    """Recompute `Person.measure_kind` / `measure_until` from the person's active measures and the restrictions
    other apps register (rules.person_measure: isolation as a case, else the strictest restriction, else
    twice-daily temperature, else nothing) and save them if they changed.
    Returns the audit changes ({} when nothing changed)."""
    active = list(Measure.objects.filter(person_id=person.pk, status__in=ACTIVE).values_list(
        "kind", "end_date", "start_date"))
    for provider in PERSON_RESTRICTIONS:
        active.extend(provider(person.pk))
    kind, until = rules.person_measure(active)
    old_kind, old_until = person.measure_kind, person.measure_until
    if (kind, until) == (old_kind, old_until):
        return {}
    person.measure_kind, person.measure_until = kind, until
    person.save(update_fields=["measure_kind", "measure_until", "updated_at"])
    return {"person.measure_kind": [old_kind, kind], "person.measure_until": [_iso(old_until), _iso(until)]}


def person_measure_refresh(*, person: Person) -> dict[str, list[Any]]:
    """For other apps whose own state changes a person's restriction (a case opened or excluded): recompute it.
    Returns the changes for the caller's audit event."""
    return _set_person_measure(person)


@transaction.atomic
def measure_release(*, measure: Measure, approver: Any, actor: Any, today: date | None = None) -> Measure:
    """Release once nothing blocks it (end passed, every test negative, no symptoms); refused with the reasons."""
    measure = _locked(measure)
    new_status = _move(measure, "release")
    blockers = measure_release_blockers(measure=measure, today=today)
    if blockers:
        raise ServiceError(gettext("措施 #%(pk)s（%(kind)s）暂不能解除：%(reasons)s") % {
            "pk": measure.pk, "kind": measure.get_kind_display(), "reasons": gettext("；").join(blockers)},
            {"release": blockers})
    old = measure.status
    measure.status, measure.released_at = new_status, timezone.now()
    measure.released_by = approver if getattr(approver, "is_authenticated", False) else None
    measure.save(update_fields=["status", "released_at", "released_by"])
    person = measure.person
    audit_record(actor=actor, action="measure.release", obj=measure, organization_id=person.organization_id,
                 changes={"status": [old, new_status], "approver": [None, str(approver)],
                          **_set_person_measure(person)})
    return measure


MAX_EXTEND_DAYS = 30


@transaction.atomic
def measure_extend(*, measure: Measure, days: int, reason: str, actor: Any) -> Measure:
    """Move the end date later (延长/补足) with a reason; a nucleic acid test is scheduled on the new last day."""
    from types import SimpleNamespace

    measure = _locked(measure)
    new_status = _move(measure, "extend")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(gettext("措施 #%(pk)s：延长须说明原因") % {"pk": measure.pk},
                           {"reason": [gettext("请填写延长原因")]})
    if not 1 <= days <= MAX_EXTEND_DAYS:
        raise ServiceError(gettext("措施 #%(pk)s：延长天数应在 1–%(max)d 天之间") % {"pk": measure.pk, "max": MAX_EXTEND_DAYS},
                           {"days": [gettext("天数无效")]})
    if measure.end_date is None:
        raise ServiceError(gettext("措施 #%(pk)s（%(kind)s）没有结束日期，无需延长") % {
            "pk": measure.pk, "kind": measure.get_kind_display()}, {"days": [gettext("该措施没有结束日期")]})
    old_end, old_status = measure.end_date, measure.status
    new_end = date.fromordinal(old_end.toordinal() + days)
    measure.end_date, measure.status = new_end, new_status
    measure.extended_days += days
    measure.save(update_fields=["end_date", "status", "extended_days"])
    day = (new_end - measure.start_date).days + 1
    _test, created = MeasureTest.objects.get_or_create(measure=measure, kind="nat", day=day,
                                                      defaults={"due_date": new_end})
    if created:  # the person's obligation for the new test, through the same path as the first ones
        _test_obligations([(measure, SimpleNamespace(tests=[SimpleNamespace(kind="nat", day=day, due_date=new_end)]))])
    person = measure.person
    changes: dict[str, Any] = {"end_date": [old_end.isoformat(), new_end.isoformat()], "days": [None, days],
                               "reason": [None, reason]}
    if old_status != new_status:
        changes["status"] = [old_status, new_status]
    changes.update(_set_person_measure(person))
    audit_record(actor=actor, action="measure.extend", obj=measure, organization_id=person.organization_id,
                 changes=changes)
    return measure


@transaction.atomic
def measure_escalate(*, measure: Measure, reason: str, actor: Any) -> Measure:
    """A positive test or symptoms: the measure ends as "escalated" and no longer drives the person's check-ins
    (`Person.measure_kind` is recomputed from what else is active); the stricter track — fever clinic, a case from
    tracing — sets what follows."""
    measure = _locked(measure)
    new_status = _move(measure, "escalate")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(gettext("措施 #%(pk)s：升级须说明原因（如阳性结果、出现症状）") % {"pk": measure.pk},
                           {"reason": [gettext("请填写升级原因")]})
    old = measure.status
    measure.status, measure.escalation_reason = new_status, reason[:200]
    measure.save(update_fields=["status", "escalation_reason"])
    audit_record(actor=actor, action="measure.escalate", obj=measure, organization_id=measure.person.organization_id,
                 changes={"status": [old, new_status], "reason": [None, reason], **_set_person_measure(measure.person)})
    return measure


@transaction.atomic
def custodian_add(*, measure: Measure, role: str, name: str, phone: str, actor: Any) -> MeasureCustodian:
    """Add one of the 四包一 custodians to a measure that is still active."""
    from fangkong.people import rules as people_rules

    measure = _locked(measure)
    if measure.status not in Measure.CURRENT:
        raise ServiceError(gettext("措施 #%(pk)s 当前为“%(status)s”，不能再添加包保人员") % {
            "pk": measure.pk, "status": measure.get_status_display()}, {"measure": [gettext("措施已结束")]})
    if role not in MeasureCustodian.Role.values:
        raise ServiceError(gettext("包保人员角色“%(role)s”无效") % {"role": role},
                           {"role": [gettext("请选择民警、医务人员、网格员或志愿者")]})
    name = (name or "").strip()
    if not name:
        raise ServiceError(gettext("包保人员：请填写姓名"), {"name": [gettext("请填写姓名")]})
    limit = MeasureCustodian._meta.get_field("name").max_length or 50
    if len(name) > limit:  # it was cut to the limit without a word
        raise ServiceError(gettext("包保人员姓名最多 %(limit)d 个字") % {"limit": limit},
                           {"name": [gettext("最多 %(limit)d 个字") % {"limit": limit}]})
    try:
        phone = people_rules.check_phone(phone)
    except ValueError as e:
        raise ServiceError(gettext("包保人员 %(name)s，电话：%(error)s") % {"name": name, "error": worded(e)},
                           {"phone": [worded(e)]}) from None
    c = MeasureCustodian.objects.create(measure=measure, role=role, name=name, phone=phone,
                                        phone_masked=crypto.mask_phone(phone) if phone else "")
    audit_record(actor=actor, action="measure.custodian_add", obj=measure,
                 organization_id=measure.person.organization_id,
                 changes={"custodian": [None, f"{c.get_role_display()} {c.name} {c.phone_masked}"]})
    return c


@transaction.atomic
def custodian_remove(*, custodian: MeasureCustodian, actor: Any) -> None:
    c = MeasureCustodian.objects.select_related("measure__person").get(pk=custodian.pk)
    audit_record(actor=actor, action="measure.custodian_remove", obj=c.measure,
                 organization_id=c.measure.person.organization_id,
                 changes={"custodian": [f"{c.get_role_display()} {c.name} {c.phone_masked}", None]})
    c.delete()


@transaction.atomic
def measures_mark_ready(*, actor: Any = "system", today: date | None = None) -> int:
    """In-progress measures whose period is over and nothing blocks release become "ready for release" (待解除),
    so the release list shows what can be approved now. Returns how many moved; each is audited.

    One blocker computation per measure (a few queries each): run daily, over measures that ended, so few rows.
    """
    today = today or timezone.localdate()
    moved = 0
    qs = (Measure.objects.select_for_update(of=("self",)).select_related("person")
          .filter(status=Measure.Status.IN_PROGRESS, end_date__lt=today).prefetch_related("tests"))
    for measure in qs:
        if measure_release_blockers(measure=measure, today=today):
            continue
        new_status = _move(measure, "mark_ready")
        Measure.objects.filter(pk=measure.pk).update(status=new_status)
        audit_record(actor=actor, action="measure.ready", obj=measure,
                     organization_id=measure.person.organization_id,
                     changes={"status": [measure.status, new_status]})
        moved += 1
    return moved
