"""Demo data: a city and county prevention office, an industry bureau, a factory, a hospital and a school with
their unit trees, taskforces, about 1,900 synthetic people and one sign-in per role (password `fangkong-demo`).

The run is a list of steps, each one function `step(ctx: DemoContext) -> None`. Apps that want demo data of their
own (check-ins, policies, entry control …) add a module `fangkong/<app>/demo_data.py` with `def seed(ctx) -> None`;
`run_demo` calls those after the steps here, in INSTALLED_APPS order, inside the same transaction.

Everything is synthetic: names are drawn from common surnames and given-name characters, ID numbers are generated
with valid checksums (`fangkong.people.idgen`), phone numbers are random. A fixed `random.Random(seed)` makes two
runs produce the same people. The seeding writes ONE audit event, not one per row.
"""

from __future__ import annotations

import importlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from stdnum.cn import ric

from fangkong.core import authcache, crypto
from fangkong.core.audit import audit_record
from fangkong.geo.models import Region
from fangkong.people import rules as people_rules
from fangkong.people.idgen import synthetic_id_number, synthetic_mobile
from fangkong.people.models import Person
from fangkong.tenancy.models import (
    Authority,
    Jurisdiction,
    Membership,
    Organization,
    Taskforce,
    TaskforceMember,
    Unit,
)
from fangkong.tenancy.roles import Role
from fangkong.tenancy.taskforce_templates import TEMPLATES

PASSWORD = "fangkong-demo"
DEFAULT_SEED = 20211917  # 长疫情防控办发〔2021〕38号 is dated 2021-09-17
CITY_NAME = "长治市疫情防控指挥部"
CITY_REGION = "1404"
COUNTY_NAME = "长子县疫情防控指挥部"
COUNTY_REGION = "140428"
COUNTY_REGION_BEFORE_1985 = "142524"  # 长子县 under 晋东南地区 until 1985 (GB/T 2260 history, as python-stdnum knows it)

# Frequent surnames, the most common ones listed twice so they come up about as often as in a real ledger; the
# region's own frequent surnames (郭, 武, 牛, 郝, 申, 秦, 暴) are included.
SURNAMES = (
    "王王王李李李张张张刘刘刘陈陈杨杨赵赵郭郭黄周吴徐孙胡朱高林何马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡"
    "贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝郝孔白崔康毛邱秦秦江史顾侯邵孟龙万段雷钱汤尹黎易常武武"
    "乔贺赖龚文牛牛申申暴李张"
)
GIVEN_MALE = "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘"
GIVEN_FEMALE = "秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽"
TOWNS = ("丹朱镇", "鲍店镇", "石哲镇", "大堡头镇", "慈林镇", "色头镇", "南漳镇", "宋村乡", "南陈乡", "碾张乡")
VILLAGE_SUFFIX = ("村", "庄", "河村", "沟村", "堡村", "头村")


@dataclass
class DemoContext:
    """What the steps share. Later steps (and other apps' `seed(ctx)`) read the objects the earlier ones made."""

    rng: random.Random
    today: date
    password_hash: str
    city: Jurisdiction | None = None
    county: Jurisdiction | None = None
    authorities: dict[str, Authority] = field(default_factory=dict)
    orgs: dict[str, Organization] = field(default_factory=dict)  # keys: factory, hospital, school
    units: dict[str, dict[str, Unit]] = field(default_factory=dict)  # org key → "一车间/甲班" → unit
    people: dict[str, list[Person]] = field(default_factory=dict)  # org key → people
    users: dict[str, Any] = field(default_factory=dict)  # username → user
    logins: list[tuple[str, str]] = field(default_factory=list)  # (username, what it shows)
    counts: Counter = field(default_factory=Counter)
    # What one app's demo step leaves for a later one (the hospital's index case for testing and tracing …).
    shared: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # step → seconds (seed_demo -v2 prints them)


class DemoRefused(Exception):
    pass


# --- helpers -------------------------------------------------------------------------------------------------------


def synthetic_name(rng: random.Random, gender: str) -> str:
    chars = GIVEN_MALE if gender == "male" else GIVEN_FEMALE
    given = rng.choice(chars) + (rng.choice(chars) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def _address(rng: random.Random) -> str:
    village = rng.choice(SURNAMES) + rng.choice(("家", "")) + rng.choice(VILLAGE_SUFFIX)
    return f"山西省长治市长子县{rng.choice(TOWNS)}{village}{rng.randint(1, 180)}号"


def _tree_node(model: type[Jurisdiction] | type[Unit], **values: Any) -> Any:
    """Create a tree node and set its materialised path (which needs the primary key)."""
    node = model.objects.create(**values)
    node.path = node.expected_path()
    model.objects.filter(pk=node.pk).update(path=node.path)
    authcache.invalidate()  # update() sends no signal; paths decide scopes (ADR 0009)
    return node


def _unit(ctx: DemoContext, org_key: str, label: str, name: str, kind: str, parent: Unit | None = None) -> Unit:
    unit = _tree_node(Unit, organization=ctx.orgs[org_key], parent=parent, name=name, kind=kind)
    ctx.units.setdefault(org_key, {})[label] = unit
    ctx.counts["units"] += 1
    return unit


def _rebase(number: str, region_code: str) -> str:
    """The same birth date and sequence under another place code, with the check digit recomputed."""
    body = region_code + number[6:17]
    return body + ric.calc_check_digit(body + "0")


class PersonFactory:
    """Builds unsaved Person rows with valid, unique ID numbers, derived hashes/masks and a pinyin sort key."""

    def __init__(self, ctx: DemoContext, organization: Organization):
        self.ctx = ctx
        self.organization = organization
        self.seen: set[str] = set()
        county = Region.objects.get(code=COUNTY_REGION)
        self.home = county
        # Most staff are from the county, some from the rest of the city, contractors also from neighbouring provinces.
        self.city_counties = list(Region.objects.filter(code__startswith=CITY_REGION, level="county")
                                  .values_list("code", flat=True))
        near = Q(code__startswith="1405") | Q(code__startswith="1410") | Q(code__startswith="4105")
        self.far_counties = list(Region.objects.filter(near, level="county").values_list("code", flat=True)) or (
            self.city_counties)

    def origin(self, far: bool) -> str:
        r = self.ctx.rng.random()
        if far and r < 0.6:
            return self.ctx.rng.choice(self.far_counties)
        if r < 0.75:
            return COUNTY_REGION
        return self.ctx.rng.choice(self.city_counties)

    def make(self, *, unit: Unit | None, kind: str, born: tuple[int, int], far: bool = False,
             gender: str | None = None, **extra: Any) -> Person:
        rng = self.ctx.rng
        gender = gender or rng.choice(("male", "female"))
        for _attempt in range(50):
            number = synthetic_id_number(rng, self.origin(far), born_from=born[0], born_to=born[1], gender=gender)
            if not ric.is_valid(number):
                # The place code must have existed in the birth year (潞州区 only since 2018, 140428 since 1985):
                # someone born in the county before 1985 carries its old code, 142524 (晋东南地区长子县).
                number = _rebase(number, COUNTY_REGION if int(number[6:10]) >= 1985 else COUNTY_REGION_BEFORE_1985)
            if number not in self.seen and ric.is_valid(number):
                break
        else:
            raise RuntimeError("无法生成不重复的演示身份证号")
        self.seen.add(number)
        info = people_rules.check_id_number(people_rules.RESIDENT_ID, number)  # raises if the checksum is wrong
        name = synthetic_name(rng, gender)
        phone = synthetic_mobile(rng)
        return Person(
            organization=self.organization, unit=unit, name=name, name_sort=people_rules.name_sort_key(name),
            gender=info.gender or gender, id_type=Person.IdType.RESIDENT_ID, id_number=info.number,
            id_number_hash=crypto.lookup_hash(info.number), id_number_masked=crypto.mask_id_number(info.number),
            birth_date=info.birth_date, phone=phone, phone_hash=crypto.lookup_hash(phone),
            phone_masked=crypto.mask_phone(phone), kind=kind, residence_region=self.home,
            address=extra.pop("address", None) or _address(rng), **extra,
        )


def _save_people(ctx: DemoContext, org_key: str, people: list[Person]) -> None:
    # bulk_create goes through get_prep_value, so the ID and phone columns are encrypted like a save() would.
    saved = Person.objects.bulk_create(people, batch_size=500)
    ctx.people.setdefault(org_key, []).extend(saved)
    ctx.counts["people"] += len(saved)


# --- steps ---------------------------------------------------------------------------------------------------------


def step_jurisdictions(ctx: DemoContext) -> None:
    ctx.city = _tree_node(Jurisdiction, name=CITY_NAME, region_id=CITY_REGION, duty_phone="0355-2023120")
    ctx.county = _tree_node(Jurisdiction, name=COUNTY_NAME, region_id=COUNTY_REGION, parent=ctx.city,
                            duty_phone="0355-8521120")
    for key, name, sector in (
        ("industry", "长子县工业和信息化局", Authority.Sector.INDUSTRY),
        ("health", "长子县卫生健康局", Authority.Sector.HEALTH),
        ("education", "长子县教育局", Authority.Sector.EDUCATION),
    ):
        ctx.authorities[key] = Authority.objects.create(name=name, sector=sector, jurisdiction=ctx.county)
    ctx.counts["jurisdictions"] += 2
    ctx.counts["authorities"] += len(ctx.authorities)


def step_organizations(ctx: DemoContext) -> None:
    assert ctx.county is not None
    common = {"region_id": COUNTY_REGION, "jurisdiction": ctx.county}
    ctx.orgs["factory"] = Organization.objects.create(
        name="长子县丹河机械制造有限公司", kind=Organization.Kind.ENTERPRISE, industry="通用设备制造",
        address="山西省长治市长子县丹朱镇工业园区8号", contact_phone="0355-8526601",
        authority=ctx.authorities["industry"], **common,
    )
    ctx.orgs["hospital"] = Organization.objects.create(
        name="长子县康宁医院", kind=Organization.Kind.HOSPITAL, industry="综合医院",
        address="山西省长治市长子县丹朱镇康宁路16号", contact_phone="0355-8522120",
        authority=ctx.authorities["health"], **common,
    )
    ctx.orgs["school"] = Organization.objects.create(
        name="长子县育才中学", kind=Organization.Kind.SCHOOL, industry="初级中学教育",
        address="山西省长治市长子县丹朱镇育才街3号", contact_phone="0355-8527301",
        authority=ctx.authorities["education"], **common,
    )
    ctx.counts["organizations"] += len(ctx.orgs)


def step_factory(ctx: DemoContext) -> None:
    """3 workshops with 2–3 teams each, an office and a security section; ~600 staff, ~10 % contractors."""
    rng, year = ctx.rng, ctx.today.year
    pf = PersonFactory(ctx, ctx.orgs["factory"])
    people: list[Person] = []
    office = _unit(ctx, "factory", "综合办公室", "综合办公室", Unit.Kind.DEPARTMENT)
    security = _unit(ctx, "factory", "保卫科", "保卫科", Unit.Kind.DEPARTMENT)
    people += [pf.make(unit=office, kind=Person.Kind.EMPLOYEE, born=(year - 58, year - 25)) for _ in range(22)]
    people += [pf.make(unit=security, kind=Person.Kind.EMPLOYEE, born=(year - 60, year - 30), gender="male")
               for _ in range(12)]
    workshops = (("一车间", "机加工车间"), ("二车间", "装配车间"), ("三车间", "铸造车间"))
    team_names = ("甲班", "乙班", "丙班")
    for i, (short, purpose) in enumerate(workshops):
        ws = _unit(ctx, "factory", short, f"{short}（{purpose}）", Unit.Kind.WORKSHOP)
        # Each workshop's own staff (director, technicians) sit at the workshop; operators in the teams.
        people += [pf.make(unit=ws, kind=Person.Kind.EMPLOYEE, born=(year - 55, year - 28)) for _ in range(6)]
        for t in range(3 if i < 2 else 2):
            team = _unit(ctx, "factory", f"{short}/{team_names[t]}", team_names[t], Unit.Kind.TEAM, parent=ws)
            size = rng.randint(66, 74)
            for _ in range(size):
                contractor = rng.random() < 0.11
                people.append(pf.make(
                    unit=team, kind=Person.Kind.CONTRACTOR if contractor else Person.Kind.EMPLOYEE,
                    born=(year - 55, year - 19), far=contractor,
                    gender="male" if rng.random() < 0.8 else "female",
                    dormitory=f"{rng.randint(1, 3)}号宿舍楼{rng.randint(1, 5)}{rng.randint(1, 20):02d}室"
                    if contractor else "",
                ))
    _save_people(ctx, "factory", people)


HOSPITAL_WARDS = (
    # (name, staff, post category): the seeds' clinical areas (001, 003) plus the usual departments.
    ("预检分诊", 14, None),
    ("发热门诊", 24, Person.PostCategory.FEVER_CLINIC),
    ("急诊科", 30, None),
    ("内科", 62, None),
    ("外科", 54, None),
    ("检验科", 26, None),
    ("放射科", 18, None),
    ("护理部", 12, None),
    ("医务科", 10, None),
    ("后勤保障科", 28, None),
    ("院感科", 8, None),
)


def step_hospital(ctx: DemoContext) -> None:
    year = ctx.today.year
    pf = PersonFactory(ctx, ctx.orgs["hospital"])
    people: list[Person] = []
    for name, staff, post in HOSPITAL_WARDS:
        ward = _unit(ctx, "hospital", name, name, Unit.Kind.WARD)
        people += [
            pf.make(unit=ward, kind=Person.Kind.EMPLOYEE, born=(year - 58, year - 23), post_category=post,
                    gender="female" if ctx.rng.random() < 0.6 else "male")
            for _ in range(staff)
        ]
    _save_people(ctx, "hospital", people)


def step_school(ctx: DemoContext) -> None:
    """Three grades of seven classes (~45 students each); teachers sit in their grade's teaching group."""
    rng, year = ctx.rng, ctx.today.year
    pf = PersonFactory(ctx, ctx.orgs["school"])
    people: list[Person] = []
    office = _unit(ctx, "school", "校办公室", "校办公室", Unit.Kind.DEPARTMENT)
    people += [pf.make(unit=office, kind=Person.Kind.TEACHER, born=(year - 58, year - 30)) for _ in range(8)]
    for g, grade_name in enumerate(("七年级", "八年级", "九年级")):
        grade = _unit(ctx, "school", grade_name, grade_name, Unit.Kind.GRADE)
        people += [pf.make(unit=grade, kind=Person.Kind.TEACHER, born=(year - 58, year - 24)) for _ in range(20)]
        born = (year - 13 - g, year - 12 - g)  # 七年级 students are 12–13
        for c in range(1, 8):
            klass = _unit(ctx, "school", f"{grade_name}/{c}班", f"{c}班", Unit.Kind.CLASS, parent=grade)
            people += [pf.make(unit=klass, kind=Person.Kind.STUDENT, born=born) for _ in range(rng.randint(42, 47))]
    _save_people(ctx, "school", people)


def _user(ctx: DemoContext, username: str, display_name: str, phone: str = "", **extra: Any) -> Any:
    User = get_user_model()
    user = User.objects.create(
        username=username, display_name=display_name, password=ctx.password_hash, phone=phone,
        phone_hash=crypto.lookup_hash(phone) if phone else "", **extra,
    )
    ctx.users[username] = user
    ctx.counts["users"] += 1
    return user


def _link(person: Person, user: Any) -> None:
    """The account belongs to this ledger person (self check-in, 'my' pages)."""
    Person.objects.filter(pk=person.pk).update(user=user)
    person.user = user
    user.display_name = person.name
    user.save(update_fields=["display_name"])


def _member(ctx: DemoContext, user: Any, role: str, **node: Any) -> Membership:
    ctx.counts["memberships"] += 1
    return Membership.objects.create(user=user, role=role, **node)


def step_users(ctx: DemoContext) -> None:
    factory, hospital = ctx.orgs["factory"], ctx.orgs["hospital"]
    units = ctx.units["factory"]
    first_ws = units["一车间"]

    def first_in(org_key: str, unit: Unit) -> Person:
        return next(p for p in ctx.people[org_key] if p.unit_id == unit.pk and p.user_id is None)

    admin = _user(ctx, "admin", "平台管理员", is_superuser=True, is_staff=True)
    _member(ctx, admin, Role.PLATFORM_ADMIN)
    # Memberships at two organisations too, so the header's switcher has entries to demonstrate.
    _member(ctx, admin, Role.ORG_ADMIN, organization=factory)
    _member(ctx, admin, Role.ORG_ADMIN, organization=hospital)
    ctx.logins.append(("admin", f"平台管理员（超级用户），可切换到{factory.name}、{hospital.name}"))

    county = _user(ctx, "county", synthetic_name(ctx.rng, "male"), synthetic_mobile(ctx.rng))
    _member(ctx, county, Role.JURISDICTION_OFFICER, jurisdiction=ctx.county)
    ctx.logins.append(("county", "长子县疫情防控指挥部 属地防控办人员"))

    bureau = _user(ctx, "bureau", synthetic_name(ctx.rng, "female"), synthetic_mobile(ctx.rng))
    _member(ctx, bureau, Role.AUTHORITY_OFFICER, authority=ctx.authorities["industry"])
    ctx.logins.append(("bureau", "长子县工业和信息化局 行业主管部门人员"))

    for username, org_key, unit_label in (
        ("factory", "factory", "综合办公室"), ("hospital", "hospital", "医务科"), ("school", "school", "校办公室"),
    ):
        person = first_in(org_key, ctx.units[org_key][unit_label])
        user = _user(ctx, username, person.name, person.phone)
        _link(person, user)
        _member(ctx, user, Role.ORG_ADMIN, organization=ctx.orgs[org_key])
        ctx.logins.append((username, f"{ctx.orgs[org_key].name} 单位管理员"))

    person = first_in("factory", first_ws)
    workshop = _user(ctx, "workshop", person.name, person.phone)
    _link(person, workshop)
    _member(ctx, workshop, Role.UNIT_LEADER, organization=factory, unit=first_ws)
    Unit.objects.filter(pk=first_ws.pk).update(grid_leader=workshop)
    authcache.invalidate()  # cached memberships carry their unit row (ADR 0009)
    ctx.logins.append(("workshop", f"{factory.name} {first_ws.name} 部门负责人（网格员），只看本车间"))

    person = first_in("factory", units["保卫科"])
    gate = _user(ctx, "gate", person.name, person.phone)
    _link(person, gate)
    _member(ctx, gate, Role.GATEKEEPER, organization=factory)
    ctx.logins.append(("gate", f"{factory.name} 门岗"))

    person = first_in("factory", units["一车间/甲班"])
    worker = _user(ctx, "worker", person.name, person.phone)
    _link(person, worker)
    _member(ctx, worker, Role.MEMBER, organization=factory)
    ctx.logins.append(("worker", f"{factory.name} 一车间甲班职工（已关联人员台账中的 {person.name}）"))


# Who leads what, by organisation kind: titles for the leading group, then for each working group's leader.
LEADING_TITLES = {
    "factory": ("董事长", ("总经理", "副总经理"), ("办公室主任", "安全环保部部长", "人力资源部部长", "生产部部长"),
                "办公室干事"),
    "hospital": ("院长", ("党支部书记", "副院长"), ("医务科科长", "护理部主任", "院感科科长", "后勤保障科科长"),
                 "医务科干事"),
    "school": ("校长", ("党支部书记", "副校长"), ("教务处主任", "政教处主任", "总务处主任", "校医"), "校办干事"),
}
TEMPLATE_FOR = {"factory": "enterprise", "hospital": "hospital", "school": "enterprise"}


def _taskforce_for(ctx: DemoContext, org_key: str, template_key: str) -> None:
    org, template = ctx.orgs[org_key], TEMPLATES[template_key]
    staff = [p for p in ctx.people[org_key] if p.kind in (Person.Kind.EMPLOYEE, Person.Kind.TEACHER)]
    pool = iter(ctx.rng.sample(staff, 40))
    leading = Taskforce.objects.create(
        organization=org, kind=Taskforce.Kind.LEADING, name=template.leading.name,
        duties=template.leading.duties, duty_phone=org.contact_phone,
    )
    groups = [
        Taskforce.objects.create(organization=org, parent=leading, kind=Taskforce.Kind.WORKING, name=g.name,
                                 duties=g.duties, position=i + 1)
        for i, g in enumerate(template.groups)
    ]
    leader_title, deputy_titles, member_titles, liaison_title = LEADING_TITLES[org_key]
    members: list[TaskforceMember] = []

    def add(tf: Taskforce, role: str, title: str) -> Person:
        p = next(pool)
        members.append(TaskforceMember(taskforce=tf, role=role, name=p.name, title=title, phone=p.phone))
        return p

    add(leading, TaskforceMember.Role.LEADER, leader_title)
    deputies = [add(leading, TaskforceMember.Role.DEPUTY, t) for t in deputy_titles]
    for t in member_titles:
        add(leading, TaskforceMember.Role.MEMBER, t)
    add(leading, TaskforceMember.Role.LIAISON, liaison_title)
    for i, group in enumerate(groups):
        # A deputy heads each working group, as the seeds' plans do; the rest are staff of the organisation.
        head = deputies[i % len(deputies)]
        members.append(TaskforceMember(taskforce=group, role=TaskforceMember.Role.LEADER, name=head.name,
                                       title=deputy_titles[i % len(deputy_titles)], phone=head.phone))
        for _ in range(ctx.rng.randint(2, 3)):
            # Ordinary members are named with their unit, the way the seeds' rosters list them.
            p = next(pool)
            members.append(TaskforceMember(taskforce=group, role=TaskforceMember.Role.MEMBER, name=p.name,
                                           title=p.unit.name if p.unit else "", phone=p.phone))
    TaskforceMember.objects.bulk_create(members)
    ctx.counts["taskforces"] += 1 + len(groups)
    ctx.counts["taskforce_members"] += len(members)


def step_taskforces(ctx: DemoContext) -> None:
    """The seed templates (enterprise: 004, hospital: 001) with members named from each ledger."""
    for org_key, template_key in TEMPLATE_FOR.items():
        _taskforce_for(ctx, org_key, template_key)


STEPS: list[Callable[[DemoContext], None]] = [
    step_jurisdictions,
    step_organizations,
    step_factory,
    step_hospital,
    step_school,
    step_users,
    step_taskforces,
]


def app_steps() -> list[Callable[[DemoContext], None]]:
    """`seed(ctx)` of every `fangkong/<app>/demo_data.py`, in INSTALLED_APPS order (which follows the layering)."""
    found = []
    for config in apps.get_app_configs():
        if not config.name.startswith("fangkong."):
            continue
        module_name = f"{config.name}.demo_data"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        found.append(module.seed)
    return found


def demo_exists() -> bool:
    return Jurisdiction.objects.filter(name=CITY_NAME, region_id=CITY_REGION).exists()


def run_demo(*, seed: int = DEFAULT_SEED, extra_steps: bool = True) -> DemoContext | None:
    """Create the demo data; None when it is already there. Refuses to run in production."""
    if settings.PRODUCTION:
        raise DemoRefused("生产环境不能生成演示数据")
    if not Region.objects.filter(code=COUNTY_REGION).exists():
        raise DemoRefused("缺少行政区划数据：请先运行 python manage.py load_regions")
    if demo_exists():
        return None
    ctx = DemoContext(rng=random.Random(seed), today=timezone.localdate(), password_hash=make_password(PASSWORD))
    with transaction.atomic():
        for step in STEPS + (app_steps() if extra_steps else []):
            started = time.monotonic()
            step(ctx)
            ctx.timings[f"{step.__module__}.{step.__name__}"] = round(time.monotonic() - started, 2)
        assert ctx.city is not None
        audit_record(
            actor="seed_demo", action="demo.seed", obj=ctx.city, jurisdiction_path=ctx.city.path,
            changes={k: [None, v] for k, v in sorted(ctx.counts.items())} | {"seed": [None, seed]},
        )
    return ctx
