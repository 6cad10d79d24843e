"""Tracing on PostgreSQL with known answers, agreement of the SQL query with rules.co_present, re-runs, measures."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import translation

from fangkong.access.models import Scan, Venue
from fangkong.core.errors import NotFound, ServiceError
from fangkong.measures.models import Measure
from fangkong.obligations.models import Obligation
from fangkong.tracing import rules, selectors, services
from fangkong.tracing.models import Contact, ContactFinding, InvestigationTask
from fangkong.tracing.tests.conftest import SH, at

NOW = datetime(2021, 9, 23, 9, 0, tzinfo=SH)


@pytest.fixture
def scenario(world: Any, make_person: Any, venues: dict[str, Venue], scan: Any) -> dict[str, Any]:
    """A: the case (onset 09-22, isolated 09-22 18:00, window from 09-20 00:00). Known answers in the names."""
    p = {name: make_person(name=name) for name in
         ("A", "B_canteen30", "C_canteen10", "D_gate", "E_before_window", "F_secondary", "G_before_B_exposed")}
    p["H_dorm"] = make_person(name="H_dorm", dormitory="3-204")
    p["A"].dormitory = "3-204"
    p["A"].unit = world.team1
    p["A"].save()
    p["I_team"] = make_person(name="I_team", unit=world.team1)
    p["K_other_org"] = make_person(name="K_other_org", organization=world.other_org)
    v = venues
    scan(p["A"], v["canteen"], at(240), at(280))  # 12:00–12:40
    scan(p["B_canteen30"], v["canteen"], at(240), at(270))  # 30 min together
    scan(p["C_canteen10"], v["canteen"], at(270), at(290))  # 10 min together: below 30
    scan(p["A"], v["gate"], at(0), at(2))
    scan(p["D_gate"], v["gate"], at(0), at(2))  # gates never make contacts
    scan(p["A"], v["meeting"], at(-24 * 60), at(-23 * 60))  # 09-19: before the window
    scan(p["E_before_window"], v["meeting"], at(-24 * 60), at(-23 * 60))
    scan(p["B_canteen30"], v["meeting"], at(26 * 60), at(27 * 60))  # 09-21 10:00, after B's exposure
    scan(p["F_secondary"], v["meeting"], at(26 * 60), at(27 * 60))
    scan(p["B_canteen30"], v["workshop"], at(60), at(180))  # 09-20 09:00–11:00, before B met A
    scan(p["G_before_B_exposed"], v["workshop"], at(60), at(180))
    scan(p["I_team"], v["gate"], at(30), at(31))  # same team, same day as A
    scan(p["A"], v["other"], at(300), at(400))  # another organisation's building, alone
    scan(p["K_other_org"], v["canteen"], at(250), at(280))  # 30 min with A: a contact in another organisation
    return p


def _case(world: Any, person: Any, **values: Any) -> Any:
    values.setdefault("onset_date", date(2021, 9, 22))
    values.setdefault("report_date", date(2021, 9, 23))
    values.setdefault("isolated_at", datetime(2021, 9, 22, 18, 0, tzinfo=SH))
    return services.case_create(person_id=person.pk, actor=world.officer, status="confirmed", **values)


@pytest.mark.django_db
def test_known_answer_close_secondary_with_evidence(world, scenario, seed003):
    p = scenario
    with time_machine.travel(NOW, tick=False):
        case = _case(world, p["A"])
        snap = services.trace_run(case=case, actor=world.officer)
    contacts = {c.person.name: c for c in Contact.objects.filter(case=case).select_related("person")}
    assert set(contacts) == {"B_canteen30", "H_dorm", "I_team", "K_other_org", "F_secondary"}
    b = contacts["B_canteen30"]
    assert b.degree == 1 and b.evidence[0]["kind"] == "co_presence" and b.evidence[0]["minutes"] == 30
    assert datetime.fromisoformat(b.evidence[0]["from"]) == at(240)
    assert contacts["H_dorm"].evidence[0]["kind"] == "same_dormitory"
    assert contacts["I_team"].evidence[0]["kind"] == "same_unit_shift"
    f = contacts["F_secondary"]
    assert f.degree == 2 and f.via_person_id == p["B_canteen30"].pk and f.evidence[0]["minutes"] == 60
    assert (f.co_presences, f.minutes_together) == (1, 60) and f.last_exposure_at == at(27 * 60)
    assert b.co_presences is None and b.minutes_together is None  # close contacts keep all their evidence
    assert snap.counts["close"] == 4 and snap.counts["secondary"] == 1 and snap.counts["new"] == 5
    assert snap.window_start == datetime(2021, 9, 20, 0, 0, tzinfo=SH)
    # The venues the case used get a terminal disinfection obligation, in their own organisation (gate included).
    disinfection = set(Obligation.objects.filter(kind="disinfection_terminal", source=f"case:{case.pk}")
                       .values_list("subject_id", "organization_id"))
    assert (scenario["A"].scans.filter(venue__kind="building").get().venue_id, world.other_org.pk) in disinfection
    assert len(disinfection) == 3  # canteen, gate, other building (the meeting room was before the window)
    # The investigation has its fixed tasks and one verification per close contact, for the contact's organisation.
    tasks = InvestigationTask.objects.filter(investigation__case=case)
    assert set(tasks.values_list("kind", flat=True)) == {"companions_24h", "key_area_48h", "verify_contact"}
    assert tasks.filter(kind="verify_contact").count() == 4
    assert tasks.get(kind="verify_contact", person=p["K_other_org"]).organization_id == world.other_org.pk
    assert tasks.get(kind="companions_24h").due_at - tasks.get(kind="key_area_48h").due_at == timedelta(hours=-24)


@pytest.mark.django_db
def test_contacts_get_proposed_measures_citing_case_and_evidence(world, scenario, seed003):
    with time_machine.travel(NOW, tick=False):
        case = _case(world, scenario["A"])
        services.trace_run(case=case, actor=world.officer)
        m = Measure.objects.get(person=scenario["B_canteen30"])
        assert m.status == "proposed" and m.kind == "centralized_quarantine"
        assert f"病例#{case.pk} A" in m.explanation_zh and "一食堂" in m.explanation_zh and "30 分钟" in m.explanation_zh
        assert "密切接触者" in m.explanation_zh
        assert f"close contact of case #{case.pk} A (" in m.explanation_en and "30 min" in m.explanation_en
        assert "病例" not in m.explanation_en and "分钟" not in m.explanation_en
        assert m.start_date == date(2021, 9, 23) and m.end_date is not None
        f = Measure.objects.get(person=scenario["F_secondary"])
        assert "次密切接触者" in f.explanation_zh
        # Re-running records nothing twice.
        services.trace_run(case=case, actor=world.officer)
    assert Measure.objects.filter(person=scenario["B_canteen30"]).count() == 1


@pytest.mark.django_db
def test_retrace_marks_only_new_people(world, scenario, make_person, venues, scan):
    with time_machine.travel(NOW, tick=False):
        case = _case(world, scenario["A"])
        first = services.trace_run(case=case, actor=world.officer)
        late = make_person(name="L_late_scan")
        scan(late, venues["canteen"], at(245), at(280))  # uploaded late: 35 min with A, 10 with C (not enough)
        second = services.trace_run(case=case, actor=world.officer)
    assert second.counts["new"] == 1 and second.counts["close"] == first.counts["close"] + 1
    assert set(Contact.objects.filter(case=case, is_new=True).values_list("person__name", flat=True)) == {"L_late_scan"}
    assert ContactFinding.objects.filter(snapshot=second, is_new=True).get().person_id == late.pk
    # The first snapshot still says what it saw.
    assert ContactFinding.objects.filter(snapshot=first).count() == first.counts["close"] + first.counts["secondary"]
    # A narrower threshold for canteens drops the canteen contacts of the current state, not the history.
    third = services.trace_run(case=case, actor=world.officer, params={"min_minutes": {"canteen": 45}})
    assert not Contact.objects.filter(case=case, person=late).exists()
    assert third.params["min_minutes"]["canteen"] == 45


def _written(case: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    contacts = list(Contact.objects.filter(case=case).order_by("person_id").values_list(
        "person_id", "degree", "via_person_id", "evidence", "first_exposure_at", "last_exposure_at", "is_new"))
    # Both runs happen at the same frozen instant: the snapshot id orders them (started_at alone left it to chance).
    findings = list(ContactFinding.objects.filter(snapshot__case=case)
                    .order_by("snapshot__started_at", "snapshot_id", "person_id")
                    .values_list("person_id", "degree", "via_person_id", "evidence", "is_new"))
    return contacts, findings


@pytest.mark.django_db
def test_contacts_written_in_sql_as_by_the_orm(world, scenario, make_person, venues, scan, monkeypatch):
    """PostgreSQL writes a run's findings and contacts from JSON documents; the rows are those bulk_create writes,
    on a first run and on a re-run that updates, adds and removes contacts."""
    late = make_person(name="L_late")

    def runs() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        with time_machine.travel(NOW, tick=False):
            case = _case(world, scenario["A"])
            services.trace_run(case=case, actor=world.officer)
            s = scan(late, venues["canteen"], at(245), at(280))
            services.trace_run(case=case, actor=world.officer, params={"min_minutes": {"meeting_room": 30}})
            s.delete()
            out = _written(case)
            case.delete()
        return out

    in_sql = runs()
    monkeypatch.setattr(services, "_write_contacts_pg", services._write_contacts_orm)
    by_orm = runs()
    assert in_sql == by_orm
    assert len(in_sql[0]) >= 5 and len(in_sql[1]) >= 10


@pytest.mark.django_db
def test_sql_agrees_with_rules_on_generated_scans(world, make_person, venues, scan):
    rng = random.Random(7)
    people = [make_person(name=f"P{i}") for i in range(25)]
    kinds = [venues["canteen"], venues["meeting"], venues["gate"], venues["workshop"]]
    for _ in range(400):
        person = rng.choice(people)
        venue = rng.choice(kinds)
        start = at(rng.randrange(0, 3 * 24 * 60))
        length = rng.choice([None, rng.randrange(1, 90), rng.randrange(100, 900)])  # open, short, beyond max stay
        scan(person, venue, start, None if length is None else start + timedelta(minutes=length))
    # Refused entries are not presence.
    scan(people[0], venues["canteen"], at(10), at(100), decision="refuse")
    windows = []
    for person in people[:12]:
        a, b = sorted(rng.sample(range(-600, 4 * 24 * 60), 2))
        windows.append(selectors.IndexWindow(person.pk, at(a), at(b)))
    thresholds = {"canteen": 15, "meeting_room": 5, "gate": 0, "workshop": 30}
    sql = selectors.co_presence(windows, thresholds)
    python = selectors.co_presence_python(windows, thresholds)

    def flat(result: dict[int, dict[int, list[Any]]]) -> set[tuple[int, int, int, datetime, datetime]]:
        return {(i, o, e.venue_id, e.start, e.end) for i, others in result.items() for o, es in others.items()
                for e in es}

    assert flat(sql) == flat(python)
    assert len(flat(sql)) > 20  # the generated set has something to agree on


@pytest.mark.django_db
def test_secondary_query_agrees_with_rules_per_close_contact(world, make_person, venues, scan, monkeypatch):
    """secondary_co_presence (one statement for several cases' close contacts) gives, per case, each other person
    once with the evidence of the lowest-numbered close contact who met them, as rules.co_present per contact does;
    the case's own close contacts and the excluded people (the case) are never secondary contacts."""
    rng = random.Random(11)
    # Some starts off the whole second: the evidence rendered by the server must read as Python's isoformat().
    fractions = random.Random(12)
    people = [make_person(name=f"S{i}") for i in range(30)]
    kinds = [venues["canteen"], venues["meeting"], venues["gate"], venues["workshop"]]
    for _ in range(500):
        start = at(rng.randrange(0, 3 * 24 * 60)) + fractions.choice(
            [timedelta(0), timedelta(0), timedelta(seconds=fractions.randrange(60)),
             timedelta(microseconds=fractions.randrange(1, 60_000_000))])
        length = rng.choice([None, rng.randrange(1, 90), rng.randrange(100, 900)])
        scan(rng.choice(people), rng.choice(kinds), start, None if length is None else start + timedelta(minutes=length))
    groups: list[list[selectors.IndexWindow]] = []
    for members in (people[0:8], people[4:12], people[20:23], []):  # overlapping groups, and an empty one
        group = []
        for person in members:
            a, b = sorted(rng.sample(range(-600, 4 * 24 * 60), 2))
            group.append(selectors.IndexWindow(person.pk, at(a), at(b)))
        groups.append(group)
    exclude = [[people[29].pk], [people[28].pk, people[27].pk], [], []]
    thresholds = {"canteen": 15, "meeting_room": 5, "gate": 0, "workshop": 30}
    sql = selectors.secondary_co_presence(groups, thresholds, exclude)
    found = 0
    for g, windows in enumerate(groups):
        skip = set(exclude[g]) | {w.person_id for w in windows}
        by_contact = selectors.co_presence_python(windows, thresholds)
        expected: dict[int, tuple[int, set[tuple[int, datetime, datetime]]]] = {}
        for via in sorted(by_contact):
            for other, items in by_contact[via].items():
                if other not in skip and other not in expected:
                    expected[other] = (via, {(e.venue_id, e.start, e.end) for e in items})
        got = {other: (via, {(e.venue_id, e.start, e.end) for e in items}) for other, (via, items) in sql[g].items()}
        assert got == expected
        assert all(e.person_id == via for via, items in sql[g].values() for e in items)
        found += len(got)
    assert found > 10 and sql[3] == {}
    # The same answer summarised as services stores it (one row per person aggregated by the server): the count, the
    # total whole minutes, the first and last instant and the 3 longest, as rules.co_present per close contact says.
    rendered = selectors.secondary_evidence(groups, thresholds, exclude)
    assert rendered == [{other: selectors._found(via, rules.co_presence_summary(items))
                         for other, (via, items) in met.items()} for met in sql]
    several = 0
    for g, windows in enumerate(groups):
        skip = set(exclude[g]) | {w.person_id for w in windows}
        by_contact = selectors.co_presence_python(windows, thresholds)
        for other, sec in rendered[g].items():
            items = by_contact[sec.via][other]
            assert other not in skip and all(other not in by_contact[v] for v in by_contact if v < sec.via)
            longest = sorted(items, key=lambda e: (-e.minutes, e.start, e.venue_id, e.end))[:3]
            assert sec.times == len(items) and sec.minutes == sum(e.minutes for e in items)
            assert (sec.first, sec.last) == (min(e.start for e in items), max(e.end for e in items))
            assert [(e["venue_id"], datetime.fromisoformat(e["from"]), datetime.fromisoformat(e["to"]), e["minutes"])
                    for e in sec.evidence] == [(e.venue_id, e.start, e.end, e.minutes) for e in longest]
            # Text as isoformat() writes the instant (UTC on PostgreSQL, rendered by the server; local on SQLite).
            assert [e["from"] for e in sec.evidence] == [
                e.start.astimezone(datetime.fromisoformat(x["from"]).tzinfo).isoformat()
                for e, x in zip(longest, sec.evidence, strict=True)]
            several += len(items) > 3
    assert several  # some have more co-presences than are listed
    assert any("." in e["from"] for met in rendered for sec in met.values() for e in sec.evidence)
    # One statement per group, pipelined, gives the same answer.
    monkeypatch.setattr(selectors, "SECONDARY_CHUNK", 1)
    assert selectors.secondary_evidence(groups, thresholds, exclude) == rendered


@pytest.mark.django_db
def test_validation_errors(world, make_person):
    person = make_person(name="甲")
    with pytest.raises(ServiceError, match="晚于报告日期") as err:
        services.case_create(person_id=person.pk, actor=world.officer, onset_date=date(2021, 9, 24),
                             report_date=date(2021, 9, 23))
    assert "onset_date" in err.value.field_errors
    with pytest.raises(ServiceError, match="早于暴露窗口开始") as err:
        services.case_create(person_id=person.pk, actor=world.officer, onset_date=date(2021, 9, 22),
                             report_date=date(2021, 9, 23), isolated_at=datetime(2021, 9, 19, 23, 0, tzinfo=SH))
    assert "isolated_at" in err.value.field_errors
    with pytest.raises(NotFound):
        services.case_create(person_id=person.pk, actor=world.charlie, onset_date=date(2021, 9, 22))
    case = services.case_create(person_id=person.pk, actor=world.alice, sample_date=date(2021, 9, 22),
                                report_date=date(2021, 9, 23))
    with pytest.raises(ServiceError, match="不能改为"):
        services.case_set_status(case=case, status="suspected", actor=world.officer)
    with pytest.raises(ServiceError, match="已有未排除的病例"):
        services.case_create(person_id=person.pk, actor=world.alice, sample_date=date(2021, 9, 22),
                             report_date=date(2021, 9, 23))
    with pytest.raises(ServiceError, match="阈值"):
        services.trace_run(case=case, actor=world.officer, params={"min_minutes": {"canteen": -1}})
    with pytest.raises(ServiceError, match="场所类型"):
        services.trace_run(case=case, actor=world.officer, params={"min_minutes": {"bar": 10}})


@pytest.mark.django_db
def test_errors_in_english(world, make_person):
    person = make_person(name="甲")
    with translation.override("en"):
        with pytest.raises(ServiceError, match=r"^The case's dates do not fit: The onset date 2021-09-24 is after "
                                               r"the report date 2021-09-23$") as err:
            services.case_create(person_id=person.pk, actor=world.officer, onset_date=date(2021, 9, 24),
                                 report_date=date(2021, 9, 23))
        assert err.value.field_errors == {"onset_date": ["The onset date 2021-09-24 is after the report date 2021-09-23"]}
        case = services.case_create(person_id=person.pk, actor=world.alice)  # neither onset nor sample date
        with pytest.raises(ServiceError, match=rf"^Case #{case.pk} \(甲\) cannot be traced: An onset date or a sample "
                                               r"date is needed to set the exposure window$") as err:
            services.trace_run(case=case, actor=world.officer)
        assert err.value.field_errors == {
            "onset_date": ["An onset date or a sample date is needed to set the exposure window"]}
        with pytest.raises(ServiceError, match=r"^Give the reason this person is a close contact$") as err:
            services.contact_add_manual(case=case, person_id=make_person(name="乙").pk, reason=" ", actor=world.officer)
        assert err.value.field_errors == {"reason": ["Required"]}
        with pytest.raises(ServiceError, match=r"^The contact threshold for canteen must be a whole number of minutes "
                                               r"from 0 to 1440, not -1$"):
            services.trace_params(case, {"min_minutes": {"canteen": -1}})


@pytest.mark.django_db
def test_confirm_needs_office_and_keeps_history(world, make_person):
    from django.core.exceptions import PermissionDenied

    from fangkong.notify.models import Notification

    case = services.case_create(person_id=make_person(name="乙").pk, actor=world.alice, onset_date=date(2021, 9, 1),
                                report_date=date(2021, 9, 2))
    with pytest.raises(PermissionDenied):
        services.case_confirm(case=case, actor=world.alice)
    services.case_confirm(case=case, actor=world.officer, note="复核阳性")
    case.refresh_from_db()
    assert case.status == "confirmed" and case.confirmed_at is not None
    assert list(case.history.values_list("from_status", "to_status")) == [("", "suspected"),
                                                                         ("suspected", "confirmed")]
    assert Notification.objects.filter(recipient=world.officer, event="tracing.case").count() == 2


@pytest.mark.django_db
def test_manual_contact_is_kept_by_later_runs(world, scenario, seed003):
    with time_machine.travel(NOW, tick=False):
        case = _case(world, scenario["A"])
        services.contact_add_manual(case=case, person_id=scenario["D_gate"].pk, reason="同车通勤", actor=world.officer)
        with pytest.raises(ServiceError, match="原因"):
            services.contact_add_manual(case=case, person_id=scenario["C_canteen10"].pk, reason=" ",
                                        actor=world.officer)
        services.trace_run(case=case, actor=world.officer)
    d = Contact.objects.get(case=case, person=scenario["D_gate"])
    assert d.degree == 1 and d.evidence[0]["kind"] == "manual" and d.evidence[0]["reason"] == "同车通勤"
    assert Measure.objects.filter(person=scenario["D_gate"], kind="centralized_quarantine").exists()


@pytest.mark.django_db
def test_overdue_tasks_alert_the_office_once(world, scenario):
    from fangkong.notify.models import Notification

    with time_machine.travel(NOW, tick=False):
        case = _case(world, scenario["A"])
        services.trace_run(case=case, actor=world.officer)
    later = NOW + timedelta(hours=30)
    assert services.tasks_alert_overdue(later) == 4 + 1  # factory: 3 verifications + companions; key area not yet
    assert services.tasks_alert_overdue(later) == 0
    assert Notification.objects.filter(recipient=world.alice, event="tracing.overdue").exists()
    assert Notification.objects.filter(recipient=world.charlie, event="tracing.overdue").exists()  # K's org
    assert Scan.objects.count() > 0
