from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangkong.testing.rules import batches_by_day, check_pool, outcome, split_into_pools

members = st.lists(st.integers(1, 10_000), min_size=1, max_size=10, unique=True)


@given(members)
def test_positive_pool_retests_exactly_its_members(people):
    o = outcome("positive", people, pooled=True)
    assert set(o.retest_individually) == set(people)
    assert len(o.retest_individually) == len(people)
    assert o.alert and not o.fulfil and not o.propose_case


@given(members)
def test_negative_pool_fulfils_everyone_and_nothing_else(people):
    o = outcome("negative", people, pooled=True)
    assert set(o.fulfil) == set(people)
    assert not (o.retest_individually or o.resample_pool or o.alert)


@given(members)
def test_invalid_pool_is_resampled(people):
    assert set(outcome("invalid", people, pooled=True).resample_pool) == set(people)


def test_positive_single_tube_proposes_a_case():
    o = outcome("positive", [7], pooled=False)
    assert o.propose_case == (7,) and o.alert


def test_unknown_result_is_refused():
    with pytest.raises(ValueError, match="未知的检测结果"):
        outcome("maybe", [1], pooled=True)


def test_pool_checks():
    check_pool(list(range(10)))
    with pytest.raises(ValueError, match="最多 10 人"):
        check_pool(list(range(11)))
    with pytest.raises(ValueError, match="两次"):
        check_pool([1, 1])
    with pytest.raises(ValueError, match="至少需要"):
        check_pool([])


@given(st.lists(st.integers(1, 500), max_size=120), st.integers(1, 20))
def test_pools_partition_people(people, size):
    pools = split_into_pools(people, size)
    flat = [p for pool in pools for p in pool]
    assert flat == list(dict.fromkeys(people))
    assert all(1 <= len(pool) <= size for pool in pools)


def test_batches_by_day():
    assert batches_by_day([1, 2, 3, 4, 5], 2) == [(1, 2), (3, 4), (5,)]


# ----- programmes and vaccination -------------------------------------------------------------------------------------

from datetime import date, timedelta  # noqa: E402

from fangkong.testing.rules import (  # noqa: E402
    batch_of_day,
    check_dose,
    every_n_days_due,
    vaccinated_for_post,
    vaccination_status,
)

START = date(2021, 11, 1)


@given(st.integers(1, 14), st.integers(0, 60))
def test_every_n_days_is_due_exactly_on_the_cycle(interval, offset):
    day = START + timedelta(days=offset)
    assert every_n_days_due(start=START, interval=interval, day=day) == (offset % interval == 0)
    assert not every_n_days_due(start=START, interval=interval, day=START - timedelta(days=1))
    assert not every_n_days_due(start=START, interval=interval, day=day, end=day - timedelta(days=1))


@given(st.lists(st.integers(1, 10_000), unique=True, max_size=200), st.integers(1, 30))
def test_batches_cover_everyone_once_over_consecutive_days(people, per_day):
    seen: list[int] = []
    for offset in range(0, len(people) + 2):
        batch = batch_of_day(people, per_day, start=START, day=START + timedelta(days=offset))
        assert len(batch) <= per_day
        seen.extend(batch)
    assert seen == people
    assert batch_of_day(people, per_day, start=START, day=START - timedelta(days=1)) == ()


def test_vaccination_status_and_complete_doses_setting():
    assert [vaccination_status(n) for n in range(5)] == ["none", "partial", "complete", "booster", "booster"]
    assert [vaccination_status(n, complete_doses=1) for n in range(3)] == ["none", "complete", "booster"]
    assert [vaccination_status(n, complete_doses=3) for n in range(5)] == [
        "none", "partial", "partial", "complete", "booster"]
    with pytest.raises(ValueError):
        vaccination_status(1, complete_doses=0)


@given(st.sets(st.integers(1, 6), max_size=6), st.integers(-1, 8))
def test_dose_order(existing, dose):
    ok = dose >= 1 and dose not in existing and all(n in existing for n in range(1, dose))
    if ok:
        check_dose(existing, dose)
    else:
        with pytest.raises(ValueError):
            check_dose(existing, dose)


def test_dose_messages():
    with pytest.raises(ValueError, match="缺少第 1 剂"):
        check_dose([], 2)
    with pytest.raises(ValueError, match="第 2 剂已有记录"):
        check_dose([1, 2], 2)


def test_missing_doses_are_listed_the_way_each_language_lists():
    from django.utils import translation

    from fangkong.core.rule_errors import worded

    with pytest.raises(ValueError, match="缺少第 1、2 剂") as refused:
        check_dose([], 3)
    with translation.override("en"):
        assert worded(refused.value) == "Dose 3: earlier doses missing (1, 2); record the doses in order"


def test_post_rule_needs_a_complete_course():
    assert not vaccinated_for_post(0) and not vaccinated_for_post(1) and vaccinated_for_post(2)
    assert vaccinated_for_post(1, complete_doses=1)
