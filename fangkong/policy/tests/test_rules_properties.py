"""Property-based tests of the engine's date arithmetic and choice rules, against brute-force restatements."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fangkong.policy.rules import (
    LEVEL_RANK,
    LEVELS,
    SEVERITY,
    AreaFact,
    AreaIndex,
    Flags,
    MeasureSpec,
    PersonFacts,
    RuleSpec,
    StayFact,
    TestSpec,
    describe_rule,
    evaluate,
    rule_from_dict,
    rule_to_dict,
)

BASE = date(2021, 9, 1)
days_ = st.integers(min_value=-40, max_value=40).map(lambda n: BASE + timedelta(days=n))
# A small tree of codes so that prefixes collide: province 13/14, cities, counties, a township.
CODES = ["13", "1301", "130102", "130109", "130109001", "1302", "130203", "14", "1404", "140428"]
codes = st.sampled_from(CODES)
levels = st.sampled_from(LEVELS)


def rule(key: str, condition: dict, measure: MeasureSpec, precedence: int = 100) -> RuleSpec:
    return RuleSpec(key=key, policy_number="N", policy_title="T", clause="C", condition=condition, measure=measure,
                    precedence=precedence)


@st.composite
def stays(draw):
    a = draw(days_)
    return StayFact(draw(codes), a, a + timedelta(days=draw(st.integers(0, 10))),
                    draw(st.sampled_from(["", "", "幸福小区"])))


@st.composite
def areas(draw):
    start = draw(days_)
    until = draw(st.none() | st.integers(0, 30).map(lambda n: start + timedelta(days=n)))
    return AreaFact(draw(codes), draw(levels), start, until, draw(st.sampled_from(["", "", "幸福小区"])))


@given(arrived=days_, on=days_, n=st.integers(1, 40), test_days=st.sets(st.integers(1, 40), max_size=6))
def test_late_identification_and_test_schedule(arrived, on, n, test_days):
    test_days = sorted(d for d in test_days if d <= n)
    m = MeasureSpec(kind="home_quarantine", days=n, tests=tuple(TestSpec("nat", d) for d in test_days))
    got = evaluate(PersonFacts(arrived_on=arrived, flags=Flags(past_case=True)),
                   [rule("r", {"past_case": {}}, m)], [], on)
    end = arrived + timedelta(days=n - 1)
    if end < on:
        assert got == []
        return
    [d] = got
    assert d.start_date == max(arrived, on)
    assert d.end_date == end
    due = {arrived + timedelta(days=k - 1): k for k in test_days}
    kept = {day: k for day, k in due.items() if day >= on}
    skipped = any(day < on for day in due)
    expected = sorted(kept.items())
    if skipped and on not in kept:
        expected = sorted([*expected, (on, (on - arrived).days + 1)])
    assert [(t.due_date, t.day) for t in d.tests] == expected
    for t in d.tests:
        assert d.start_date <= t.due_date <= end
        assert t.due_date == arrived + timedelta(days=t.day - 1)  # day k is due on start + k − 1


def _brute_level(areas_, code, locality, on):
    best = None
    for a in areas_:
        in_force = a.effective_from <= on and (a.effective_until is None or on <= a.effective_until)
        covers = code.startswith(a.region_code) and (not a.locality or a.locality == locality)
        if in_force and covers and (best is None or LEVEL_RANK[a.level] > LEVEL_RANK[best]):
            best = a.level
    return best


@settings(max_examples=300)
@given(person_stays=st.lists(stays(), max_size=4), area_list=st.lists(areas(), max_size=6), on=days_,
       within=st.integers(0, 21), level=levels, mode=st.sampled_from(["level", "min_level"]))
def test_stayed_in_area_matches_brute_force(person_stays, area_list, on, within, level, mode):
    cond = {"stayed_in_area": {mode: level, "within_days": within}}
    m = MeasureSpec(kind="refuse_entry", counted_from="evaluation")
    got = evaluate(PersonFacts(stays=tuple(person_stays)), [rule("r", cond, m)], area_list, on)

    def ok(lv):
        return lv == level if mode == "level" else LEVEL_RANK[lv] >= LEVEL_RANK[level]

    def stay_hits(s):
        # "Within D days": some day of the stay lies in [on − D, on].
        recent = any(on - timedelta(days=within) <= s.from_date + timedelta(days=i) <= on
                     for i in range((s.to_date - s.from_date).days + 1))
        if not recent:
            return False
        return any(ok(a.level) for a in area_list
                   if a.effective_from <= on and (a.effective_until is None or on <= a.effective_until)
                   and s.region_code.startswith(a.region_code) and (not a.locality or a.locality == s.locality))

    assert bool(got) == any(stay_hits(s) for s in person_stays)
    # The same decisions through a dated index and through a dateless one (its per-date view).
    facts = PersonFacts(stays=tuple(person_stays))
    assert evaluate(facts, [rule("r", cond, m)], AreaIndex(area_list), on) == got
    index = AreaIndex(area_list, on)
    assert evaluate(facts, [rule("r", cond, m)], index, on) == got
    for s in person_stays:
        assert index.level_of(s.region_code, s.locality) == _brute_level(area_list, s.region_code, s.locality, on)


@settings(max_examples=300)
@given(person_stays=st.lists(stays(), max_size=4), area_list=st.lists(areas(), max_size=6), on=days_,
       within=st.integers(0, 21), level=levels)
def test_stayed_near_area_matches_brute_force(person_stays, area_list, on, within, level):
    cond = {"stayed_near_area": {"min_level": level, "within_days": within}}
    m = MeasureSpec(kind="refuse_entry", counted_from="evaluation")
    got = evaluate(PersonFacts(stays=tuple(person_stays)), [rule("r", cond, m)], area_list, on)
    live = [a for a in area_list if a.effective_from <= on and (a.effective_until is None or on <= a.effective_until)
            and LEVEL_RANK[a.level] >= LEVEL_RANK[level]]

    def near(s):
        if not (s.from_date <= on and s.to_date >= on - timedelta(days=within)) or len(s.region_code) < 4:
            return False
        same_city = any(len(a.region_code) >= 4 and a.region_code[:4] == s.region_code[:4] for a in live)
        inside = any(s.region_code.startswith(a.region_code) and (not a.locality or a.locality == s.locality)
                     for a in live)
        return same_city and not inside

    assert bool(got) == any(near(s) for s in person_stays)


KINDS = ["centralized_quarantine", "home_quarantine", "home_health_monitoring", "routine_testing", "refuse_entry"]


@st.composite
def rule_sets(draw):
    out = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(KINDS))
        days = draw(st.none() | st.integers(1, 21)) if kind not in SEVERITY else draw(st.integers(1, 21))
        cf = draw(st.sampled_from(["arrival", "last_exposure", "evaluation"]))
        cond = draw(st.sampled_from([{"past_case": {}}, {"contact": {}}, {"no_home_conditions": {}}]))
        out.append(rule(f"r{i}", cond, MeasureSpec(kind=kind, days=days, counted_from=cf),
                        precedence=draw(st.integers(1, 3))))
    return out


@settings(max_examples=300)
@given(rules_=rule_sets(), arrived=days_, exposed=days_, on=days_, no_home=st.booleans(), seed=st.integers(0, 99))
def test_choice_among_rules(rules_, arrived, exposed, on, no_home, seed):
    flags = Flags(past_case=True, contact_degree=1, last_exposure_on=exposed, no_home_conditions=no_home)
    facts = PersonFacts(arrived_on=arrived, flags=flags)
    got = evaluate(facts, rules_, [], on)
    kinds = [d.measure_kind for d in got]
    assert len(kinds) == len(set(kinds))  # one decision per kind
    assert sum(k in SEVERITY for k in kinds) <= 1  # at most one restriction
    if no_home:
        assert "home_quarantine" not in kinds

    # Brute force: candidates whose end is not past, their kind after the no-home conversion.
    anchor = {"arrival": arrived, "last_exposure": exposed, "evaluation": on}
    cands = []
    for r in rules_:
        if "no_home_conditions" in r.condition and not no_home:
            continue  # the only condition here that can fail
        start = anchor[r.measure.counted_from]
        end = None if r.measure.days is None else start + timedelta(days=r.measure.days - 1)
        if end is not None and end < on:
            continue
        kind = "centralized_quarantine" if no_home and r.measure.kind == "home_quarantine" else r.measure.kind
        cands.append((kind, end))
    restr = [c for c in cands if c[0] in SEVERITY]
    chosen = [d for d in got if d.measure_kind in SEVERITY]
    if restr:
        top = max(SEVERITY[k] for k, _ in restr)
        best_end = max(e for k, e in restr if SEVERITY[k] == top)
        assert (SEVERITY[chosen[0].measure_kind], chosen[0].end_date) == (top, best_end)
    else:
        assert chosen == []
    assert {k for k, _ in cands if k not in SEVERITY} == {k for k in kinds if k not in SEVERITY}
    for d in got:
        assert d.start_date >= on and (d.end_date is None or d.end_date >= d.start_date)

    # The rule order does not change what is decided (kinds and dates), only which of equal rules is cited.
    shuffled = list(rules_)
    random.Random(seed).shuffle(shuffled)
    again = evaluate(facts, shuffled, [], on)
    assert [(d.measure_kind, d.start_date, d.end_date) for d in again] == \
        [(d.measure_kind, d.start_date, d.end_date) for d in got]


leaf_conditions = st.sampled_from([
    {"stayed_in_area": {"level": "high", "within_days": 14}},
    {"stayed_near_area": {"min_level": "medium", "within_days": 14, "arrival_word": "返长"}},
    {"contact": {"degree": [1, 2], "within_days": 14}}, {"abroad_released": {}}, {"recovered_returning": {}},
    {"past_case": {}}, {"post_category": {"in": ["fever_clinic", "cold_chain"]}}, {"symptoms": {"any_of": []}},
    {"fever": {"threshold": 37.3}}, {"health_code": {"in": ["yellow", "red"]}}, {"no_home_conditions": {}},
    {"case": {"status_in": ["confirmed", "asymptomatic", "suspected"], "within_days": 90}}, {"not_vaccinated": {}},
    {"leaving_city": {}},
])
conditions = st.recursive(
    leaf_conditions,
    lambda inner: st.one_of(st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c}),
                            st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c}),
                            inner.map(lambda c: {"not": c})),
    max_leaves=6,
)


@given(cond=conditions, days=st.none() | st.integers(1, 30), every=st.none() | st.integers(1, 5),
       kind=st.sampled_from(KINDS), precedence=st.integers(0, 500), local=st.booleans())
def test_rule_json_round_trip(cond, days, every, kind, precedence, local):
    tests = tuple(TestSpec("nat", d) for d in (1, 7, 14) if days is None or d <= days)
    r = RuleSpec(key="k", policy_number="N", policy_title="T", clause="第二条", condition=cond,
                 measure=MeasureSpec(kind=kind, days=days, tests=tests, every_n_days=every,
                                     followups=("hospital_visit_week4",), label="14+3"),
                 precedence=precedence, note="注", local_setting=local)
    assert rule_from_dict(rule_to_dict(r)) == r
    zh, en = describe_rule(r), describe_rule(r, "en")
    assert zh.startswith("若") and zh.endswith("。") and "第二条" in zh
    assert en.startswith("If the person ") and en.endswith(".")
