"""Measures decided for people (管控措施) and the tests each measure schedules.

A measure is recorded as "proposed" from an engine decision and waits for confirmation; a later different decision
never rewrites it: a new measure is created and the old one is marked superseded and linked to it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from fangkong.core.fields import EncryptedTextField


class MeasureQuerySet(models.QuerySet["Measure"]):
    def visible_to(self, user: Any, perm: str = "measures.view") -> MeasureQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="person__organization", unit="person__unit"))

    def current(self) -> MeasureQuerySet:
        """Not superseded, cancelled or released: what still applies or waits for confirmation."""
        return self.filter(status__in=Measure.CURRENT)


class Measure(models.Model):
    class Kind(models.TextChoices):
        CENTRALIZED_QUARANTINE = "centralized_quarantine", _("集中隔离医学观察")
        HOME_QUARANTINE = "home_quarantine", _("居家隔离医学观察")
        HOME_HEALTH_MONITORING = "home_health_monitoring", _("居家健康监测")
        ROUTINE_TESTING = "routine_testing", _("定期核酸检测")
        TEMPERATURE_TWICE_DAILY = "temperature_twice_daily", _("每日早晚测温")
        REFUSE_ENTRY = "refuse_entry", _("不得进入/参会")
        SEND_TO_FEVER_CLINIC = "send_to_fever_clinic", _("立即送发热门诊")
        VACCINATION_REQUIRED = "vaccination_required", _("须接种疫苗后方可上岗")
        REPORT_AND_APPROVAL = "report_and_approval", _("报告单位并经批准、报备")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待确认")
        CONFIRMED = "confirmed", _("已确认")
        IN_PROGRESS = "in_progress", _("执行中")
        READY_FOR_RELEASE = "ready_for_release", _("待解除")
        RELEASED = "released", _("已解除")
        ESCALATED = "escalated", _("已升级")
        SUPERSEDED = "superseded", _("已被取代")
        CANCELLED = "cancelled", _("已取消")

    CURRENT = ("proposed", "confirmed", "in_progress", "ready_for_release")

    # Foreign keys without their own index where a composite index leads with the column or nobody looks rows up by
    # it (who created or confirmed): a re-evaluation inserts thousands of measures, each index is paid per row.
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="measures", db_index=False)
    kind = models.CharField(_("措施"), max_length=32, choices=Kind.choices)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.PROPOSED)
    start_date = models.DateField(_("开始日期"))
    # None: a measure without an end (routine testing every N days for a post, a single test "now" ends with it).
    end_date = models.DateField(_("结束日期"), null=True, blank=True)
    rule = models.ForeignKey(
        "policy.Rule", null=True, blank=True, on_delete=models.SET_NULL, related_name="measures",
        verbose_name=_("规则"), db_index=False,
    )
    # Kept as text too: the decision stays readable after a policy is edited or deleted.
    rule_key = models.CharField(_("规则标识"), max_length=80)
    policy_number = models.CharField(_("文号"), max_length=100, blank=True, default="")
    clause = models.CharField(_("条款"), max_length=80, blank=True, default="")
    explanation_zh = models.TextField(_("依据说明"), blank=True, default="")
    explanation_en = models.TextField(_("依据说明（英文）"), blank=True, default="")
    # Open-ended recurring tests (a post's "every 3 days"): the first test is a MeasureTest, the rest follow this.
    every_n_days = models.PositiveSmallIntegerField(_("每几天检测一次"), null=True, blank=True)
    followups = models.JSONField(_("后续事项"), default=list, blank=True)
    evaluation_date = models.DateField(_("判定日期"))
    facts_digest = models.CharField(max_length=64, blank=True, default="")
    supersedes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="superseded_by",
        verbose_name=_("取代的措施"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Lifecycle after confirmation. Place: the centralized site's name, or "home" for home quarantine/monitoring.
    # Database defaults too: record_decisions_bulk COPYs measures in without naming these columns.
    place = models.CharField(_("执行地点"), max_length=100, blank=True, default="", db_default="")
    started_at = models.DateTimeField(_("开始执行时间"), null=True, blank=True)
    released_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
        verbose_name=_("解除审批人"),
    )
    # Days added by extensions (the end date already includes them); the reasons are in the audit trail.
    extended_days = models.PositiveSmallIntegerField(_("延长天数"), default=0, db_default=0)
    escalation_reason = models.CharField(_("升级原因"), max_length=200, blank=True, default="", db_default="")

    objects = MeasureQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "-id"]
        verbose_name = _("管控措施")
        verbose_name_plural = _("管控措施")
        constraints = [
            # Re-running the same evaluation creates nothing new.
            # Two partial constraints rather than nulls_distinct=False, which SQLite does not support.
            models.UniqueConstraint(
                fields=["person", "rule_key", "start_date", "end_date"], name="measure_unique_decision",
                condition=Q(end_date__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["person", "rule_key", "start_date"], name="measure_unique_open_decision",
                condition=Q(end_date__isnull=True),
            ),
            models.CheckConstraint(
                name="measure_end_after_start",
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
            ),
        ]
        indexes = [models.Index(fields=["person", "kind", "status"])]

    def __str__(self) -> str:
        end = f"{self.end_date:%Y-%m-%d}" if self.end_date else "…"
        return f"{self.get_kind_display()} {self.start_date:%Y-%m-%d}–{end}"

    @property
    def explanation(self) -> str:
        """Why the rule applies, in the reader's language (Chinese where no English text was written)."""
        english = (translation.get_language() or "").startswith("en")
        return (self.explanation_en or self.explanation_zh) if english else self.explanation_zh


class MeasureCustodianQuerySet(models.QuerySet["MeasureCustodian"]):
    def visible_to(self, user: Any, perm: str = "measures.view") -> MeasureCustodianQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="measure__person__organization", unit="measure__person__unit"))


class MeasureCustodian(models.Model):
    """One of the "four to one" custodians (四包一) of a person under a measure; the phone is encrypted and masked."""

    class Role(models.TextChoices):
        POLICE = "police", _("社区民警")
        HEALTH_WORKER = "health_worker", _("医务人员")
        GRID_WORKER = "grid_worker", _("网格员")
        VOLUNTEER = "volunteer", _("志愿者")

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="custodians")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    name = models.CharField(_("姓名"), max_length=50)
    phone = EncryptedTextField(_("电话"), blank=True, default="")
    phone_masked = models.CharField(_("电话"), max_length=20, blank=True, default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MeasureCustodianQuerySet.as_manager()

    class Meta:
        ordering = ["measure", "role", "id"]
        verbose_name = _("包保人员")
        verbose_name_plural = _("包保人员")

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.name}"


class MeasureTest(models.Model):
    """A test a measure schedules: day k of the measure is due on start + k − 1."""

    class Kind(models.TextChoices):
        NAT = "nat", _("核酸检测")
        ANTIGEN = "antigen", _("抗原检测")
        ANTIBODY = "antibody", _("抗体检测")

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="tests", db_index=False)
    kind = models.CharField(_("检测"), max_length=10, choices=Kind.choices)
    day = models.PositiveSmallIntegerField(_("第几天"))
    due_date = models.DateField(_("应检日期"))

    class Meta:
        ordering = ["due_date", "kind"]
        constraints = [models.UniqueConstraint(fields=["measure", "kind", "day"], name="measuretest_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_date:%Y-%m-%d}"
