from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangkong.tracing.rules import Presence, co_present, exposure_window

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2021, 9, 10, 8, 0, tzinfo=SH)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_window_starts_two_days_before_onset_at_midnight():
    start, end = exposure_window(onset=date(2021, 9, 12), sample_date=None, isolated_at=at(3000), until=at(9000), tz=SH)
    assert start == datetime(2021, 9, 10, 0, 0, tzinfo=SH)
    assert end == at(3000)


def test_window_uses_sample_date_without_symptoms_and_stays_open_until_now():
    start, end = exposure_window(onset=None, sample_date=date(2021, 9, 12), isolated_at=None, until=at(100), tz=SH)
    assert start.date() == date(2021, 9, 10) and end == at(100)


def test_window_errors():
    with pytest.raises(ValueError, match="发病日期或采样日期"):
        exposure_window(onset=None, sample_date=None, isolated_at=None, until=at(0), tz=SH)
    with pytest.raises(ValueError, match="早于暴露窗口开始"):
        exposure_window(onset=date(2021, 9, 20), sample_date=None, isolated_at=at(0), until=at(0), tz=SH)


def test_half_open_intervals_touching_are_not_contact():
    a = Presence(1, 7, "canteen", at(0), at(30))
    b = Presence(2, 7, "canteen", at(30), at(60))
    assert co_present([a], [b], window=(at(-100), at(100))) == []


def test_threshold_per_venue_kind_and_gate_never_counts():
    case = [Presence(1, 7, "canteen", at(0), at(20)), Presence(1, 8, "gate", at(0), at(20))]
    others = [Presence(2, 7, "canteen", at(5), at(20)), Presence(3, 7, "canteen", at(10), at(20)),
              Presence(4, 8, "gate", at(0), at(20))]
    found = co_present(case, others, window=(at(-100), at(100)), min_minutes={"canteen": 15, "gate": 0})
    assert [(e.other_id, e.minutes) for e in found] == [(2, 15)]


def test_default_canteen_threshold_is_a_whole_meal():
    """A canteen scan does not say who shared a table: 25 minutes in the same hall is not a close contact by
    default, 30 (a whole meal side by side) is; a meeting room needs 15."""
    case = [Presence(1, 7, "canteen", at(0), at(40)), Presence(1, 9, "meeting_room", at(100), at(140))]
    others = [Presence(2, 7, "canteen", at(15), at(45)), Presence(3, 7, "canteen", at(10), at(40)),
              Presence(4, 9, "meeting_room", at(120), at(200))]
    found = co_present(case, others, window=(at(-100), at(300)))
    assert sorted((e.other_id, e.minutes) for e in found) == [(3, 30), (4, 20)]


def test_window_clips_time_together():
    case = [Presence(1, 7, "meeting_room", at(0), at(60))]
    other = [Presence(2, 7, "meeting_room", at(0), at(60))]
    assert co_present(case, other, window=(at(50), at(100))) == []  # only 10 minutes inside the window
    assert len(co_present(case, other, window=(at(40), at(100)))) == 1


presence = st.builds(
    lambda pid, venue, start, length: Presence(pid, venue, "canteen", at(start), at(start + length)),
    st.integers(1, 6), st.integers(1, 3), st.integers(0, 600), st.integers(1, 120),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(presence, max_size=30), st.integers(0, 700), st.integers(0, 700))
def test_contact_relation_is_symmetric(intervals, w1, w2):
    window = (at(min(w1, w2)), at(max(w1, w2) + 1))
    people = {p.person_id for p in intervals}
    for a in people:
        for b in people:
            if a >= b:
                continue
            ab = co_present([p for p in intervals if p.person_id == a], [p for p in intervals if p.person_id == b],
                            window=window)
            ba = co_present([p for p in intervals if p.person_id == b], [p for p in intervals if p.person_id == a],
                            window=window)
            assert bool(ab) == bool(ba)
            assert sorted((e.start, e.end) for e in ab) == sorted((e.start, e.end) for e in ba)


@settings(max_examples=200, deadline=None)
@given(st.lists(presence, max_size=30), st.integers(0, 700), st.integers(0, 700), st.integers(0, 200),
       st.integers(0, 200))
def test_shrinking_the_window_never_adds_contacts(intervals, w1, w2, cut_start, cut_end):
    lo, hi = min(w1, w2), max(w1, w2) + 1
    index = [p for p in intervals if p.person_id == 1]
    rest = [p for p in intervals if p.person_id != 1]
    wide = {e.other_id for e in co_present(index, rest, window=(at(lo), at(hi)))}
    narrow_lo, narrow_hi = lo + cut_start, max(lo + cut_start, hi - cut_end)
    narrow = {e.other_id for e in co_present(index, rest, window=(at(narrow_lo), at(narrow_hi)))}
    assert narrow <= wide


def test_utc_and_local_times_compare_correctly():
    case = [Presence(1, 7, "canteen", at(0), at(30))]
    other = [Presence(2, 7, "canteen", at(0).astimezone(UTC), at(30).astimezone(UTC))]
    assert len(co_present(case, other, window=(at(-10), at(40)))) == 1
