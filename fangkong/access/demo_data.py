"""Demo entry control (picked up by fangkong.tenancy.demo.run_demo after the base steps).

Venues for each organisation through `venue_create`; a few days of entry and exit scans through `scans_record` (the
gate's batch upload path, so decisions, refusals with their reasons, presence intervals and health codes are the
real ones); visitor appointments through `visit_book`/`visit_decide`; vehicle passes with their disinfection through
`vehicle_create`.

The hospital's scans are laid out for the tracing demo: one fever-clinic nurse (`ctx.shared["index_case"]`, the
positive result of the testing demo) worked the three days up to her sample, with her colleagues on the ward; three
of them carried samples to the laboratory, so the laboratory staff are their contacts (secondary contacts of the
case). Fever-clinic staff eat on the ward (closed loop), so the canteen does not spread the contacts further.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from fangkong.access import rules, services
from fangkong.access.models import Scan, Venue, Visit
from fangkong.access.services import ScanInput
from fangkong.health.models import Absence
from fangkong.people.idgen import synthetic_id_number, synthetic_mobile
from fangkong.people.models import Person
from fangkong.tenancy.demo import synthetic_name

ACTOR = "seed_demo"
BATCH = 1000

FACTORY_VENUES = [
    # (name, kind, capacity, max stay in minutes)
    ("东大门", Venue.Kind.GATE, None, 720),
    ("物流门", Venue.Kind.GATE, None, 720),
    ("职工食堂", Venue.Kind.CANTEEN, 240, 90),
    ("1号宿舍楼", Venue.Kind.DORMITORY, 120, 720),
    ("2号宿舍楼", Venue.Kind.DORMITORY, 120, 720),
    ("一号会议室", Venue.Kind.MEETING_ROOM, 30, 240),
    ("一车间（机加工）", Venue.Kind.WORKSHOP, 260, 600),
    ("二车间（装配）", Venue.Kind.WORKSHOP, 260, 600),
    ("三车间（铸造）", Venue.Kind.WORKSHOP, 180, 600),
]
HOSPITAL_VENUES = [
    ("门诊大门", Venue.Kind.GATE, None, 720),
    ("职工通道", Venue.Kind.GATE, None, 720),
    ("发热门诊", Venue.Kind.WARD, 40, 720),
    ("急诊科", Venue.Kind.WARD, 60, 720),
    ("内科病区", Venue.Kind.WARD, 120, 720),
    ("外科病区", Venue.Kind.WARD, 100, 720),
    ("检验科", Venue.Kind.WARD, 40, 720),
    ("职工食堂", Venue.Kind.CANTEEN, 150, 90),
]
SCHOOL_VENUES = [
    ("校门", Venue.Kind.GATE, None, 720),
    ("学生食堂", Venue.Kind.CANTEEN, 600, 90),
    ("学生宿舍", Venue.Kind.DORMITORY, 400, 720),
    ("教学楼", Venue.Kind.BUILDING, 1200, 600),
    ("阶梯会议室", Venue.Kind.MEETING_ROOM, 200, 240),
]
HOSPITAL_WARD_VENUE = {"发热门诊": "发热门诊", "急诊科": "急诊科", "内科": "内科病区", "外科": "外科病区",
                       "检验科": "检验科"}
WORKSHOP_VENUE = {"一车间": "一车间（机加工）", "二车间": "二车间（装配）", "三车间": "三车间（铸造）"}


def _at(day: date, h: int, m: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(h, m)))


def _jitter(rng: random.Random, at: datetime, minutes: int) -> datetime:
    return at + timedelta(seconds=rng.randrange(minutes * 60))


def _temp(rng: random.Random) -> Decimal:
    return Decimal(f"{min(max(rng.gauss(36.4, 0.2), 35.8), 37.1):.1f}")


def _venues(org: Any, specs: Sequence[tuple[str, str, int | None, int]], actor: Any) -> dict[str, Venue]:
    return {
        name: services.venue_create(organization=org, actor=actor, name=name, kind=kind, capacity=capacity,
                                    max_stay_minutes=max_stay)
        for name, kind, capacity, max_stay in specs
    }


class Scans:
    """Collects one organisation's scans. `live` ones (today at the gates, visitors) go through `scans_record`, the
    gates' upload path; the history is written with two bulk INSERTs holding what that path would have stored: the
    decision and its reasons from `rules.decide_entry`, `left_at` on admitted entries, the exit linked to its entry."""

    def __init__(self, now: datetime):
        self.now = now
        self.visits: list[tuple[Any, Venue, datetime, datetime | None, dict[str, Any], bool]] = []

    def visit(self, person: Any, venue: Venue, start: datetime, end: datetime | None, *, live: bool = False,
              **gate: Any) -> None:
        if start >= self.now:
            return
        self.visits.append((person, venue, start, end if end is not None and end < self.now else None, gate, live))

    def upload(self, org: Any, actor: Any) -> int:
        history = [v for v in self.visits if not v[5]]
        stored = self._bulk(org, history, actor)
        items: list[ScanInput] = []
        for person, venue, start, end, gate, _live in self.visits:
            if not _live:
                continue
            items.append(ScanInput(person_id=person.pk, venue_id=venue.pk, at=start, direction="entry", **gate))
            if end is not None:
                items.append(ScanInput(person_id=person.pk, venue_id=venue.pk, at=end, direction="exit"))
        items.sort(key=lambda i: i.at)
        venues, people = Venue.objects.filter(organization=org), Person.objects.filter(organization=org)
        for offset in range(0, len(items), BATCH):
            results = services.scans_record(items=items[offset:offset + BATCH], actor=actor, venues=venues,
                                            people=people, now=self.now)
            stored += sum(1 for r in results if r.ok)
        return stored

    def _bulk(self, org: Any, visits: list[Any], actor: Any) -> int:
        setting = services.setting_for(org.pk)
        threshold = (getattr(setting, "effective_fever_threshold", None) or setting.fever_threshold
                     or Decimal("37.3"))
        people = {p.pk: p for p in Person.objects.filter(organization=org).defer("id_number", "phone")}
        user = actor if getattr(actor, "is_authenticated", False) else None
        entries: list[Scan] = []
        exits: list[tuple[Scan, datetime]] = []
        codes: dict[int, tuple[Person, str, datetime]] = {}
        fever: list[Scan] = []
        for person, venue, start, end, gate, _live in sorted(visits, key=lambda v: v[2]):
            p = people[person.pk]
            facts = rules.PersonFacts(
                known=p.is_active, is_visitor=p.kind == Person.Kind.VISITOR, has_approved_visit=False,
                measure_kind=p.measure_kind, measure_until=p.measure_until,
                symptomatic=p.symptomatic_since is not None and p.symptomatic_since <= start,
                health_code=p.health_code, health_code_at=p.health_code_at,
            )
            temperature, code = gate.get("temperature"), gate.get("health_code", "")
            decision = rules.decide_entry(facts, temperature=temperature, health_code=code,
                                          threshold=threshold, today=timezone.localdate(start),
                                          now=start, refuse_unknown=setting.refuse_unknown)
            scan = Scan(organization_id=org.pk, venue=venue, person=p, direction="entry", at=start,
                        temperature=temperature, health_code=code, device_id=gate.get("device_id", ""),
                        decision=decision.value, reasons=decision.reasons_json(), recorded_by=user)
            entries.append(scan)
            if code:
                codes[p.pk] = (p, code, start)
            if decision.fever:
                fever.append(scan)
            if decision.admit and end is not None:
                scan.left_at = end
                exits.append((scan, end))
        Scan.objects.bulk_create(entries, batch_size=2000)
        Scan.objects.bulk_create([
            Scan(organization_id=org.pk, venue=e.venue, person=e.person, direction="exit", at=at,
                 decision=rules.exit_decision().value, reasons=rules.exit_decision().reasons_json(), entry=e,
                 recorded_by=user)
            for e, at in exits
        ], batch_size=2000)
        if codes:
            services.people_set_health_codes(observations=codes, actor=actor)
        for scan in fever:
            services.fever_alert(scan)
        return len(entries) + len(exits)


def _gate(rng: random.Random, code: str = "green", temperature: Decimal | None = None) -> dict[str, Any]:
    return {"temperature": temperature or _temp(rng), "health_code": code, "device_id": "gate-01"}


def _factory(ctx: Any, now: datetime) -> None:
    rng, today, org = ctx.rng, ctx.today, ctx.orgs["factory"]
    gate_user, admin = ctx.users["gate"], ctx.users["factory"]
    v = _venues(org, FACTORY_VENUES, admin)
    units = {u.pk: label for label, u in ctx.units["factory"].items()}
    scans = Scans(now)
    people = ctx.people["factory"]
    # Two people whose health code turned yellow/red this week, one with a fever at the gate yesterday.
    yellow, red, feverish = people[40], people[75], people[130]
    # Contractors back from the risk area stay home under their measures (all but the one released last week).
    from fangkong.measures.demo_data import returnees

    at_home = {p.pk for p in returnees(ctx)[1:]}
    for n in (2, 1, 0):
        day = today - timedelta(days=n)
        for p in people:
            if (rng.random() < 0.06 and p.user_id is None) or p.pk in at_home:
                continue  # a day off
            label = units.get(p.unit_id, "")
            workshop = WORKSHOP_VENUE.get(label.split("/")[0])
            code = "yellow" if p is yellow else "red" if p is red and n <= 1 else "green"
            temperature = Decimal("37.6") if p is feverish and n == 1 else None
            arrive = _jitter(rng, _at(day, 7, 15), 40)
            leave = _jitter(rng, _at(day, 17, 5), 40)
            gate = v["东大门"] if rng.random() < 0.85 else v["物流门"]
            scans.visit(p, gate, arrive, leave, live=n == 0, **_gate(rng, code, temperature))
            if code != "green" or temperature is not None:
                continue  # refused at the gate: no further scans that day
            lunch = _jitter(rng, _at(day, 11, 40), 50)
            if workshop:
                scans.visit(p, v[workshop], arrive + timedelta(minutes=20), lunch - timedelta(minutes=3))
                scans.visit(p, v[workshop], lunch + timedelta(minutes=35), leave - timedelta(minutes=12))
            scans.visit(p, v["职工食堂"], lunch, lunch + timedelta(minutes=rng.randint(14, 28)))
            if p.dormitory and n > 0:
                building = v["1号宿舍楼"] if p.dormitory.startswith(("1", "2")) else v["2号宿舍楼"]
                evening = _jitter(rng, _at(day, 18, 30), 90)
                scans.visit(p, building, evening, _jitter(rng, _at(day + timedelta(days=1), 6, 30), 30))
        # The weekly safety meeting of the office and the workshop directors.
        if n == 1:
            leaders = [p for p in people if units.get(p.unit_id) in ("综合办公室", "一车间", "二车间", "三车间")][:18]
            for p in leaders:
                scans.visit(p, v["一号会议室"], _jitter(rng, _at(day, 15, 0), 5), _jitter(rng, _at(day, 16, 10), 5))
    ctx.counts["scans"] += scans.upload(org, gate_user)

    # Visitors: one appointment waiting for its host, one approved for later today, one visitor arrived this morning.
    host = next(p for p in people if p.user_id == admin.pk)
    tomorrow = today + timedelta(days=1)

    def book(starts: datetime, ends: datetime, company: str, purpose: str) -> Visit:
        return services.visit_book(
            organization=org, host=host, name=synthetic_name(rng, rng.choice(("male", "female"))),
            id_number=synthetic_id_number(rng, "140428", born_from=1986, born_to=1998),
            phone=synthetic_mobile(rng), purpose=purpose, company=company, starts_at=starts, ends_at=ends,
            places_14d="长治市长子县、潞州区", health_code="green", actor="访客自助预约",
        )

    book(_at(tomorrow, 9, 30), _at(tomorrow, 11, 30), "太原重型机械集团有限公司", "洽谈齿轮箱配套业务")
    later = max(now + timedelta(hours=1), _at(today, 14, 0))
    approved = book(later, later + timedelta(hours=2), "长治市市场监督管理局", "特种设备年度检查")
    services.visit_decide(visit=approved, approve=True, actor=admin, note="请按时到东大门登记，全程佩戴口罩")
    arrived = book(now - timedelta(hours=1), now + timedelta(hours=2), "山西潞安环保能源开发股份有限公司",
                   "设备验收")
    services.visit_decide(visit=arrived, approve=True, actor=admin, note="同意")
    walk_in = services.visitor_find_or_create(
        organization=org, name=synthetic_name(rng, "male"),
        id_number=synthetic_id_number(rng, "140428", born_from=1986, born_to=1995), phone=synthetic_mobile(rng),
    )
    gate_scans = Scans(now)
    gate_scans.visit(arrived.visitor, v["东大门"], now - timedelta(minutes=50), None, live=True, **_gate(rng))
    gate_scans.visit(walk_in, v["东大门"], now - timedelta(minutes=25), None, live=True, **_gate(rng))  # no appointment
    ctx.counts["scans"] += gate_scans.upload(org, gate_user)
    ctx.counts["visits"] += 3

    # Vehicles: a delivery disinfected and gone, a cold-chain truck inside now.
    for plate, origin, cargo, time_in, time_out in (
        ("晋D5K236", "长治市潞州区", "钢材", _at(today, 7, 50), _at(today, 9, 10)),
        ("豫E8G713", "河南省安阳市", "包装材料", now - timedelta(minutes=40), None),
    ):
        if time_in >= now:
            time_in = now - timedelta(minutes=90)
        if time_out is not None and time_out >= now:
            time_out = None
        driver = services.visitor_find_or_create(
            organization=org, name=synthetic_name(rng, "male"),
            id_number=synthetic_id_number(rng, "140428", born_from=1986, born_to=1992), phone=synthetic_mobile(rng),
        )
        services.vehicle_create(
            organization=org, actor=gate_user, plate=plate, driver=driver, origin=origin, destination=org.name,
            cargo=cargo, time_in=time_in, time_out=time_out, disinfected=True, disinfected_by=gate_user.display_name,
            disinfectant="含氯消毒剂（500 mg/L）喷洒", disinfected_at=time_in + timedelta(minutes=5),
        )
        ctx.counts["vehicle_passes"] += 1


def _hospital(ctx: Any, now: datetime) -> None:
    rng, today, org = ctx.rng, ctx.today, ctx.orgs["hospital"]
    v = _venues(org, HOSPITAL_VENUES, ctx.users["hospital"])
    units = {u.pk: label for label, u in ctx.units["hospital"].items()}
    people = ctx.people["hospital"]
    fever = [p for p in people if units.get(p.unit_id) == "发热门诊"]
    index = next(p for p in fever if p.user_id is None and p.gender == "female")
    ctx.shared["index_case"] = index
    couriers = [p for p in fever if p is not index][:3]
    scans = Scans(now)
    for n in (4, 3, 2, 1, 0):
        day = today - timedelta(days=n)
        for p in people:
            label = units.get(p.unit_id, "")
            if p is index:
                on_duty = 2 <= n <= 4  # her sample of two days ago came back positive that evening
            else:
                on_duty = p.user_id is not None or rng.random() < (0.7 if label == "发热门诊" else 0.9)
            if not on_duty:
                continue
            arrive, leave = _jitter(rng, _at(day, 7, 20), 30), _jitter(rng, _at(day, 17, 30), 40)
            scans.visit(p, v["职工通道"], arrive, leave, **_gate(rng))
            ward = HOSPITAL_WARD_VENUE.get(label)
            if ward:
                scans.visit(p, v[ward], arrive + timedelta(minutes=12), leave - timedelta(minutes=10))
            if label != "发热门诊":
                lunch = _jitter(rng, _at(day, 11, 30), 70)
                scans.visit(p, v["职工食堂"], lunch, lunch + timedelta(minutes=rng.randint(10, 25)))
        if n == 3:
            # Samples carried to the laboratory: 25 minutes with the laboratory staff.
            for p in couriers:
                scans.visit(p, v["检验科"], _at(day, 14, 0), _at(day, 14, 25))
    ctx.counts["scans"] += scans.upload(org, "seed_demo")


def _school(ctx: Any, now: datetime) -> None:
    rng, today, org = ctx.rng, ctx.today, ctx.orgs["school"]
    v = _venues(org, SCHOOL_VENUES, ctx.users["school"])
    absent = set(Absence.objects.filter(organization=org, returned_on__isnull=True).values_list("person_id", flat=True))
    # The index case's husband teaches here; he has been home since her result (the tracing demo adds him).
    grade = ctx.units["school"]["九年级"].pk
    husband = next(p for p in ctx.people["school"] if p.unit_id == grade and p.gender == "male" and p.user_id is None)
    ctx.shared["index_household"] = husband
    absent.add(husband.pk)
    scans = Scans(now)
    for p in ctx.people["school"]:
        if rng.random() < 0.03 or p.pk in absent:
            continue
        arrive = _jitter(rng, _at(today, 7, 10), 40)
        scans.visit(p, v["校门"], arrive, _jitter(rng, _at(today, 17, 40), 30), **_gate(rng))
        scans.visit(p, v["教学楼"], arrive + timedelta(minutes=5), _at(today, 11, 50))
        lunch = _jitter(rng, _at(today, 12, 0), 30)
        scans.visit(p, v["学生食堂"], lunch, lunch + timedelta(minutes=rng.randint(15, 25)))
    ctx.counts["scans"] += scans.upload(org, "seed_demo")


def seed(ctx: Any) -> None:
    now = timezone.now() - timedelta(minutes=2)
    _factory(ctx, now)
    _hospital(ctx, now)
    _school(ctx, now)
    # Entries nobody left through an exit scan (a dormitory night that ended today) get their estimated exit.
    services.close_overdue_entries(now=now)
