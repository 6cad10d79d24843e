from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import TimeStampedModel
from fangkong.tenancy.roles import Role


class OrganizationQuerySet(models.QuerySet["Organization"]):
    def visible_to(self, user: Any, perm: str = "org.view") -> OrganizationQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="", unit=None))


class UnitQuerySet(models.QuerySet["Unit"]):
    def visible_to(self, user: Any, perm: str = "org.view") -> UnitQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit=""))


class JurisdictionQuerySet(models.QuerySet["Jurisdiction"]):
    def visible_to(self, user: Any, perm: str = "jurisdiction.view") -> JurisdictionQuerySet:
        from fangkong.tenancy.scope import jurisdiction_scope_q

        return self.filter(jurisdiction_scope_q(user, perm))


class TreePathMixin(models.Model):
    """A materialised path ('/3/17/42/') so 'this node and everything below it' is one indexed prefix filter."""

    path = models.CharField(max_length=255, db_index=True, blank=True, default="", editable=False)

    class Meta:
        abstract = True

    def expected_path(self) -> str:
        parent = getattr(self, "parent", None)
        return f"{parent.path if parent else '/'}{self.pk}/"


class Jurisdiction(TreePathMixin, TimeStampedModel):
    """A prevention office (指挥部/防控办) bound to a region; it publishes risk areas and receives reports."""

    name = models.CharField(_("名称"), max_length=100)
    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, verbose_name=_("行政区划"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("上级")
    )
    duty_phone = models.CharField(_("值班电话"), max_length=32, blank=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        ordering = ["region_id"]
        verbose_name = _("属地防控办")
        verbose_name_plural = _("属地防控办")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.parent is not None and self.region_id and not self.region_id.startswith(self.parent.region_id):
            raise ValidationError({"parent": _("上级防控办的区划必须包含本区划")})


class Authority(TimeStampedModel):
    """An industry bureau (工信局, 卫健委, 教育局 …) in a jurisdiction: the second reporting chain."""

    class Sector(models.TextChoices):
        INDUSTRY = "industry", _("工业和信息化")
        HEALTH = "health", _("卫生健康")
        EDUCATION = "education", _("教育")
        EMERGENCY = "emergency", _("应急管理")
        MARKET = "market", _("市场监管")
        CULTURE = "culture", _("文化旅游")
        OTHER = "other", _("其他")

    name = models.CharField(_("名称"), max_length=100)
    sector = models.CharField(_("行业"), max_length=20, choices=Sector.choices, default=Sector.OTHER)
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, related_name="authorities", verbose_name=_("属地")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("行业主管部门")
        verbose_name_plural = _("行业主管部门")

    def __str__(self) -> str:
        return self.name


class Organization(TimeStampedModel):
    """A tenant: an enterprise, hospital, school, government office or venue operator."""

    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("企业")
        HOSPITAL = "hospital", _("医院")
        SCHOOL = "school", _("学校")
        GOVERNMENT = "government", _("机关事业单位")
        VENUE_OPERATOR = "venue_operator", _("场所经营单位")
        OTHER = "other", _("其他")

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    industry = models.CharField(_("行业"), max_length=64, blank=True)
    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, verbose_name=_("所在区划"))
    address = models.CharField(_("地址"), max_length=200, blank=True)
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, related_name="organizations", verbose_name=_("属地防控办")
    )
    authority = models.ForeignKey(
        Authority,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="organizations",
        verbose_name=_("行业主管部门"),
    )
    contact_phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("单位")
        verbose_name_plural = _("单位")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.authority is not None and self.jurisdiction_id:
            auth_path = self.authority.jurisdiction.path
            if not (self.jurisdiction.path.startswith(auth_path) or auth_path.startswith(self.jurisdiction.path)):
                raise ValidationError({"authority": _("行业主管部门必须属于同一属地")})


class Unit(TreePathMixin, TimeStampedModel):
    """A node of an organisation's internal tree: department, workshop, team, post, ward, class."""

    class Kind(models.TextChoices):
        DEPARTMENT = "department", _("部门")
        WORKSHOP = "workshop", _("车间")
        TEAM = "team", _("班组")
        POST = "post", _("岗位")
        WARD = "ward", _("科室/病区")
        GRADE = "grade", _("年级")
        CLASS = "class", _("班级")
        OTHER = "other", _("其他")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="units", verbose_name=_("单位")
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children", verbose_name=_("上级")
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.DEPARTMENT)
    grid_leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_units",
        verbose_name=_("网格员"),
    )

    objects = UnitQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("部门/网格")
        verbose_name_plural = _("部门/网格")
        constraints = [
            models.UniqueConstraint(fields=["organization", "parent", "name"], name="unit_unique_name_per_parent")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def clean(self) -> None:
        if self.parent is not None and self.parent.organization_id != self.organization_id:
            raise ValidationError({"parent": _("上级部门必须属于同一单位")})


class Membership(TimeStampedModel):
    """A user's role at one node (jurisdiction, authority, organisation or unit), covering its descendants."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    jurisdiction = models.ForeignKey(Jurisdiction, null=True, blank=True, on_delete=models.CASCADE)
    authority = models.ForeignKey(Authority, null=True, blank=True, on_delete=models.CASCADE)
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.CASCADE)
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.CASCADE)

    class Meta:
        verbose_name = _("成员角色")
        verbose_name_plural = _("成员角色")
        constraints = [
            # A unit membership also names its organisation; otherwise exactly one node (or none: platform admin).
            models.CheckConstraint(
                name="membership_one_node",
                condition=(
                    models.Q(role="platform_admin", jurisdiction__isnull=True, authority__isnull=True,
                             organization__isnull=True, unit__isnull=True)
                    | models.Q(jurisdiction__isnull=False, authority__isnull=True, organization__isnull=True,
                               unit__isnull=True)
                    | models.Q(jurisdiction__isnull=True, authority__isnull=False, organization__isnull=True,
                               unit__isnull=True)
                    | models.Q(jurisdiction__isnull=True, authority__isnull=True, organization__isnull=False)
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.node}"

    @property
    def node(self) -> Jurisdiction | Authority | Organization | Unit | None:
        return self.unit or self.organization or self.authority or self.jurisdiction

    @property
    def node_label(self) -> str:
        return str(self.node) if self.node else str(_("全平台"))


class Taskforce(TimeStampedModel):
    """The leading group (领导小组) and its working groups (工作组) of an organisation or a jurisdiction."""

    class Kind(models.TextChoices):
        LEADING = "leading", _("领导小组")
        WORKING = "working", _("工作组")

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="taskforces"
    )
    jurisdiction = models.ForeignKey(
        Jurisdiction, null=True, blank=True, on_delete=models.CASCADE, related_name="taskforces"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="groups", verbose_name=_("上级")
    )
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=100)
    duties = models.TextField(_("职责"), blank=True)
    duty_phone = models.CharField(_("值班电话"), max_length=32, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("领导小组/工作组")
        verbose_name_plural = _("领导小组/工作组")
        constraints = [
            models.CheckConstraint(
                name="taskforce_one_owner",
                condition=models.Q(organization__isnull=False, jurisdiction__isnull=True)
                | models.Q(organization__isnull=True, jurisdiction__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return self.name


class TaskforceMember(models.Model):
    class Role(models.TextChoices):
        LEADER = "leader", _("组长")
        DEPUTY = "deputy", _("副组长")
        MEMBER = "member", _("成员")
        LIAISON = "liaison", _("联络员")

    taskforce = models.ForeignKey(Taskforce, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(_("职务"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    name = models.CharField(_("姓名"), max_length=64)
    title = models.CharField(_("职务/岗位"), max_length=100, blank=True)
    phone = models.CharField(_("电话"), max_length=32, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["taskforce", "role", "id"]
        verbose_name = _("小组成员")
        verbose_name_plural = _("小组成员")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"
