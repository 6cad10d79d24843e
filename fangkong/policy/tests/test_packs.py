"""The built-in packs: valid, citing their seed clauses, and deciding what the seeds say on typical people."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from fangkong.policy.packs import PACKS
from fangkong.policy.rules import (
    AreaFact,
    Flags,
    PersonFacts,
    StayFact,
    TestDue,
    describe_rule,
    evaluate,
    rule_from_dict,
    rule_to_dict,
)

D = date
SEEDS = Path(__file__).resolve().parents[4] / "shared" / "seeds"
S003 = PACKS["seed003_changzhi_2021_38"].rules
S002 = PACKS["seed002_return_to_work"].rules
S004 = PACKS["seed004_dongsheng_2020"].rules
S001 = PACKS["seed001_meetings"].rules
SJZ = {"130109": "石家庄市藁城区", "130102": "石家庄市长安区"}


def kinds(decisions):
    return {d.measure_kind: d for d in decisions}


def test_pack_keys_and_rules_are_valid():
    assert set(PACKS) == {"seed003_changzhi_2021_38", "seed002_return_to_work", "seed004_dongsheng_2020",
                          "seed001_meetings"}
    keys = [r.key for p in PACKS.values() for r in p.rules]
    assert len(keys) == len(set(keys))
    for pack in PACKS.values():
        assert pack.rules and pack.title and pack.issuer and pack.policy_number
        assert pack.source.split("：")[0].split("（")[0].endswith(".txt")
        for r in pack.rules:
            assert rule_from_dict(rule_to_dict(r)) == r
            assert r.policy_number == pack.policy_number and r.clause and r.note
            assert "“" in r.note  # quotes its clause
            assert ("本地设定" in r.note) == r.local_setting, r.key
            assert describe_rule(r).endswith("。") and describe_rule(r, "en").endswith(".")


# A verbatim fragment of each rule's clause, found both in the seed and in the rule's note.
QUOTES = {
    "s003_high_area": ("003", "14 日内有高风险地区旅居史的入长返长人员严格实施“14+3”集中隔离医学观察"),
    "s003_medium_area": ("003", "14 日内有中风险地区旅居史的入长返长人员实施“14+3”居家隔离医学观察"),
    "s003_city_of_area": ("003", "中高风险地区所在地市其他低风险区旅居史的入长返长人员实施“7+2”居家隔离医学观察"),
    "s003_contacts": ("003", "对判定的密接和次密接，要立即就地集中隔离医学观察"),
    "s003_abroad_released": ("003", "第 1、7、14 天各进行 1 次核酸检测"),
    "s003_recovered_returning": ("003", "第 7 天进行 1 次抗体检测，并在出院后第 4 周到医院随访复诊"),
    "s003_past_cases": ("003", "立即进行 1 次核酸检测"),
    "s003_key_posts_testing": ("003", "每 3 天完成 1 次全员核酸检测"),
    "s003_cold_chain_testing": ("003", "每3天对进口物品搬运、加工、销售等相关人员进行1次核酸检测"),
    "s003_isolation_hotel_vaccination": ("003", "严格落实隔离酒店工作人员疫苗接种"),
    "s003_cold_chain_vaccination": ("003", "不得安排未接种新冠疫苗人员上岗"),
    "s003_fever_clinic_vaccination": ("003", "应种尽种"),
    "s002_key_area_stay": ("002", "自返回或最后一次接触相关人员起，居家隔离观察14天"),
    "s002_key_area_contact": ("002", "自返回或最后一次接触相关人员起，居家隔离观察14天"),
    "s002_temperature_stay": ("002", "每天上午下午各进行一次体温检测"),
    "s002_temperature_contact": ("002", "每天上午下午各进行一次体温检测"),
    "s002_report_and_approval": ("002", "经所在单位党委(党组)批准后方可返岗"),
    "s004_fever_clinic": ("004", "体温≧37.3℃的发热患者,要立即送到发热门诊"),
    "s004_leaving_city": ("004", "必须报主要领导同意、向机关办公室报备后方可外出"),
    "s001_health_code": ("001", "持健康码黄码、红码人员一律不得入内"),
    "s001_cases": ("001", "新冠肺炎确诊病例及无症状感染者,治疗期间及确诊后3个月内的"),
    "s001_suspected_and_contacts": ("001", "疑似病例及尚在隔离观察期的密切接触者"),
    "s001_symptoms": ("001", "近14天有发热、咳嗽、咽痛、乏力、腹泻、皮疹、结膜充血等症状未痊愈者"),
    "s001_risk_area_21": ("001", "近21天有国内疫区旅居史、接触史的"),
}


def _norm(text: str) -> str:
    # The seeds mix full- and half-width commas and keep line breaks from the PDFs.
    return re.sub(r"\s+", "", text).replace(",", "，")


def test_every_rule_quotes_its_seed():
    rules = {r.key: r for p in PACKS.values() for r in p.rules}
    assert set(QUOTES) == set(rules)
    if not SEEDS.is_dir():
        pytest.skip("the seed documents are not beside this checkout")
    texts = {p.name[:3]: _norm(p.read_text(encoding="utf-8")) for p in SEEDS.glob("*.txt")}
    for key, (seed, fragment) in QUOTES.items():
        assert _norm(fragment) in texts[seed], f"{key}: not in seed {seed}"
        assert _norm(fragment) in _norm(rules[key].note), f"{key}: note does not quote it"


# --- seed 003 ----------------------------------------------------------------------------------------------------


def test_seed003_issue_example_through_the_pack():
    facts = PersonFacts(stays=(StayFact("130109", D(2021, 9, 10), D(2021, 9, 12)),), arrived_on=D(2021, 9, 15),
                        region_names=SJZ)
    [d] = evaluate(facts, S003, [AreaFact("130109", "high", D(2021, 9, 10))], D(2021, 9, 15))
    assert d.explanation_zh == (
        "2021-09-12 在 石家庄市藁城区 (高风险, 2021-09-10 起), 返长前 3 天 → 长疫情防控办发〔2021〕38号 第二条: "
        "14+3 集中隔离医学观察, 2021-09-15 至 2021-09-28, 核酸 9-15, 9-21, 9-28")
    assert d.rule_key == "s003_high_area"


AREAS = [AreaFact("130109", "high", D(2021, 9, 1)), AreaFact("140428", "medium", D(2021, 9, 1))]


@pytest.mark.parametrize(("code", "flags", "kind", "days", "test_days", "rule_key"), [
    ("130109", Flags(), "centralized_quarantine", 14, [1, 7, 14], "s003_high_area"),
    ("140428", Flags(), "home_quarantine", 14, [1, 7, 14], "s003_medium_area"),
    ("140428", Flags(no_home_conditions=True), "centralized_quarantine", 14, [1, 7, 14], "s003_medium_area"),
    ("130102", Flags(), "home_quarantine", 7, [1, 7], "s003_city_of_area"),  # same city as the high area
    ("140402", Flags(), "home_quarantine", 7, [1, 7], "s003_city_of_area"),  # same city as the medium area
    ("130102", Flags(no_home_conditions=True), "centralized_quarantine", 7, [1, 7], "s003_city_of_area"),
    ("110101", Flags(arrived_from_abroad_released=True), "home_quarantine", 14, [1, 7, 14], "s003_abroad_released"),
])
def test_seed003_arrivals(code, flags, kind, days, test_days, rule_key):
    arrived = D(2021, 9, 20)
    facts = PersonFacts(stays=(StayFact(code, D(2021, 9, 15), D(2021, 9, 19)),), arrived_on=arrived, flags=flags)
    got = evaluate(facts, S003, AREAS, arrived)
    [d] = [d for d in got if d.measure_kind == kind]
    assert (d.rule_key, d.start_date, d.end_date) == (rule_key, arrived, arrived + timedelta(days=days - 1))
    assert [t.day for t in d.tests] == test_days
    assert all(t.kind == "nat" for t in d.tests)
    assert len(got) == 1


def test_seed003_low_risk_elsewhere_decides_nothing():
    facts = PersonFacts(stays=(StayFact("110101", D(2021, 9, 15), D(2021, 9, 19)),), arrived_on=D(2021, 9, 20))
    assert evaluate(facts, S003, AREAS, D(2021, 9, 20)) == []


def test_seed003_contacts_centralized_from_last_exposure():
    facts = PersonFacts(flags=Flags(contact_degree=2, last_exposure_on=D(2021, 9, 18), case_label="病例 3"))
    [d] = evaluate(facts, S003, AREAS, D(2021, 9, 20))
    assert (d.measure_kind, d.start_date, d.end_date, d.local_setting) == (
        "centralized_quarantine", D(2021, 9, 20), D(2021, 10, 1), True)
    # Day 1 (9-18) passed: one catch-up test now, then days 7 and 14.
    assert [(t.day, t.due_date) for t in d.tests] == [(3, D(2021, 9, 20)), (7, D(2021, 9, 24)), (14, D(2021, 10, 1))]
    assert d.explanation_zh.startswith("病例 3 的次密切接触者 (最后接触 2021-09-18) → ")


def test_seed003_contact_beats_medium_area_home_quarantine():
    facts = PersonFacts(stays=(StayFact("140428", D(2021, 9, 15), D(2021, 9, 19)),), arrived_on=D(2021, 9, 20),
                        flags=Flags(contact_degree=1, last_exposure_on=D(2021, 9, 19)))
    [d] = evaluate(facts, S003, AREAS, D(2021, 9, 20))
    assert (d.rule_key, d.measure_kind) == ("s003_contacts", "centralized_quarantine")


def test_seed003_recovered_case_returning():
    facts = PersonFacts(arrived_on=D(2021, 9, 20), flags=Flags(discharged_on=D(2021, 9, 5), past_case=True))
    got = kinds(evaluate(facts, S003, AREAS, D(2021, 9, 20)))
    d = got["centralized_quarantine"]
    assert (d.rule_key, d.start_date, d.end_date) == ("s003_recovered_returning", D(2021, 9, 20), D(2021, 10, 3))
    assert d.tests == (TestDue("nat", 1, D(2021, 9, 20)), TestDue("nat", 7, D(2021, 9, 26)),
                       TestDue("antibody", 7, D(2021, 9, 26)), TestDue("nat", 14, D(2021, 10, 3)))
    assert d.followup_windows == (("hospital_visit_week4", D(2021, 9, 26), D(2021, 10, 2)),)
    # Also a past case: one NAT test now.
    assert got["routine_testing"].tests == (TestDue("nat", 1, D(2021, 9, 20)),)
    assert got["routine_testing"].end_date == D(2021, 9, 20)


@pytest.mark.parametrize(("post", "vaccinated", "expect_vaccination", "testing_rule"), [
    ("fever_clinic", None, True, "s003_key_posts_testing"),
    ("fever_clinic", True, False, "s003_key_posts_testing"),
    ("isolation_hotel", False, True, "s003_key_posts_testing"),
    ("cold_chain", False, True, "s003_cold_chain_testing"),
    ("cold_chain", True, False, "s003_cold_chain_testing"),
    ("other_high_risk", False, False, None),
])
def test_seed003_key_posts(post, vaccinated, expect_vaccination, testing_rule):
    on = D(2021, 9, 20)
    got = kinds(evaluate(PersonFacts(flags=Flags(post_category=post, vaccinated=vaccinated)), S003, AREAS, on))
    assert ("vaccination_required" in got) is expect_vaccination
    if testing_rule is None:
        assert "routine_testing" not in got
        return
    d = got["routine_testing"]
    assert (d.rule_key, d.every_n_days, d.start_date, d.end_date) == (testing_rule, 3, on, None)
    assert d.tests == (TestDue("nat", 1, on),)


# --- seed 002 ----------------------------------------------------------------------------------------------------


def test_seed002_key_area_stay_home_isolation_temperature_and_approval():
    facts = PersonFacts(stays=(StayFact("140428", D(2024, 3, 1), D(2024, 3, 4)),), arrived_on=D(2024, 3, 5))
    areas = [AreaFact("140428", "medium", D(2024, 3, 1))]
    got = kinds(evaluate(facts, S002, areas, D(2024, 3, 6)))
    assert set(got) == {"home_quarantine", "temperature_twice_daily", "report_and_approval"}
    assert (got["home_quarantine"].start_date, got["home_quarantine"].end_date) == (D(2024, 3, 6), D(2024, 3, 18))
    assert got["temperature_twice_daily"].end_date == D(2024, 3, 18)
    assert got["report_and_approval"].end_date is None
    assert "返回前 1 天" in got["home_quarantine"].explanation_zh


def test_seed002_contact_counted_from_last_contact():
    facts = PersonFacts(flags=Flags(contact_degree=1, last_exposure_on=D(2024, 3, 1)))
    got = kinds(evaluate(facts, S002, [], D(2024, 3, 6)))
    assert got["home_quarantine"].end_date == D(2024, 3, 14)
    assert got["home_quarantine"].rule_key == "s002_key_area_contact"
    # Last contact more than 14 days ago: the isolation would be over already, and the rule does not apply.
    old = PersonFacts(flags=Flags(contact_degree=1, last_exposure_on=D(2024, 2, 1)))
    assert evaluate(old, S002, [], D(2024, 3, 6)) == []


# --- seed 004 ----------------------------------------------------------------------------------------------------


def test_seed004_fever_and_leaving_city():
    on = D(2020, 10, 8)
    [d] = evaluate(PersonFacts(flags=Flags(temperature=37.3)), S004, [], on)
    assert (d.measure_kind, d.start_date, d.end_date) == ("send_to_fever_clinic", on, None)
    assert d.explanation_zh.startswith("体温 37.3 ℃ (≥ 37.3 ℃) → ")
    assert evaluate(PersonFacts(flags=Flags(temperature=37.2)), S004, [], on) == []
    [d] = evaluate(PersonFacts(flags=Flags(leaving_city=True)), S004, [], on)
    assert d.measure_kind == "report_and_approval"


# --- seed 001 ----------------------------------------------------------------------------------------------------

ON_001 = D(2021, 9, 30)


@pytest.mark.parametrize(("facts", "refused", "rule_key"), [
    (PersonFacts(flags=Flags(health_code="yellow")), True, "s001_health_code"),
    (PersonFacts(flags=Flags(health_code="green")), False, None),
    (PersonFacts(flags=Flags(case_status="confirmed", diagnosed_on=D(2021, 1, 1))), True, "s001_cases"),
    (PersonFacts(flags=Flags(case_status="recovered", diagnosed_on=D(2021, 7, 15))), True, "s001_cases"),
    (PersonFacts(flags=Flags(case_status="recovered", diagnosed_on=D(2021, 6, 1))), False, None),
    (PersonFacts(flags=Flags(case_status="suspected")), True, "s001_suspected_and_contacts"),
    (PersonFacts(flags=Flags(contact_degree=1, last_exposure_on=D(2021, 9, 20))), True, "s001_suspected_and_contacts"),
    (PersonFacts(flags=Flags(symptoms=("cough",))), True, "s001_symptoms"),
    (PersonFacts(flags=Flags(temperature=37.6)), True, "s001_symptoms"),
    (PersonFacts(stays=(StayFact("140428", D(2021, 9, 1), D(2021, 9, 9)),)), True, "s001_risk_area_21"),
    (PersonFacts(stays=(StayFact("140428", D(2021, 9, 1), D(2021, 9, 8)),)), False, None),  # 22 days ago
    (PersonFacts(flags=Flags(contact_degree=2, last_exposure_on=D(2021, 9, 12))), True, "s001_risk_area_21"),
])
def test_seed001_meeting_attendance(facts, refused, rule_key):
    got = evaluate(facts, S001, AREAS, ON_001)
    assert bool(got) is refused
    if refused:
        [d] = got
        assert (d.measure_kind, d.rule_key) == ("refuse_entry", rule_key)


def test_all_packs_together_stay_coherent():
    """Everything enabled at once: still one restriction, one decision per other kind."""
    rules = [r for p in PACKS.values() for r in p.rules]
    facts = PersonFacts(stays=(StayFact("130109", D(2021, 9, 15), D(2021, 9, 19)),), arrived_on=D(2021, 9, 20),
                        flags=Flags(post_category="cold_chain", temperature=38.1, health_code="red",
                                    no_home_conditions=True, leaving_city=True), region_names=SJZ)
    got = evaluate(facts, rules, AREAS, D(2021, 9, 20))
    assert [d.measure_kind for d in got] == ["centralized_quarantine", "routine_testing", "temperature_twice_daily",
                                             "refuse_entry", "send_to_fever_clinic", "vaccination_required",
                                             "report_and_approval"]
    assert got[0].rule_key == "s003_high_area"
