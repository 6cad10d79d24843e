"""Writes of the health app: daily obligations, check-ins, symptomatic flags, absences and clusters, integrity.

The check-in is the hot path: a replay lookup (only with a client key), one INSERT of the check-in and one UPDATE of
the obligation it fulfils. Everything else (flags, notifications) happens only for abnormal check-ins.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import enumeration, worded
from fangkong.geo.models import Region
from fangkong.health import rules
from fangkong.health.absence_waivers import checkins_waive_for_absence
from fangkong.health.models import (
    Absence,
    AbsenceFollowUp,
    Checkin,
    CheckinSetting,
    ClusterWarning,
    IntegrityFlag,
    SymptomFlag,
)
from fangkong.notify.recipients import org_admins, person_user, unit_leaders
from fangkong.notify.services import notify_send
from fangkong.obligations.models import Obligation
from fangkong.obligations.services import (
    Evidence,
    obligation_fulfil,
    obligation_mark_abnormal,
    obligations_generate_for_people,
)
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization, Unit

DEFAULT_SETTING = CheckinSetting()  # unsaved: the defaults for an organisation that has not configured anything


def _aware(day: date, t: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, t))


# ----- settings and obligations -------------------------------------------------------------------------------------


def setting_people(setting: CheckinSetting) -> Any:
    """The people a setting covers: active, of the listed kinds, in the listed units (with their subtrees)."""
    qs = Person.objects.filter(organization_id=setting.organization_id, is_active=True)
    if setting.person_kinds:
        qs = qs.filter(kind__in=setting.person_kinds)
    if setting.unit_ids:
        paths = list(Unit.objects.filter(pk__in=setting.unit_ids, organization_id=setting.organization_id)
                     .values_list("path", flat=True))
        q = Q(pk__in=[])
        for path in paths:
            q |= Q(unit__path__startswith=path)
        qs = qs.filter(q)
    return qs


# Active settings per organisation, kept for a short while in each process: the check-in hot path then reads no
# settings row. A save or delete in this process clears its entry at once (signal below); other processes see a
# change within SETTINGS_TTL seconds.
SETTINGS_TTL = 30.0
_settings_cache: dict[int, tuple[float, list[CheckinSetting]]] = {}


def active_settings(organization_id: int) -> list[CheckinSetting]:
    now = time.monotonic()
    hit = _settings_cache.get(organization_id)
    if hit is not None and now - hit[0] < SETTINGS_TTL:
        return hit[1]
    rows = list(CheckinSetting.objects.filter(organization_id=organization_id, is_active=True).order_by("id"))
    _settings_cache[organization_id] = (now, rows)
    return rows


@receiver([post_save, post_delete], sender=CheckinSetting)
def _forget_settings(sender: Any, instance: CheckinSetting, **kwargs: Any) -> None:
    _settings_cache.pop(instance.organization_id, None)


def uniform_setting(organization_id: int) -> CheckinSetting | None:
    """The setting every person of the organisation is under, when there is one (none configured: the defaults);
    None when settings differ by person kind or unit."""
    found = active_settings(organization_id)
    if not found:
        return CheckinSetting(organization_id=organization_id)
    if len(found) == 1 and not found[0].person_kinds and not found[0].unit_ids:
        return found[0]
    return None


def setting_for(person: Person) -> CheckinSetting:
    """The organisation's first active setting that covers the person; the defaults when there is none."""
    uniform = uniform_setting(person.organization_id)
    if uniform is not None:
        return uniform
    for s in active_settings(person.organization_id):
        if s.person_kinds and person.kind not in s.person_kinds:
            continue
        if s.unit_ids and not (person.unit_id and set(s.unit_ids) & set(_unit_ancestors(person.unit))):
            continue
        return s
    fallback = CheckinSetting(organization_id=person.organization_id)
    return fallback


def _unit_ancestors(unit: Unit | None) -> list[int]:
    if unit is None:
        return []
    return [int(p) for p in unit.path.strip("/").split("/") if p.isdigit()] or [unit.pk]


def obligations_generate_for_day(*, day: date, organization: Organization | None = None) -> int:
    """The day's check-in obligations for every active setting: one INSERT ... SELECT per setting and slot group.

    People under an active measure (Person.measure_kind) get the twice-daily slots whatever the setting says
    (seed 002). Idempotent: a second run creates nothing.
    """
    created = 0
    settings_ = CheckinSetting.objects.filter(is_active=True).select_related("organization")
    if organization is not None:
        settings_ = settings_.filter(organization=organization)
    for setting in settings_:
        # Cases in isolation are followed by their investigation, not asked to check in (tracing sets "isolation").
        people = setting_people(setting).exclude(measure_kind="isolation")
        # A measure that ended on an earlier day no longer puts the person on twice-daily slots, even if nobody has
        # released it yet (the person's denormalised measure_kind is cleared on release, not at midnight).
        under_measure = Q(measure_kind__gt="") & (Q(measure_until__isnull=True) | Q(measure_until__gte=day))
        groups = (
            (rules.slots_for(setting.frequency, False), people.exclude(under_measure)),
            (rules.slots_for(setting.frequency, True), people.filter(under_measure)),
        )
        for slots, group in groups:
            for slot in slots:
                opens, until = rules.SLOT_OPENS[slot], setting.deadline_for(slot)
                if until <= opens:
                    raise ServiceError(_("打卡设置“%(setting)s”：%(slot)s 时段的截止时间 %(until)s 早于开始时间 %(opens)s")
                                       % {"setting": setting.name, "slot": slot, "until": until, "opens": opens})
                created += obligations_generate_for_people(
                    organization=setting.organization, people=group, kind=rules.slot_kind(slot), day=day,
                    due_from=_aware(day, opens), due_until=_aware(day, until), source=setting.source,
                )
    return created


# ----- check-ins ----------------------------------------------------------------------------------------------------


@dataclass
class CheckinResult:
    checkin: Checkin
    created: bool  # False when the client key replayed an earlier submission
    fever: bool
    instruction: str  # what the organisation tells a person with fever or symptoms ("" when normal)
    flag: SymptomFlag | None = None


def _fail(field: str, message: str) -> ServiceError:
    labels = {"temperature": _("体温"), "date": _("日期"), "symptoms": _("症状"), "region_code": _("所在地"),
              "slot": _("时段"), "note": _("备注")}
    return ServiceError(f"{labels.get(field, field)}{_('：')}{message}", {field: [message]})


def checkin_submit(
    *, actor: Any, person: Person, day: date | None = None, slot: str | None = None,
    temperature: Decimal | str | float | None = None, symptoms: Sequence[str] = (), region_code: str = "",
    note: str = "", client_key: str = "", device_id: str = "", ip: str | None = None, proxy: bool = False,
    setting: CheckinSetting | None = None,
) -> CheckinResult:
    """Store one check-in for `person` (already looked up in the actor's scope) and fulfil that slot's obligation."""
    client_key = (client_key or "").strip()[:64] if getattr(actor, "pk", None) else ""
    now = timezone.now()
    today = timezone.localdate(now)
    day = day or today
    try:
        rules.check_date(day, today)
    except ValueError as e:
        raise _fail("date", worded(e)) from None
    if day < today - timedelta(days=7):
        raise _fail("date", _("只能补报 7 天内的打卡（%(day)s 太早）") % {"day": day})
    try:
        temp = rules.parse_temperature(temperature)
    except ValueError as e:
        raise _fail("temperature", worded(e)) from None
    try:
        note = rules.check_note(note)
    except ValueError as e:
        raise _fail("note", worded(e)) from None
    setting = setting or setting_for(person)
    try:
        codes = rules.clean_symptoms(symptoms, setting.symptoms or rules.DEFAULT_SYMPTOMS)
    except ValueError as e:
        raise _fail("symptoms", worded(e)) from None
    region = None
    if region_code:
        region = _region(region_code)
    if slot:
        if slot not in rules.SLOTS:
            raise _fail("slot", _("未知的时段“%(slot)s”，可选：%(choices)s") % {"slot": slot,
                                                                          "choices": ", ".join(rules.SLOTS)})
        _check_slot(person, setting, day, slot)
    elif setting.frequency == CheckinSetting.Frequency.DAILY and not person.measure_kind:
        slot = "day"
    else:
        open_kinds = Obligation.objects.open().filter(person=person, day=day, kind__startswith="checkin").values_list(
            "kind", flat=True
        )
        open_slots = [k.removeprefix("checkin_") if k != "checkin" else "day" for k in open_kinds]
        slot = rules.pick_slot(open_slots, timezone.localtime(now).time()) if open_slots else (
            "day" if setting.frequency == "daily" and not person.measure_kind
            else rules.slots_for(setting.frequency, bool(person.measure_kind))[0]
        )
    abnormal = rules.is_abnormal(temp, codes, setting.fever_threshold)
    checkin = Checkin(
        person=person, organization_id=person.organization_id, unit_id=person.unit_id, date=day, slot=slot,
        temperature=temp, symptoms=codes, region=region, note=note, abnormal=abnormal, proxy=proxy,
        submitted_by=actor if getattr(actor, "pk", None) else None, submitted_at=now, client_key=client_key,
        device_id=(device_id or "")[:64], ip=ip or None,
    )
    if not abnormal and connection.vendor == "postgresql":
        # The common case: one statement, no transaction block of its own (a single statement is atomic).
        earlier = _checkin_insert_and_fulfil(checkin, now)
        if earlier is not None:
            return _replayed(earlier, setting)
        return CheckinResult(checkin, True, False, "")
    with transaction.atomic():
        return _checkin_store(checkin, person=person, actor=actor, client_key=client_key, day=day, slot=slot,
                              now=now, setting=setting, temp=temp, abnormal=abnormal)


def _check_slot(person: Person, setting: CheckinSetting, day: date, slot: str) -> None:
    """A slot named by the caller must be one the person checks in for that day: their setting's (or their
    measure's), or one they have an obligation of (another setting's). A noon check-in where people check in once
    a day fulfils nothing and would only sit beside the day's obligation, unseen."""
    # measure_until is read only for people under a measure (the API's hot path loads the person without it).
    under_measure = bool(person.measure_kind) and rules.under_measure_on(person.measure_kind, person.measure_until, day)
    expected = rules.slots_for(setting.frequency, under_measure)
    if slot in expected:
        return
    kinds = Obligation.objects.filter(person=person, day=day, kind__startswith="checkin").values_list("kind", flat=True)
    obliged = [k.removeprefix("checkin_") if k != "checkin" else "day" for k in kinds]
    if slot in obliged:
        return
    slots = [s for s in rules.SLOTS if s in {*expected, *obliged}]
    raise _fail("slot", _("%(day)s 没有需要提交的“%(slot)s”打卡，应打卡的时段：%(slots)s") % {
        "day": day.isoformat(), "slot": Checkin.Slot(slot).label,
        "slots": enumeration(Checkin.Slot(s).label for s in slots)})


_CHECKIN_SQL: str | None = None


def _checkin_sql() -> str:
    """INSERT the check-in (a replayed client key inserts nothing) and, in the same statement, fulfil the open
    obligation of its slot with it: what `obligation_fulfil` does, without a second round trip."""
    global _CHECKIN_SQL
    if _CHECKIN_SQL is None:
        def q(name: str | None) -> str:
            return connection.ops.quote_name(str(name))

        fields = [f for f in Checkin._meta.concrete_fields if not f.primary_key]
        o = {name: q(cast(Field, Obligation._meta.get_field(name)).column) for name in (
            "status", "evidence_type", "evidence_id", "abnormal", "fulfilled_at", "kind", "subject_type",
            "subject_id", "day")}
        _CHECKIN_SQL = (
            f"WITH c AS (INSERT INTO {q(Checkin._meta.db_table)} ({', '.join(q(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING RETURNING id), "
            f"o AS (UPDATE {q(Obligation._meta.db_table)} SET {o['status']} = %s, {o['evidence_type']} = %s, "
            f"{o['evidence_id']} = c.id, {o['abnormal']} = %s, {o['fulfilled_at']} = %s FROM c "
            f"WHERE {o['kind']} = %s AND {o['subject_type']} = 'person' AND {o['subject_id']} = %s "
            f"AND {o['day']} = %s AND {o['status']} = ANY(%s) RETURNING 1) "
            "SELECT id FROM c"
        )
    return _CHECKIN_SQL


def _checkin_insert_and_fulfil(checkin: Checkin, now: datetime) -> Checkin | None:
    """Store a normal check-in and fulfil its obligation in one statement. Returns the earlier check-in when the
    (submitter, client key) pair was stored before (a retry, a double tap), else None (and `checkin` has its id)."""
    fields = [f for f in Checkin._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(checkin, True), connection) for f in fields]
    params = [*values, Obligation.Status.FULFILLED, "health.checkin", checkin.abnormal, now,
              rules.slot_kind(checkin.slot), checkin.person_id, checkin.date,
              [Obligation.Status.DUE, Obligation.Status.OVERDUE]]
    with connection.cursor() as cur:
        cur.execute(_checkin_sql(), params)
        row = cur.fetchone()
    if row is not None:
        checkin.pk = row[0]
        checkin._state.adding = False
        checkin._state.db = connection.alias
        return None
    earlier = Checkin.objects.filter(submitted_by_id=checkin.submitted_by_id, client_key=checkin.client_key).first()
    if earlier is None:  # pragma: no cover - ON CONFLICT without a client key: nothing else is unique
        raise ServiceError(_("打卡未能保存，请重试"))
    return earlier


def _checkin_store(checkin: Checkin, *, person: Person, actor: Any, client_key: str, day: date, slot: str,
                   now: datetime, setting: CheckinSetting, temp: Decimal | None, abnormal: bool) -> CheckinResult:
    """The general path (abnormal check-ins, SQLite): insert, fulfil, raise the flag, in the caller's transaction."""
    if client_key:
        # No read before the write: the unique (submitter, client key) constraint decides. A replay (a retry after a
        # lost response, a double tap) hits it and gets the first check-in back, unchanged.
        try:
            with transaction.atomic():
                checkin.save()
        except IntegrityError:
            earlier = Checkin.objects.filter(submitted_by=actor, client_key=client_key).first()
            if earlier is None:
                raise
            return _replayed(earlier, setting)
    else:
        checkin.save()
    fulfilled = obligation_fulfil(
        kind=rules.slot_kind(slot), subject_id=person.pk, day=day, at=now,
        evidence=Evidence(type="health.checkin", id=checkin.pk, abnormal=abnormal),
    )
    if abnormal and not fulfilled:
        # A second check-in the same day found the obligation fulfilled by an earlier, normal one.
        obligation_mark_abnormal(kind=rules.slot_kind(slot), subject_id=person.pk, day=day)
    flag = None
    if abnormal:
        flag = flag_raise(person=person, checkin=checkin, actor=actor)
    return CheckinResult(checkin, True, rules.is_fever(temp, setting.fever_threshold),
                         setting.instruction() if abnormal else "", flag)


def _replayed(checkin: Checkin, setting: CheckinSetting | None) -> CheckinResult:
    setting = setting or setting_for(checkin.person)
    return CheckinResult(
        checkin, False, rules.is_fever(checkin.temperature, setting.fever_threshold),
        setting.instruction() if checkin.abnormal else "",
    )


def _region(code_or_name: str) -> Region:
    value = code_or_name.strip()
    region = Region.objects.filter(code=value).first() if value.isdigit() else None
    if region is None and value:
        matches = list(Region.objects.filter(Q(name=value) | Q(full_name=value))[:2])
        if len(matches) == 1:
            region = matches[0]
        elif len(matches) > 1:
            raise _fail("region_code", _("“%(value)s”对应多个行政区划，请填写区划代码") % {"value": value})
    if region is None:
        raise _fail("region_code", _("未知的行政区划：%(value)s") % {"value": value})
    return region


# ----- symptomatic flags --------------------------------------------------------------------------------------------


@transaction.atomic
def flag_raise(*, person: Person, checkin: Checkin | None, actor: Any) -> SymptomFlag | None:
    """Mark the person symptomatic and tell the unit leaders and the prevention office at once (level alert).

    A person already flagged keeps their open flag: a second abnormal check-in adds no flag and no new alarm.
    """
    if SymptomFlag.objects.filter(person=person, cleared_at__isnull=True).exists():
        return None
    now = timezone.now()
    flag = SymptomFlag.objects.create(
        person=person, checkin=checkin, raised_at=now,
        temperature=checkin.temperature if checkin else None, symptoms=list(checkin.symptoms) if checkin else [],
    )
    Person.objects.filter(pk=person.pk, symptomatic_since__isnull=True).update(symptomatic_since=now)
    audit_record(
        actor=actor, action="person.symptomatic", obj=person, organization_id=person.organization_id,
        changes={"symptomatic_since": [None, now.isoformat()]},
    )
    what_zh = "、".join(filter(None, [f"体温 {flag.temperature}℃" if flag.temperature else "",
                                      *rules.symptom_labels(flag.symptoms)]))
    what_en = ", ".join(filter(None, [f"temperature {flag.temperature} °C" if flag.temperature else "",
                                      *rules.symptom_labels(flag.symptoms, "en")]))
    unit = person.unit
    unit_name = unit.name if unit is not None else ""
    recipients = [*(unit_leaders(unit) if unit is not None else []), *org_admins(person.organization)]
    notify_send(
        recipients=recipients,
        title={"zh-hans": f"健康异常：{person.name}", "en": f"Health alert: {person.name}"},
        body={"zh-hans": f"{unit_name} {person.name} 打卡异常（{what_zh}），请立即跟进。",
              "en": f"{unit_name} {person.name} reported {what_en}; please follow up at once."},
        link=reverse("health:flags"), level="alert", organization_id=person.organization_id,
        event="health.symptomatic", dedupe_key=f"health.flag:{flag.pk}",
    )
    return flag


@transaction.atomic
def flag_clear(*, flag: SymptomFlag, reason: str, actor: Any) -> SymptomFlag:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("解除症状标记必须填写原因（如：已就诊排除、复测体温正常）"), {"reason": [_("必填")]})
    flag = SymptomFlag.objects.select_for_update().select_related("person").get(pk=flag.pk)
    if flag.cleared_at is not None:
        raise ServiceError(_("%(person)s 的症状标记已于 %(at)s 解除") % {
            "person": flag.person.name, "at": f"{timezone.localtime(flag.cleared_at):%Y-%m-%d %H:%M}"})
    flag.cleared_at, flag.cleared_by, flag.reason = timezone.now(), actor, reason[:200]
    flag.save(update_fields=["cleared_at", "cleared_by", "reason"])
    person = flag.person
    if not SymptomFlag.objects.filter(person=person, cleared_at__isnull=True).exists():
        old = person.symptomatic_since
        Person.objects.filter(pk=person.pk).update(symptomatic_since=None)
        audit_record(
            actor=actor, action="person.symptomatic_clear", obj=person, organization_id=person.organization_id,
            changes={"symptomatic_since": [old.isoformat() if old else None, None], "reason": ["", flag.reason]},
        )
    return flag


# ----- missing check-ins --------------------------------------------------------------------------------------------


def remind_overdue(*, obligation_ids: Iterable[int]) -> int:
    """Remind each person whose check-in just turned overdue (once per obligation)."""
    sent = 0
    qs = Obligation.objects.filter(pk__in=list(obligation_ids), kind__startswith="checkin", person__isnull=False)
    for ob in qs.select_related("person", "person__user"):
        sent += len(notify_send(
            recipients=person_user(ob.person),
            title={"zh-hans": "请完成今日健康打卡", "en": "Please complete today's health check-in"},
            body={"zh-hans": f"您 {ob.day} 的健康打卡已超过截止时间 {timezone.localtime(ob.due_until):%H:%M}，请尽快补报。",
                  "en": f"Your health check-in for {ob.day} is past its {timezone.localtime(ob.due_until):%H:%M} "
                        "deadline; please submit it now."},
            link=reverse("health:checkin"), level="warning", organization_id=ob.organization_id,
            event="health.checkin_overdue", dedupe_key=f"obligation.overdue:{ob.pk}",
        ))
    return sent


def remind_leaders(*, now: datetime | None = None) -> int:
    """After the setting's delay, tell each unit's leaders how many of their people have not checked in."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    for setting in CheckinSetting.objects.filter(is_active=True).select_related("organization"):
        cutoff = now - timedelta(minutes=setting.leader_reminder_delay)
        rows = (
            Obligation.objects.filter(
                source=setting.source, day=today, status=Obligation.Status.OVERDUE, due_until__lte=cutoff,
                unit__isnull=False,
            ).order_by().values_list("unit_id", "kind").distinct()
        )
        for unit_id, kind in rows:
            missing = Obligation.objects.filter(
                source=setting.source, day=today, status=Obligation.Status.OVERDUE, unit_id=unit_id, kind=kind
            ).select_related("person")
            names = [o.person.name for o in missing[:20] if o.person is not None]
            count = missing.count()
            if not count:
                continue
            unit = Unit.objects.get(pk=unit_id)
            link = reverse("obligations:list") + f"?unit={unit_id}&day={today}&kind={kind}&status=overdue"
            sent += len(notify_send(
                recipients=unit_leaders(unit),
                title={"zh-hans": f"{unit.name}：{count} 人未按时打卡", "en": f"{unit.name}: {count} missing check-ins"},
                body={"zh-hans": f"{today} 未打卡：{'、'.join(names)}{' 等' if count > len(names) else ''}。",
                      "en": f"Missing on {today}: {', '.join(names)}{' …' if count > len(names) else ''}."},
                link=link, level="warning", organization_id=setting.organization_id,
                event="health.checkin_missing", dedupe_key=f"checkin.leader:{unit_id}:{today}:{kind}",
            ))
    return sent


# ----- absences and clusters ----------------------------------------------------------------------------------------


@transaction.atomic
def absence_register(
    *, person: Person, started_on: date, reason: str, symptoms: Sequence[str] = (), expected_until: date | None = None,
    actor: Any,
) -> tuple[Absence, list[ClusterWarning]]:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("缺勤原因：必填"), {"reason": [_("必填")]})
    today = timezone.localdate()
    if started_on > today:
        raise ServiceError(_("缺勤开始日期 %(day)s 在今天之后") % {"day": started_on},
                           {"started_on": [_("不能晚于今天")]})
    try:
        codes = rules.clean_symptoms(symptoms)
    except ValueError as e:
        raise _fail("symptoms", worded(e)) from None
    absence = Absence.objects.create(
        person=person, organization_id=person.organization_id, unit_id=person.unit_id, started_on=started_on,
        expected_until=expected_until, reason=reason[:200], symptoms=codes, created_by=actor,
    )
    audit_record(actor=actor, action="absence.create", obj=absence, organization_id=person.organization_id,
                 changes={"started_on": [None, started_on.isoformat()], "symptoms": [None, codes]})
    checkins_waive_for_absence(absence=absence, actor=actor)
    warnings = _clusters_check(absence, actor)
    return absence, warnings


def _clusters_check(absence: Absence, actor: Any) -> list[ClusterWarning]:
    if not absence.unit_id or not absence.symptoms:
        return []
    setting = setting_for(absence.person)
    on = max(absence.started_on, timezone.localdate())
    start = on - timedelta(days=setting.cluster_window_days - 1)
    records = [
        rules.AbsenceRecord(a.person_id, a.unit_id, a.started_on, tuple(a.symptoms))
        for a in Absence.objects.filter(unit_id=absence.unit_id, started_on__gte=start, started_on__lte=on)
    ]
    out: list[ClusterWarning] = []
    unit = absence.unit
    if unit is None:
        return out
    for cluster in rules.detect_clusters(records, on=on, threshold=setting.cluster_threshold,
                                         window_days=setting.cluster_window_days):
        if cluster.symptom not in absence.symptoms:
            continue
        now = timezone.now()
        # The same unit and symptom within the window is the same cluster: new cases join it, no second alarm.
        existing = ClusterWarning.objects.filter(
            unit_id=unit.pk, symptom=cluster.symptom, raised_at__gte=_aware(start, datetime.min.time()),
        ).first()
        if existing is not None:
            existing.people.add(*cluster.person_ids)
            continue
        warning = ClusterWarning.objects.create(
            organization_id=absence.organization_id, unit_id=unit.pk, symptom=cluster.symptom,
            raised_at=now, report_due=now + timedelta(hours=2),
        )
        warning.people.add(*cluster.person_ids)
        audit_record(actor=actor, action="cluster.raise", obj=warning, organization_id=absence.organization_id,
                     changes={"people": [None, list(cluster.person_ids)]})
        label_zh, label_en = rules.SYMPTOMS[cluster.symptom]
        n = len(cluster.person_ids)
        due = timezone.localtime(warning.report_due)
        notify_send(
            recipients=[*org_admins(absence.person.organization), *unit_leaders(unit)],
            title={"zh-hans": f"聚集性预警：{unit.name} {n} 人因“{label_zh}”缺勤",
                   "en": f"Cluster warning: {n} absent with {label_en.lower()} in {unit.name}"},
            body={"zh-hans": f"{setting.cluster_window_days} 天内 {unit.name} 有 {n} 人因“{label_zh}”缺勤，"
                             f"请于 {due:%H:%M} 前（2 小时内）向属地疾控和主管部门报告。",
                  "en": f"{n} people of {unit.name} are absent with {label_en.lower()} within "
                        f"{setting.cluster_window_days} days; report by {due:%H:%M} (within 2 hours)."},
            link=reverse("health:clusters"), level="alert", organization_id=absence.organization_id,
            event="health.cluster", dedupe_key=f"health.cluster:{warning.pk}",
        )
        out.append(warning)
    return out


@transaction.atomic
def absence_follow_up(*, absence: Absence, day: date, status: str, note: str = "", actor: Any) -> AbsenceFollowUp:
    if status not in AbsenceFollowUp.Status.values:
        raise ServiceError(_("随访情况“%(status)s”无效") % {"status": status}, {"status": [_("无效")]})
    if day > timezone.localdate():
        raise ServiceError(_("随访日期 %(day)s 在今天之后") % {"day": day}, {"date": [_("不能晚于今天")]})
    if day < absence.started_on:
        raise ServiceError(_("随访日期 %(day)s 早于缺勤开始 %(start)s") % {"day": day, "start": absence.started_on},
                           {"date": [_("早于缺勤开始")]})
    follow_up, _created = AbsenceFollowUp.objects.update_or_create(
        absence=absence, date=day, defaults={"status": status, "note": (note or "")[:200], "recorded_by": actor},
    )
    if status == AbsenceFollowUp.Status.RETURNED and absence.returned_on is None:
        absence.returned_on = day
        absence.save(update_fields=["returned_on"])
    audit_record(actor=actor, action="absence.follow_up", obj=absence, organization_id=absence.organization_id,
                 changes={"follow_up": [None, f"{day} {status}"]})
    return follow_up


@transaction.atomic
def cluster_report(*, warning: ClusterWarning, note: str, actor: Any) -> ClusterWarning:
    warning = ClusterWarning.objects.select_for_update().get(pk=warning.pk)
    if warning.status == ClusterWarning.Status.REPORTED:
        raise ServiceError(_("该预警已标记为已报告"))
    warning.status, warning.reported_at = ClusterWarning.Status.REPORTED, timezone.now()
    warning.reported_by, warning.report_note = actor, (note or "")[:200]
    warning.save(update_fields=["status", "reported_at", "reported_by", "report_note"])
    audit_record(actor=actor, action="cluster.report", obj=warning, organization_id=warning.organization_id,
                 changes={"status": ["open", "reported"]})
    return warning


# ----- integrity ----------------------------------------------------------------------------------------------------


@transaction.atomic
def integrity_scan(*, organization: Organization, day: date | None = None) -> int:
    """Run the detectors over the organisation's recent check-ins; new findings become 待核实 rows."""
    day = day or timezone.localdate()
    setting = CheckinSetting.objects.filter(organization=organization, is_active=True).first() or DEFAULT_SETTING
    window = max(setting.integrity_same_days * 2, 14)
    rows = Checkin.objects.filter(organization=organization, date__gt=day - timedelta(days=window), date__lte=day)
    subs = [
        rules.Submission(pid, d, t, timezone.localtime(at), dev, ip or "", proxy)
        for pid, d, t, at, dev, ip, proxy in rows.values_list(
            "person_id", "date", "temperature", "submitted_at", "device_id", "ip", "proxy"
        )
    ]
    findings = [
        *rules.same_temperature_runs(subs, setting.integrity_same_days),
        *rules.same_time_of_day(subs, setting.integrity_same_days),
        *rules.shared_devices([s for s in subs if s.day == day], setting.integrity_device_people),
    ]
    if not findings:
        return 0
    open_ = set(IntegrityFlag.objects.filter(organization=organization, resolved_at__isnull=True)
                .values_list("person_id", "reason"))
    units = dict(Person.objects.filter(pk__in={f.person_id for f in findings}).values_list("id", "unit_id"))
    new = [
        IntegrityFlag(person_id=f.person_id, organization=organization, unit_id=units.get(f.person_id),
                      reason=f.reason, detail=_in_chinese(f)[:200], facts=f.facts, day=day)
        for f in findings if (f.person_id, f.reason) not in open_
    ]
    IntegrityFlag.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _in_chinese(finding: rules.IntegrityFinding) -> str:
    """The finding worded in Chinese, kept on the flag as found (the record an export or an audit shows)."""
    with translation.override("zh-hans"):
        return IntegrityFlag.describe(finding.reason, finding.facts)


@transaction.atomic
def integrity_resolve(*, flag: IntegrityFlag, resolution: str, actor: Any) -> IntegrityFlag:
    resolution = (resolution or "").strip()
    if not resolution:
        raise ServiceError(_("核实结果：必填"), {"resolution": [_("必填")]})
    flag.resolved_at, flag.resolved_by, flag.resolution = timezone.now(), actor, resolution[:200]
    flag.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    audit_record(actor=actor, action="integrity.resolve", obj=flag, organization_id=flag.organization_id,
                 changes={"resolution": ["", flag.resolution]})
    return flag
