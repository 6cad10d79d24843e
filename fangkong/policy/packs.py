"""Built-in policy packs: the seed documents' rules as data, each rule citing its clause and quoting it in its note.

Where a seed is silent and a default had to be chosen, the rule says so (`local_setting=True`, and the note says what
was chosen). docs/policy-engine.md has the same table for readers. Installing a pack (policy/services.py) copies these
rules into the database through `rules.rule_to_dict`, so officers can then edit them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fangkong.policy.rules import MeasureSpec, RuleSpec, TestSpec


@dataclass(frozen=True)
class Pack:
    key: str
    title: str
    policy_number: str
    issuer: str
    effective_from: date
    effective_until: date | None
    source: str  # seed file name + the clauses the rules cite
    rules: tuple[RuleSpec, ...]


def _nat(*days: int) -> tuple[TestSpec, ...]:
    return tuple(TestSpec("nat", d) for d in days)


# --- seed 003: 长治市 长疫情防控办发〔2021〕38号 ------------------------------------------------------------------

S003_NUMBER = "长疫情防控办发〔2021〕38号"
S003_TITLE = "长治市新冠肺炎疫情防控工作领导小组办公室关于进一步做好当前疫情防控工作的通知"
_S003_ARRIVALS = ("“14+3”即 14 天、3 次核酸检测，检测天数第 1、7、14 天（第三条对入境人员写明，本条同此）。")


def _s003(key: str, clause: str, condition: Mapping[str, Any], measure: MeasureSpec, note: str,
          precedence: int, local: bool = False) -> RuleSpec:
    return RuleSpec(key=key, policy_number=S003_NUMBER, policy_title=S003_TITLE, clause=clause,
                    condition=condition, measure=measure, precedence=precedence, note=note, local_setting=local)


_KEY_POSTS_NOTE = ("第八条：“发热门诊等重点岗位工作人员要落实每 3 天完成 1 次全员核酸检测”；隔离酒店“所有工作人员、各类保障人员"
                   "……每3天1次核酸检测”。")

SEED003 = Pack(
    key="seed003_changzhi_2021_38",
    title=S003_TITLE,
    policy_number=S003_NUMBER,
    issuer="长治市新冠肺炎疫情防控工作领导小组办公室",
    effective_from=date(2021, 9, 17),
    effective_until=None,
    source="003_7a26c861df9d2136.txt（长子县转发，长子疫情防控办发〔2021〕32号）：第二条、第三条、第八条、第九条、第十一条",
    rules=(
        _s003(
            "s003_high_area", "第二条",
            {"stayed_in_area": {"level": "high", "within_days": 14, "arrival_word": "返长"}},
            MeasureSpec(kind="centralized_quarantine", days=14, tests=_nat(1, 7, 14), label="14+3"),
            "第二条：“对 14 日内有高风险地区旅居史的入长返长人员严格实施“14+3”集中隔离医学观察”。" + _S003_ARRIVALS,
            10,
        ),
        _s003(
            "s003_medium_area", "第二条",
            {"stayed_in_area": {"level": "medium", "within_days": 14, "arrival_word": "返长"}},
            MeasureSpec(kind="home_quarantine", days=14, tests=_nat(1, 7, 14), label="14+3"),
            "第二条：“对 14 日内有中风险地区旅居史的入长返长人员实施“14+3”居家隔离医学观察”；“不具备居家隔离条件的，"
            "一律实施集中隔离医学观察”（系统对标记为不具备居家隔离条件的人员，一律将居家隔离改为集中隔离）。" + _S003_ARRIVALS,
            20,
        ),
        _s003(
            "s003_city_of_area", "第二条",
            {"stayed_near_area": {"min_level": "medium", "within_days": 14, "arrival_word": "返长"}},
            MeasureSpec(kind="home_quarantine", days=7, tests=_nat(1, 7), label="7+2"),
            "第二条：“对 14 日内有中高风险地区所在地市其他低风险区旅居史的入长返长人员实施“7+2”居家隔离医学观察”。"
            "原文只写“7+2”（7 天、2 次核酸），未写检测天数：本地设定为第 1、7 天。",
            30, local=True,
        ),
        _s003(
            "s003_contacts", "第二条",
            {"contact": {"degree": [1, 2]}},
            MeasureSpec(kind="centralized_quarantine", days=14, tests=_nat(1, 7, 14), counted_from="last_exposure"),
            "第二条：“对判定的密接和次密接，要立即就地集中隔离医学观察”。原文未写期限和检测：本地设定为自最后一次接触起 "
            "14 天，第 1、7、14 天各 1 次核酸检测。",
            5, local=True,
        ),
        _s003(
            "s003_abroad_released", "第三条",
            {"abroad_released": {}},
            MeasureSpec(kind="home_quarantine", days=14, tests=_nat(1, 7, 14), label="14+3"),
            "第三条：“对在第一入境点解除集中隔离医学观察入长返长人员……严格实施“14+3”居家隔离医学观察措施，第 1、7、14 "
            "天各进行 1 次核酸检测”。（9 月 2 日至 16 日已完成“7+2”者追加 7 天的过渡安排未建模。）",
            40,
        ),
        _s003(
            "s003_recovered_returning", "第十一条",
            {"recovered_returning": {}},
            MeasureSpec(kind="centralized_quarantine", days=14,
                        tests=(*_nat(1, 7, 14), TestSpec("antibody", 7)), counted_from="arrival",
                        followups=("hospital_visit_week4",)),
            "第十一条：“对确诊病例或无症状感染者治愈后返回我市人员，严格实施 14 天集中隔离医学观察，第 1、7、14 天各进行 1 "
            "次核酸检测，第 7 天进行 1 次抗体检测，并在出院后第 4 周到医院随访复诊”。“返回我市”：自抵达之日起计。",
            8,
        ),
        _s003(
            "s003_past_cases", "第十一条",
            {"past_case": {}},
            MeasureSpec(kind="routine_testing", days=1, tests=_nat(1), counted_from="evaluation"),
            "第十一条：“对 2020 年以来所有的既往确诊病例和无症状感染者……立即进行 1 次核酸检测”。（每季度对上一季度新增"
            "既往病例的 1 次检测属于定期排查，未在此建模。）",
            60,
        ),
        _s003(
            "s003_key_posts_testing", "第八条",
            {"post_category": {"in": ["fever_clinic", "isolation_hotel"]}},
            MeasureSpec(kind="routine_testing", every_n_days=3, counted_from="evaluation"),
            _KEY_POSTS_NOTE,
            50,
        ),
        _s003(
            "s003_cold_chain_testing", "第九条",
            {"post_category": {"in": ["cold_chain"]}},
            MeasureSpec(kind="routine_testing", every_n_days=3, counted_from="evaluation"),
            "第九条：“每3天对进口物品搬运、加工、销售等相关人员进行1次核酸检测”。",
            50,
        ),
        _s003(
            "s003_isolation_hotel_vaccination", "第八条",
            {"all": [{"post_category": {"in": ["isolation_hotel"]}}, {"not_vaccinated": {}}]},
            MeasureSpec(kind="vaccination_required", counted_from="evaluation"),
            "第八条：“严格落实隔离酒店工作人员疫苗接种、核酸检测和健康监测等要求”。",
            70,
        ),
        _s003(
            "s003_cold_chain_vaccination", "第九条",
            {"all": [{"post_category": {"in": ["cold_chain"]}}, {"not_vaccinated": {}}]},
            MeasureSpec(kind="vaccination_required", counted_from="evaluation"),
            "第九条：“不得安排未接种新冠疫苗人员上岗”。",
            70,
        ),
        _s003(
            "s003_fever_clinic_vaccination", "第八条、第十二条",
            {"all": [{"post_category": {"in": ["fever_clinic"]}}, {"not_vaccinated": {}}]},
            MeasureSpec(kind="vaccination_required", counted_from="evaluation"),
            "第八条只对隔离酒店工作人员写明疫苗接种；发热门诊工作人员按第十二条“应种尽种”同样要求接种后上岗：本地设定。",
            70, local=True,
        ),
    ),
)

# --- seed 002: 返岗复工人员疫情科学防控工作方案 -------------------------------------------------------------------

S002_NUMBER = "返岗复工人员疫情科学防控工作方案（2024）"
S002_TITLE = "2024年返岗复工人员疫情科学防控工作方案"
_S002_KEY_AREA_NOTE = "原文“重点地区”未按风险等级定义：本地设定为中、高风险地区。"
_KEY_STAY = {"stayed_in_area": {"min_level": "medium", "within_days": 14, "arrival_word": "返回"}}
_KEY_CONTACT = {"contact": {"within_days": 14}}


def _s002(key: str, clause: str, condition: Mapping[str, Any], measure: MeasureSpec, note: str,
          precedence: int, local: bool = False) -> RuleSpec:
    return RuleSpec(key=key, policy_number=S002_NUMBER, policy_title=S002_TITLE, clause=clause,
                    condition=condition, measure=measure, precedence=precedence, note=note, local_setting=local)


_S002_SIX = ("三、（六）：“14天内有过重点地区旅居史、接触史人员，需立即报告工作单位，自返回或最后一次接触相关人员起，"
             "居家隔离观察14天”。")
_S002_TWO = ("三、（二）：“对已经进行居家隔离的工作人员，每天上午下午各进行一次体温检测……隔离期满未发现异常的，"
             "经所在单位党委(党组)批准后方可返岗”。")

SEED002 = Pack(
    key="seed002_return_to_work",
    title=S002_TITLE,
    policy_number=S002_NUMBER,
    issuer="市直机关“返岗”人员疫情防控工作领导小组",
    effective_from=date(2024, 1, 1),
    effective_until=None,
    source="002_81ed565d9ba3d0b6.txt：三、（二）、三、（六）（原文无文号、无日期：生效日按标题年份取 2024-01-01）",
    rules=(
        _s002("s002_key_area_stay", "三、（六）", _KEY_STAY,
              MeasureSpec(kind="home_quarantine", days=14, counted_from="arrival"),
              _S002_SIX + _S002_KEY_AREA_NOTE, 10, local=True),
        _s002("s002_key_area_contact", "三、（六）", _KEY_CONTACT,
              MeasureSpec(kind="home_quarantine", days=14, counted_from="last_exposure"),
              _S002_SIX, 10),
        _s002("s002_temperature_stay", "三、（二）", _KEY_STAY,
              MeasureSpec(kind="temperature_twice_daily", days=14, counted_from="arrival"),
              _S002_TWO + "测温期与居家隔离期相同。" + _S002_KEY_AREA_NOTE, 20, local=True),
        _s002("s002_temperature_contact", "三、（二）", _KEY_CONTACT,
              MeasureSpec(kind="temperature_twice_daily", days=14, counted_from="last_exposure"),
              _S002_TWO + "测温期与居家隔离期相同。", 20),
        _s002("s002_report_and_approval", "三、（二）、三、（六）", {"any": [_KEY_STAY, _KEY_CONTACT]},
              MeasureSpec(kind="report_and_approval", counted_from="evaluation"),
              _S002_SIX + _S002_TWO, 30),
    ),
)

# --- seed 004: 鄂尔多斯市东胜区应急管理局 秋冬季方案 ------------------------------------------------------------

S004_NUMBER = "东胜区应急管理局应对秋冬季疫情防控工作方案（2020-09-29）"
S004_TITLE = "鄂尔多斯市东胜区应急管理局应对秋冬季疫情防控工作方案"
_S004_CLAUSE = "二、具体措施（一）"

SEED004 = Pack(
    key="seed004_dongsheng_2020",
    title=S004_TITLE,
    policy_number=S004_NUMBER,
    issuer="鄂尔多斯市东胜区应急管理局",
    effective_from=date(2020, 9, 29),
    effective_until=None,
    source="004_67184d6687c3f586.txt：二、具体措施（一）加强工作人员管控",
    rules=(
        RuleSpec(
            key="s004_fever_clinic", policy_number=S004_NUMBER, policy_title=S004_TITLE, clause=_S004_CLAUSE,
            condition={"fever": {"threshold": 37.3}},
            measure=MeasureSpec(kind="send_to_fever_clinic", counted_from="evaluation"),
            precedence=10, note="（一）：“如有发现或体温≧37.3℃的发热患者，要立即送到发热门诊，及时进行专家会诊”。",
        ),
        RuleSpec(
            key="s004_leaving_city", policy_number=S004_NUMBER, policy_title=S004_TITLE, clause=_S004_CLAUSE,
            condition={"leaving_city": {}},
            measure=MeasureSpec(kind="report_and_approval", counted_from="evaluation"),
            precedence=20,
            note="（一）：“特殊情况需要离开本市的人员，必须报主要领导同意、向机关办公室报备后方可外出”。",
        ),
    ),
)

# --- seed 001: 国家人防办烟台培训中心 培训期间疫情防控要求 ------------------------------------------------------

S001_NUMBER = "烟台培训中心培训期间疫情防控要求"
S001_TITLE = "国家人防办烟台培训中心培训期间疫情防控要求"


def _s001(key: str, clause: str, condition: Mapping[str, Any], note: str, precedence: int,
          local: bool = False) -> RuleSpec:
    return RuleSpec(key=key, policy_number=S001_NUMBER, policy_title=S001_TITLE, clause=clause,
                    condition=condition, measure=MeasureSpec(kind="refuse_entry", counted_from="evaluation"),
                    precedence=precedence, note=note, local_setting=local)


_S001_SEVEN = "第 7 条：“以下情形的人员不得参会："

SEED001 = Pack(
    key="seed001_meetings",
    title=S001_TITLE,
    policy_number=S001_NUMBER,
    issuer="国家人防办烟台培训中心",
    effective_from=date(2020, 1, 1),
    effective_until=None,
    source="001_dee03c2e868fbd67.txt（培训中心会议防控要求）：第 6 条、第 7 条（原文无日期：生效日取 2020-01-01）",
    rules=(
        _s001("s001_health_code", "第 6 条", {"health_code": {"in": ["yellow", "red"]}},
              "第 6 条：“持健康码黄码、红码人员一律不得入内”。", 10),
        _s001("s001_cases", "第 7 条",
              {"any": [{"case": {"status_in": ["confirmed", "asymptomatic"]}},
                       {"case": {"status_in": ["recovered"], "within_days": 90}}]},
              _S001_SEVEN + "新冠肺炎确诊病例及无症状感染者，治疗期间及确诊后3个月内的”。3 个月按 90 天计（本地设定）。",
              20, local=True),
        _s001("s001_suspected_and_contacts", "第 7 条",
              {"any": [{"case": {"status_in": ["suspected"]}}, {"contact": {"degree": 1, "within_days": 14}}]},
              _S001_SEVEN + "疑似病例及尚在隔离观察期的密切接触者”。“尚在隔离观察期”按最后接触 14 天内计（本地设定）。",
              30, local=True),
        _s001("s001_symptoms", "第 7 条",
              {"any": [{"symptoms": {"any_of": []}}, {"fever": {"threshold": 37.3}}]},
              _S001_SEVEN + "近14天有发热、咳嗽、咽痛、乏力、腹泻、皮疹、结膜充血等症状未痊愈者，未排除传染病及身体不适者”。"
              "原文含“身体不适者”，故任何未痊愈的症状都算；体温 ≥ 37.3 ℃ 为发热。",
              40),
        _s001("s001_risk_area_21", "第 7 条",
              {"any": [{"stayed_in_area": {"min_level": "medium", "within_days": 21}},
                       {"contact": {"within_days": 21}}]},
              _S001_SEVEN + "近21天有国内疫区旅居史、接触史的”。“国内疫区”按中、高风险地区计，“接触史”按 21 天内的"
              "密接、次密接计（本地设定）。",
              50, local=True),
    ),
)

PACKS: dict[str, Pack] = {p.key: p for p in (SEED003, SEED002, SEED004, SEED001)}
