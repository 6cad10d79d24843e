"""Lifecycle table and release blockers, without the database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangkong.measures import rules

START = date(2021, 9, 17)
END = date(2021, 9, 30)  # day 14


def test_happy_path_through_the_table():
    s = "proposed"
    for action, expected in [("confirm", "confirmed"), ("start", "in_progress"), ("mark_ready", "ready_for_release"),
                             ("release", "released")]:
        s = rules.next_status(action, s)
        assert s == expected


def test_refused_transitions_say_why():
    with pytest.raises(rules.TransitionError, match="当前状态为“待确认”，不能解除"):
        rules.next_status("release", "proposed")
    with pytest.raises(rules.TransitionError, match="不能开始执行"):
        rules.next_status("start", "released")
    with pytest.raises(rules.TransitionError, match="未知的操作"):
        rules.next_status("fly", "proposed")


def test_extend_keeps_status_but_reopens_ready():
    assert rules.next_status("extend", "in_progress") == "in_progress"
    assert rules.next_status("extend", "confirmed") == "confirmed"
    assert rules.next_status("extend", "ready_for_release") == "in_progress"
    assert rules.next_status("escalate", "in_progress") == "escalated"
    assert rules.allowed_actions("released") == []
    assert set(rules.allowed_actions("in_progress")) == {"mark_ready", "release", "escalate", "extend"}


@given(st.sampled_from(sorted(rules.STATUS_LABELS)), st.sampled_from(sorted(rules.TRANSITIONS)))
def test_terminal_statuses_never_move(status, action):
    if status in ("released", "superseded", "cancelled", "escalated"):
        with pytest.raises(rules.TransitionError):
            rules.next_status(action, status)
    elif action in rules.allowed_actions(status):
        assert rules.next_status(action, status) in rules.STATUS_LABELS


def test_blockers_before_the_end_and_missing_results():
    out = rules.release_blockers(
        today=date(2021, 9, 30), end_date=END, start_date=START, symptomatic=True,
        tests=[("nat", date(2021, 9, 28), None), ("nat", date(2021, 9, 17), "negative"),
               ("antigen", date(2021, 9, 29), "positive"), ("nat", date(2021, 9, 23), "invalid")])
    assert out == ["第 14 天尚未结束（截止 9-30）", "核酸检测（9-23）结果无效，需复检", "核酸检测（9-28）尚无结果",
                   "有阳性检测结果", "有未解除的症状标记"]


def test_no_blockers_after_the_end_with_negatives():
    tests = [("nat", START + timedelta(days=k - 1), "negative") for k in (1, 7, 14)]
    assert rules.release_blockers(today=date(2021, 10, 1), end_date=END, tests=tests, symptomatic=False) == []
    # Without a start date the message names the end date only.
    assert rules.release_blockers(today=END, end_date=END, tests=[], symptomatic=False) == ["管控期尚未结束（截止 9-30）"]


@given(st.lists(st.tuples(st.sampled_from(["nat", "antigen"]),
                          st.dates(min_value=START, max_value=END),
                          st.sampled_from([None, "negative", "positive", "invalid"])), max_size=8),
       st.booleans(), st.integers(min_value=-3, max_value=3))
def test_release_possible_exactly_when_everything_is_clear(tests, symptomatic, offset):
    today = END + timedelta(days=offset)
    out = rules.release_blockers(today=today, end_date=END, tests=tests, symptomatic=symptomatic, start_date=START)
    clear = today > END and not symptomatic and all(r == "negative" for _k, _d, r in tests)
    assert (out == []) == clear
    assert out.count("有阳性检测结果") == (1 if any(r == "positive" for _k, _d, r in tests) else 0)


def test_person_measure_picks_the_strictest_twice_daily_kind():
    from fangkong.measures.rules import person_measure

    s, e = date(2021, 9, 17), date(2021, 9, 30)
    assert person_measure([]) == ("", None)
    assert person_measure([("routine_testing", None, s), ("vaccination_required", None, s)]) == ("", None)
    assert person_measure([("temperature_twice_daily", e, s), ("routine_testing", None, s)]) == (
        "temperature_twice_daily", e)
    assert person_measure([("home_health_monitoring", e, s), ("centralized_quarantine", date(2021, 9, 20), s),
                           ("temperature_twice_daily", None, s)]) == ("centralized_quarantine", date(2021, 9, 20))
    # Two of the same kind: the latest start wins.
    assert person_measure([("home_quarantine", e, s), ("home_quarantine", date(2021, 10, 8), date(2021, 9, 25))]) == (
        "home_quarantine", date(2021, 10, 8))


def test_day_of_measure():
    from fangkong.measures.rules import day_of_measure

    s, e = date(2021, 9, 17), date(2021, 9, 30)
    assert day_of_measure(s, e, s) == (1, 14)
    assert day_of_measure(s, e, date(2021, 9, 23)) == (7, 14)
    assert day_of_measure(s, e, date(2021, 10, 3)) == (14, 14)
    assert day_of_measure(s, e, date(2021, 9, 16)) == (0, 14)
    assert day_of_measure(s, None, date(2021, 9, 19)) == (3, None)
