"""Obligations: the spine of the system (policy → obligations → evidence).

An obligation says that a subject (a person, a unit, an organisation, a venue, a post) must produce some evidence
(a check-in, a test result, a disinfection record, a daily report) within a window. Check-ins are the first use;
tests, disinfection and reports reuse this model unchanged, each with its own `kind`.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

# The names of obligation kinds for people to read ("checkin_morning" → 晨检), registered by the apps that create
# them in their AppConfig.ready, so this app stays general (ADR 0007). A kind nobody named shows its code.
KIND_LABELS: dict[str, Any] = {}


class ObligationQuerySet(models.QuerySet["Obligation"]):
    def visible_to(self, user: Any, perm: str = "obligations.view") -> ObligationQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit="unit"))

    def open(self) -> ObligationQuerySet:
        return self.filter(status__in=(Obligation.Status.DUE, Obligation.Status.OVERDUE))


class Obligation(models.Model):
    class SubjectType(models.TextChoices):
        PERSON = "person", _("人员")
        UNIT = "unit", _("部门")
        ORGANIZATION = "organization", _("单位")
        VENUE = "venue", _("场所")
        POST = "post", _("岗位")

    class Status(models.TextChoices):
        DUE = "due", _("待完成")
        FULFILLED = "fulfilled", _("已完成")
        OVERDUE = "overdue", _("已逾期")
        WAIVED = "waived", _("已免除")

    # The three foreign keys below carry no database constraint and no single-column index: this is the largest
    # table (a row per person per day per kind), generation inserts a million rows in one statement, and each
    # deferred FK check and extra index cost a sizeable share of that (bench/README.md). Django still applies
    # on_delete; rows only ever come from existing people, and the composite indexes start with these columns.
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+", verbose_name=_("单位"),
        db_constraint=False, db_index=False,
    )
    subject_type = models.CharField(_("对象类型"), max_length=16, choices=SubjectType.choices)
    subject_id = models.BigIntegerField(_("对象编号"))
    # Set when the subject is a person: joins and row scope go through it.
    person = models.ForeignKey(
        "people.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="obligations",
        verbose_name=_("人员"), db_constraint=False, db_index=False,
    )
    # The person's unit when the obligation was generated (or the subject unit): compliance groups by it, so a move
    # to another unit does not rewrite yesterday's figures.
    unit = models.ForeignKey(
        "tenancy.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("部门"),
        db_constraint=False, db_index=False,
    )
    kind = models.CharField(_("类型"), max_length=32)
    # The organisation's local date the obligation belongs to: "a day's obligations" is an equality on an index.
    day = models.DateField(_("日期"))
    due_from = models.DateTimeField(_("开始"))
    due_until = models.DateTimeField(_("截止"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.DUE)
    waived_reason = models.CharField(_("免除原因"), max_length=200, blank=True, default="")
    source = models.CharField(_("来源"), max_length=64, blank=True, default="")
    evidence_type = models.CharField(_("凭证类型"), max_length=32, blank=True, default="")
    evidence_id = models.BigIntegerField(_("凭证编号"), null=True, blank=True)
    # The evidence showed something wrong (fever, a positive test): compliance reports it as "abnormal".
    abnormal = models.BooleanField(_("异常"), default=False)
    fulfilled_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = ObligationQuerySet.as_manager()

    class Meta:
        ordering = ["day", "due_until", "id"]
        verbose_name = _("待办义务")
        verbose_name_plural = _("待办义务")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id", "due_from"], name="obligation_unique_window"
            ),
            models.CheckConstraint(
                name="obligation_window_order", condition=models.Q(due_until__gt=models.F("due_from"))
            ),
        ]
        indexes = [
            # An organisation's obligations for a day by unit (the compliance page): the grouping columns are all
            # in the index, so PostgreSQL can answer from it.
            models.Index(fields=["organization", "day", "kind", "unit", "status", "abnormal"], name="obl_org_day"),
            # A person's obligations, open ones first by status (the person's page, the cascade on delete).
            models.Index(fields=["person", "status", "day", "kind"], name="obl_person_status"),
            # The overdue sweep: open obligations by deadline.
            models.Index(fields=["due_until"], name="obl_due_open", condition=models.Q(status="due")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.subject_type}:{self.subject_id} · {self.day}"

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.DUE, self.Status.OVERDUE)
