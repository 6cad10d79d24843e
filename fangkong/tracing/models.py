"""Cases, tracing snapshots and their findings, contacts per case, investigations with tasks, assist lists (协查)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import TimeStampedModel

# The reference a case proposed from a positive result records (services.case_propose_from_finding). It is stored in
# Chinese, like every record; the case page words it for the reader.
FINDING_REFERENCE = gettext_noop("阳性发现#%(finding)s 样本#%(sample)s")
FINDING_REFERENCE_NO_SAMPLE = gettext_noop("阳性发现#%(finding)s")  # a result entered without a registered tube
# Until session 9 a finding without a tube was written "样本#None".
FINDING_REFERENCE_WRITTEN = re.compile(r"^阳性发现#(?P<finding>\d+)(?: 样本#(?P<sample>\d+|None))?$")


class CaseQuerySet(models.QuerySet["Case"]):
    def visible_to(self, user: Any, perm: str = "cases.view") -> CaseQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit="person__unit"))


class Case(TimeStampedModel):
    class Status(models.TextChoices):
        SUSPECTED = "suspected", _("疑似病例")
        CONFIRMED = "confirmed", _("确诊病例")
        ASYMPTOMATIC = "asymptomatic", _("无症状感染者")
        EXCLUDED = "excluded", _("已排除")

    class Source(models.TextChoices):
        POSITIVE_RESULT = "positive_result", _("阳性检测结果")
        CLINIC = "clinic", _("医疗机构报告")
        NOTICE = "notice", _("外地协查通报")

    # The case's organisation (the person's, when created): scope and alerts go through it.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("单位"))
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="cases",
                               verbose_name=_("人员"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.SUSPECTED)
    onset_date = models.DateField(_("发病日期"), null=True, blank=True)
    sample_date = models.DateField(_("采样日期"), null=True, blank=True)
    report_date = models.DateField(_("报告日期"))
    isolated_at = models.DateTimeField(_("隔离时间"), null=True, blank=True)
    window_days = models.PositiveSmallIntegerField(_("暴露窗口（发病前天数）"), default=2)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices, default=Source.CLINIC)
    source_reference = models.CharField(_("来源编号"), max_length=100, blank=True, default="")
    # The positive result the system proposed this case from (source positive_result).
    positive_finding = models.ForeignKey("testing.PositiveFinding", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="cases", verbose_name=_("阳性发现"))
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-report_date", "-id"]
        verbose_name = _("病例")
        verbose_name_plural = _("病例")
        indexes = [models.Index(fields=["organization", "status", "report_date"])]

    def __str__(self) -> str:
        return f"病例#{self.pk} {self.person.name if self.person_id else ''}"

    @staticmethod
    def finding_reference(finding_id: int, sample_id: int | None) -> str:
        """What a case proposed from this positive finding records as its reference (in Chinese, the record's)."""
        if sample_id is None:
            return FINDING_REFERENCE_NO_SAMPLE % {"finding": finding_id}
        return FINDING_REFERENCE % {"finding": finding_id, "sample": sample_id}

    @property
    def source_reference_label(self) -> str:
        """The reference as written, except the one a positive result writes, which reads in the reader's language."""
        found = FINDING_REFERENCE_WRITTEN.match(self.source_reference) if self.positive_finding_id else None
        if found is None:
            return self.source_reference
        if found["sample"] in (None, "None"):
            return gettext(FINDING_REFERENCE_NO_SAMPLE) % {"finding": found["finding"]}
        return gettext(FINDING_REFERENCE) % {"finding": found["finding"], "sample": found["sample"]}


class CaseStatusChange(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, blank=True, default="", choices=Case.Status.choices)
    to_status = models.CharField(max_length=16, choices=Case.Status.choices)
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    note = models.CharField(max_length=200, blank=True, default="")
    # Set when the system made the change on its own (no actor): its name, shown in the reader's language
    # (core.audit_labels.ACTOR_LABELS). Written into the note before, where English readers got Chinese and a code.
    system_actor = models.CharField(max_length=50, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status}→{self.to_status}"

    @property
    def system_actor_label(self) -> str:
        from fangkong.core.audit_labels import actor_label

        return actor_label(self.system_actor)


class TraceSnapshot(models.Model):
    """One computation of a case's contacts, with its parameters, so it can be reviewed and re-run."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="snapshots")
    params = models.JSONField(_("参数"), default=dict)
    window_start = models.DateTimeField(_("暴露窗口开始"))
    window_end = models.DateTimeField(_("暴露窗口结束"))
    started_at = models.DateTimeField(_("开始"))
    finished_at = models.DateTimeField(_("完成"), null=True, blank=True)
    counts = models.JSONField(_("统计"), default=dict)  # {"close": n, "secondary": n, "new": n, "measures": n}
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"snapshot#{self.pk} of case#{self.case_id}"


class ContactFinding(models.Model):
    """A person found by one snapshot: what the snapshot saw, never rewritten."""

    snapshot = models.ForeignKey(TraceSnapshot, on_delete=models.CASCADE, related_name="findings")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    degree = models.PositiveSmallIntegerField()
    via_person = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    evidence = models.JSONField(default=list)
    # A secondary contact's co-presences with its close contact: how many and their minutes added up (its evidence
    # lists only the longest three). Null for close contacts, whose evidence is complete.
    co_presences = models.PositiveIntegerField(null=True, blank=True)
    minutes_together = models.PositiveIntegerField(null=True, blank=True)
    is_new = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["snapshot", "person"], name="finding_unique_person")]

    def __str__(self) -> str:
        return f"{self.person_id} ({self.degree}) in snapshot#{self.snapshot_id}"


class Contact(models.Model):
    """The current state of one person as a contact of one case (the latest snapshot's degree and evidence)."""

    class Degree(models.IntegerChoices):
        CLOSE = 1, _("密切接触者")
        SECONDARY = 2, _("次密切接触者")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="contacts")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="contact_of")
    degree = models.PositiveSmallIntegerField(_("类别"), choices=Degree.choices)
    via_person = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("经由"))
    evidence = models.JSONField(_("依据"), default=list)
    # As on ContactFinding: a secondary contact's number of co-presences and total minutes; its evidence lists only
    # the longest three (rules.SECONDARY_EVIDENCE_LISTED). Null for close contacts.
    co_presences = models.PositiveIntegerField(_("共处次数"), null=True, blank=True)
    minutes_together = models.PositiveIntegerField(_("共处分钟"), null=True, blank=True)
    first_exposure_at = models.DateTimeField(_("首次接触"), null=True, blank=True)
    last_exposure_at = models.DateTimeField(_("最后接触"), null=True, blank=True)
    first_snapshot = models.ForeignKey(TraceSnapshot, null=True, on_delete=models.SET_NULL, related_name="+")
    last_snapshot = models.ForeignKey(TraceSnapshot, null=True, on_delete=models.SET_NULL, related_name="+")
    is_new = models.BooleanField(_("新增"), default=True)
    found_at = models.DateTimeField(_("发现时间"), auto_now_add=True)

    class Meta:
        ordering = ["degree", "-is_new", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "person"], name="contact_unique_person")]
        indexes = [models.Index(fields=["case", "degree", "id"], name="contact_case_degree")]

    def __str__(self) -> str:
        return f"{self.person_id} ({self.degree}) of case#{self.case_id}"


class ManualContact(models.Model):
    """A contact added by an investigator with a reason; every later snapshot keeps it."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="manual_contacts")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("原因"), max_length=200)
    exposed_at = models.DateTimeField(_("接触时间"), null=True, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "person"], name="manual_contact_unique")]

    def __str__(self) -> str:
        return f"manual {self.person_id} of case#{self.case_id}"


class TaskQuerySet(models.QuerySet["InvestigationTask"]):
    def visible_to(self, user: Any, perm: str = "investigations.view") -> TaskQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit=None))


class AssistQuerySet(models.QuerySet["AssistList"]):
    def visible_to(self, user: Any, perm: str = "assists.view") -> AssistQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit=None))


class Investigation(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("进行中")
        CLOSED = "closed", _("已结束")

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="investigation")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)

    def __str__(self) -> str:
        return f"流调#{self.pk}"


class AssistList(TimeStampedModel):
    """An assist list (协查): sent to another organisation/jurisdiction, or received and matched to the ledger."""

    class Direction(models.TextChoices):
        OUTGOING = "out", _("发出")
        INCOMING = "in", _("收到")

    direction = models.CharField(_("方向"), max_length=3, choices=Direction.choices)
    # The organisation that sent or received it (scope), the case it comes from for outgoing lists.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="assist_lists")
    title = models.CharField(_("标题"), max_length=200)
    deadline = models.DateTimeField(_("反馈期限"))
    # Outgoing: [{person_id, organization}]; incoming: [{row, name, id_masked, found, person_id, organization, status}]
    rows = models.JSONField(default=list)
    counts = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    objects = AssistQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class InvestigationTask(TimeStampedModel):
    class Kind(models.TextChoices):
        VERIFY_CONTACT = "verify_contact", _("核实密接")
        COMPANIONS_24H = "companions_24h", _("时空伴随者排查（24 小时内）")
        KEY_AREA_48H = "key_area_48h", _("重点区域到访人员排查（48 小时内）")
        ASSIST_VERIFY = "assist_verify", _("协查核实")

    class Status(models.TextChoices):
        OPEN = "open", _("待办")
        DONE = "done", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    investigation = models.ForeignKey(Investigation, null=True, blank=True, on_delete=models.CASCADE,
                                      related_name="tasks")
    assist_list = models.ForeignKey(AssistList, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="tasks")
    # The organisation that has to do it (scope).
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    person = models.ForeignKey("people.Person", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("人员"))
    due_at = models.DateTimeField(_("期限"))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="tracing_tasks", verbose_name=_("负责人"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(_("备注"), max_length=200, blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["investigation", "kind", "person"], name="task_unique_per_person",
                                    condition=models.Q(investigation__isnull=False, person__isnull=False)),
            models.UniqueConstraint(fields=["investigation", "kind"], name="task_unique_per_kind",
                                    condition=models.Q(investigation__isnull=False, person__isnull=True)),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="task_open_due",
                                condition=models.Q(status="open"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class DeclaredGroupQuerySet(models.QuerySet):
    def visible_to(self, user: Any, perm: str = "cases.view") -> DeclaredGroupQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit=None))


class Household(TimeStampedModel):
    """People declared as living together (同住家庭成员): each is a close contact of the others when one is a case."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+",
                                     verbose_name=_("单位"))
    name = models.CharField(_("户名/住址"), max_length=200)
    members = models.ManyToManyField("people.Person", related_name="households", verbose_name=_("成员"))

    objects = DeclaredGroupQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("同住家庭")
        verbose_name_plural = _("同住家庭")

    def __str__(self) -> str:
        return self.name


class Meeting(TimeStampedModel):
    """A meeting: its declared attendees and, when it has a venue, everyone admitted there during the session."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+",
                                     verbose_name=_("单位"))
    title = models.CharField(_("会议名称"), max_length=200)
    venue = models.ForeignKey("access.Venue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("会议室"))
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    attendees = models.ManyToManyField("people.Person", blank=True, related_name="meetings",
                                       verbose_name=_("参会人员"))

    objects = DeclaredGroupQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("会议")
        verbose_name_plural = _("会议")
        indexes = [models.Index(fields=["organization", "starts_at"], name="meeting_org_start")]
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                              name="meeting_ends_after_start")]

    def __str__(self) -> str:
        return self.title
