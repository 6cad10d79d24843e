"""Services on the database: pooled flows, fulfilment, import errors, dose order, coverage, idempotent generation."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person
from fangkong.testing import selectors, services
from fangkong.testing.models import PositiveFinding, Result, Sample, TestProgram
from fangkong.testing.services import ResultRow

pytestmark = pytest.mark.django_db

TZ = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2021, 11, 10)
NOON = dt.datetime(2021, 11, 10, 12, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(dt.datetime(2021, 11, 10, 18, 0, tzinfo=TZ), tick=False):
        yield


def _program(world, **values):
    values.setdefault("name", "高风险岗位每 3 天核酸")
    values.setdefault("kind", "every_n_days")
    values.setdefault("start_date", DAY)
    values.setdefault("source_note", "003：发热门诊、隔离酒店、进口冷链每 3 天一次核酸")
    return services.program_create(organization=world.factory, actor=world.alice, **values)


def _due(person, kind="test_nat"):
    return Obligation.objects.filter(person=person, kind=kind)


def test_every_n_days_generation_is_idempotent_and_targets_posts(world, make_person):
    cold = [make_person(post_category="cold_chain") for _ in range(3)]
    other = make_person()
    program = _program(world, post_categories=["cold_chain", "fever_clinic"])
    assert services.program_generate(program=program, day=DAY) == 3
    assert services.program_generate(program=program, day=DAY) == 0
    assert services.programs_generate(day=DAY) == 0
    assert {o.person_id for o in Obligation.objects.filter(source=program.source)} == {p.pk for p in cold}
    assert not _due(other).exists()
    # Not a test day (day 2 of a 3-day cycle); day 4 is.
    assert services.program_generate(program=program, day=DAY + dt.timedelta(days=1)) == 0
    assert services.program_generate(program=program, day=DAY + dt.timedelta(days=3)) == 3
    ob = Obligation.objects.filter(source=program.source, day=DAY).first()
    assert ob.due_until - ob.due_from == dt.timedelta(days=3)


def test_batch_programme_tests_n_a_day(world, make_person):
    staff = [make_person(unit=world.workshop1) for _ in range(5)]
    make_person(unit=world.workshop2)
    program = _program(world, name="一车间分批", kind="batch", unit=world.workshop1, per_day=2)
    counts = [services.program_generate(program=program, day=DAY + dt.timedelta(days=i)) for i in range(4)]
    assert counts == [2, 2, 1, 0]
    got = Obligation.objects.filter(source=program.source)
    assert sorted(o.person_id for o in got) == sorted(p.pk for p in staff)


def test_on_admission_tests_new_patients_and_escorts(world, make_person):
    patient = make_person(kind="patient")
    escort = make_person(kind="escort")
    make_person(kind="employee")
    program = _program(world, name="新入院患者及陪护", kind="on_admission", source_note="001：新入院患者及陪护人员")
    assert services.program_generate(program=program, day=DAY) == 2
    assert {o.person_id for o in Obligation.objects.filter(source=program.source)} == {patient.pk, escort.pk}


def test_programme_validation(world):
    with pytest.raises(ServiceError, match="重点岗位类别或部门"):
        _program(world)
    with pytest.raises(ServiceError, match="分批检测需要指定部门"):
        _program(world, kind="batch")


def _pool(world, people, code="T0001", **kw):
    return services.sample_register(organization=world.factory, tube_code=code, members=people, actor=world.alice,
                                    sampled_at=NOON, **kw)


def test_negative_pool_fulfils_every_members_open_test(world, make_person):
    people = [make_person(post_category="cold_chain") for _ in range(10)]
    outsider = make_person(post_category="cold_chain")
    program = _program(world, post_categories=["cold_chain"])
    services.program_generate(program=program, day=DAY)
    sample = _pool(world, people)
    assert sample.pooled
    report = services.result_record(organization=world.factory, actor=world.alice, tube_code="T0001",
                                    result="阴性", reported_at=NOON + dt.timedelta(hours=3))
    assert report.fulfilled == 10
    for p in people:
        ob = _due(p).get()
        assert ob.status == "fulfilled" and ob.evidence_type == "sample" and ob.evidence_id == sample.pk
    assert _due(outsider).get().status == "due"
    assert AuditEvent.objects.filter(action="result.record", object_id=str(sample.pk)).exists()


def test_a_result_reported_before_its_tube_was_sampled_is_refused(world, make_person):
    """By hand the form names no sampling time: the tube's registered one counts (a report dated 2000 was stored)."""
    _pool(world, [make_person()], code="S7", pooled=False)  # sampled at NOON
    with pytest.raises(ServiceError) as refused:
        services.result_record(organization=world.factory, actor=world.alice, tube_code="S7", result="negative",
                               reported_at=dt.datetime(2000, 1, 1, 10, 0, tzinfo=TZ))
    assert "报告时间 2000-01-01 10:00 早于该管登记的采样时间 2021-11-10 12:00" in refused.value.message
    assert not Result.objects.exists()
    # The same in an import row without a sampling time; a report after sampling is fine.
    with pytest.raises(ServiceError) as refused:
        services.results_apply(organization=world.factory, actor=world.alice, rows=[
            ResultRow(line=2, tube_code="S7", result="negative", reported_at=NOON - dt.timedelta(hours=1))])
    assert "第 2 行" in refused.value.message and "早于该管登记的采样时间" in refused.value.message
    assert not Result.objects.exists()
    services.result_record(organization=world.factory, actor=world.alice, tube_code="S7", result="negative",
                           reported_at=NOON + dt.timedelta(hours=3))
    assert Result.objects.count() == 1


def test_negative_does_not_fulfil_a_later_day_or_another_kind(world, make_person):
    person = make_person(post_category="cold_chain")
    program = _program(world, post_categories=["cold_chain"], start_date=DAY + dt.timedelta(days=1))
    services.program_generate(program=program, day=DAY + dt.timedelta(days=1))
    antibody = _program(world, name="抗体", post_categories=["cold_chain"], test_kind="antibody")
    services.program_generate(program=antibody, day=DAY)
    _pool(world, [person], code="S1", pooled=False)
    services.result_record(organization=world.factory, actor=world.alice, tube_code="S1", result="negative")
    assert set(Obligation.objects.filter(person=person).values_list("status", flat=True)) == {"due"}


def test_positive_pool_gives_individual_retests_to_exactly_its_members_and_alerts(world, make_person):
    people = [make_person() for _ in range(10)]
    bystander = make_person()
    sample = _pool(world, people)
    report = services.result_record(organization=world.factory, actor=world.alice, tube_code="T0001",
                                    result="positive")
    retests = Obligation.objects.filter(source=f"retest:sample:{sample.pk}")
    assert sorted(retests.values_list("person_id", flat=True)) == sorted(p.pk for p in people)
    assert report.retests == 10 and not report.findings
    assert not Obligation.objects.filter(person=bystander).exists()
    from fangkong.notify.models import Notification

    assert Notification.objects.filter(recipient=world.alice, event="testing.positive").count() == 1
    assert Notification.objects.filter(recipient=world.officer, event="testing.positive").count() == 1
    assert not PositiveFinding.objects.exists()


def test_positive_individual_records_a_finding_for_tracing(world, make_person):
    person = make_person()
    _pool(world, [person], code="S9", pooled=False)
    report = services.result_record(organization=world.factory, actor=world.alice, tube_code="S9", result="阳性")
    finding = PositiveFinding.objects.get()
    assert report.findings == [finding.pk] and finding.person == person and finding.status == "open"
    assert list(selectors.open_findings_for_tracing(organization_id=world.factory.pk)) == [finding]


def test_invalid_pool_asks_for_resampling(world, make_person):
    people = [make_person() for _ in range(3)]
    sample = _pool(world, people)
    services.result_record(organization=world.factory, actor=world.alice, tube_code="T0001", result="invalid")
    assert Obligation.objects.filter(source=f"resample:sample:{sample.pk}").count() == 3


def test_pool_checks_on_registration(world, make_person):
    people = [make_person() for _ in range(11)]
    with pytest.raises(ServiceError, match="最多 10 人"):
        _pool(world, people)
    _pool(world, people[:2])
    with pytest.raises(ServiceError, match="已登记"):
        _pool(world, people[2:4])
    charlie_person = make_person(organization=world.other_org)
    with pytest.raises(ServiceError, match="不属于本单位"):
        _pool(world, [charlie_person], code="X1")


def test_unknown_tube_and_repeat_result_store_nothing(world, make_person):
    person = make_person()
    _pool(world, [person], code="S1", pooled=False)
    with pytest.raises(ServiceError, match="未知的管码 T123"):
        services.result_record(organization=world.factory, actor=world.alice, tube_code="T123", result="negative")
    services.result_record(organization=world.factory, actor=world.alice, tube_code="S1", result="negative")
    with pytest.raises(ServiceError, match="已有检测结果"):
        services.result_record(organization=world.factory, actor=world.alice, tube_code="S1", result="positive")
    assert Result.objects.count() == 1


def test_other_tenants_tube_is_unknown(world, make_person):
    theirs = make_person(organization=world.other_org)
    services.sample_register(organization=world.other_org, tube_code="C1", members=[theirs], actor=world.charlie)
    with pytest.raises(ServiceError, match="未知的管码 C1"):
        services.result_record(organization=world.factory, actor=world.alice, tube_code="C1", result="negative")


def test_batch_all_or_nothing_versus_valid_rows(world, make_person):
    a, b = make_person(), make_person()
    _pool(world, [a], code="A1", pooled=False)
    rows = [ResultRow(line=2, tube_code="A1", result="阴性"), ResultRow(line=3, tube_code="T123", result="阴性"),
            ResultRow(line=4, id_number=b.id_number, result="阳", sampled_at=NOON)]
    with pytest.raises(ServiceError) as exc:
        services.results_apply(organization=world.factory, rows=rows, actor=world.alice)
    assert exc.value.field_errors["rows"] == ["第 3 行，管码：未知的管码 T123"]
    assert Result.objects.count() == 0 and Sample.objects.count() == 1
    report = services.results_apply(organization=world.factory, rows=rows, actor=world.alice, valid_only=True)
    assert report.applied == 2 and report.error_lines() == ["第 3 行，管码：未知的管码 T123"]
    # Matched by ID number: a single tube was created for b, and the positive is a finding.
    assert PositiveFinding.objects.get().person == b


# ----- vaccination --------------------------------------------------------------------------------------------------


def _dose(world, person, n, on=DAY):
    return services.vaccination_record(person=person, dose_number=n, product="新冠病毒灭活疫苗（Vero细胞）",
                                       manufacturer="北京生物", vaccinated_on=on, actor=world.alice)


def test_dose_order_and_status(world, make_person):
    p = make_person()
    assert services.person_vaccination_status(p) == "none"
    with pytest.raises(ServiceError, match="缺少第 1 剂"):
        _dose(world, p, 2)
    _dose(world, p, 1, DAY - dt.timedelta(days=60))
    assert services.person_vaccination_status(p) == "partial"
    with pytest.raises(ServiceError, match="第 1 剂已有记录"):
        _dose(world, p, 1)
    with pytest.raises(ServiceError, match="早于前一剂"):
        _dose(world, p, 2, DAY - dt.timedelta(days=90))
    _dose(world, p, 2, DAY - dt.timedelta(days=30))
    assert services.person_vaccination_status(p) == "complete"
    _dose(world, p, 3)
    assert services.person_vaccination_status(p) == "booster"
    assert AuditEvent.objects.filter(action="vaccination.record").count() == 3


def test_complete_doses_is_a_setting(world, make_person, settings):
    settings.FANGKONG_VACCINE_COMPLETE_DOSES = 1
    p = make_person()
    _dose(world, p, 1)
    assert services.person_vaccination_status(p) == "complete"


def test_post_assignment_rule(world, make_person):
    p = make_person()
    with pytest.raises(ServiceError, match="未完成疫苗接种的人员不能安排到进口冷链/发热门诊岗位"):
        services.check_post_assignment(p, "cold_chain")
    services.check_post_assignment(p, "isolation_hotel")
    services.check_post_assignment(p, None)
    _dose(world, p, 1, DAY - dt.timedelta(days=40))
    _dose(world, p, 2)
    services.check_post_assignment(p, "fever_clinic")


def test_coverage_on_a_known_set(world, make_person):
    ws1 = [make_person(unit=world.workshop1) for _ in range(4)]
    ws2 = [make_person(unit=world.workshop2) for _ in range(2)]
    make_person(organization=world.other_org)
    _dose(world, ws1[0], 1)
    for p in ws1[1:3] + ws2[:1]:
        _dose(world, p, 1, DAY - dt.timedelta(days=30))
        _dose(world, p, 2)
    _dose(world, ws1[2], 3)
    rows = {r.name: r for r in selectors.coverage(user=world.alice, by="unit")}
    one = rows["一车间"]
    assert (one.people, one.vaccinated, one.complete, one.booster) == (4, 3, 2, 1)
    assert one.vaccinated_rate == 75.0
    two = rows["二车间"]
    assert (two.people, two.vaccinated, two.complete, two.booster) == (2, 1, 1, 0)
    by_org = selectors.coverage(user=world.alice, by="organization")
    assert [(r.name, r.people, r.complete) for r in by_org] == [("长子县示范机械厂", 6, 3)]
    by_j = selectors.coverage(user=world.officer, by="jurisdiction")
    assert [(r.people, r.vaccinated) for r in by_j] == [(6, 4)]
    # Bob sees only workshop 1.
    assert [r.name for r in selectors.coverage(user=world.bob, by="unit")] == ["一车间"]
    unvax = selectors.unvaccinated(user=world.alice)
    assert {p.pk for p in unvax} == {ws1[3].pk, ws2[1].pk}


def test_vaccination_import_row_errors(world, make_person):
    p = make_person()
    q = make_person()
    rows = [
        services.VaccinationRow(line=2, id_number=p.id_number, dose_number="2", product="灭活疫苗",
                                vaccinated_on="2021-10-01"),
        services.VaccinationRow(line=3, id_number=p.id_number, dose_number="1", product="灭活疫苗",
                                vaccinated_on="2021-09-01"),
        services.VaccinationRow(line=4, id_number=q.id_number, dose_number="2", product="灭活疫苗",
                                vaccinated_on="2021-09-01"),
        services.VaccinationRow(line=5, id_number="110105194912310029", dose_number="1", product="灭活疫苗",
                                vaccinated_on="2021-09-01"),
    ]
    report = services.vaccinations_import(organization=world.factory, rows=rows, actor=world.alice)
    assert [e["row"] for e in report.errors] == [4, 5]
    assert "缺少第 1 剂" in report.error_lines()[0]
    assert report.applied == 0 and services.person_vaccination_status(p) == "none"
    report = services.vaccinations_import(organization=world.factory, rows=rows, actor=world.alice, valid_only=True)
    assert report.applied == 2 and services.person_vaccination_status(p) == "complete"


def test_overdue_tests_and_completion(world, make_person):
    people = [make_person(post_category="cold_chain", unit=world.workshop1) for _ in range(4)]
    program = _program(world, post_categories=["cold_chain"], start_date=DAY - dt.timedelta(days=3))
    services.program_generate(program=program, day=DAY - dt.timedelta(days=3))
    _pool(world, people[:2])
    services.result_record(organization=world.factory, actor=world.alice, tube_code="T0001", result="negative")
    overdue = selectors.overdue_tests(user=world.alice, organization_id=world.factory.pk)
    assert {o.person_id for o in overdue} == {p.pk for p in people[2:]}
    assert {o.person_id for o in selectors.overdue_tests(user=world.charlie)} == set()
    (day,) = selectors.program_completion(program=program, until=DAY)
    assert (day.expected, day.done, day.rate) == (4, 2, 50.0)


def test_person_kind_constants_match():
    assert "patient" in Person.Kind.values and TestProgram.Kind.ON_ADMISSION == "on_admission"
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"


def test_coverage_rolls_up_and_names_in_two_queries(world, make_person, django_assert_max_num_queries):
    a = make_person(unit=world.workshop1)
    make_person(unit=world.team1)
    make_person()  # no unit
    b = make_person(organization=world.other_org)
    _dose(world, a, 1)
    _dose(world, b, 1)
    # The group query (inside SET LOCAL … ) and one or two for the units' full names, whatever the number of groups.
    with django_assert_max_num_queries(6):
        by_unit = selectors.coverage(user=world.admin, by="unit")
    assert sorted((r.name, r.people, r.vaccinated) for r in by_unit[:2]) == [("一车间", 1, 1), ("一车间/一班", 1, 0)]
    assert (by_unit[2].name, by_unit[2].people, by_unit[2].vaccinated) == ("", 2, 1)  # the unassigned, last
    by_j = {r.name: (r.people, r.vaccinated) for r in selectors.coverage(user=world.admin, by="jurisdiction")}
    assert by_j == {"长子县疫情防控指挥部": (3, 1), "太原市疫情防控指挥部": (1, 1)}
    by_org = {r.name: r.people for r in selectors.coverage(user=world.admin, by="organization")}
    assert by_org == {"长子县示范机械厂": 3, "太原某医院": 1}


def test_admission_just_before_midnight_is_tested_by_the_next_run(world, make_person):
    from fangkong.testing import tasks

    tz = timezone.get_current_timezone()
    _program(world, name="新入院患者及陪护", kind="on_admission", source_note="001")
    with time_machine.travel(dt.datetime(2021, 11, 10, 23, 55, tzinfo=tz), tick=False):
        patient = make_person(kind="patient")
    with time_machine.travel(dt.datetime(2021, 11, 11, 0, 0, tzinfo=tz), tick=False):
        assert tasks.generate_admission_tests.call_local() == 1
        assert tasks.generate_admission_tests.call_local() == 0
    ob = Obligation.objects.get(person=patient)
    assert (ob.kind, ob.day) == ("test_nat", dt.date(2021, 11, 10))
