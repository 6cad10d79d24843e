"""The entry decision and the small validators, as pure functions (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from fangkong.access import rules

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)


def decide(person: rules.PersonFacts, temperature: str | None = None, code: str = "", refuse_unknown: bool = True):
    return rules.decide_entry(person, temperature=Decimal(temperature) if temperature else None, health_code=code,
                              threshold=Decimal("37.3"), today=TODAY, now=NOW, refuse_unknown=refuse_unknown)


def test_healthy_worker_admitted():
    d = decide(rules.PersonFacts(), "36.5", "green")
    assert d.admit and d.value == "admit"
    assert [r.code for r in d.reasons] == ["admitted"]


def test_order_of_reasons_and_first_is_the_earliest_check():
    person = rules.PersonFacts(known=True, is_visitor=True, measure_kind="home_quarantine", measure_until=TODAY,
                               symptomatic=True)
    d = decide(person, "38.0", "red")
    assert not d.admit
    assert [r.code for r in d.reasons] == [
        "visitor_no_appointment", "under_measure", "symptomatic", "fever", "health_code_red"]
    assert d.fever


def test_unknown_person_configurable():
    assert not decide(rules.PersonFacts(known=False)).admit
    assert decide(rules.PersonFacts(known=False), refuse_unknown=False).admit
    visitor = rules.PersonFacts(is_visitor=True)
    assert decide(visitor).reasons[0].code == "visitor_no_appointment"
    assert decide(rules.PersonFacts(is_visitor=True, has_approved_visit=True)).admit


def test_measure_ends_after_its_last_day():
    person = rules.PersonFacts(measure_kind="centralized_quarantine", measure_until=TODAY - timedelta(days=1))
    assert decide(person).admit
    person = rules.PersonFacts(measure_kind="centralized_quarantine", measure_until=TODAY)
    assert decide(person).reasons[0].code == "under_measure"


def test_home_health_monitoring_admitted_with_note():
    d = decide(rules.PersonFacts(measure_kind="home_health_monitoring", measure_until=TODAY))
    assert d.admit
    assert d.reasons[0].code == "home_monitoring"
    assert "居家健康监测" in d.reasons_json()[0]["text"]


@pytest.mark.parametrize(("temp", "admit"), [("37.2", True), ("37.3", False), ("39.1", False)])
def test_fever_threshold_is_inclusive(temp, admit):
    d = decide(rules.PersonFacts(), temp)
    assert d.admit is admit
    if not admit:
        assert d.reasons_json()[0]["text"].startswith(f"体温异常（{temp}℃")


def test_yellow_code_refused_and_stale_stored_code_ignored():
    assert decide(rules.PersonFacts(), code="yellow").reasons[0].code == "health_code_yellow"
    fresh = rules.PersonFacts(health_code="red", health_code_at=NOW - timedelta(hours=2))
    assert not decide(fresh).admit
    stale = rules.PersonFacts(health_code="red", health_code_at=NOW - timedelta(days=3))
    assert decide(stale).admit
    # The colour seen at the gate now wins over the stored one.
    assert decide(fresh, code="green").admit


def test_every_reason_has_chinese_and_english():
    for code, (zh, en) in rules.REASONS.items():
        assert zh and en, code


def test_exit_always_recorded():
    assert rules.exit_decision().admit


def test_time_in_future():
    rules.check_time(NOW + timedelta(minutes=4), NOW)
    with pytest.raises(ValueError, match="5 分钟"):
        rules.check_time(NOW + timedelta(minutes=6), NOW)
    rules.check_time(NOW - timedelta(days=20), NOW)


@pytest.mark.parametrize("plate", ["晋D12345", "晋 d·12345", "京AD12345", "粤B1234挂"])
def test_plates_ok(plate):
    assert rules.check_plate(plate).startswith(plate.strip()[0])


@pytest.mark.parametrize("plate", ["", "D12345", "晋12345", "晋D1234567X"])
def test_plates_bad(plate):
    with pytest.raises(ValueError):
        rules.check_plate(plate)


def test_pass_codes():
    code = rules.new_pass_code()
    assert len(code) == rules.PASS_LENGTH and rules.looks_like_pass_code(code.lower())
    assert not rules.looks_like_pass_code("eyJhbGciOi")


def test_occupancy_state():
    assert rules.occupancy_state(10, None) == "ok"
    assert rules.occupancy_state(89, 100) == "ok"
    assert rules.occupancy_state(90, 100) == "near"
    assert rules.occupancy_state(100, 100) == "full"
