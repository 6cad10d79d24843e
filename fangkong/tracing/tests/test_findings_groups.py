"""A positive result proposes a suspected case; households and meetings as evidence; many cases at once with a
fixed number of queries; the same-team rule only for teams."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import translation

from fangkong.core.models import AuditEvent
from fangkong.testing import services as testing
from fangkong.testing.models import PositiveFinding
from fangkong.tracing import services
from fangkong.tracing.models import Case, CaseStatusChange, Contact, Household, Meeting
from fangkong.tracing.tests.conftest import SH, at

NOW = datetime(2021, 9, 23, 9, 0, tzinfo=SH)
NOON = datetime(2021, 9, 21, 12, 0, tzinfo=SH)

pytestmark = pytest.mark.django_db


def _positive(world: Any, person: Any, code: str) -> None:
    testing.sample_register(organization=world.factory, tube_code=code, members=[person], actor=world.alice,
                            sampled_at=NOON, pooled=False)
    testing.result_record(organization=world.factory, actor=world.alice, tube_code=code, result="positive",
                          reported_at=NOON + timedelta(hours=20))


def test_positive_result_proposes_a_suspected_case_the_office_confirms(world, make_person, client, settings,
                                                                       django_capture_on_commit_callbacks):
    person = make_person(name="阳性甲")
    with django_capture_on_commit_callbacks(execute=True):
        _positive(world, person, "S1")
    finding = PositiveFinding.objects.get(person=person)
    case = Case.objects.get(person=person)
    assert case.status == "suspected" and case.source == "positive_result"
    assert case.positive_finding_id == finding.pk and case.sample_date == date(2021, 9, 21)
    assert case.report_date == date(2021, 9, 22) and case.created_by is None
    finding.refresh_from_db()
    assert finding.status == "case_proposed"
    # Audited as the system, with no user; the history says so too.
    event = AuditEvent.objects.get(action="case.create", object_id=str(case.pk))
    assert event.actor is None and event.actor_repr == "system:positive-result"
    assert AuditEvent.objects.get(action="finding.status", object_id=str(finding.pk)).actor_repr == \
        "system:positive-result"
    change = CaseStatusChange.objects.get(case=case)
    assert change.actor is None and change.system_actor == "system:positive-result" and change.note == ""
    # The case page names the system in the reader's language (it read "由system:positive-result自动生成").
    client.force_login(world.officer)
    page = client.get(f"/tracing/cases/{case.pk}/").content.decode()
    assert "由系统（阳性检测结果）自动生成" in page and "system:positive-result" not in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/tracing/cases/{case.pk}/").content.decode()
    assert "Generated automatically by System (positive test result)" in page
    assert f"Positive finding #{finding.pk}, sample #{finding.sample_id}" in page and "阳性发现" not in page
    # An office officer confirms it.
    case = services.case_confirm(case=case, actor=world.officer)
    assert case.status == "confirmed" and case.history.count() == 2


def test_no_second_case_while_one_is_open_and_the_single_save_path(world, make_person,
                                                                   django_capture_on_commit_callbacks):
    person = make_person(name="阳性乙")
    existing = services.case_create(person_id=person.pk, actor=world.alice, onset_date=date(2021, 9, 20),
                                    report_date=date(2021, 9, 21))
    with django_capture_on_commit_callbacks(execute=True):
        _positive(world, person, "S2")
    assert list(Case.objects.filter(person=person)) == [existing]
    assert PositiveFinding.objects.get(person=person).status == "case_proposed"
    assert AuditEvent.objects.filter(action="case.finding_attached", object_id=str(existing.pk)).exists()
    # A finding saved on its own (post_save) proposes its case too; calling again changes nothing.
    other = make_person(name="阳性丙")
    sample = testing.sample_register(organization=world.factory, tube_code="S3", members=[other], actor=world.alice,
                                     sampled_at=NOON, pooled=False)
    with django_capture_on_commit_callbacks(execute=True):
        finding = PositiveFinding.objects.create(organization=world.factory, person=other, sample=sample,
                                                 kind=sample.kind, sampled_at=NOON, reported_at=NOON)
    assert Case.objects.get(person=other).positive_finding_id == finding.pk
    assert services.case_propose_from_finding(finding_id=finding.pk) is None
    assert services.cases_propose_from_open_findings() == []
    assert Case.objects.filter(person=other).count() == 1


def test_system_actor_may_not_confirm(world, make_person):
    person = make_person()
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.case_create(person_id=person.pk, actor=services.SYSTEM, status="confirmed",
                             onset_date=date(2021, 9, 20))


@pytest.fixture
def groups(world: Any, make_person: Any, venues: Any, scan: Any) -> dict[str, Any]:
    """A is the case (window 09-20 00:00 → 09-22 18:00). Known answers in the names."""
    p = {n: make_person(name=n) for n in ("A", "H_household", "H_other_household", "M_declared", "M_scanned",
                                          "M_scanned_after", "M_before_window", "N_declared_where_A_scanned",
                                          "X_nobody")}
    home = Household.objects.create(organization=world.factory, name="幸福里 3-2-101")
    home.members.set([p["A"], p["H_household"]])
    Household.objects.create(organization=world.factory, name="别家").members.set([p["H_other_household"]])
    meeting = Meeting.objects.create(organization=world.factory, title="安全例会", venue=venues["meeting"],
                                     starts_at=at(120), ends_at=at(180))  # 09-20 10:00–11:00
    meeting.attendees.set([p["A"], p["M_declared"]])
    scan(p["M_scanned"], venues["meeting"], at(150), at(200))  # 30 min of the session, A declared only
    scan(p["M_scanned_after"], venues["meeting"], at(185), at(230))  # after the session
    # A second meeting in the same room on 09-21 14:00–15:00: A is not on the list but scanned in for 20 minutes.
    by_scan = Meeting.objects.create(organization=world.factory, title="质量会", venue=venues["meeting"],
                                     starts_at=at(30 * 60), ends_at=at(31 * 60))
    by_scan.attendees.set([p["N_declared_where_A_scanned"]])
    scan(p["A"], venues["meeting"], at(30 * 60 + 40), at(31 * 60 + 30))
    old = Meeting.objects.create(organization=world.factory, title="上周会", starts_at=at(-3000), ends_at=at(-2940))
    old.attendees.set([p["A"], p["M_before_window"]])
    return p


def _case(world: Any, person: Any) -> Case:
    return services.case_create(person_id=person.pk, actor=world.officer, status="confirmed",
                                onset_date=date(2021, 9, 22), report_date=date(2021, 9, 23),
                                isolated_at=datetime(2021, 9, 22, 18, 0, tzinfo=SH))


def test_household_and_meeting_evidence(world, groups):
    p = groups
    with time_machine.travel(NOW, tick=False):
        case = _case(world, p["A"])
        services.trace_run(case=case, actor=world.officer, params={"secondary": False})
    contacts = {c.person.name: c for c in Contact.objects.filter(case=case).select_related("person")}
    assert set(contacts) == {"H_household", "M_declared", "M_scanned", "N_declared_where_A_scanned"}
    n = contacts["N_declared_where_A_scanned"].evidence[0]
    assert n["kind"] == "meeting" and n["title"] == "质量会" and n["minutes"] == 20
    h = contacts["H_household"].evidence[0]
    assert h["kind"] == "household" and h["household_id"] and h["minutes"] == (2 * 24 + 18) * 60
    assert datetime.fromisoformat(h["from"]) == datetime(2021, 9, 20, 0, 0, tzinfo=SH)
    m = contacts["M_declared"].evidence[0]
    assert m["kind"] == "meeting" and m["venue_id"] and m["minutes"] == 60
    s = contacts["M_scanned"].evidence[0]
    assert s["kind"] == "meeting" and s["minutes"] == 30 and datetime.fromisoformat(s["from"]) == at(150)
    for e in (h, m, s):
        assert {"kind", "from", "to", "minutes"} <= set(e)


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the set-based co-presence query is PostgreSQL's; SQLite asks once per case window")
def test_many_cases_with_a_fixed_number_of_queries(world, make_person, venues, scan,
                                                   django_assert_max_num_queries):
    def build(n: int) -> list[Case]:
        cases = []
        for i in range(n):
            a, b, c = (make_person(name=f"{tag}{n}-{i}") for tag in ("case", "close", "second"))
            k = 60 * i + (600 if n > 2 else 0)  # nobody meets another case's people
            scan(a, venues["canteen"], at(240 + k), at(280 + k))
            scan(b, venues["canteen"], at(240 + k), at(270 + k))
            scan(b, venues["meeting"], at(1500 + k), at(1560 + k))
            scan(c, venues["meeting"], at(1500 + k), at(1560 + k))
            cases.append(_case(world, a))
        return list(Case.objects.filter(pk__in=[c.pk for c in cases]).select_related("person"))

    params = {}
    small, large = build(2), build(8)
    for case in small + large:
        params[case.pk] = services.trace_params(case, {})
    with django_assert_max_num_queries(12) as few:
        res_small = services.find_contacts_many(cases=small, params=params, now=NOW)
    with django_assert_max_num_queries(12) as many:
        res_large = services.find_contacts_many(cases=large, params=params, now=NOW)
    assert len(few.captured_queries) == len(many.captured_queries)
    # Each answer equals the single-case computation.
    for case in small + large:
        window, found = services.find_contacts(case=case, params=params[case.pk], now=NOW)
        got = {**res_small, **res_large}[case.pk]
        assert got.window == window and got.found == found
        assert sorted(e["degree"] for e in found.values()) == [1, 2]


def test_same_unit_rule_only_for_teams(world, make_person, venues, scan):
    a = make_person(name="A", unit=world.team1)
    mate = make_person(name="mate", unit=world.team1)
    boss = make_person(name="boss", unit=world.workshop2)
    crowd = [make_person(name=f"w{i}", unit=world.workshop2) for i in range(4)]
    for person in (a, mate, boss, *crowd):
        scan(person, venues["gate"], at(30), at(31))
    with time_machine.travel(NOW, tick=False):
        case = _case(world, a)
        snap = services.trace_run(case=case, actor=world.officer, params={"secondary": False})
        assert set(Contact.objects.filter(case=case).values_list("person__name", flat=True)) == {"mate"}
        assert "same_unit_skipped" not in snap.counts
        boss_case = _case(world, boss)
        snap = services.trace_run(case=boss_case, actor=world.officer, params={"secondary": False, "team_max": 3})
    assert not Contact.objects.filter(case=boss_case).exists()
    assert snap.counts["same_unit_skipped"] == {"unit_id": world.workshop2.pk, "members": 5, "team_max": 3}
    with pytest.raises(services.ServiceError, match="0–500"):
        services.trace_params(boss_case, {"team_max": -1})


def test_trace_run_many_reports_untraceable_cases(world, make_person, venues, scan):
    good = _case(world, make_person(name="good"))
    bad = services.case_create(person_id=make_person(name="bad").pk, actor=world.alice)  # no onset nor sample
    with time_machine.travel(NOW, tick=False):
        snapshots, errors = services.trace_run_many(case_ids=[good.pk, bad.pk], actor=world.officer)
    assert [s.case_id for s in snapshots] == [good.pk]
    assert list(errors) == [bad.pk] and "发病日期或采样日期" in errors[bad.pk]


def test_declare_household_and_meeting_through_the_api(world, make_person, venues, api):
    a, b = make_person(name="甲"), make_person(name="乙")
    theirs = make_person(name="外", organization=world.other_org)
    alice = api(world.alice)
    r = alice.post("/households", {"organization_id": world.factory.pk, "name": "3-2-101", "person_ids": [a.pk, b.pk]})
    assert r.status_code == 201 and r.json()["person_ids"] == sorted([a.pk, b.pk])
    r = alice.post("/households", {"organization_id": world.factory.pk, "name": "x", "person_ids": [a.pk, theirs.pk]})
    assert r.status_code == 404 and f"#{theirs.pk}" in r.json()["message"]
    r = alice.post("/households", {"organization_id": world.factory.pk, "name": "x", "person_ids": [a.pk]})
    assert r.status_code == 400 and "至少需要 2 名" in r.json()["message"]
    meeting = {"organization_id": world.factory.pk, "title": "周会", "starts_at": at(120).isoformat(),
               "ends_at": at(180).isoformat(), "venue_id": venues["meeting"].pk, "person_ids": [a.pk]}
    r = alice.post("/meetings", meeting)
    assert r.status_code == 201 and Meeting.objects.get(pk=r.json()["id"]).venue == venues["meeting"]
    r = alice.post("/meetings", {**meeting, "ends_at": at(60).isoformat()})
    assert r.status_code == 400 and "应晚于开始时间" in r.json()["message"]
    r = alice.post("/meetings", {**meeting, "venue_id": venues["other"].pk})
    assert r.status_code == 400 and "不属于" in r.json()["message"]
    assert api(world.charlie).post("/households", {"organization_id": world.factory.pk, "name": "y",
                                                   "person_ids": [a.pk, b.pk]}).status_code in (403, 404)


def test_groups_page_declares_by_id_number_or_phone(world, make_person, venues, client):
    a, b = make_person(name="甲"), make_person(name="乙")
    theirs = make_person(name="外", organization=world.other_org)
    client.force_login(world.alice)
    assert client.get("/tracing/groups/").status_code == 200
    r = client.post("/tracing/groups/", {"kind": "household", "name": "3-2-101",
                                         "people": f"{a.id_number}\n\n{b.phone}\n"}, follow=True)
    assert r.status_code == 200 and "同住家庭已登记" in r.content.decode()
    assert set(Household.objects.get().members.values_list("name", flat=True)) == {"甲", "乙"}
    r = client.post("/tracing/groups/", {"kind": "household", "name": "x", "people": f"{a.id_number}\n"
                                         f"{theirs.id_number}"}, follow=True)
    assert "人员名单第 2 行：未找到" in r.content.decode() and theirs.id_number not in r.content.decode()
    r = client.post("/tracing/groups/", {"kind": "meeting", "title": "周会", "starts_at": "2021-09-20T10:00",
                                         "ends_at": "2021-09-20T11:00", "venue_id": venues["meeting"].pk,
                                         "people": ""}, follow=True)
    assert "会议已登记" in r.content.decode() and Meeting.objects.get().venue == venues["meeting"]
    assert "周会" in client.get("/tracing/groups/").content.decode()
    client.force_login(world.charlie)
    assert "周会" not in client.get("/tracing/groups/").content.decode()


def test_an_import_of_several_positives_sweeps_once_and_never_fails_the_import(
        world, make_person, django_capture_on_commit_callbacks, monkeypatch):
    people = [make_person(name=f"阳性{i}") for i in range(3)]
    for i, person in enumerate(people):
        testing.sample_register(organization=world.factory, tube_code=f"P{i}", members=[person], actor=world.alice,
                                sampled_at=NOON, pooled=False)
    rows = [testing.ResultRow(line=i + 2, result="positive", tube_code=f"P{i}", reported_at=NOON + timedelta(hours=8))
            for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        testing.results_apply(organization=world.factory, rows=rows, actor=world.alice)
    sweeps = [c for c in callbacks if getattr(c, "tracing_sweep_org", None) == world.factory.pk]
    assert len(sweeps) == 1
    assert Case.objects.filter(person__in=people, status="suspected").count() == 3

    # A failing proposal is logged, not raised into the import whose results are already stored.
    other = make_person(name="阳性丁")
    testing.sample_register(organization=world.factory, tube_code="P9", members=[other], actor=world.alice,
                            sampled_at=NOON, pooled=False)

    def broken(**kwargs):
        raise RuntimeError("tracing is down")

    monkeypatch.setattr(services, "cases_propose_from_open_findings", broken)
    monkeypatch.setattr(services, "case_propose_from_finding", broken)
    with django_capture_on_commit_callbacks(execute=True):
        testing.results_apply(organization=world.factory, actor=world.alice, rows=[
            testing.ResultRow(line=2, result="positive", tube_code="P9", reported_at=NOON + timedelta(hours=8))])
    assert PositiveFinding.objects.filter(person=other, status="open").exists()
    assert not Case.objects.filter(person=other).exists()


def test_an_open_case_isolates_the_person_until_it_is_excluded(world, make_person, django_capture_on_commit_callbacks):
    """A positive worker must not walk through the gate: the case isolates them (Person.measure_kind), the gate's
    decision refuses them, and excluding the case gives back whatever measure they had before."""
    from fangkong.access import rules as gate
    from fangkong.people.models import Person

    person = make_person(name="阳性戊")
    Person.objects.filter(pk=person.pk).update(measure_kind="home_quarantine", measure_until=date(2021, 9, 30))
    with django_capture_on_commit_callbacks(execute=True):
        _positive(world, person, "S9")
    case = Case.objects.get(person=person)
    person.refresh_from_db()
    assert person.measure_kind == "isolation" and person.measure_until is None
    assert gate.measure_active(gate.PersonFacts(measure_kind=person.measure_kind), date(2021, 9, 23))
    assert AuditEvent.objects.get(action="case.create", object_id=str(case.pk)).changes[
        "person.measure_kind"] == ["home_quarantine", "isolation"]
    services.case_set_status(case=case, status="excluded", actor=world.officer, note="复核阴性")
    person.refresh_from_db()
    assert person.measure_kind == ""  # no active measure of the measures app: nothing left


def test_earlier_automatic_notes_move_to_the_system_actor(world, make_person):
    """Migration 0005: the notes case_create wrote before ("由…自动生成") become the field; people's notes stay."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("fangkong.tracing.migrations.0005_case_history_system_actor")
    case = services.case_create(person_id=make_person(name="旧记录甲").pk, actor=world.officer,
                                onset_date=date(2021, 9, 20), report_date=date(2021, 9, 21))
    automatic = CaseStatusChange.objects.create(case=case, to_status="suspected", note="由system:positive-result自动生成")
    typed = CaseStatusChange.objects.create(case=case, to_status="confirmed", actor=world.officer,
                                            note="由市疾控中心复核后自动生成")
    migration.notes_to_system_actor(apps, None)
    automatic.refresh_from_db()
    typed.refresh_from_db()
    assert (automatic.system_actor, automatic.note) == ("system:positive-result", "")
    assert (typed.system_actor, typed.note) == ("", "由市疾控中心复核后自动生成")
    migration.system_actor_to_notes(apps, None)
    automatic.refresh_from_db()
    assert automatic.note == "由system:positive-result自动生成"


@pytest.mark.parametrize(("written", "finding", "zh", "en"), [
    ("阳性发现#3 样本#129", 3, "阳性发现#3 样本#129", "Positive finding #3, sample #129"),
    ("阳性发现#3", 3, "阳性发现#3", "Positive finding #3"),
    ("阳性发现#3 样本#None", 3, "阳性发现#3", "Positive finding #3"),  # as written before session 9
    ("阳性发现#3 样本#129", None, "阳性发现#3 样本#129", "阳性发现#3 样本#129"),  # typed by a person: as written
    ("市疾控中心通报", 3, "市疾控中心通报", "市疾控中心通报"),
])
def test_a_positive_results_reference_reads_in_the_readers_language(written, finding, zh, en):
    case = Case(source_reference=written, positive_finding_id=finding)
    assert case.source_reference_label == zh
    with translation.override("en"):
        assert case.source_reference_label == en
    assert Case.finding_reference(3, 129) == "阳性发现#3 样本#129" and Case.finding_reference(3, None) == "阳性发现#3"
