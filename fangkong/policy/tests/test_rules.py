"""The policy engine without a database: conventions, conditions, choice among rules, explanations, storage."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fangkong.policy.rules import (
    AreaFact,
    AreaIndex,
    Flags,
    MeasureSpec,
    PersonFacts,
    RuleSpec,
    StayFact,
    TestDue,
    TestSpec,
    area_level_on,
    describe_rule,
    end_date,
    evaluate,
    rule_from_dict,
    rule_to_dict,
    validate_condition,
)

D = date
NAT_1_7_14 = (TestSpec("nat", 1), TestSpec("nat", 7), TestSpec("nat", 14))
NUMBER = "长疫情防控办发〔2021〕38号"


def rule(key: str, condition: dict, kind: str = "centralized_quarantine", days: int | None = 14,
         tests: tuple[TestSpec, ...] = NAT_1_7_14, counted_from: str = "arrival", precedence: int = 100,
         clause: str = "第二条", label: str = "", **measure) -> RuleSpec:
    return RuleSpec(key=key, policy_number=NUMBER, policy_title="通知", clause=clause, condition=condition,
                    measure=MeasureSpec(kind=kind, days=days, tests=tests, counted_from=counted_from, label=label,
                                        **measure),
                    precedence=precedence)


HIGH14 = {"stayed_in_area": {"level": "high", "within_days": 14}}
MEDIUM14 = {"stayed_in_area": {"level": "medium", "within_days": 14}}


def stay(code: str, a: date, b: date, locality: str = "") -> StayFact:
    return StayFact(region_code=code, from_date=a, to_date=b, locality=locality)


# --- the issue's example -----------------------------------------------------------------------------------------


def test_issue_example_explanation_exactly():
    """The issue's sentence, reproduced: the stay ends 2021-09-12, arrival on 2021-09-15 ("返长前 3 天"), evaluated on
    the arrival day. The example implies the clause is written "第二条", the measure labelled "14+3", the arrival word
    "返长" (a parameter of the condition) and tests grouped by kind as month-day dates."""
    r = rule("s003_high", {"stayed_in_area": {"level": "high", "within_days": 14, "arrival_word": "返长"}},
             label="14+3")
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 10), D(2021, 9, 12)),), arrived_on=D(2021, 9, 15),
                        region_names={"130109": "石家庄市藁城区"})
    [d] = evaluate(facts, [r], [AreaFact("130109", "high", D(2021, 9, 10))], D(2021, 9, 15))
    assert d.explanation_zh == (
        "2021-09-12 在 石家庄市藁城区 (高风险, 2021-09-10 起), 返长前 3 天 → 长疫情防控办发〔2021〕38号 第二条: "
        "14+3 集中隔离医学观察, 2021-09-15 至 2021-09-28, 核酸 9-15, 9-21, 9-28"
    )
    assert d.explanation_en == (
        "2021-09-12 in 石家庄市藁城区 (high risk since 2021-09-10), 3 days before arrival → 长疫情防控办发〔2021〕38号 "
        "第二条: 14+3 centralized quarantine, 2021-09-15 to 2021-09-28, NAT 9-15, 9-21, 9-28"
    )
    assert (d.start_date, d.end_date) == (D(2021, 9, 15), D(2021, 9, 28))
    assert d.tests == (TestDue("nat", 1, D(2021, 9, 15)), TestDue("nat", 7, D(2021, 9, 21)),
                       TestDue("nat", 14, D(2021, 9, 28)))
    assert (d.rule_key, d.policy_number, d.clause, d.measure_kind) == ("s003_high", NUMBER, "第二条",
                                                                        "centralized_quarantine")
    assert d.matched == "stay:130109:2021-09-12"


# --- date conventions --------------------------------------------------------------------------------------------


def test_day_one_is_start_and_end_is_start_plus_n_minus_one():
    assert end_date(D(2021, 9, 15), 14) == D(2021, 9, 28)
    assert end_date(D(2021, 9, 15), 1) == D(2021, 9, 15)
    r = rule("r", HIGH14, days=7, tests=(TestSpec("nat", 1), TestSpec("nat", 7)))
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 1), D(2021, 9, 2)),), arrived_on=D(2021, 9, 3))
    [d] = evaluate(facts, [r], [AreaFact("13", "high", D(2021, 9, 1))], D(2021, 9, 3))
    assert d.end_date == D(2021, 9, 9)
    assert [t.due_date for t in d.tests] == [D(2021, 9, 3), D(2021, 9, 9)]


@pytest.mark.parametrize(("last_day", "matches"), [(D(2021, 9, 1), True), (D(2021, 8, 31), False)])
def test_within_days_boundary(last_day, matches):
    """On 2021-09-15, "within 14 days" reaches back to a stay whose last day is 2021-09-01, not 2021-08-31."""
    facts = PersonFacts(stays=(stay("130109", last_day - timedelta(days=3), last_day),))
    got = evaluate(facts, [rule("r", HIGH14, counted_from="evaluation")], [AreaFact("130109", "high", D(2021, 1, 1))],
                   D(2021, 9, 15))
    assert bool(got) is matches


def test_stay_starting_after_evaluation_date_does_not_count():
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 16), D(2021, 9, 20)),))
    assert evaluate(facts, [rule("r", HIGH14)], [AreaFact("130109", "high", D(2021, 1, 1))], D(2021, 9, 15)) == []


def test_level_in_force_on_evaluation_date_counts_not_at_the_stay():
    """Declared high after the stay: still counts. Lowered to medium by the evaluation date: counts as medium."""
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 1), D(2021, 9, 3)),), arrived_on=D(2021, 9, 4))
    later = [AreaFact("130109", "high", D(2021, 9, 8))]
    assert evaluate(facts, [rule("r", HIGH14)], later, D(2021, 9, 10))[0].measure_kind == "centralized_quarantine"
    lowered = [AreaFact("130109", "high", D(2021, 9, 1), D(2021, 9, 5)),
               AreaFact("130109", "medium", D(2021, 9, 6))]
    rules_ = [rule("h", HIGH14), rule("m", MEDIUM14, kind="home_quarantine")]
    [d] = evaluate(facts, rules_, lowered, D(2021, 9, 10))
    assert (d.rule_key, d.measure_kind) == ("m", "home_quarantine")
    ended = [AreaFact("130109", "high", D(2021, 9, 1), D(2021, 9, 9))]
    assert evaluate(facts, rules_, ended, D(2021, 9, 10)) == []
    assert evaluate(facts, rules_, ended, D(2021, 9, 9))[0].rule_key == "h"  # the last day of an area still counts


def test_counted_from_anchors():
    flags = Flags(contact_degree=1, last_exposure_on=D(2021, 9, 5), discharged_on=D(2021, 9, 1))
    facts = PersonFacts(arrived_on=D(2021, 9, 8), flags=flags)
    on = D(2021, 9, 10)
    contact = {"contact": {"degree": 1}}
    starts = {}
    for cf in ("arrival", "last_exposure", "discharge", "evaluation"):
        [d] = evaluate(facts, [rule(cf, contact, counted_from=cf, tests=())], [], on)
        starts[cf] = (d.start_date, d.end_date)
    assert starts == {
        "arrival": (on, D(2021, 9, 21)), "last_exposure": (on, D(2021, 9, 18)),
        "discharge": (on, D(2021, 9, 14)), "evaluation": (on, D(2021, 9, 23)),
    }
    # No arrival known: the evaluation date stands in.
    [d] = evaluate(PersonFacts(flags=flags), [rule("a", contact, tests=())], [], on)
    assert (d.start_date, d.end_date) == (on, D(2021, 9, 23))


def test_identified_late_keeps_end_drops_passed_tests_and_adds_one_catch_up():
    """Arrived 9-01, found on 9-10 (day 10): starts 9-10, ends 9-14; days 1 and 7 passed → one catch-up NAT on 9-10."""
    facts = PersonFacts(stays=(stay("130109", D(2021, 8, 30), D(2021, 8, 31)),), arrived_on=D(2021, 9, 1))
    r = rule("r", HIGH14, tests=(*NAT_1_7_14, TestSpec("antibody", 7)))
    [d] = evaluate(facts, [r], [AreaFact("130109", "high", D(2021, 8, 1))], D(2021, 9, 10))
    assert (d.start_date, d.end_date) == (D(2021, 9, 10), D(2021, 9, 14))
    assert d.tests == (TestDue("nat", 10, D(2021, 9, 10)), TestDue("antibody", 10, D(2021, 9, 10)),
                       TestDue("nat", 14, D(2021, 9, 14)))


def test_identified_late_on_a_test_day_needs_no_extra_test():
    facts = PersonFacts(stays=(stay("130109", D(2021, 8, 30), D(2021, 8, 31)),), arrived_on=D(2021, 9, 1))
    [d] = evaluate(facts, [rule("r", HIGH14)], [AreaFact("130109", "high", D(2021, 8, 1))], D(2021, 9, 7))
    assert d.tests == (TestDue("nat", 7, D(2021, 9, 7)), TestDue("nat", 14, D(2021, 9, 14)))


def test_measure_already_over_gives_no_decision():
    facts = PersonFacts(stays=(stay("130109", D(2021, 8, 30), D(2021, 8, 31)),), arrived_on=D(2021, 9, 1))
    areas = [AreaFact("130109", "high", D(2021, 8, 1))]
    assert evaluate(facts, [rule("r", HIGH14)], areas, D(2021, 9, 14))  # the last day itself
    assert evaluate(facts, [rule("r", {"stayed_in_area": {"level": "high", "within_days": 30}})], areas,
                    D(2021, 9, 15)) == []


def test_future_arrival_starts_on_arrival():
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 1), D(2021, 9, 9)),), arrived_on=D(2021, 9, 12))
    [d] = evaluate(facts, [rule("r", HIGH14)], [AreaFact("130109", "high", D(2021, 9, 1))], D(2021, 9, 10))
    assert (d.start_date, d.end_date, d.tests[0].due_date) == (D(2021, 9, 12), D(2021, 9, 25), D(2021, 9, 12))


def test_recurring_tests_within_a_measure_and_open_ended():
    contact = {"contact": {}}
    facts = PersonFacts(flags=Flags(contact_degree=2))
    [d] = evaluate(facts, [rule("r", contact, kind="routine_testing", days=10, tests=(), every_n_days=3,
                                counted_from="evaluation")], [], D(2021, 9, 1))
    assert [t.day for t in d.tests] == [1, 4, 7, 10]
    assert d.every_n_days is None
    [d] = evaluate(facts, [rule("r", contact, kind="routine_testing", days=None, tests=(), every_n_days=3,
                                counted_from="evaluation")], [], D(2021, 9, 1))
    assert (d.end_date, d.every_n_days, d.tests) == (None, 3, (TestDue("nat", 1, D(2021, 9, 1)),))
    assert "每 3 天 1 次核酸检测, 首次 9-1" in d.explanation_zh


# --- areas -------------------------------------------------------------------------------------------------------


def test_area_covers_descendants_by_prefix_only():
    areas = [AreaFact("1301", "high", D(2021, 9, 1))]
    assert area_level_on(areas, "130109", D(2021, 9, 2)) == "high"
    assert area_level_on(areas, "130109001", D(2021, 9, 2)) == "high"
    assert area_level_on(areas, "1302", D(2021, 9, 2)) is None
    assert area_level_on(areas, "13", D(2021, 9, 2)) is None  # an area does not cover its parent
    assert area_level_on(areas, "130109", D(2021, 8, 31)) is None  # not yet in force


def test_locality_area_matches_only_that_locality():
    areas = [AreaFact("130109", "high", D(2021, 9, 1), locality="幸福小区")]
    on = D(2021, 9, 5)
    r = [rule("r", HIGH14, counted_from="evaluation")]
    inside = PersonFacts(stays=(stay("130109", D(2021, 9, 2), D(2021, 9, 3), "幸福小区"),))
    elsewhere = PersonFacts(stays=(stay("130109", D(2021, 9, 2), D(2021, 9, 3), "和平街"),))
    unnamed = PersonFacts(stays=(stay("130109", D(2021, 9, 2), D(2021, 9, 3)),))
    assert evaluate(inside, r, areas, on)
    assert evaluate(elsewhere, r, areas, on) == []
    assert evaluate(unnamed, r, areas, on) == []
    # A region-wide area covers every locality in it.
    assert evaluate(elsewhere, r, [AreaFact("130109", "high", D(2021, 9, 1))], on)


def test_level_exact_and_min_level():
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 2), D(2021, 9, 3)),))
    on = D(2021, 9, 5)
    high = [AreaFact("130109", "high", D(2021, 9, 1))]
    assert evaluate(facts, [rule("m", MEDIUM14)], high, on) == []
    assert evaluate(facts, [rule("m", {"stayed_in_area": {"min_level": "medium", "within_days": 14}})], high, on)


def test_stayed_near_area_same_city_not_inside():
    near = rule("n", {"stayed_near_area": {"min_level": "medium", "within_days": 14}}, kind="home_quarantine",
                days=7, tests=(TestSpec("nat", 1), TestSpec("nat", 7)))
    areas = [AreaFact("130109", "medium", D(2021, 9, 1), region_name="石家庄市藁城区")]
    on = D(2021, 9, 6)
    neighbour = PersonFacts(stays=(stay("130102", D(2021, 9, 2), D(2021, 9, 3)),), arrived_on=D(2021, 9, 4),
                            region_names={"130102": "石家庄市长安区"})
    [d] = evaluate(neighbour, [near], areas, on)
    assert d.explanation_zh.startswith(
        "2021-09-03 在 石家庄市长安区, 与 石家庄市藁城区 (中风险, 2021-09-01 起) 同属一个地级市, 抵达前 1 天 → ")
    inside = PersonFacts(stays=(stay("130109", D(2021, 9, 2), D(2021, 9, 3)),))
    assert evaluate(inside, [near], areas, on) == []
    other_city = PersonFacts(stays=(stay("130203", D(2021, 9, 2), D(2021, 9, 3)),))
    assert evaluate(other_city, [near], areas, on) == []
    low_only = [AreaFact("130109", "low", D(2021, 9, 1))]
    assert evaluate(neighbour, [near], low_only, on) == []
    # A locality-only area still makes its whole city count, and the rest of its own county is "near".
    compound = [AreaFact("130109", "high", D(2021, 9, 1), locality="幸福小区")]
    same_county = PersonFacts(stays=(stay("130109", D(2021, 9, 2), D(2021, 9, 3), "和平街"),))
    assert evaluate(same_county, [near], compound, on)


def test_area_index_and_sequence_agree_and_date_checked():
    areas = [AreaFact("130109", "high", D(2021, 9, 1)), AreaFact("1402", "medium", D(2021, 9, 1), D(2021, 9, 3))]
    facts = PersonFacts(stays=(stay("140202", D(2021, 9, 1), D(2021, 9, 2)),))
    rules_ = [rule("h", HIGH14), rule("m", MEDIUM14, kind="home_quarantine")]
    for on in (D(2021, 9, 2), D(2021, 9, 4)):
        assert evaluate(facts, rules_, areas, on) == evaluate(facts, rules_, AreaIndex(areas), on) == \
            evaluate(facts, rules_, AreaIndex(areas, on), on)
    with pytest.raises(ValueError, match="2021-09-02"):
        evaluate(facts, rules_, AreaIndex(areas, D(2021, 9, 2)), D(2021, 9, 4))
    with pytest.raises(ValueError, match="未知风险等级"):
        AreaIndex([AreaFact("13", "severe", D(2021, 9, 1))])


# --- flags conditions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "flags", "matches"), [
    ({"contact": {"degree": 1}}, Flags(contact_degree=1), True),
    ({"contact": {"degree": 1}}, Flags(contact_degree=2), False),
    ({"contact": {"degree": [1, 2]}}, Flags(contact_degree=2), True),
    ({"contact": {"within_days": 14}}, Flags(contact_degree=1, last_exposure_on=D(2021, 8, 27)), True),
    ({"contact": {"within_days": 14}}, Flags(contact_degree=1, last_exposure_on=D(2021, 8, 26)), False),
    ({"contact": {"within_days": 14}}, Flags(contact_degree=1), True),  # unknown date: still under observation
    ({"abroad_released": {}}, Flags(arrived_from_abroad_released=True), True),
    ({"abroad_released": {}}, Flags(), False),
    ({"recovered_returning": {}}, Flags(discharged_on=D(2021, 9, 1)), True),
    ({"recovered_returning": {}}, Flags(past_case=True), False),
    ({"past_case": {}}, Flags(past_case=True), True),
    ({"post_category": {"in": ["fever_clinic", "cold_chain"]}}, Flags(post_category="cold_chain"), True),
    ({"post_category": {"in": ["fever_clinic"]}}, Flags(post_category="cold_chain"), False),
    ({"post_category": {"in": ["fever_clinic"]}}, Flags(), False),
    ({"symptoms": {"any_of": ["cough"]}}, Flags(symptoms=("rash", "cough")), True),
    ({"symptoms": {"any_of": ["cough"]}}, Flags(symptoms=("rash",)), False),
    ({"symptoms": {"any_of": []}}, Flags(symptoms=("reported",)), True),
    ({"symptoms": {"any_of": []}}, Flags(), False),
    ({"fever": {"threshold": 37.3}}, Flags(temperature=37.3), True),
    ({"fever": {"threshold": 37.3}}, Flags(temperature=37.2), False),
    ({"fever": {"threshold": 37.3}}, Flags(), False),
    ({"health_code": {"in": ["yellow", "red"]}}, Flags(health_code="red"), True),
    ({"health_code": {"in": ["yellow", "red"]}}, Flags(health_code="green"), False),
    ({"no_home_conditions": {}}, Flags(no_home_conditions=True), True),
    ({"case": {"status_in": ["confirmed"], "within_days": 90}},
     Flags(case_status="confirmed", diagnosed_on=D(2021, 6, 12)), True),
    ({"case": {"status_in": ["confirmed"], "within_days": 90}},
     Flags(case_status="confirmed", diagnosed_on=D(2021, 6, 11)), False),
    ({"case": {"status_in": ["suspected"]}}, Flags(case_status="confirmed"), False),
    ({"not_vaccinated": {}}, Flags(vaccinated=False), True),
    ({"not_vaccinated": {}}, Flags(), True),
    ({"not_vaccinated": {}}, Flags(vaccinated=True), False),
    ({"leaving_city": {}}, Flags(leaving_city=True), True),
    ({"all": [{"past_case": {}}, {"not_vaccinated": {}}]}, Flags(past_case=True, vaccinated=True), False),
    ({"any": [{"past_case": {}}, {"leaving_city": {}}]}, Flags(leaving_city=True), True),
    ({"not": {"past_case": {}}}, Flags(), True),
    ({"not": {"past_case": {}}}, Flags(past_case=True), False),
])
def test_flag_conditions(condition, flags, matches):
    on = D(2021, 9, 10)
    got = evaluate(PersonFacts(flags=flags), [rule("r", condition, kind="refuse_entry", days=None, tests=(),
                                                   counted_from="evaluation")], [], on)
    assert bool(got) is matches


# --- several rules -----------------------------------------------------------------------------------------------


def test_most_severe_restriction_wins_then_longer_end():
    flags = Flags(contact_degree=1, last_exposure_on=D(2021, 9, 8), arrived_from_abroad_released=True)
    facts = PersonFacts(arrived_on=D(2021, 9, 1), flags=flags)
    rules_ = [
        rule("home", {"abroad_released": {}}, kind="home_quarantine", days=30),
        rule("central_short", {"contact": {}}, days=3, counted_from="last_exposure", tests=()),
        rule("central_long", {"contact": {}}, days=14, counted_from="last_exposure"),
        rule("monitor", {"contact": {}}, kind="home_health_monitoring", days=60),
    ]
    [d] = evaluate(facts, rules_, [], D(2021, 9, 9))
    assert (d.rule_key, d.end_date) == ("central_long", D(2021, 9, 21))


def test_ties_broken_by_precedence_then_rule_order():
    facts = PersonFacts(flags=Flags(past_case=True))
    cond = {"past_case": {}}
    a, b = rule("a", cond, precedence=50), rule("b", cond, precedence=10)
    assert evaluate(facts, [a, b], [], D(2021, 9, 9))[0].rule_key == "b"
    c = rule("c", cond, precedence=50)
    assert evaluate(facts, [a, c], [], D(2021, 9, 9))[0].rule_key == "a"


def test_no_home_conditions_turns_home_quarantine_into_centralized():
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 1), D(2021, 9, 2)),), arrived_on=D(2021, 9, 3),
                        flags=Flags(no_home_conditions=True), region_names={"130109": "石家庄市藁城区"})
    [d] = evaluate(facts, [rule("m", MEDIUM14, kind="home_quarantine", label="14+3")],
                   [AreaFact("130109", "medium", D(2021, 9, 1))], D(2021, 9, 3))
    assert (d.measure_kind, d.converted_from, d.end_date) == ("centralized_quarantine", "home_quarantine",
                                                              D(2021, 9, 16))
    assert "不具备居家隔离条件, 居家隔离改为集中隔离" in d.explanation_zh
    assert "home quarantine becomes centralized" in d.explanation_en
    # A converted home quarantine competes as centralized: its longer end beats a shorter centralized rule.
    short = rule("c", MEDIUM14, days=7, tests=())
    [d] = evaluate(facts, [short, rule("m", MEDIUM14, kind="home_quarantine")],
                   [AreaFact("130109", "medium", D(2021, 9, 1))], D(2021, 9, 3))
    assert d.rule_key == "m"


def test_other_kinds_kept_alongside_one_per_kind():
    facts = PersonFacts(flags=Flags(post_category="cold_chain", temperature=38.0, past_case=True, leaving_city=True,
                                    contact_degree=1, last_exposure_on=D(2021, 9, 9)))
    ev = {"counted_from": "evaluation", "tests": ()}
    rules_ = [
        rule("q", {"contact": {}}, counted_from="last_exposure"),
        rule("every3", {"post_category": {"in": ["cold_chain"]}}, kind="routine_testing", days=None,
             every_n_days=3, counted_from="evaluation", tests=()),
        rule("once", {"past_case": {}}, kind="routine_testing", days=1, counted_from="evaluation",
             tests=(TestSpec("nat", 1),)),
        rule("clinic", {"fever": {"threshold": 37.3}}, kind="send_to_fever_clinic", days=None, **ev),
        rule("approve", {"leaving_city": {}}, kind="report_and_approval", days=None, **ev),
        rule("vacc", {"not_vaccinated": {}}, kind="vaccination_required", days=None, **ev),
    ]
    got = evaluate(facts, rules_, [], D(2021, 9, 10))
    assert [(d.measure_kind, d.rule_key) for d in got] == [
        ("centralized_quarantine", "q"), ("routine_testing", "every3"), ("send_to_fever_clinic", "clinic"),
        ("vaccination_required", "vacc"), ("report_and_approval", "approve"),
    ]


def test_followup_week_four_after_discharge():
    r = rule("rec", {"recovered_returning": {}}, tests=(*NAT_1_7_14, TestSpec("antibody", 7)),
             followups=("hospital_visit_week4", "到社区报到"))
    facts = PersonFacts(arrived_on=D(2021, 9, 20), flags=Flags(discharged_on=D(2021, 9, 10)))
    [d] = evaluate(facts, [r], [], D(2021, 9, 20))
    # Discharge day is day 1: week 4 is days 22–28 → 10-01 … 10-07.
    assert d.followup_windows == (("hospital_visit_week4", D(2021, 10, 1), D(2021, 10, 7)),)
    assert d.followups == ("出院后第 4 周到医院随访复诊 (2021-10-01 至 2021-10-07)", "到社区报到")
    assert d.followups_en == ("hospital follow-up visit in week 4 after discharge (2021-10-01 to 2021-10-07)", "到社区报到")
    assert [(t.kind, t.due_date) for t in d.tests] == [
        ("nat", D(2021, 9, 20)), ("nat", D(2021, 9, 26)), ("antibody", D(2021, 9, 26)), ("nat", D(2021, 10, 3))]
    assert "核酸 9-20, 9-26, 10-3; 抗体 9-26" in d.explanation_zh


def test_explanation_without_arrival_counts_back_from_evaluation_date():
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 1), D(2021, 9, 5), "幸福小区"),))
    [d] = evaluate(facts, [rule("r", HIGH14, counted_from="evaluation")],
                   [AreaFact("1301", "high", D(2021, 9, 1), region_name="石家庄市")], D(2021, 9, 8))
    assert d.explanation_zh.startswith("2021-09-05 在 130109 幸福小区 (石家庄市 高风险, 2021-09-01 起), 评估日前 3 天 → ")
    assert "3 days before the evaluation date" in d.explanation_en


def test_latest_matching_stay_is_cited():
    facts = PersonFacts(stays=(stay("130109", D(2021, 9, 1), D(2021, 9, 2)), stay("130102", D(2021, 9, 3),
                                                                                    D(2021, 9, 4))))
    [d] = evaluate(facts, [rule("r", HIGH14)], [AreaFact("1301", "high", D(2021, 9, 1))], D(2021, 9, 5))
    assert d.matched == "stay:130102:2021-09-04"


# --- validation, storage, sentences ------------------------------------------------------------------------------


@pytest.mark.parametrize(("condition", "message"), [
    ({"stayed_in_area": {"level": "hgh", "within_days": 14}}, "条件 stayed_in_area：未知风险等级 'hgh'"),
    ({"stayed_in_area": {"within_days": 14}}, "需要 level（恰为该等级）或 min_level"),
    ({"stayed_in_area": {"level": "high", "min_level": "low", "within_days": 14}}, "二者之一"),
    ({"stayed_in_area": {"level": "high"}}, "缺少参数 within_days"),
    ({"stayed_in_area": {"level": "high", "within_days": -1}}, "不小于 0 的整数"),
    ({"stayed_in_area": {"level": "high", "within_days": 14, "days": 3}}, "未知参数 days"),
    ({"all": [{"past_case": {}}, {"frobnicate": {}}]}, "条件 all[1].frobnicate：未知条件 'frobnicate'"),
    ({"any": []}, "条件 any：应为非空的条件列表"),
    ({"past_case": {}, "fever": {}}, "只有一个键"),
    ({"health_code": {"in": ["purple"]}}, "未知取值 'purple'"),
    ({"post_category": {"in": []}}, "应为非空列表"),
    ({"contact": {"degree": 3}}, "degree 应为 1（密接）、2（次密接）"),
    ({"fever": {"threshold": 99}}, "35 到 42"),
    ({"not": {"any": [{"case": {"status_in": ["cured"]}}]}}, "条件 not.any[0].case：参数 status_in 含未知取值 'cured'"),
])
def test_validate_condition_messages(condition, message):
    with pytest.raises(ValueError, match=None) as e:
        validate_condition(condition)
    assert message in str(e.value)



def test_condition_and_measure_errors_worded_in_english():
    from django.utils import translation

    from fangkong.core.rule_errors import worded

    with pytest.raises(ValueError) as e:
        validate_condition({"all": [{"past_case": {}}, {"frobnicate": {}}]})
    assert str(e.value).startswith("条件 all[1].frobnicate：未知条件 'frobnicate'")
    with translation.override("en"):
        assert worded(e.value).startswith(
            "Condition all[1].frobnicate: unknown condition 'frobnicate' (allowed: all, any, not, stayed_in_area,")
    data = rule_to_dict(rule("r", HIGH14))
    with pytest.raises(ValueError) as e:
        rule_from_dict({**data, "measure": {**data["measure"], "tests": [{"kind": "antigen", "day": 15}]}})
    with translation.override("en"):
        assert worded(e.value) == "Measure: the antigen test on day 15 is out of range (must be 1 to 14)"

def test_rule_round_trip_and_validation():
    r = rule("r", {"all": [HIGH14, {"not": {"no_home_conditions": {}}}]}, label="14+3", every_n_days=2,
             followups=("hospital_visit_week4",), note="n")
    data = rule_to_dict(r)
    assert rule_from_dict(data) == r
    import json

    assert rule_from_dict(json.loads(json.dumps(data, ensure_ascii=False))) == r
    bad = {**data, "measure": {**data["measure"], "tests": [{"kind": "nat", "day": 15}]}}
    with pytest.raises(ValueError, match="第 15 天的核酸检测超出范围"):
        rule_from_dict(bad)
    with pytest.raises(ValueError, match="未知类型 'quarantine'"):
        rule_from_dict({**data, "measure": {**data["measure"], "kind": "quarantine"}})
    with pytest.raises(ValueError, match="起算点 'onset'"):
        rule_from_dict({**data, "measure": {**data["measure"], "counted_from": "onset"}})
    with pytest.raises(ValueError, match="天数应为正整数"):
        rule_from_dict({**data, "measure": {**data["measure"], "days": "14"}})
    with pytest.raises(ValueError, match="规则缺少字段 condition"):
        rule_from_dict({"key": "x", "measure": data["measure"]})


def test_describe_rule_sentences():
    r = rule("r", {"stayed_in_area": {"level": "high", "within_days": 14, "arrival_word": "返长"}}, label="14+3")
    assert describe_rule(r) == ("若14 日内有高风险地区旅居史，则“14+3” 集中隔离医学观察 14 天，自抵达之日起计，"
                                "第 1、7、14 天各 1 次核酸检测（长疫情防控办发〔2021〕38号 第二条）。")
    assert describe_rule(r, "en") == (
        "If the person stayed in a high-risk area within 14 days: “14+3” centralized quarantine for 14 days, counted "
        "from arrival, NAT test on days 1, 7, 14 (长疫情防控办发〔2021〕38号 第二条).")
    near = rule("n", {"all": [{"stayed_near_area": {"min_level": "medium", "within_days": 14}},
                              {"not": {"no_home_conditions": {}}}]}, kind="home_quarantine", days=7,
                tests=(TestSpec("nat", 1), TestSpec("nat", 7)))
    assert describe_rule(near).startswith("若(14 日内有高、中风险地区所在地市其他地区旅居史且并非不具备居家隔离条件)，则")
    with pytest.raises(ValueError):
        describe_rule(rule("x", {"nonsense": {}}))


def test_open_ended_recurring_with_an_explicit_first_test_lists_it_once():
    r = rule("r", {"past_case": {}}, kind="routine_testing", days=None, tests=(TestSpec("nat", 1),), every_n_days=3,
             counted_from="evaluation")
    [d] = evaluate(PersonFacts(flags=Flags(past_case=True)), [r], [], D(2021, 9, 1))
    assert d.tests == (TestDue("nat", 1, D(2021, 9, 1)),)
