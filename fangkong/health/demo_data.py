"""Demo check-ins (picked up by fangkong.tenancy.demo.run_demo after the base steps).

A check-in setting per organisation (the school with morning and noon checks, the hospital twice a day), the last 14
days of check-ins for most people, today's obligations with some still open, a couple of fevers today (through
`checkin_submit`, so the symptomatic flag and the notifications are the real ones), an absence cluster in one school
class (through `absence_register`, which raises the cluster warning) and one integrity suspect (found by
`integrity_scan`).

The history is written set-based, the way the services would have written it: the day's obligations through
`obligations_generate_for_day`, the check-ins with one bulk INSERT, and their fulfilment with one UPDATE per slot
kind (evidence = the check-in, abnormal copied from it, fulfilled at the submission time); what is left open after
its deadline turns overdue through the same sweep the periodic task runs.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from fangkong.core.audit import audit_record
from fangkong.health import rules
from fangkong.health.models import Checkin, CheckinSetting, SymptomFlag
from fangkong.health.services import (
    absence_register,
    checkin_submit,
    integrity_scan,
    obligations_generate_for_day,
    setting_people,
)
from fangkong.obligations.models import Obligation
from fangkong.obligations.services import obligations_mark_overdue

ACTOR = "seed_demo"
HISTORY_DAYS = 14
DONE_RATE = 0.95
LATE_RATE = 0.03
ABNORMAL_RATE = 0.01
CLUSTER_CLASS = "八年级/3班"

# When people of each slot usually submit (earliest, latest), local time; late ones come after the deadline.
SUBMIT_WINDOWS = {
    "day": (time(6, 40), time(9, 20)),
    "morning": (time(6, 30), time(8, 10)),
    "noon": (time(11, 10), time(13, 40)),
    "afternoon": (time(12, 20), time(15, 30)),
}


def _aware(day: date, t: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, t))


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(int((end - start).total_seconds()), 1)
    return start + timedelta(seconds=rng.randrange(span))


def _temperature(rng: random.Random) -> Decimal:
    value = min(max(rng.gauss(36.5, 0.22), 35.9), 37.1)
    return Decimal(f"{value:.1f}")


def _settings(ctx: Any) -> dict[str, CheckinSetting]:
    out = {
        "factory": CheckinSetting.objects.create(
            organization=ctx.orgs["factory"], name="职工每日健康打卡", frequency=CheckinSetting.Frequency.DAILY,
            deadline=time(9, 30),
        ),
        "hospital": CheckinSetting.objects.create(
            organization=ctx.orgs["hospital"], name="医务人员每日两次健康监测", frequency=CheckinSetting.Frequency.TWICE,
            deadline=time(9, 0), afternoon_deadline=time(16, 0),
        ),
        "school": CheckinSetting.objects.create(
            organization=ctx.orgs["school"], name="师生晨午检", frequency=CheckinSetting.Frequency.SCHOOL,
            deadline=time(8, 30), noon_deadline=time(14, 0),
        ),
    }
    for setting in out.values():
        audit_record(actor=ACTOR, action="checkin_setting.create", obj=setting,
                     organization_id=setting.organization_id,
                     changes={"frequency": [None, setting.frequency], "deadline": [None, str(setting.deadline)]})
    return out


def _checkin(rng: random.Random, person: Any, day: date, slot: str, setting: CheckinSetting,
             at: datetime, *, abnormal: bool = False) -> Checkin:
    temperature, symptoms = _temperature(rng), []
    if abnormal:
        if rng.random() < 0.5:
            temperature = Decimal(f"{rng.uniform(37.3, 37.9):.1f}")
        else:
            symptoms = [rng.choice(("cough", "sore_throat", "runny_nose", "fatigue"))]
    return Checkin(
        person_id=person.pk, organization_id=person.organization_id, unit_id=person.unit_id, date=day, slot=slot,
        temperature=temperature, symptoms=symptoms,
        abnormal=rules.is_abnormal(temperature, symptoms, setting.fever_threshold),
        submitted_by_id=person.user_id, submitted_at=at,
    )


def _fulfil_from_checkins(days: list[date], organization_ids: list[int]) -> int:
    """What `obligation_fulfil` does per check-in, for many at once: one UPDATE per slot kind."""
    done = 0
    for slot in rules.SLOTS:
        matching = Checkin.objects.filter(
            person_id=OuterRef("person_id"), date=OuterRef("day"), slot=slot,
        ).order_by("submitted_at")
        qs = Obligation.objects.filter(
            kind=rules.slot_kind(slot), day__in=days, organization_id__in=organization_ids,
            status__in=(Obligation.Status.DUE, Obligation.Status.OVERDUE),
        ).filter(Exists(matching))
        done += qs.update(
            status=Obligation.Status.FULFILLED, evidence_type="health.checkin",
            evidence_id=Subquery(matching.values("id")[:1]), abnormal=Subquery(matching.values("abnormal")[:1]),
            fulfilled_at=Subquery(matching.values("submitted_at")[:1]),
        )
    return done


def seed(ctx: Any) -> None:
    rng = ctx.rng
    today = ctx.today
    now = timezone.now()
    local_now = timezone.localtime(now)
    settings_ = _settings(ctx)
    units = ctx.units

    # People with a story of their own today (their check-ins are not generated in bulk).
    factory_people = ctx.people["factory"]
    school_people = ctx.people["school"]
    team_b = units["factory"]["一车间/乙班"].pk
    fever_worker = next(p for p in factory_people if p.unit_id == team_b and p.user_id is None)
    klass = units["school"][CLUSTER_CLASS].pk
    cluster_students = [p for p in school_people if p.unit_id == klass][:3]
    fever_student = next(p for p in school_people if p.unit_id == units["school"]["七年级/5班"].pk)
    suspect = next(p for p in factory_people if p.unit_id == units["factory"]["二车间/甲班"].pk)
    absent_from = {p.pk: today - timedelta(days=2 - i) for i, p in enumerate(cluster_students)}
    special_today = {fever_worker.pk, fever_student.pk}

    # Each person is more or less diligent: a few miss often, most almost never.
    diligence = {}
    for people in ctx.people.values():
        for p in people:
            diligence[p.pk] = DONE_RATE + 0.04 if rng.random() < 0.85 else DONE_RATE - 0.25

    covered: dict[str, list[Any]] = {}
    for key, setting in settings_.items():
        ids = set(setting_people(setting).values_list("pk", flat=True))
        covered[key] = [p for p in ctx.people[key] if p.pk in ids]

    # --- history: the last 14 days -----------------------------------------------------------------------------
    days = [today - timedelta(days=n) for n in range(HISTORY_DAYS, 0, -1)]
    for day in days:
        obligations_generate_for_day(day=day)
    rows: list[Checkin] = []
    flags: list[tuple[Checkin, datetime]] = []
    for key, setting in settings_.items():
        slots = rules.slots_for(setting.frequency, False)
        for p in covered[key]:
            for day in days:
                if p.pk in absent_from and day >= absent_from[p.pk]:
                    continue
                for slot in slots:
                    if p.pk == suspect.pk and day >= today - timedelta(days=9):
                        # A scripted submission: the same second of the day and the same temperature, day after day.
                        at = _aware(day, time(7, 30, rng.randint(0, 20)))
                        c = _checkin(rng, p, day, slot, setting, at)
                        c.temperature = Decimal("36.5")
                        rows.append(c)
                        continue
                    if rng.random() > diligence[p.pk]:
                        continue
                    lo, hi = SUBMIT_WINDOWS[slot]
                    if rng.random() < LATE_RATE:
                        deadline = setting.deadline_for(slot)
                        at = _between(rng, _aware(day, deadline), _aware(day, deadline) + timedelta(hours=3))
                    else:
                        at = _between(rng, _aware(day, lo), _aware(day, hi))
                    c = _checkin(rng, p, day, slot, setting, at, abnormal=rng.random() < ABNORMAL_RATE)
                    rows.append(c)
                    if c.abnormal:
                        flags.append((c, at))
    Checkin.objects.bulk_create(rows, batch_size=2000)
    ctx.counts["checkins"] += len(rows)
    # Past abnormal check-ins were flagged at once and cleared after a re-check (what flag_raise/flag_clear leave).
    SymptomFlag.objects.bulk_create([
        SymptomFlag(person_id=c.person_id, checkin_id=c.pk, temperature=c.temperature, symptoms=c.symptoms,
                    raised_at=at, cleared_at=at + timedelta(hours=rng.randint(3, 30)),
                    reason=rng.choice(("复测体温正常", "已就诊，排除新冠肺炎", "发热门诊就诊，核酸阴性")))
        for c, at in flags
    ])
    org_ids = [o.pk for o in ctx.orgs.values()]
    _fulfil_from_checkins(days, org_ids)
    obligations_mark_overdue(now)

    # --- today -------------------------------------------------------------------------------------------------
    obligations_generate_for_day(day=today)
    today_rows: list[Checkin] = []
    for key, setting in settings_.items():
        for slot in rules.slots_for(setting.frequency, False):
            opens, deadline = rules.SLOT_OPENS[slot], setting.deadline_for(slot)
            lo, hi = SUBMIT_WINDOWS[slot]
            start = _aware(today, max(lo, opens))
            if local_now <= start + timedelta(minutes=10):
                continue  # nobody has reached this slot yet
            end = min(local_now - timedelta(minutes=1), _aware(today, hi))
            past_deadline = local_now > _aware(today, deadline)
            # Before the deadline people are still coming in; after it, the usual share made it.
            share = DONE_RATE if past_deadline else 0.55 + 0.35 * min(
                1.0, (local_now - start).total_seconds() / max((_aware(today, deadline) - start).total_seconds(), 1))
            for p in covered[key]:
                if p.pk in special_today or p.pk in absent_from:
                    continue
                if p.user_id is None and rng.random() > share * diligence[p.pk] / DONE_RATE:
                    continue
                at = _between(rng, start, max(end, start + timedelta(minutes=1)))
                today_rows.append(_checkin(rng, p, today, slot, setting, min(at, now - timedelta(seconds=30))))
    Checkin.objects.bulk_create(today_rows, batch_size=2000)
    ctx.counts["checkins"] += len(today_rows)
    _fulfil_from_checkins([today], org_ids)

    # Two fevers this morning, through the service: symptomatic flag, alert to the unit leaders and the office.
    for person, setting, actor in ((fever_worker, settings_["factory"], ctx.users["workshop"]),
                                   (fever_student, settings_["school"], ctx.users["school"])):
        slot = rules.slots_for(setting.frequency, False)[0]
        checkin_submit(actor=actor, person=person, day=today, slot=slot, temperature="37.8",
                       symptoms=["fever", "fatigue"], proxy=True, setting=setting,
                       note="代报：本人体温偏高，已通知班主任/班组长")
    # An absence cluster: three students of one class off with fever within three days → the cluster warning.
    for p in cluster_students:
        absence_register(person=p, started_on=absent_from[p.pk], reason="发热，居家休息",
                         symptoms=["fever"], expected_until=today + timedelta(days=2), actor=ctx.users["school"])
    obligations_mark_overdue(now)
    integrity_scan(organization=ctx.orgs["factory"], day=today)
