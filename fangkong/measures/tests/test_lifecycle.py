"""Measure lifecycle services: start, release (blocked with reasons), extend, escalate, custodians."""

from __future__ import annotations

import datetime as dt
from datetime import date

import pytest
from django.utils import timezone, translation

from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.measures import services
from fangkong.measures.models import Measure, MeasureCustodian, MeasureTest
from fangkong.measures.tests.test_measures import D, decision

pytestmark = pytest.mark.django_db

AFTER = date(2021, 10, 1)  # the day after day 14


def confirmed(world, person, **kw) -> Measure:
    (m,) = services.measures_record_decisions(person=person, decisions=[decision(**kw)], actor=world.alice,
                                              evaluation_date=D)
    return services.measure_confirm(measure=m, actor=world.alice)


def sample(world, person, on: date, value: str, *, kind="nat", pooled=False, code=None):
    from fangkong.testing.models import Result, Sample, SampleMember

    at = dt.datetime.combine(on, dt.time(9), tzinfo=timezone.get_current_timezone())
    s = Sample.objects.create(organization=person.organization, tube_code=code or f"T{person.pk}-{on:%m%d}-{kind}",
                              kind=kind, pooled=pooled, sampled_at=at, sampled_on=on)
    SampleMember.objects.create(sample=s, person=person)
    Result.objects.create(sample=s, result=value, reported_at=at + dt.timedelta(hours=6), batch="b1")
    return s


def test_start_needs_a_place_and_centralized_is_not_home(world, make_person):
    m = confirmed(world, make_person())
    with pytest.raises(ServiceError, match="须在集中隔离点执行"):
        services.measure_start(measure=m, place="home", actor=world.alice)
    with pytest.raises(ServiceError, match="请填写执行地点"):
        services.measure_start(measure=m, place=" ", actor=world.alice)
    m = services.measure_start(measure=m, place="长沙市某酒店隔离点", actor=world.alice)
    assert (m.status, m.place) == ("in_progress", "长沙市某酒店隔离点") and m.started_at
    with pytest.raises(ServiceError, match="不能开始执行"):
        services.measure_start(measure=m, place="x", actor=world.alice)
    assert AuditEvent.objects.get(action="measure.start").changes["status"] == ["confirmed", "in_progress"]



def test_lifecycle_errors_in_english(world, make_person):
    m = services.measure_start(measure=confirmed(world, make_person()), place="隔离点A", actor=world.alice)
    with translation.override("en"):
        with pytest.raises(ServiceError, match=r"^Measure #\d+ \(Centralized quarantine\): The status is “In progress”, "
                                               r"so it cannot be started \(only from: Confirmed\)$"):
            services.measure_start(measure=m, place="x", actor=world.alice)
        with pytest.raises(ServiceError) as e:
            services.measure_release(measure=m, approver=world.officer, actor=world.alice, today=date(2021, 9, 30))
        blockers = services.measure_release_blockers(measure=m, today=date(2021, 9, 30))
    assert e.value.field_errors["release"][:2] == ["Day 14 is not over yet (ends 9-30)",
                                                   "NAT test (9-17) has no result yet"]
    assert e.value.message.startswith(f"Measure #{m.pk} (Centralized quarantine) cannot be released yet: "
                                      "Day 14 is not over yet (ends 9-30); NAT test (9-17) has no result yet; ")
    assert blockers == e.value.field_errors["release"]

def test_release_refused_with_reasons_then_released(world, make_person):
    person = make_person()
    m = services.measure_start(measure=confirmed(world, person), place="隔离点A", actor=world.alice)
    # Before the end: day 14 not over, tests without results.
    with pytest.raises(ServiceError) as e:
        services.measure_release(measure=m, approver=world.officer, actor=world.alice, today=date(2021, 9, 30))
    assert e.value.field_errors["release"][:2] == ["第 14 天尚未结束（截止 9-30）", "核酸检测（9-17）尚无结果"]
    sample(world, person, date(2021, 9, 17), "negative")
    sample(world, person, date(2021, 9, 23), "negative", pooled=True)
    # A pooled positive is not the person's result: day 14 still waits for the single tube.
    sample(world, person, date(2021, 9, 30), "positive", pooled=True)
    with pytest.raises(ServiceError, match="核酸检测（9-30）尚无结果"):
        services.measure_release(measure=m, approver=world.officer, actor=world.alice, today=AFTER)
    sample(world, person, date(2021, 9, 30), "negative", code="single-0930")
    m = services.measure_release(measure=m, approver=world.officer, actor=world.alice, today=AFTER)
    person.refresh_from_db()
    assert m.status == "released" and m.released_by == world.officer
    assert (person.measure_kind, person.measure_until) == ("", None)
    event = AuditEvent.objects.get(action="measure.release")
    assert event.changes["person.measure_kind"] == ["centralized_quarantine", ""]


def test_release_blocked_by_positive_obligation_evidence_and_symptoms(world, make_person):
    from fangkong.obligations.models import Obligation

    person = make_person()
    m = services.measure_start(measure=confirmed(world, person), place="隔离点A", actor=world.alice)
    for t in m.tests.all():
        sample(world, person, t.due_date, "negative")
    # An antigen positive outside the schedule still blocks.
    sample(world, person, date(2021, 9, 20), "positive", kind="antigen")
    person.symptomatic_since = timezone.now()
    person.save(update_fields=["symptomatic_since"])
    blockers = services.measure_release_blockers(measure=Measure.objects.get(pk=m.pk), today=AFTER)
    assert blockers == ["有阳性检测结果", "有未解除的症状标记"]
    # Obligation evidence counts as a result: an abnormal one on a scheduled day is positive.
    ob = Obligation.objects.get(source=f"measure:{m.pk}", day=date(2021, 9, 23))
    assert ob.kind == "test_nat"
    Obligation.objects.filter(pk=ob.pk).update(status="fulfilled", evidence_id=1, abnormal=True)
    results = services.measure_test_results(measure=m, today=AFTER)
    assert ("nat", date(2021, 9, 23), "positive") in results


def test_release_keeps_another_active_restriction(world, make_person):
    person = make_person()
    m = services.measure_start(measure=confirmed(world, person, kind="routine_testing", end=date(2021, 9, 20),
                                                 key="rt", days=(1,)), place="home", actor=world.alice)
    quarantine = confirmed(world, person, kind="home_quarantine", key="hq", days=(1,))
    sample(world, person, D, "negative")
    services.measure_release(measure=m, approver=world.officer, actor=world.alice, today=AFTER)
    person.refresh_from_db()
    assert (person.measure_kind, person.measure_until) == ("home_quarantine", quarantine.end_date)


def test_extend_moves_the_end_adds_a_test_and_reopens(world, make_person):
    person = make_person()
    m = services.measure_start(measure=confirmed(world, person), place="隔离点A", actor=world.alice)
    Measure.objects.filter(pk=m.pk).update(status="ready_for_release")
    with pytest.raises(ServiceError, match="延长须说明原因"):
        services.measure_extend(measure=m, days=7, reason="", actor=world.alice)
    with pytest.raises(ServiceError, match="1–30 天"):
        services.measure_extend(measure=m, days=0, reason="同住人阳性", actor=world.alice)
    m = services.measure_extend(measure=m, days=7, reason="同住人阳性", actor=world.alice)
    person.refresh_from_db()
    assert (m.end_date, m.status, m.extended_days) == (date(2021, 10, 7), "in_progress", 7)
    assert person.measure_until == date(2021, 10, 7)
    assert MeasureTest.objects.filter(measure=m, day=21, due_date=date(2021, 10, 7)).exists()
    from fangkong.obligations.models import Obligation
    assert Obligation.objects.filter(source=f"measure:{m.pk}", day=date(2021, 10, 7), kind="test_nat").exists()
    assert AuditEvent.objects.get(action="measure.extend").changes["reason"] == [None, "同住人阳性"]


def test_escalate(world, make_person):
    person = make_person()
    m = confirmed(world, person)
    with pytest.raises(ServiceError, match="升级须说明原因"):
        services.measure_escalate(measure=m, reason="", actor=world.alice)
    m = services.measure_escalate(measure=m, reason="核酸阳性", actor=world.alice)
    assert (m.status, m.escalation_reason) == ("escalated", "核酸阳性")
    with pytest.raises(ServiceError, match="不能延长"):
        services.measure_extend(measure=m, days=3, reason="x", actor=world.alice)
    person.refresh_from_db()
    # The escalated measure no longer drives twice-daily check-ins; the stricter track sets what follows.
    assert (person.measure_kind, person.measure_until) == ("", None)
    assert AuditEvent.objects.get(action="measure.escalate").changes["person.measure_kind"] == [
        "centralized_quarantine", ""]


@pytest.mark.parametrize("kind", ["routine_testing", "vaccination_required", "refuse_entry", "send_to_fever_clinic",
                                  "report_and_approval"])
def test_kinds_without_twice_daily_temperature_leave_the_person_alone(world, make_person, kind):
    person = make_person()
    confirmed(world, person, kind=kind, key=f"k-{kind}", days=(1,))
    person.refresh_from_db()
    assert (person.measure_kind, person.measure_until) == ("", None)
    assert "person.measure_kind" not in AuditEvent.objects.get(action="measure.confirm").changes


@pytest.mark.parametrize("kind", ["centralized_quarantine", "home_quarantine", "home_health_monitoring",
                                  "temperature_twice_daily"])
def test_twice_daily_kinds_set_the_person_and_put_them_on_two_slots(world, make_person, kind):
    from fangkong.health.models import CheckinSetting
    from fangkong.health.services import obligations_generate_for_day
    from fangkong.obligations.models import Obligation

    person = make_person()
    other = make_person()
    CheckinSetting.objects.update_or_create(organization=person.organization,
                                            defaults={"frequency": "daily", "is_active": True})
    confirmed(world, person, kind=kind, key=f"k-{kind}", days=(1,))
    person.refresh_from_db()
    assert (person.measure_kind, person.measure_until) == (kind, date(2021, 9, 30))
    obligations_generate_for_day(day=D, organization=person.organization)
    slots = lambda p: Obligation.objects.filter(person=p, day=D, kind__startswith="checkin").count()  # noqa: E731
    assert (slots(person), slots(other)) == (2, 1)


def test_a_routine_measure_does_not_replace_a_quarantine_and_escalation_falls_back(world, make_person):
    person = make_person()
    quarantine = confirmed(world, person, kind="home_quarantine", key="hq", days=(1,))
    temp = confirmed(world, person, kind="temperature_twice_daily", key="tt", days=(1,), end=date(2021, 10, 5))
    confirmed(world, person, kind="routine_testing", key="rt", days=(1,))
    person.refresh_from_db()
    assert (person.measure_kind, person.measure_until) == ("home_quarantine", quarantine.end_date)
    services.measure_escalate(measure=quarantine, reason="出现发热", actor=world.alice)
    person.refresh_from_db()
    assert (person.measure_kind, person.measure_until) == ("temperature_twice_daily", temp.end_date)
    services.measure_escalate(measure=temp, reason="核酸阳性", actor=world.alice)
    person.refresh_from_db()
    assert (person.measure_kind, person.measure_until) == ("", None)


def test_custodians_encrypted_masked_and_audited(world, make_person):
    m = confirmed(world, make_person())
    c = services.custodian_add(measure=m, role="police", name="王警官", phone="138 0013 8000", actor=world.alice)
    assert c.phone_masked == "138****8000"
    assert MeasureCustodian.objects.get(pk=c.pk).phone == "13800138000"
    with pytest.raises(ServiceError, match="电话"):
        services.custodian_add(measure=m, role="volunteer", name="李", phone="123", actor=world.alice)
    with pytest.raises(ServiceError, match="角色"):
        services.custodian_add(measure=m, role="boss", name="李", phone="", actor=world.alice)
    with pytest.raises(ServiceError, match="最多 50 个字"):  # it was cut to 50 without a word
        services.custodian_add(measure=m, role="volunteer", name="李" * 51, phone="", actor=world.alice)
    with pytest.raises(ServiceError, match="执行地点最多 100 个字"):  # a database error on PostgreSQL before
        services.measure_start(measure=m, place="隔" * 101, actor=world.alice)
    services.custodian_remove(custodian=c, actor=world.alice)
    assert not MeasureCustodian.objects.exists()
    actions = list(AuditEvent.objects.filter(action__startswith="measure.custodian").values_list("changes", flat=True))
    assert all("13800138000" not in str(ch) for ch in actions) and len(actions) == 2


def test_api_lifecycle_and_scope(client, world, make_person):
    import time_machine

    from fangkong.measures.tests.test_measures import bearer

    person = make_person(unit=world.workshop1)
    m = confirmed(world, person)
    confirmed(world, make_person(unit=world.workshop2), kind="home_quarantine", key="hq")
    alice, bob, charlie = bearer(world.alice), bearer(world.bob), bearer(world.charlie)
    listing = client.get("/api/v1/measures?status=confirmed", **alice).json()
    assert listing["count"] == 2
    assert [i["id"] for i in client.get(f"/api/v1/measures?unit={world.workshop1.pk}", **alice).json()["items"]] \
        == [m.pk]
    assert client.get("/api/v1/measures?kind=home_quarantine", **bob).json()["count"] == 0  # bob: workshop 1 only
    assert client.get("/api/v1/measures", **charlie).json()["count"] == 0
    # Another tenant's measure is not found; a unit leader may not act.
    assert client.post(f"/api/v1/measures/{m.pk}/release", **charlie).status_code == 404
    assert client.post(f"/api/v1/measures/{m.pk}/start", {"place": "x"}, content_type="application/json",
                       **bob).status_code == 403
    r = client.post(f"/api/v1/measures/{m.pk}/start", {"place": "隔离点A"}, content_type="application/json", **alice)
    assert r.status_code == 200 and r.json()["status"] == "in_progress" and r.json()["place"] == "隔离点A"
    r = client.post(f"/api/v1/measures/{m.pk}/release", **alice)
    assert r.status_code == 400 and "暂不能解除" in r.json()["message"]
    assert any("尚无结果" in b for b in r.json()["errors"]["release"])
    r = client.post(f"/api/v1/measures/{m.pk}/extend", {"days": 3, "reason": "补足检测"},
                    content_type="application/json", **alice)
    assert r.status_code == 200 and r.json()["end_date"] == "2021-10-03" and r.json()["extended_days"] == 3
    for t in MeasureTest.objects.filter(measure=m):
        sample(world, person, t.due_date, "negative")
    with time_machine.travel(dt.datetime(2021, 10, 4, 10, tzinfo=timezone.get_current_timezone()), tick=False):
        assert client.get(f"/api/v1/measures/{m.pk}/release-blockers", **alice).json()["blockers"] == []
        r = client.post(f"/api/v1/measures/{m.pk}/release", **alice)
    assert r.status_code == 200 and r.json()["status"] == "released"
    # Custodians: masked out, 404 across tenants.
    other = confirmed(world, make_person(unit=world.workshop1), key="x2")
    r = client.post(f"/api/v1/measures/{other.pk}/custodians", {"role": "grid_worker", "name": "赵网格",
                    "phone": "13900139000"}, content_type="application/json", **alice)
    assert r.status_code == 201 and r.json()["phone_masked"] == "139****9000"
    assert client.get(f"/api/v1/measures/{other.pk}/custodians", **bob).json()[0]["name"] == "赵网格"
    cid = r.json()["id"]
    assert client.delete(f"/api/v1/measures/{other.pk}/custodians/{cid}", **charlie).status_code == 404
    assert client.delete(f"/api/v1/measures/{other.pk}/custodians/{cid}", **alice).status_code == 204


def test_person_page_buttons_blockers_and_custodians(client, world, make_person):
    person = make_person()
    m = confirmed(world, person)
    client.force_login(world.alice)
    url = f"/measures/person/{person.pk}/"
    page = client.get(url).content.decode()
    assert f"/measures/{m.pk}/start/" in page and "包保人员（四包一）" in page and "尚未指定包保人员" in page
    r = client.post(f"/measures/{m.pk}/start/", {"place": "home"})
    assert r.status_code == 302 and r["Location"] == url
    m.refresh_from_db()
    assert m.status == "confirmed"  # centralized quarantine cannot be at home: refused with a toast
    assert "须在集中隔离点执行" in client.get(url).content.decode()
    client.post(f"/measures/{m.pk}/start/", {"place": "隔离点A"})
    page = client.get(url).content.decode()
    assert "暂不能解除" in page and "尚无结果" in page and f"/measures/{m.pk}/release/" in page
    client.post(f"/measures/{m.pk}/release/")
    m.refresh_from_db()
    assert m.status == "in_progress"
    client.post(f"/measures/{m.pk}/extend/", {"days": "2", "reason": "补足检测"})
    client.post(f"/measures/{m.pk}/custodians/", {"role": "police", "name": "王警官", "phone": "13800138000"})
    page = client.get(url).content.decode()
    assert "138****8000" in page and "13800138000" not in page and "已延长 2 天" in page
    c = MeasureCustodian.objects.get()
    client.post(f"/measures/custodians/{c.pk}/remove/")
    assert not MeasureCustodian.objects.exists()
    client.post(f"/measures/{m.pk}/escalate/", {"reason": "核酸阳性"})
    m.refresh_from_db()
    assert (m.status, m.end_date) == ("escalated", date(2021, 10, 2))
    # bob (unit leader) may not act; charlie (another tenant) gets a 404.
    client.force_login(world.bob)
    assert client.post(f"/measures/{m.pk}/extend/", {"days": "2", "reason": "x"}).status_code == 403
    client.force_login(world.charlie)
    assert client.post(f"/measures/{m.pk}/extend/", {"days": "2", "reason": "x"}).status_code == 404


def test_daily_record_and_notice(client, world, make_person):
    import io

    import openpyxl

    from fangkong.health.models import Checkin
    from fangkong.measures import documents

    person = make_person()
    m = services.measure_start(measure=confirmed(world, person), place="隔离点A", actor=world.alice)
    services.custodian_add(measure=m, role="health_worker", name="刘医生", phone="13700137000", actor=world.alice)
    at = dt.datetime.combine(D, dt.time(8), tzinfo=timezone.get_current_timezone())
    for hours, temp, symptoms in ((0, "36.5", []), (12, "37.4", ["fever"])):
        Checkin.objects.create(person=person, organization=person.organization, date=D, slot="day",
                               temperature=temp, symptoms=symptoms, submitted_at=at + dt.timedelta(hours=hours))
    sample(world, person, D, "negative")
    rows = documents.daily_rows(measure=m, today=date(2021, 9, 18))
    assert [(r.day, r.on) for r in rows] == [(1, D), (2, date(2021, 9, 18))]
    assert (rows[0].temperatures, rows[0].symptoms, rows[0].tests) == ("36.5 / 37.4", "发热", "核酸检测：阴性")
    assert (rows[1].temperatures, rows[1].symptoms, rows[1].tests) == ("未报", "无", "")
    client.force_login(world.alice)
    r = client.get(f"/measures/{m.pk}/record.xlsx")
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in ws[2]] == ["第几天", "日期", "体温（℃）", "症状", "检测"]
    assert ws.cell(3, 3).value == "36.5 / 37.4" and person.id_number not in str(ws.cell(1, 1).value)
    r = client.get(f"/measures/{m.pk}/notice.pdf")
    # The CJK font is embedded (fpdf2 subsets it), so the Chinese text renders on any reader.
    assert r.status_code == 200 and r.content.startswith(b"%PDF") and b"/FontFile" in r.content
    assert AuditEvent.objects.filter(action__startswith="measure.export_").count() == 2
    client.force_login(world.charlie)
    assert client.get(f"/measures/{m.pk}/notice.pdf").status_code == 404


def test_mark_ready_only_when_nothing_blocks(world, make_person):
    clear, blocked = make_person(), make_person()
    m1 = services.measure_start(measure=confirmed(world, clear), place="隔离点A", actor=world.alice)
    m2 = services.measure_start(measure=confirmed(world, blocked), place="隔离点A", actor=world.alice)
    for t in m1.tests.all():
        sample(world, clear, t.due_date, "negative")
    assert services.measures_mark_ready(today=date(2021, 9, 30)) == 0  # day 14 not over
    assert services.measures_mark_ready(today=AFTER) == 1
    m1.refresh_from_db()
    m2.refresh_from_db()
    assert (m1.status, m2.status) == ("ready_for_release", "in_progress")
    assert AuditEvent.objects.get(action="measure.ready").changes["status"] == ["in_progress", "ready_for_release"]
    services.measure_release(measure=m1, approver=world.officer, actor=world.officer, today=AFTER)
    m1.refresh_from_db()
    assert m1.status == "released"


def test_release_certificate_only_once_released(client, world, make_person):
    person = make_person()
    m = services.measure_start(measure=confirmed(world, person), place="隔离点A", actor=world.alice)
    client.force_login(world.alice)
    r = client.get(f"/measures/{m.pk}/release.pdf")
    assert r.status_code == 302 and "尚未解除" in client.get(r["Location"]).content.decode()
    for t in m.tests.all():
        sample(world, person, t.due_date, "negative")
    services.measure_release(measure=m, approver=world.officer, actor=world.officer, today=AFTER)
    assert f"/measures/{m.pk}/release.pdf" in client.get(f"/measures/person/{person.pk}/").content.decode()
    r = client.get(f"/measures/{m.pk}/release.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF") and b"/FontFile" in r.content
    assert AuditEvent.objects.filter(action="measure.export_certificate").count() == 1


def test_the_approver_is_named_as_people_know_them(client, world, make_person):
    """The certificate and the person's page printed the login name ('factory') when the user has no first/last
    name: Chinese names live in display_name."""
    from fangkong.measures.documents import _certificate_text

    world.officer.display_name = "史嘉梦"
    world.officer.save(update_fields=["display_name"])
    person = make_person()
    m = services.measure_start(measure=confirmed(world, person), place="隔离点A", actor=world.alice)
    for t in m.tests.all():
        sample(world, person, t.due_date, "negative")
    services.measure_release(measure=m, approver=world.officer, actor=world.officer, today=AFTER)
    m.refresh_from_db()
    assert "审批人：史嘉梦" in _certificate_text(m, m.released_at)[1]
    client.force_login(world.alice)
    page = client.get(f"/measures/person/{person.pk}/").content.decode()
    assert "史嘉梦" in page and world.officer.username not in page


def test_documents_stay_chinese_when_asked_for_in_english(client, world, make_person, monkeypatch):
    import io

    import openpyxl
    from django.conf import settings

    from fangkong.measures import documents

    person = make_person()
    m = services.measure_start(measure=confirmed(world, person), place="隔离点A", actor=world.alice)
    services.custodian_add(measure=m, role="health_worker", name="刘医生", phone="13700137000", actor=world.alice)
    client.force_login(world.alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    ws = openpyxl.load_workbook(io.BytesIO(client.get(f"/measures/{m.pk}/record.xlsx").content)).active
    assert "集中隔离医学观察" in ws.cell(1, 1).value and "状态：执行中" in ws.cell(1, 1).value
    written = []
    monkeypatch.setattr(documents, "_pdf", lambda title, lines, signature: written.append((title, lines)) or b"%PDF")
    assert client.get(f"/measures/{m.pk}/notice.pdf").status_code == 200
    (title, lines), = written
    assert title == "集中隔离医学观察通知书" and "医务人员 刘医生" in "".join(lines)
    assert "核酸检测" in "".join(lines)
