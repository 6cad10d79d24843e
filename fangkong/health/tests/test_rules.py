"""Pure rules, no database."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from fangkong.health import rules
from fangkong.health.rules import AbsenceRecord, Submission


def test_fever_threshold_inclusive():
    assert rules.is_fever(Decimal("37.3"))
    assert not rules.is_fever(Decimal("37.2"))
    assert rules.is_fever(Decimal("37.0"), Decimal("37.0"))
    assert not rules.is_fever(None)


def test_abnormal_by_symptom_without_fever():
    assert rules.is_abnormal(Decimal("36.5"), ["dry_cough"], Decimal("37.3"))
    assert rules.is_abnormal(None, ["fatigue"], Decimal("37.3"))
    assert not rules.is_abnormal(None, [], Decimal("37.3"))


@pytest.mark.parametrize("raw,expected", [("36.54", Decimal("36.5")), (37, Decimal("37.0")), ("", None), (None, None)])
def test_parse_temperature(raw, expected):
    assert rules.parse_temperature(raw) == expected


@pytest.mark.parametrize("raw", ["33.9", "43.1", "abc", "365"])
def test_parse_temperature_refuses(raw):
    with pytest.raises(ValueError):
        rules.parse_temperature(raw)


def test_symptom_list_from_seeds_has_labels():
    assert len(rules.SYMPTOMS) == 13  # one vocabulary with the policy rules (adds 咳嗽, 气促 from seed 001)
    assert rules.symptom_labels(["smell_taste_loss"]) == ["嗅(味)觉减退"]
    assert rules.symptom_labels(["rash"], "en") == ["Rash"]
    assert rules.clean_symptoms(["fever", "fever", "", "rash"]) == ["fever", "rash"]
    with pytest.raises(ValueError, match="未知的症状代码"):
        rules.clean_symptoms(["sneezing"])
    with pytest.raises(ValueError):
        rules.clean_symptoms(["rash"], allowed=["fever"])


def test_future_date_refused():
    with pytest.raises(ValueError, match="之后"):
        rules.check_date(date(2022, 1, 2), date(2022, 1, 1))


def test_slots_and_kinds():
    assert rules.slots_for("daily", False) == ("day",)
    assert rules.slots_for("daily", True) == ("morning", "afternoon")  # seed 002: under a measure, twice daily
    assert rules.slots_for("school", False) == ("morning", "noon")
    assert rules.slot_kind("day") == "checkin"
    assert rules.slot_kind("noon") == "checkin_noon"
    assert rules.pick_slot(["morning", "afternoon"], time(9)) == "morning"
    assert rules.pick_slot(["morning", "afternoon"], time(13)) == "afternoon"
    assert rules.pick_slot(["afternoon"], time(9)) == "afternoon"
    assert rules.pick_slot([], time(9)) == "day"


def test_cluster_needs_three_people_sharing_a_symptom_within_three_days():
    on = date(2021, 11, 10)
    recs = [
        AbsenceRecord(1, 7, on - timedelta(days=2), ("fever", "dry_cough")),
        AbsenceRecord(2, 7, on - timedelta(days=1), ("fever",)),
        AbsenceRecord(3, 7, on, ("fever", "diarrhoea")),
        AbsenceRecord(4, 8, on, ("fever",)),  # another class
        AbsenceRecord(5, 7, on - timedelta(days=3), ("fever",)),  # outside the window
    ]
    clusters = rules.detect_clusters(recs, on=on)
    assert clusters == [rules.Cluster(7, "fever", (1, 2, 3))]
    assert rules.detect_clusters(recs[:2], on=on) == []
    # The same person twice counts once.
    assert rules.detect_clusters([*recs[:2], AbsenceRecord(2, 7, on, ("fever",))], on=on) == []
    assert rules.detect_clusters(recs, on=on, threshold=4, window_days=4)[0].person_ids == (1, 2, 3, 5)


def _sub(pid, day, t, at, **kw):
    return Submission(pid, day, Decimal(t) if t else None, at, **kw)


def test_same_temperature_run():
    start = date(2021, 11, 1)
    subs = [_sub(1, start + timedelta(days=i), "36.5", datetime(2021, 11, 1, 8) + timedelta(days=i, minutes=i * 7))
            for i in range(7)]
    subs += [_sub(2, start + timedelta(days=i), "36.5" if i != 3 else "36.6", datetime(2021, 11, 1, 8))
             for i in range(7)]
    found = rules.same_temperature_runs(subs, 7)
    assert [f.person_id for f in found] == [1]
    assert found[0].facts == {"days": 7}
    # A gap of a day breaks the run.
    gapped = [s for s in subs if s.person_id == 1 and s.day != start + timedelta(days=3)]
    assert rules.same_temperature_runs(gapped, 7) == []


def test_same_time_of_day_within_a_minute():
    base = datetime(2021, 11, 1, 7, 30, 0)
    scripted = [_sub(1, base.date() + timedelta(days=i), "36.5", base + timedelta(days=i, seconds=(i % 3) * 20))
                for i in range(8)]
    human = [_sub(2, base.date() + timedelta(days=i), "36.5", base + timedelta(days=i, minutes=i * 11))
             for i in range(8)]
    found = rules.same_time_of_day(scripted + human, 7, 60)
    assert [f.person_id for f in found] == [1]
    assert found[0].facts == {"days": 8, "seconds": 60}


def test_shared_device_excludes_proxy_roll_call():
    day = date(2021, 11, 1)
    at = datetime(2021, 11, 1, 8)
    subs = [_sub(pid, day, "36.5", at, device_id="dev-A") for pid in range(1, 6)]
    subs += [_sub(pid, day, "36.5", at, device_id="teacher-phone", proxy=True) for pid in range(10, 40)]
    subs += [_sub(pid, day, "36.5", at, ip="10.0.0.9") for pid in range(50, 54)]
    found = rules.shared_devices(subs, 5)
    assert sorted(f.person_id for f in found) == [1, 2, 3, 4, 5]
    assert found[0].facts == {"by": "device", "key": "dev-A", "day": "2021-11-01", "people": 5}


def test_symptom_names_follow_the_readers_language():
    from django.utils import translation

    from fangkong.health.models import Checkin, SymptomFlag

    flag, checkin = SymptomFlag(symptoms=["fever", "dry_cough"]), Checkin(symptoms=["fatigue"])
    with translation.override("en"):
        assert flag.symptom_labels == ["Fever", "Dry cough"] and checkin.symptom_labels == ["Fatigue"]
    with translation.override("zh-hans"):
        assert flag.symptom_labels == ["发热", "干咳"] and checkin.symptom_labels == ["乏力"]
