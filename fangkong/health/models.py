"""Daily health check-ins, symptomatic flags, absences due to illness, cluster warnings and integrity flags."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from fangkong.health import rules


def _default_symptoms() -> list[str]:
    return list(rules.DEFAULT_SYMPTOMS)


def _labels(codes: list[str]) -> list[str]:
    """Symptom names in the reader's language (the active one)."""
    return rules.symptom_labels(codes, translation.get_language() or settings.LANGUAGE_CODE)


class OrgScopedQuerySet(models.QuerySet):
    """Rows with `organization` and `unit` columns (the unit at the time of the row)."""

    default_perm = "checkins.view"

    def visible_to(self, user: Any, perm: str | None = None) -> Any:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm or self.default_perm, org="organization", unit="unit"))


class PersonScopedQuerySet(models.QuerySet):
    def visible_to(self, user: Any, perm: str = "health.flags") -> Any:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="person__organization", unit="person__unit"))


class CheckinSetting(models.Model):
    """Who must check in at an organisation, how often, by when, and what a fever means there."""

    class Frequency(models.TextChoices):
        DAILY = "daily", _("每日一次")
        TWICE = "twice", _("每日两次（上午、下午）")
        SCHOOL = "school", _("晨检、午检")

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="checkin_settings", verbose_name=_("单位")
    )
    name = models.CharField(_("名称"), max_length=64, default="每日健康打卡")
    is_active = models.BooleanField(_("启用"), default=True)
    person_kinds = models.JSONField(_("人员类别"), default=list, blank=True, help_text=_("为空表示全部类别"))
    unit_ids = models.JSONField(_("部门"), default=list, blank=True, help_text=_("为空表示全部部门（含下级）"))
    frequency = models.CharField(_("频次"), max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    deadline = models.TimeField(_("截止时间（每日/上午/晨检）"), default=time(10, 0))
    noon_deadline = models.TimeField(_("午检截止"), default=time(14, 0))
    afternoon_deadline = models.TimeField(_("下午截止"), default=time(16, 0))
    fever_threshold = models.DecimalField(_("发热阈值（℃）"), max_digits=3, decimal_places=1,
                                          default=Decimal("37.3"))
    symptoms = models.JSONField(_("症状清单"), default=_default_symptoms)
    fever_instruction = models.TextField(_("发热或有症状时的提示"), default=rules.DEFAULT_FEVER_INSTRUCTION)
    leader_reminder_delay = models.PositiveIntegerField(_("提醒部门负责人的延迟（分钟）"), default=30)
    cluster_threshold = models.PositiveSmallIntegerField(_("聚集预警人数"), default=3)
    cluster_window_days = models.PositiveSmallIntegerField(_("聚集预警天数"), default=3)
    integrity_same_days = models.PositiveSmallIntegerField(_("体温/时刻雷同天数"), default=7)
    integrity_device_people = models.PositiveSmallIntegerField(_("同一设备代报人数"), default=5)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization", "id"]
        verbose_name = _("打卡设置")
        verbose_name_plural = _("打卡设置")

    def __str__(self) -> str:
        return f"{self.organization} · {self.name}"

    def instruction(self) -> str:
        """What to do with a fever or symptoms, in the reader's language while it is the default text; an
        organisation's own wording is shown as it was written."""
        text = self.fever_instruction
        return translation.gettext(text) if text.strip() == rules.DEFAULT_FEVER_INSTRUCTION else text

    def deadline_for(self, slot: str) -> time:
        return {"noon": self.noon_deadline, "afternoon": self.afternoon_deadline}.get(slot, self.deadline)

    @property
    def source(self) -> str:
        return f"checkin_setting:{self.pk}"


class Checkin(models.Model):
    class Slot(models.TextChoices):
        DAY = "day", _("每日")
        MORNING = "morning", _("上午/晨检")
        NOON = "noon", _("午检")
        AFTERNOON = "afternoon", _("下午")

    # Every check-in writes each index of this table (a million a day for a large county), so the foreign keys that
    # lead a composite index below (person, organization) or are nearly always empty (region) get no index of their
    # own: the composite or partial index answers the same look-ups, including the deletion checks.
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="checkins",
                               verbose_name=_("人员"), db_index=False)
    # Denormalised at submission: scope and compliance filter on them without joining the ledger.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+",
                                     db_index=False)
    unit = models.ForeignKey("tenancy.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    date = models.DateField(_("日期"))
    slot = models.CharField(_("时段"), max_length=10, choices=Slot.choices, default=Slot.DAY)
    temperature = models.DecimalField(_("体温（℃）"), max_digits=3, decimal_places=1, null=True, blank=True)
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    region = models.ForeignKey("geo.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("当前所在地"), db_index=False)
    note = models.CharField(_("备注"), max_length=200, blank=True, default="")
    abnormal = models.BooleanField(_("异常"), default=False)
    proxy = models.BooleanField(_("代报"), default=False)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("提交人"))
    submitted_at = models.DateTimeField(_("提交时间"))
    client_key = models.CharField(max_length=64, blank=True, default="")
    device_id = models.CharField(_("设备"), max_length=64, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("健康打卡")
        verbose_name_plural = _("健康打卡")
        constraints = [
            models.UniqueConstraint(
                fields=["submitted_by", "client_key"], name="checkin_unique_client_key",
                condition=~models.Q(client_key=""),
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "date", "unit"], name="checkin_org_day"),
            models.Index(fields=["person", "date"], name="checkin_person_day"),
            models.Index(fields=["region"], condition=models.Q(region__isnull=False), name="checkin_region"),
        ]

    def __str__(self) -> str:
        return f"{self.person} · {self.date} {self.get_slot_display()}"

    @property
    def symptom_labels(self) -> list[str]:
        return _labels(self.symptoms)


class SymptomFlag(models.Model):
    """A person flagged symptomatic by a check-in; open until someone with health.flags clears it with a reason."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="symptom_flags")
    checkin = models.ForeignKey(Checkin, null=True, blank=True, on_delete=models.SET_NULL, related_name="flags")
    temperature = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    symptoms = models.JSONField(default=list, blank=True)
    raised_at = models.DateTimeField(_("标记时间"))
    cleared_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    reason = models.CharField(_("解除原因"), max_length=200, blank=True, default="")

    objects = PersonScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("症状标记")
        verbose_name_plural = _("症状标记")
        indexes = [models.Index(fields=["person"], name="flag_open", condition=models.Q(cleared_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.person} · {self.raised_at:%Y-%m-%d %H:%M}"

    @property
    def symptom_labels(self) -> list[str]:
        return _labels(self.symptoms)


class Absence(models.Model):
    """Absent due to illness (因病缺勤): followed up daily until the person returns."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="absences")
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey("tenancy.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_on = models.DateField(_("缺勤开始"))
    expected_until = models.DateField(_("预计返回"), null=True, blank=True)
    returned_on = models.DateField(_("返回日期"), null=True, blank=True)
    reason = models.CharField(_("原因"), max_length=200)
    symptoms = models.JSONField(_("症状"), default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "-id"]
        verbose_name = _("因病缺勤")
        verbose_name_plural = _("因病缺勤")
        indexes = [models.Index(fields=["organization", "unit", "started_on"], name="absence_unit_day")]

    def __str__(self) -> str:
        return f"{self.person} · {self.started_on}"

    @property
    def symptom_labels(self) -> list[str]:
        return _labels(self.symptoms)


class AbsenceFollowUp(models.Model):
    class Status(models.TextChoices):
        ILL_AT_HOME = "ill_at_home", _("居家休养")
        SEEING_DOCTOR = "seeing_doctor", _("就医中")
        HOSPITALISED = "hospitalised", _("住院")
        RECOVERED = "recovered", _("已康复")
        RETURNED = "returned", _("已返回")

    absence = models.ForeignKey(Absence, on_delete=models.CASCADE, related_name="follow_ups")
    date = models.DateField(_("日期"))
    status = models.CharField(_("情况"), max_length=20, choices=Status.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True, default="")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["date", "id"]
        constraints = [models.UniqueConstraint(fields=["absence", "date"], name="absence_followup_one_per_day")]

    def __str__(self) -> str:
        return f"{self.absence} · {self.date} {self.get_status_display()}"


class ClusterWarning(models.Model):
    """Absences with a shared symptom in one unit reached the threshold: report within 2 hours (seed 001)."""

    class Status(models.TextChoices):
        OPEN = "open", _("待报告")
        REPORTED = "reported", _("已报告")

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey("tenancy.Unit", null=True, on_delete=models.SET_NULL, related_name="+")
    symptom = models.CharField(_("共同症状"), max_length=32)
    people = models.ManyToManyField("people.Person", related_name="+", verbose_name=_("涉及人员"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    raised_at = models.DateTimeField(_("预警时间"))
    report_due = models.DateTimeField(_("报告时限"))
    reported_at = models.DateTimeField(_("报告时间"), null=True, blank=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    report_note = models.CharField(_("报告说明"), max_length=200, blank=True, default="")

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("聚集性预警")
        verbose_name_plural = _("聚集性预警")

    def __str__(self) -> str:
        return f"{self.unit} · {self.symptom_label} · {self.raised_at:%Y-%m-%d %H:%M}"

    @property
    def symptom_label(self) -> str:
        return _labels([self.symptom])[0]


class IntegrityFlag(models.Model):
    """A person whose check-ins look automated: listed as 待核实 until someone verifies."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="integrity_flags")
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")
    unit = models.ForeignKey("tenancy.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(_("原因"), max_length=20, choices=[
        ("same_temperature", _("体温长期相同")), ("same_time", _("每天同一时刻提交")),
        ("shared_device", _("同一设备/IP 为多人提交")),
    ])
    detail = models.CharField(_("说明"), max_length=200)  # in Chinese, as found (the record; see facts)
    facts = models.JSONField(_("依据"), default=dict, blank=True)  # rules.IntegrityFinding.facts: worded per reader
    day = models.DateField(_("发现日期"))
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    resolution = models.CharField(_("核实结果"), max_length=200, blank=True, default="")

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-day", "id"]
        verbose_name = _("待核实")
        verbose_name_plural = _("待核实")
        constraints = [
            models.UniqueConstraint(fields=["person", "reason"], name="integrity_one_open_per_reason",
                                    condition=models.Q(resolved_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.person} · {self.get_reason_display()}"

    @staticmethod
    def describe(reason: str, facts: dict[str, Any]) -> str:
        """The finding in a sentence, in the active language."""
        if reason == "shared_device":
            template = (_("%(day)s 同一 IP（%(key)s）为 %(people)s 人提交") if facts.get("by") == "ip"
                        else _("%(day)s 同一设备（%(key)s）为 %(people)s 人提交"))
        else:
            template = {"same_temperature": _("连续 %(days)s 天体温相同"),
                        "same_time": _("%(days)s 天在同一时刻（±%(seconds)s 秒）提交")}[reason]
        return str(template) % facts

    @property
    def detail_text(self) -> str:
        """The detail in the reader's language; flags found before facts were kept have only the Chinese text."""
        return self.describe(self.reason, self.facts) if self.facts else self.detail
