"""Taskforce structures that the seeds prescribe, offered when an organisation is created.

Enterprise: seed 004 (东胜区应急管理局 autumn/winter plan, 二、组织领导): a leading group and four working groups,
duties quoted from the seed. Hospital: seed 001 (city hospital plan, 组织领导): 领导小组, 专家组, 应急小组, 消毒隔离组,
后勤保障组; the seed names the groups but gives duties only for the leading group, so the others carry a short
summary of what the same plan assigns to them.

A template's label (what the form offers to choose) is shown in the reader's language; the names and duties of the
groups it creates are data, kept in Chinese as the seeds wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from fangkong.tenancy.models import Organization


@dataclass(frozen=True)
class GroupTemplate:
    name: str
    duties: str


@dataclass(frozen=True)
class TaskforceTemplate:
    key: str
    label: str | Promise  # lazily translated: worded when the form shows it
    source: str
    leading: GroupTemplate
    groups: tuple[GroupTemplate, ...]


ENTERPRISE = TaskforceTemplate(
    key="enterprise",
    label=gettext_lazy("企业（四个工作组）"),
    source="seed 004 二、组织领导",
    leading=GroupTemplate(
        "疫情防控工作领导小组",
        "组织和动员全部力量，做好和配合上级职能部门做好疫情应急处理工作；负责单位及直管企业疫情应急工作的指挥、组织和协调；"
        "监督检查本单位及直管企业在疫情应急处理工作中履行职责情况；评估和总结疫情应急处理工作，完善预案；"
        "组织开展疫情相关知识技能的培训和演练。",
    ),
    groups=(
        GroupTemplate(
            "综合协调组",
            "负责本单位疫情应急处理的日常协调工作；组织制订、修改预案；组织技术培训和演练；负责协调疫情现场处理和控制过程中的"
            "有关工作；协调做好社会稳定和安全保卫等工作；负责单位内外联络及日常事务，交流工作情况，及时汇报防治工作的动态。",
        ),
        GroupTemplate(
            "应对防控组",
            "协助卫生部门落实疫情的防控、救治，信息的收集分析及上报等工作；组织疫情危险因素的调查和隐患排查；"
            "监督检查各项防控措施的落实情况；组织和动员力量，开展自救和互救，参与群防群治；组织宣传疫情预防控制工作。",
        ),
        GroupTemplate("宣传动员组", "负责疫情预防控制工作的社会宣传、新闻报道、普及防病知识。"),
        GroupTemplate(
            "后勤保障组",
            "根据疫情预防控制工作的需要，做好物资供应和后勤保障等工作；组织应急物资储备等工作；并做好物资使用的监督管理等工作。",
        ),
    ),
)

HOSPITAL = TaskforceTemplate(
    key="hospital",
    label=gettext_lazy("医院（领导小组、专家组、应急小组、消毒隔离组、后勤保障组）"),
    source="seed 001 医院新型冠状病毒感染疫情防控方案 组织领导",
    leading=GroupTemplate(
        "疫情防控领导小组",
        "在市政府、上级卫生行政部门及疾病控制中心的指导下，负责全院疫情防治工作和领导，相关重大问题的决策，"
        "统一部署预防和控制工作和应急人员的调动。",
    ),
    groups=(
        GroupTemplate("疫情防控专家小组", "医疗组与护理组：疑似病例会诊、诊疗方案把关、医务人员培训。"),
        GroupTemplate("疫情防控应急小组", "发现疑似病例时就地隔离、上报并启动科室应急预案，组织转诊与应急处置。"),
        GroupTemplate("消毒隔离组", "预检分诊、发热门诊和隔离区域的消毒隔离、终末消毒及医疗废物管理的指导与督查。"),
        GroupTemplate("后勤保障组", "防护物资与消毒用品的储备、发放和调配，车辆消毒与后勤服务保障。"),
    ),
)

TEMPLATES: dict[str, TaskforceTemplate] = {t.key: t for t in (ENTERPRISE, HOSPITAL)}

DEFAULT_FOR_KIND: dict[str, str] = {
    Organization.Kind.ENTERPRISE: "enterprise",
    Organization.Kind.HOSPITAL: "hospital",
    Organization.Kind.GOVERNMENT: "enterprise",
    Organization.Kind.SCHOOL: "enterprise",
    Organization.Kind.VENUE_OPERATOR: "enterprise",
    Organization.Kind.OTHER: "enterprise",
}
