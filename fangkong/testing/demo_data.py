"""Demo testing and vaccination (picked up by fangkong.tenancy.demo.run_demo after the base steps).

- The hospital tests its fever-clinic staff every 3 days (seed 001/003) through a programme (`program_create`,
  obligations by `programs_generate`); the results come in as lab batches through `results_apply`, which creates the
  single tubes and fulfils the obligations. The last round found the fever-clinic nurse of the access demo
  (`ctx.shared["index_case"]`) positive: a PositiveFinding, and the alert to the prevention office.
- The factory tests its assembly workshop in batches of 40 a day, sampled 10-in-1 (`sample_register` with pooled tubes);
  today's pools are still at the lab.
- About 85 % of the people are vaccinated (first dose, complete course or booster), written set-based the way
  `vaccination_record` writes them (the dose rows and each person's VaccinationState, one audit event for the
  import); everyone on a fever-clinic post has completed the course (seed 003). Two contraindications.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from fangkong.core.audit import audit_record
from fangkong.people.models import Person
from fangkong.testing import services
from fangkong.testing.models import TestProgram, Vaccination, VaccinationState
from fangkong.testing.services import ResultRow

LAB = "长治市疾病预防控制中心"
PRODUCTS = (("新冠病毒灭活疫苗（Vero细胞）", "北京科兴中维生物技术有限公司"),
            ("新冠病毒灭活疫苗（Vero细胞）", "北京生物制品研究所有限责任公司"),
            ("新冠病毒灭活疫苗（Vero细胞）", "武汉生物制品研究所有限责任公司"))
VACCINATED = 0.85


def _at(day: date, h: int, m: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(h, m)))


def _fever_clinic(ctx: Any, now: datetime) -> None:
    rng, today, org = ctx.rng, ctx.today, ctx.orgs["hospital"]
    actor = ctx.users["hospital"]
    services.program_create(
        organization=org, actor=actor, name="发热门诊工作人员每3天核酸检测", kind=TestProgram.Kind.EVERY_N_DAYS,
        test_kind="nat", post_categories=[Person.PostCategory.FEVER_CLINIC], interval_days=3,
        start_date=today - timedelta(days=14), source_note="长疫情防控办发〔2021〕38号 第八条：发热门诊工作人员每3天1次核酸检测",
    )
    for n in range(14, -1, -1):
        services.programs_generate(day=today - timedelta(days=n), organization=org)
    staff = list(Person.objects.filter(organization=org, post_category=Person.PostCategory.FEVER_CLINIC,
                                       is_active=True).order_by("id"))
    index = ctx.shared.get("index_case")
    for n in (14, 11, 8, 5, 2):
        day = today - timedelta(days=n)
        rows, positive = [], None
        for i, p in enumerate(staff):
            sampled = _at(day, 8, rng.randint(0, 40))
            row = ResultRow(line=i + 2, result="negative", person_id=p.pk, kind="nat", sampled_at=sampled,
                            reported_at=_at(day, 20, rng.randint(0, 50)), lab=LAB)
            if index is not None and p.pk == index.pk and n == 2:
                row.result = "positive"
                row.reported_at = _at(day, 20, 30)
                positive = row
                continue
            rows.append(row)
        services.results_apply(organization=org, rows=rows, actor=actor)
        ctx.counts["results"] += len(rows)
        if positive is not None:
            # The positive is phoned through on its own: the finding, the alert to the office, and (tracing listens)
            # a suspected case.
            services.results_apply(organization=org, rows=[positive], actor=actor)
            ctx.counts["results"] += 1


def _assembly_pools(ctx: Any, now: datetime) -> None:
    rng, today, org = ctx.rng, ctx.today, ctx.orgs["factory"]
    actor = ctx.users["factory"]
    assembly = ctx.units["factory"]["二车间"]
    program = services.program_create(
        organization=org, actor=actor, name="二车间分批核酸检测（10混1）", kind=TestProgram.Kind.BATCH,
        test_kind="nat", unit=assembly, per_day=40, start_date=today - timedelta(days=5),
        source_note="长子县疫情防控办：重点企业职工分批次核酸检测，每批 10 人混采",
    )
    for n in range(5, -1, -1):
        day = today - timedelta(days=n)
        services.program_generate(program=program, day=day)
        people = services.program_people(program, day)
        if people is None:
            continue
        members = list(people.order_by("id"))
        sampled = _at(day, 8, 30)
        if sampled >= now:
            continue
        rows = []
        for k in range(0, len(members), 10):
            code = f"CZ{day:%y%m%d}{k // 10 + 1:03d}"
            services.sample_register(organization=org, tube_code=code, members=members[k:k + 10], pooled=True,
                                     sampled_at=sampled + timedelta(minutes=k), site="厂区东门采样点", actor=actor)
            rows.append(ResultRow(line=k // 10 + 2, result="negative", tube_code=code,
                                  reported_at=_at(day, 21, rng.randint(0, 50)), lab=LAB))
            ctx.counts["samples"] += 1
        if n > 0:  # today's tubes are still at the lab
            services.results_apply(organization=org, rows=rows, actor=actor)
            ctx.counts["results"] += len(rows)


def _vaccinations(ctx: Any) -> None:
    rng, today = ctx.rng, ctx.today
    rows: list[Vaccination] = []
    states: list[VaccinationState] = []
    unvaccinated: list[Person] = []
    for people in ctx.people.values():
        for p in people:
            must = p.post_category == Person.PostCategory.FEVER_CLINIC
            if not must and rng.random() > VACCINATED:
                unvaccinated.append(p)
                continue
            r = rng.random()
            doses = 3 if r < 0.55 else 2 if r < 0.93 or must else 1
            product, maker = rng.choice(PRODUCTS)
            first = today - timedelta(days=rng.randint(300, 420))
            on = first
            for dose in range(1, doses + 1):
                rows.append(Vaccination(organization_id=p.organization_id, person_id=p.pk, dose_number=dose,
                                        product=product, manufacturer=maker, vaccinated_on=on,
                                        site=rng.choice(("长子县人民医院接种点", "丹朱镇卫生院接种点", "长子县疾控中心"))))
                last = on
                on = on + timedelta(days=rng.randint(21, 56) if dose == 1 else rng.randint(180, 240))
            states.append(VaccinationState(person_id=p.pk, doses=doses, last_on=last))
    Vaccination.objects.bulk_create(rows, batch_size=2000)
    VaccinationState.objects.bulk_create(states, batch_size=2000)
    ctx.counts["vaccinations"] += len(rows)
    done = {s.person_id for s in states}
    for org_key, org in ctx.orgs.items():
        audit_record(actor="seed_demo", action="vaccination.import", obj=org, organization_id=org.pk,
                     changes={"people": [None, sum(1 for p in ctx.people[org_key] if p.pk in done)]})
    actor = ctx.users["school"]
    for p, reason in zip([p for p in unvaccinated if p.organization_id == ctx.orgs["school"].pk][:2],
                         ("对疫苗成分过敏史", "正在接受免疫抑制治疗"), strict=False):
        services.contraindication_record(person=p, reason=reason, actor=actor,
                                         until=today + timedelta(days=180) if "治疗" in reason else None)


def seed(ctx: Any) -> None:
    now = timezone.now()
    _vaccinations(ctx)
    _fever_clinic(ctx, now)
    _assembly_pools(ctx, now)
