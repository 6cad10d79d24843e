"""Demo measures (picked up by fangkong.tenancy.demo.run_demo after the base steps).

The policy decides them: 安阳县 (河南) is a medium-risk area in force (`risk_area_announce`), and eight of the
factory's contractors came back from it over the last three weeks. Their return reports go through
`arrival_record`, so the engine evaluates each one against the seed 003 pack and records the proposals (14 days of
home quarantine with tests on days 1, 7 and 14; "7+2" for a stay elsewhere in 安阳市). Then the usual work:
the county confirms, the measures start at home with their four-to-one custodians (`custodian_add`), the tests come
back negative (`testing.services.result_record`, which fulfils the measure's test obligations), the day-by-day
record fills with twice-daily check-ins, one measure is ready for release (`measures_mark_ready`) and one was
released (`measure_release`). The last two returnees are still waiting for confirmation, and the worker has asked
to leave the city next weekend (`travel_request_create`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from fangkong.health.models import Checkin
from fangkong.measures import services
from fangkong.measures.models import Measure, MeasureCustodian
from fangkong.people.idgen import synthetic_mobile
from fangkong.people.models import Person
from fangkong.policy import services as policy
from fangkong.tenancy.demo import synthetic_name

AREA_REGION = "410522"  # 安阳县
AREA_CITY_OTHER = "410502"  # 文峰区, elsewhere in the same city: "7+2"
AREA_SOURCE = "河南省安阳市新冠肺炎疫情防控指挥部通告（2021年第18号）"
# Days ago each returnee arrived, and how far their measure has got.
RETURNEES = [
    (20, "released"),
    (16, "ready"),
    (6, "in_progress"),
    (5, "in_progress"),
    (4, "in_progress"),
    (1, "proposed"),
    (0, "proposed"),
]
CITY_RETURNEE = (2, "proposed")  # a stay in another district of the same city


def returnees(ctx: Any) -> list[Person]:
    """The factory contractors who come back from the risk area (the access demo keeps them off the premises)."""
    if "returnees" not in ctx.shared:
        units = {u.pk for label, u in ctx.units["factory"].items() if label.startswith("三车间")}
        pool = [p for p in ctx.people["factory"]
                if p.kind == Person.Kind.CONTRACTOR and p.unit_id in units and p.user_id is None]
        ctx.shared["returnees"] = pool[: len(RETURNEES) + 1]
    return ctx.shared["returnees"]


def _at(day: date, h: int, m: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(h, m)))


def _custody(ctx: Any, measure: Measure, actor: Any) -> None:
    rng = ctx.rng
    town = ctx.rng.choice(("丹朱镇", "鲍店镇", "石哲镇"))
    for role, gender in ((MeasureCustodian.Role.POLICE, "male"), (MeasureCustodian.Role.HEALTH_WORKER, "female"),
                         (MeasureCustodian.Role.GRID_WORKER, rng.choice(("male", "female"))),
                         (MeasureCustodian.Role.VOLUNTEER, rng.choice(("male", "female")))):
        name = synthetic_name(rng, gender)
        if role == MeasureCustodian.Role.POLICE:
            name = f"{name}（{town}派出所）"
        elif role == MeasureCustodian.Role.HEALTH_WORKER:
            name = f"{name}（{town}卫生院）"
        services.custodian_add(measure=measure, role=role, name=name, phone=synthetic_mobile(rng), actor=actor)


def _day_records(ctx: Any, measure: Measure) -> None:
    """Twice-daily temperatures at home from the start of the measure up to yesterday (an afternoon check-in beside
    the daily one the health demo wrote), and today's morning check-in through the service."""
    from fangkong.health.services import checkin_submit, obligations_generate_for_day

    rng, person = ctx.rng, measure.person
    rows = []
    day = measure.start_date
    while day < ctx.today and (measure.end_date is None or day <= measure.end_date):
        at = _at(day, 15, rng.randint(0, 50))
        rows.append(Checkin(person=person, organization_id=person.organization_id, unit_id=person.unit_id,
                            date=day, slot=Checkin.Slot.AFTERNOON, temperature=Decimal(f"{rng.uniform(36.2, 36.8):.1f}"),
                            abnormal=False, submitted_at=at, note="居家隔离，网格员代为上报", proxy=True))
        day += timedelta(days=1)
    Checkin.objects.bulk_create(rows)
    obligations_generate_for_day(day=ctx.today, organization=person.organization)
    checkin_submit(actor="seed_demo", person=person, day=ctx.today, slot="morning",
                   temperature=f"{rng.uniform(36.2, 36.8):.1f}", proxy=True, note="居家隔离，网格员代为上报")


def _tests(ctx: Any, measure: Measure, actor: Any) -> None:
    """Negative results for the measure's tests due so far, sampled at home on the due day."""
    from fangkong.testing.services import result_record

    for t in measure.tests.all().order_by("due_date"):
        if t.due_date > ctx.today or (t.due_date == ctx.today and timezone.localtime().hour < 12):
            continue
        sampled = _at(t.due_date, 9, ctx.rng.randint(0, 50))
        reported = min(sampled + timedelta(hours=6), timezone.now() - timedelta(minutes=5))
        if reported <= sampled:
            continue  # sampled this morning, not back yet
        result_record(organization=measure.person.organization, actor=actor, result="negative",
                      person_id=measure.person_id, kind=t.kind, sampled_at=sampled, reported_at=reported,
                      lab="长子县人民医院核酸检测实验室")


def seed(ctx: Any) -> None:
    county = ctx.users["county"]
    today = ctx.today
    policy.risk_area_announce(
        jurisdiction=ctx.city, region_code=AREA_REGION, level="medium", effective_from=today - timedelta(days=30),
        source=AREA_SOURCE, actor=county, reevaluate=False,
    )
    people = returnees(ctx)
    plans = [*zip(people, RETURNEES, strict=False)]
    plans.append((people[len(RETURNEES)], CITY_RETURNEE))
    for person, (ago, stage) in plans:
        arrived = today - timedelta(days=ago)
        region = AREA_CITY_OTHER if (ago, stage) == CITY_RETURNEE else AREA_REGION
        result = policy.arrival_record(
            person=person, arrived_on=arrived, actor=county,
            stays=[{"region_code": region, "from_date": arrived - timedelta(days=9), "to_date": arrived}],
        )
        ctx.counts["measures"] += len(result.measures)
        if stage == "proposed":
            continue
        for measure in result.measures:
            measure = services.measure_confirm(measure=measure, actor=county)
            measure = services.measure_start(measure=measure, place=services.HOME, actor=county)
            _custody(ctx, measure, county)
            _tests(ctx, measure, county)
            if stage == "in_progress":
                _day_records(ctx, Measure.objects.select_related("person").get(pk=measure.pk))
            elif stage == "released":
                services.measure_release(measure=measure, approver=county, actor=county)
    services.measures_mark_ready(actor="system", today=today)
    # The worker asks to leave the city next weekend (外出报备): waiting for the workshop leader.
    worker = ctx.users["worker"]
    policy.travel_request_create(
        person=Person.objects.get(user=worker), destination_code="140105", from_date=today + timedelta(days=5),
        to_date=today + timedelta(days=7), purpose="回太原探望父母", actor=worker,
    )
