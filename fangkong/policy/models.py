"""Risk areas, policies as data, and the facts about people the rules read (stays, arrivals, travel requests).

Risk areas keep their history: lowering or ending an area adds a record and closes the old one (only its
`effective_until` ever changes), so "the list as of date D" is a query over unchanged rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fangkong.tenancy.models import Jurisdiction


def ancestor_paths(path: str) -> list[str]:
    """'/3/17/42/' → ['/3/', '/3/17/', '/3/17/42/']: the jurisdiction and every one above it."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def user_jurisdiction_paths(user: Any, perm: str) -> tuple[bool, list[str]]:
    """(sees everything, paths of the jurisdictions the user's memberships granting `perm` sit in or under)."""
    from fangkong.tenancy.roles import Role, role_grants
    from fangkong.tenancy.scope import memberships_of

    if getattr(user, "is_superuser", False):
        return True, []
    paths: list[str] = []
    for m in memberships_of(user):
        if not role_grants(m.role, perm):
            continue
        if m.role == Role.PLATFORM_ADMIN:
            return True, []
        if m.jurisdiction is not None:
            paths.append(m.jurisdiction.path)
        elif m.organization is not None:
            paths.append(m.organization.jurisdiction.path)
        elif m.authority is not None:
            paths.append(m.authority.jurisdiction.path)
    return False, paths


def jurisdiction_reach_q(user: Any, perm: str, field: str = "jurisdiction") -> Q:
    """Rows of the user's jurisdictions, of those below (officers) and of those above (they apply downwards)."""
    everything, paths = user_jurisdiction_paths(user, perm)
    if everything:
        return Q()
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{f"{field}__path__startswith": path}) | Q(**{f"{field}__path__in": ancestor_paths(path)})
    return q


class RiskAreaQuerySet(models.QuerySet["RiskArea"]):
    def visible_to(self, user: Any, perm: str = "riskareas.view") -> RiskAreaQuerySet:
        return self.filter(jurisdiction_reach_q(user, perm))

    def as_of(self, day: date) -> RiskAreaQuerySet:
        return self.filter(Q(effective_from__lte=day) & (Q(effective_until__isnull=True) | Q(effective_until__gte=day)))

    def counting_for(self, jurisdiction: Jurisdiction) -> RiskAreaQuerySet:
        """Areas announced by this jurisdiction or any above it: the ones that count for its people."""
        return self.filter(jurisdiction__path__in=ancestor_paths(jurisdiction.path))


class RiskArea(models.Model):
    class Level(models.TextChoices):
        HIGH = "high", _("高风险")
        MEDIUM = "medium", _("中风险")
        LOW = "low", _("低风险")

    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("行政区划"))
    locality = models.CharField(_("具体地点"), max_length=200, blank=True, default="")
    level = models.CharField(_("风险等级"), max_length=10, choices=Level.choices)
    effective_from = models.DateField(_("生效日期"))
    effective_until = models.DateField(_("截止日期"), null=True, blank=True)
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, related_name="risk_areas", verbose_name=_("发布防控办")
    )
    source = models.CharField(_("来源（文号或网址）"), max_length=300, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by",
        verbose_name=_("取代的记录"),
    )

    objects = RiskAreaQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_from", "region_id", "id"]
        verbose_name = _("风险地区")
        verbose_name_plural = _("风险地区")
        indexes = [models.Index(fields=["region", "effective_from"])]
        constraints = [
            models.CheckConstraint(
                name="riskarea_until_after_from",
                condition=Q(effective_until__isnull=True) | Q(effective_until__gte=models.F("effective_from")),
            )
        ]

    def __str__(self) -> str:
        place = f"{self.region.full_name if self.region_id else ''} {self.locality}".strip()
        # One phrase for the translators: "起" (from) comes before the date in English.
        return gettext("%(place)s (%(level)s, %(since)s 起)") % {
            "place": place, "level": self.get_level_display(), "since": f"{self.effective_from:%Y-%m-%d}"}

    def chain(self) -> list[RiskArea]:
        """This record and the ones it replaced, newest first: the history of one area."""
        out: list[RiskArea] = [self]
        node = self
        while node.supersedes_id is not None:
            node = node.supersedes  # type: ignore[assignment]
            out.append(node)
        return out


class PolicyQuerySet(models.QuerySet["Policy"]):
    def visible_to(self, user: Any, perm: str = "policy.view") -> PolicyQuerySet:
        return self.filter(jurisdiction_reach_q(user, perm))

    def effective_on(self, day: date) -> PolicyQuerySet:
        return self.filter(Q(effective_from__lte=day) & (Q(effective_until__isnull=True) | Q(effective_until__gte=day)))


class Policy(models.Model):
    """A published document (防控文件) with its number and issuer; its rules are data."""

    title = models.CharField(_("标题"), max_length=200)
    number = models.CharField(_("文号"), max_length=100, blank=True, default="")
    issuer = models.CharField(_("发布机关"), max_length=100, blank=True, default="")
    jurisdiction = models.ForeignKey(
        Jurisdiction, on_delete=models.PROTECT, related_name="policies", verbose_name=_("适用属地")
    )
    effective_from = models.DateField(_("生效日期"))
    effective_until = models.DateField(_("失效日期"), null=True, blank=True)
    source = models.TextField(_("原文出处"), blank=True, default="")
    pack_key = models.CharField(_("内置规则包"), max_length=50, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PolicyQuerySet.as_manager()

    class Meta:
        ordering = ["-effective_from", "id"]
        verbose_name = _("防控政策")
        verbose_name_plural = _("防控政策")
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "pack_key"], condition=~Q(pack_key=""), name="policy_unique_pack"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}".strip()


class Rule(models.Model):
    """One clause of a policy: a condition from the fixed vocabulary and the measure it imposes."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="rules", verbose_name=_("政策"))
    key = models.CharField(_("规则标识"), max_length=80)
    clause = models.CharField(_("条款"), max_length=80, blank=True, default="")
    condition = models.JSONField(_("条件"), default=dict)
    measure = models.JSONField(_("措施"), default=dict)
    precedence = models.IntegerField(_("优先级"), default=100)
    note = models.TextField(_("说明"), blank=True, default="")
    local_setting = models.BooleanField(_("本地设定"), default=False)
    enabled = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["policy", "precedence", "id"]
        verbose_name = _("规则")
        verbose_name_plural = _("规则")
        constraints = [models.UniqueConstraint(fields=["policy", "key"], name="rule_unique_key_per_policy")]

    def __str__(self) -> str:
        return f"{self.policy.number} {self.clause} ({self.key})"


class PolicyActivation(models.Model):
    """A jurisdiction puts a policy in force for everyone under it (or takes it out of force)."""

    jurisdiction = models.ForeignKey(Jurisdiction, on_delete=models.CASCADE, related_name="policy_activations")
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="activations")
    enabled = models.BooleanField(_("启用"), default=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("政策启用")
        verbose_name_plural = _("政策启用")
        constraints = [models.UniqueConstraint(fields=["jurisdiction", "policy"], name="activation_unique")]

    def __str__(self) -> str:
        return f"{self.jurisdiction_id}:{self.policy_id}:{'on' if self.enabled else 'off'}"


def _person_scope(user: Any, perm: str) -> Q:
    from fangkong.tenancy.scope import scope_q

    return scope_q(user, perm, org="person__organization", unit="person__unit")


class PersonFactQuerySet(models.QuerySet[Any]):
    def visible_to(self, user: Any, perm: str = "people.view") -> PersonFactQuerySet:
        return self.filter(_person_scope(user, perm))


class Arrival(models.Model):
    """Arrival in the jurisdiction (入X返X) with the stays of the days before: a return report."""

    class Source(models.TextChoices):
        REPORT = "report", _("返回报备")
        VISIT = "visit", _("访客申报")
        TRAVEL = "travel", _("外出返回")

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="arrivals")
    arrived_on = models.DateField(_("抵达日期"))
    from_region = models.ForeignKey(
        "geo.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("来自")
    )
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices, default=Source.REPORT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PersonFactQuerySet.as_manager()

    class Meta:
        ordering = ["-arrived_on", "-id"]
        verbose_name = _("抵达报备")
        verbose_name_plural = _("抵达报备")
        indexes = [models.Index(fields=["person", "arrived_on"])]

    def __str__(self) -> str:
        return f"{self.person_id} {self.arrived_on:%Y-%m-%d}"


class Stay(models.Model):
    """旅居史: a person stayed in a region (optionally a named locality) from one date to another."""

    class Source(models.TextChoices):
        DECLARED = "declared", _("本人申报")
        ARRIVAL = "arrival", _("返回报备")
        VISIT = "visit", _("访客申报")
        TRAVEL = "travel", _("外出报备")

    # No separate FK indexes: the (person, to_date) and (region, to_date) indexes below lead with these columns and
    # serve the foreign keys too (one index fewer each to maintain on millions of stays).
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="stays", db_index=False)
    region = models.ForeignKey("geo.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("行政区划"),
                               db_index=False)
    locality = models.CharField(_("具体地点"), max_length=200, blank=True, default="")
    from_date = models.DateField(_("开始日期"))
    to_date = models.DateField(_("结束日期"))
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices, default=Source.DECLARED)
    arrival = models.ForeignKey(Arrival, null=True, blank=True, on_delete=models.CASCADE, related_name="stays")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PersonFactQuerySet.as_manager()

    class Meta:
        ordering = ["-to_date", "-id"]
        verbose_name = _("旅居史")
        verbose_name_plural = _("旅居史")
        indexes = [
            # Re-evaluation looks up "region code starts with the area's code and to_date within the look-back":
            # region_id is the code string, so varchar_pattern_ops lets PostgreSQL use this index for LIKE 'xx%'.
            models.Index(fields=["region", "to_date"], name="stay_region_to_date",
                         opclasses=["varchar_pattern_ops", "date_ops"]),
            models.Index(fields=["person", "to_date"], name="stay_person_to_date"),
        ]
        constraints = [
            models.CheckConstraint(name="stay_to_after_from", condition=Q(to_date__gte=models.F("from_date")))
        ]

    def __str__(self) -> str:
        return f"{self.region_id} {self.from_date:%Y-%m-%d}–{self.to_date:%Y-%m-%d}"


class TravelRequestQuerySet(PersonFactQuerySet):
    def own(self, user: Any) -> TravelRequestQuerySet:
        """The requests of the caller's own person record: the only ones the caller may change, withdraw or return."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(person__user=user)


class TravelRequest(models.Model):
    """外出报备: leaving the city needs a leader's approval (seed 004); the return report becomes an Arrival."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待审批")
        APPROVED = "approved", _("已批准")
        REFUSED = "refused", _("未批准")
        RETURNED = "returned", _("已返回")
        WITHDRAWN = "withdrawn", _("已撤回")

    # Requests that still hold their dates: another request of the same person may not overlap them. A withdrawn
    # request is kept (the requester's history and the audit log point at it) but holds nothing and waits for no one.
    ACTIVE = (Status.REQUESTED, Status.APPROVED)

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="travel_requests")
    destination = models.ForeignKey(
        "geo.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("目的地")
    )
    locality = models.CharField(_("具体地点"), max_length=200, blank=True, default="")
    from_date = models.DateField(_("出发日期"))
    to_date = models.DateField(_("返回日期"))
    companions = models.CharField(_("同行人员"), max_length=200, blank=True, default="")
    purpose = models.CharField(_("事由"), max_length=300)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(_("审批意见"), max_length=300, blank=True, default="")
    arrival = models.OneToOneField(
        Arrival, null=True, blank=True, on_delete=models.SET_NULL, related_name="travel_request"
    )

    objects = TravelRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("外出报备")
        verbose_name_plural = _("外出报备")

    def __str__(self) -> str:
        return f"{self.person_id} → {self.destination_id} {self.from_date:%Y-%m-%d}"

    def is_requester(self, user: Any) -> bool:
        """The person the request belongs to: the only one who may change, withdraw or report the return."""
        return bool(getattr(user, "is_authenticated", False)) and self.person.user_id == user.pk


class ReevaluationRun(models.Model):
    """Progress of one background re-evaluation after a risk-area change (polled by the risk-area page)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("进行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    risk_area = models.ForeignKey(RiskArea, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    # An import announces many areas at once: one run covers them all, so a person in several of them is found and
    # decided once instead of once per area.
    also_areas = models.ManyToManyField(RiskArea, blank=True, related_name="batch_runs")
    evaluation_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]

    def __str__(self) -> str:
        return f"re-evaluation #{self.pk} {self.status} {self.processed}/{self.total}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.processed / self.total)
