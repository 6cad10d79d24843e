"""Testing and vaccination: programmes that generate test obligations, samples (single or pooled tubes), results,
positive findings (the hook tracing reads), vaccination records, contraindications and a per-person vaccination
summary kept by the services so coverage over a million people is one join, not a GROUP BY over every dose.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import TimeStampedModel


class TestKind(models.TextChoices):
    # The same names as measures.MeasureTest.Kind: the obligation kind is "test_<kind>" in both apps, so a
    # programme's test and a measure's test on the same day are one obligation (the unique window skips the second).
    NAT = "nat", _("核酸检测")
    ANTIGEN = "antigen", _("抗原检测")
    ANTIBODY = "antibody", _("抗体检测")


def obligation_kind(test_kind: str) -> str:
    return f"test_{test_kind}"


class OrgScopedQuerySet(models.QuerySet):
    """Rows that belong to an organisation as a whole (programmes, samples): unit leaders see their organisation's."""

    def visible_to(self, user: Any, perm: str) -> Any:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit=None))


class PersonScopedQuerySet(models.QuerySet):
    """Rows about one person: scope follows the person's organisation and unit."""

    def visible_to(self, user: Any, perm: str) -> Any:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="person__organization", unit="person__unit"))


class TestProgram(TimeStampedModel):
    __test__ = False  # pytest: a model, not a test class

    class Kind(models.TextChoices):
        EVERY_N_DAYS = "every_n_days", _("每 N 天检测")
        BATCH = "batch", _("分批检测")
        ON_ADMISSION = "on_admission", _("入院检测")

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="test_programs", verbose_name=_("单位")
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("方式"), max_length=20, choices=Kind.choices)
    test_kind = models.CharField(_("检测类型"), max_length=10, choices=TestKind.choices, default=TestKind.NAT)
    # Who is tested: people in these post categories and/or this unit with everything below it.
    post_categories = models.JSONField(_("重点岗位类别"), default=list, blank=True)
    unit = models.ForeignKey(
        "tenancy.Unit", null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("部门")
    )
    interval_days = models.PositiveSmallIntegerField(_("间隔天数"), default=3)
    per_day = models.PositiveIntegerField(_("每日人数"), default=100)
    start_date = models.DateField(_("开始日期"))
    end_date = models.DateField(_("结束日期"), null=True, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    source_note = models.CharField(_("依据"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "name"]
        verbose_name = _("检测计划")
        verbose_name_plural = _("检测计划")

    def __str__(self) -> str:
        return self.name

    @property
    def source(self) -> str:
        return f"program:{self.pk}"


class Sample(models.Model):
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="samples", verbose_name=_("单位")
    )
    tube_code = models.CharField(_("管码"), max_length=64, unique=True)
    kind = models.CharField(_("检测类型"), max_length=10, choices=TestKind.choices, default=TestKind.NAT)
    pooled = models.BooleanField(_("混采"), default=False)
    sampled_at = models.DateTimeField(_("采样时间"))
    # The organisation's local date of sampling: fulfilment compares it with obligation days in plain SQL.
    sampled_on = models.DateField(_("采样日期"))
    sampled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("采样人"),
    )
    site = models.CharField(_("采样点"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-sampled_at", "-id"]
        verbose_name = _("样本")
        verbose_name_plural = _("样本")
        indexes = [models.Index(fields=["organization", "sampled_on"])]

    def __str__(self) -> str:
        return self.tube_code


class SampleMember(models.Model):
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="sample_memberships")

    class Meta:
        verbose_name = _("样本人员")
        verbose_name_plural = _("样本人员")
        constraints = [models.UniqueConstraint(fields=["sample", "person"], name="samplemember_unique")]
        indexes = [models.Index(fields=["person", "sample"])]

    def __str__(self) -> str:
        return f"{self.sample_id}:{self.person_id}"


class Result(models.Model):
    class Value(models.TextChoices):
        NEGATIVE = "negative", _("阴性")
        POSITIVE = "positive", _("阳性")
        INVALID = "invalid", _("无效")

    # One result per tube: a repeated test is a new tube (a re-test or re-sample obligation), never an overwrite.
    # No database-level foreign key (like obligations' columns): results are only written by `results_apply`, which
    # reads each tube in the same transaction, and tubes are never deleted on their own (the ORM cascades from the
    # organisation). The constraint's deferred check locked every tube of an import at commit: 3 s of 20 for
    # 100,000 results (bench/README). The one-result-per-tube unique index stays.
    sample = models.OneToOneField(Sample, on_delete=models.CASCADE, related_name="result", verbose_name=_("样本"),
                                  db_constraint=False)
    result = models.CharField(_("结果"), max_length=10, choices=Value.choices)
    reported_at = models.DateTimeField(_("报告时间"))
    lab = models.CharField(_("检测机构"), max_length=100, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("录入人"),
    )
    # Results applied together (one entry, one import, one API batch) share a batch key (the audit event of a
    # batch's negatives names it). Not indexed: fulfilment joins the batch's tubes by id, and an index here cost
    # 100,000 entries of the same value per import.
    batch = models.CharField(max_length=32, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = _("检测结果")
        verbose_name_plural = _("检测结果")

    def __str__(self) -> str:
        return f"{self.sample_id} {self.result}"


class PositiveFinding(models.Model):
    """A positive single-tube result: the prevention office was alerted; tracing proposes a case from open rows."""

    class Status(models.TextChoices):
        OPEN = "open", _("待处置")
        CASE_PROPOSED = "case_proposed", _("已转流调")
        CLOSED = "closed", _("已关闭")

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="positive_findings",
                               verbose_name=_("人员"))
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="+", verbose_name=_("样本"))
    kind = models.CharField(_("检测类型"), max_length=10, choices=TestKind.choices)
    sampled_at = models.DateTimeField(_("采样时间"))
    reported_at = models.DateTimeField(_("报告时间"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PersonScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = _("阳性发现")
        verbose_name_plural = _("阳性发现")
        constraints = [models.UniqueConstraint(fields=["sample", "person"], name="positivefinding_unique")]
        indexes = [models.Index(fields=["status", "organization"])]

    def __str__(self) -> str:
        return f"阳性 {self.person_id} {self.reported_at:%Y-%m-%d}"


class Vaccination(models.Model):
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="vaccinations",
                               verbose_name=_("人员"))
    dose_number = models.PositiveSmallIntegerField(_("剂次"))
    product = models.CharField(_("疫苗名称"), max_length=100)
    manufacturer = models.CharField(_("生产企业"), max_length=100, blank=True)
    vaccinated_on = models.DateField(_("接种日期"))
    site = models.CharField(_("接种单位"), max_length=100, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PersonScopedQuerySet.as_manager()

    class Meta:
        ordering = ["person", "dose_number"]
        verbose_name = _("疫苗接种记录")
        verbose_name_plural = _("疫苗接种记录")
        constraints = [models.UniqueConstraint(fields=["person", "dose_number"], name="vaccination_unique_dose")]

    def __str__(self) -> str:
        return f"{self.person_id} 第{self.dose_number}剂"


class VaccinationState(models.Model):
    """Doses so far per person (written only by the vaccination services): coverage joins this, one row a person."""

    person = models.OneToOneField("people.Person", primary_key=True, on_delete=models.CASCADE,
                                  related_name="vaccination_state")
    doses = models.PositiveSmallIntegerField(default=0)
    last_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("接种状态")
        verbose_name_plural = _("接种状态")
        # Coverage reads doses by person id from the index alone (index-only scan, merge join with people's
        # covering index; PostgreSQL only — other databases skip covering indexes).
        indexes = [models.Index(fields=["person"], include=["doses"], name="vstate_person_doses")]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.doses}"


class Contraindication(models.Model):
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="contraindications",
                               verbose_name=_("人员"))
    reason = models.CharField(_("禁忌原因"), max_length=200)
    until = models.DateField(_("有效期至"), null=True, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PersonScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("接种禁忌")
        verbose_name_plural = _("接种禁忌")

    def __str__(self) -> str:
        return self.reason
