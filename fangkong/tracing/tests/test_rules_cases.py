"""Pure rules added for cases and tracing runs: date checks, presence end, secondary window, the case label."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangkong.core.rule_errors import RuleError
from fangkong.tracing import rules

SH = ZoneInfo("Asia/Shanghai")
T = datetime(2021, 9, 20, 8, 0, tzinfo=SH)


NOW = datetime(2021, 9, 30, 9, 0, tzinfo=SH)


def test_case_dates():
    ok = rules.case_date_errors(onset=date(2021, 9, 22), sample_date=None, report_date=date(2021, 9, 23),
                                isolated_at=datetime(2021, 9, 20, 0, 0, tzinfo=SH), window_days=2, tz=SH, now=NOW)
    assert ok == {}
    bad = rules.case_date_errors(onset=date(2021, 9, 24), sample_date=date(2021, 9, 25),
                                 report_date=date(2021, 9, 23), isolated_at=datetime(2021, 9, 20, 23, 59, tzinfo=SH),
                                 window_days=3, tz=SH, now=NOW)
    assert set(bad) == {"onset_date", "sample_date", "isolated_at"}
    assert "早于暴露窗口开始 2021-09-21 00:00" in bad["isolated_at"][0] and "发病日期前 3 天" in bad["isolated_at"][0]
    assert "window_days" in rules.case_date_errors(onset=None, sample_date=None, report_date=None, isolated_at=None,
                                                   window_days=30, tz=SH, now=NOW)


def _errors(**values: object) -> dict[str, list[str]]:
    base: dict[str, object] = {"onset": None, "sample_date": None, "report_date": None, "isolated_at": None,
                               "window_days": 2, "tz": SH, "now": NOW}
    return rules.case_date_errors(**{**base, **values})  # type: ignore[arg-type]


def test_case_dates_after_today_are_refused():
    """Today is local: at 01:00 in Shanghai on 10-01 it is still 09-30 in UTC, and 10-01 is today, not the future."""
    night = datetime(2021, 9, 30, 17, 0, tzinfo=ZoneInfo("UTC"))  # 10-01 01:00 in Shanghai
    assert _errors(onset=date(2021, 10, 1), report_date=date(2021, 10, 1), now=night) == {}
    assert _errors(onset=date(2021, 10, 1), report_date=date(2021, 10, 1)) == {
        "onset_date": ["发病日期 2021-10-01 晚于今天 2021-09-30"],
        "report_date": ["报告日期 2021-10-01 晚于今天 2021-09-30"]}
    assert _errors(sample_date=date(2021, 10, 1)) == {"sample_date": ["采样日期 2021-10-01 晚于今天 2021-09-30"]}
    assert _errors(onset=date(2021, 9, 29), isolated_at=NOW + timedelta(minutes=1)) == {
        "isolated_at": ["隔离时间 2021-09-30 09:01 晚于当前时间 2021-09-30 09:00"]}
    assert _errors(onset=date(2021, 9, 29), isolated_at=NOW) == {}


def test_onset_and_sample_at_most_60_days_before_the_report():
    """A mistyped year (1900-01-01) would open an exposure window from 1899."""
    assert _errors(onset=date(2021, 7, 25), sample_date=date(2021, 7, 25), report_date=date(2021, 9, 23)) == {}
    assert _errors(onset=date(1900, 1, 1), report_date=date(2021, 9, 23)) == {
        "onset_date": ["发病日期 1900-01-01 早于报告日期 2021-09-23 超过 60 天"]}
    assert _errors(sample_date=date(2021, 7, 24), report_date=date(2021, 9, 23)) == {
        "sample_date": ["采样日期 2021-07-24 早于报告日期 2021-09-23 超过 60 天"]}
    # Without a report date, today is the reference.
    assert _errors(onset=date(2021, 8, 1)) == {}
    assert _errors(onset=date(2021, 7, 31), sample_date=date(2021, 7, 1)) == {
        "onset_date": ["发病日期 2021-07-31 早于今天 2021-09-30 超过 60 天"],
        "sample_date": ["采样日期 2021-07-01 早于今天 2021-09-30 超过 60 天"]}
    assert _errors(sample_date=date(2021, 9, 24), report_date=date(2021, 9, 23)) == {
        "sample_date": ["采样日期 2021-09-24 晚于报告日期 2021-09-23"]}


def test_exposure_window_error_in_local_time():
    """The isolation time comes from the database in UTC: the message gives it in local time, like the start."""
    isolated = datetime(2021, 9, 18, 18, 0, tzinfo=ZoneInfo("UTC"))  # 09-19 02:00 in Shanghai
    with pytest.raises(RuleError) as err:
        rules.exposure_window(onset=date(2021, 9, 22), sample_date=None, isolated_at=isolated, until=NOW, tz=SH)
    assert str(err.value) == "隔离时间 2021-09-19 02:00 早于暴露窗口开始 2021-09-20 00:00"


def test_exposure_window_error_when_not_isolated():
    """Not isolated: the window ends now, and the message does not call now the isolation time."""
    until = datetime(2021, 9, 19, 1, 0, tzinfo=ZoneInfo("UTC"))  # 09-19 09:00 in Shanghai
    with pytest.raises(RuleError) as err:
        rules.exposure_window(onset=date(2021, 9, 22), sample_date=None, isolated_at=None, until=until, tz=SH)
    assert str(err.value) == "尚未隔离，而暴露窗口开始 2021-09-20 00:00 晚于当前时间 2021-09-19 09:00"
    assert "隔离时间" not in str(err.value)


def test_presence_end_caps_at_max_stay():
    assert rules.presence_end(T, None, 60) == T + timedelta(minutes=60)
    assert rules.presence_end(T, T + timedelta(minutes=10), 60) == T + timedelta(minutes=10)
    assert rules.presence_end(T, T + timedelta(hours=5), 60) == T + timedelta(minutes=60)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 1000), st.one_of(st.none(), st.integers(0, 1000)), st.integers(1, 1000))
def test_presence_end_never_before_start_nor_beyond_cap(left, _unused, max_stay):
    end = rules.presence_end(T, T + timedelta(minutes=left), max_stay)
    assert T <= end <= T + timedelta(minutes=max_stay)


def test_secondary_window():
    assert rules.secondary_window(first_exposure=T, quarantine_start=None, until=T + timedelta(days=1)) == (
        T, T + timedelta(days=1))
    assert rules.secondary_window(first_exposure=T, quarantine_start=T - timedelta(hours=1), until=T) is None


def test_case_label_cites_strongest_evidence():
    ev = [{"kind": "co_presence", "venue_id": 3, "from": T.isoformat(), "to": (T + timedelta(minutes=40)).isoformat(),
           "minutes": 40}]
    label = rules.case_label(case_id=7, name="甲", evidence=ev, venue_names={3: "一食堂"}, tz=SH)
    assert label == "病例#7 甲（09-20 08:00–08:40 在一食堂共同停留 40 分钟）"
    manual = [{"kind": "manual", "from": T.isoformat(), "to": T.isoformat(), "minutes": 0, "reason": "同车"}]
    assert rules.case_label(case_id=7, name="甲", evidence=manual, venue_names={}, tz=SH) == "病例#7 甲（流调人员判定：同车）"
    assert rules.case_label(case_id=7, name="甲", evidence=[], venue_names={}, tz=SH) == "病例#7 甲"
    # The engine words its explanations in English too: it gets the label in English.
    assert (rules.case_label(case_id=7, name="甲", evidence=ev, venue_names={3: "一食堂"}, tz=SH, english=True)
            == "case #7 甲 (09-20 08:00–08:40 together at 一食堂, 40 min)")
    assert (rules.case_label(case_id=7, name="甲", evidence=manual, venue_names={}, tz=SH, english=True)
            == "case #7 甲 (judged by the investigator: 同车)")


def test_transitions_are_final_for_confirmed_and_excluded():
    assert rules.TRANSITIONS["suspected"] == {"confirmed", "asymptomatic", "excluded"}
    assert not rules.TRANSITIONS["confirmed"] and not rules.TRANSITIONS["excluded"]
