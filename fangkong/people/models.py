from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.core.fields import EncryptedTextField
from fangkong.core.models import TimeStampedModel


class PersonQuerySet(models.QuerySet["Person"]):
    def visible_to(self, user: Any, perm: str = "people.view") -> PersonQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit="unit"))

    def active(self) -> PersonQuerySet:
        return self.filter(is_active=True)


class Person(TimeStampedModel):
    """One row of the ledger (台账): anyone an organisation answers for."""

    class Gender(models.TextChoices):
        MALE = "male", _("男")
        FEMALE = "female", _("女")
        UNKNOWN = "unknown", _("未知")

    class IdType(models.TextChoices):
        RESIDENT_ID = "resident_id", _("居民身份证")
        PASSPORT = "passport", _("护照")
        HK_MACAO = "hk_macao_permit", _("港澳居民来往内地通行证")
        TAIWAN = "taiwan_permit", _("台湾居民来往大陆通行证")
        FOREIGN_PR = "foreign_permanent", _("外国人永久居留身份证")
        OTHER = "other", _("其他证件")

    class Kind(models.TextChoices):
        EMPLOYEE = "employee", _("职工")
        CONTRACTOR = "contractor", _("外包人员")
        STUDENT = "student", _("学生")
        TEACHER = "teacher", _("教师")
        ESCORT = "escort", _("陪护")
        PATIENT = "patient", _("患者")
        VISITOR = "visitor", _("访客")
        OTHER = "other", _("其他")

    class PostCategory(models.TextChoices):
        FEVER_CLINIC = "fever_clinic", _("发热门诊")
        ISOLATION_HOTEL = "isolation_hotel", _("隔离酒店")
        COLD_CHAIN = "cold_chain", _("进口冷链")
        OTHER_HIGH_RISK = "other_high_risk", _("其他高风险岗位")

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="people", verbose_name=_("单位")
    )
    unit = models.ForeignKey(
        "tenancy.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="people",
        verbose_name=_("部门/班组"),
    )
    name = models.CharField(_("姓名"), max_length=64)
    name_sort = models.CharField(max_length=128, blank=True, default="", editable=False)
    gender = models.CharField(_("性别"), max_length=10, choices=Gender.choices, default=Gender.UNKNOWN)
    id_type = models.CharField(_("证件类型"), max_length=20, choices=IdType.choices, default=IdType.RESIDENT_ID)
    id_number = EncryptedTextField(_("证件号码"))
    id_number_hash = models.CharField(max_length=64, editable=False)
    id_number_masked = models.CharField(_("证件号码"), max_length=32, editable=False)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    phone = EncryptedTextField(_("手机号"), blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    phone_masked = models.CharField(_("手机号"), max_length=20, blank=True, default="", editable=False)
    kind = models.CharField(_("人员类别"), max_length=20, choices=Kind.choices, default=Kind.EMPLOYEE)
    residence_region = models.ForeignKey(
        "geo.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("居住地区划")
    )
    address = models.CharField(_("居住地址"), max_length=200, blank=True)
    dormitory = models.CharField(_("宿舍"), max_length=64, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="person",
        verbose_name=_("登录账号"),
    )
    is_active = models.BooleanField(_("在册"), default=True)
    # Flags the policy rules read (seed 003): see fangkong/policy/rules.py.
    no_home_conditions = models.BooleanField(_("不具备居家隔离条件"), default=False)
    post_category = models.CharField(
        _("重点岗位类别"), max_length=20, choices=PostCategory.choices, blank=True, null=True
    )
    past_case = models.BooleanField(_("既往病例"), default=False)
    discharged_on = models.DateField(_("出院日期"), null=True, blank=True)
    arrived_from_abroad_released = models.BooleanField(_("入境解除集中隔离"), default=False)
    # Current status, denormalised so the hot paths (a scan's entry decision, lists) read one row. Only the services
    # of health (symptomatic flag), measures (active measure) and access (health code seen at the gate) write these,
    # each with an audit event; the history lives in those apps.
    symptomatic_since = models.DateTimeField(_("症状标记时间"), null=True, blank=True)
    measure_kind = models.CharField(_("当前管控措施"), max_length=32, blank=True, default="")
    measure_until = models.DateField(_("措施截止"), null=True, blank=True)
    health_code = models.CharField(
        _("健康码"), max_length=10, blank=True, default="",
        choices=[("green", _("绿码")), ("yellow", _("黄码")), ("red", _("红码"))],
    )
    health_code_at = models.DateTimeField(_("健康码更新时间"), null=True, blank=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["name_sort", "id"]
        verbose_name = _("人员")
        verbose_name_plural = _("人员台账")
        constraints = [
            models.UniqueConstraint(fields=["organization", "id_number_hash"], name="person_unique_id_per_org"),
        ]
        indexes = [
            models.Index(fields=["organization", "unit"]),
            models.Index(fields=["organization", "kind"]),
            models.Index(fields=["organization", "name_sort"]),
            # Hashes are only ever matched exactly: plain indexes, without the `_like` twins that db_index=True adds
            # to a CharField on PostgreSQL (two fewer indexes to maintain on every insert and non-HOT update).
            models.Index(fields=["id_number_hash"], name="person_id_number_hash"),
            models.Index(fields=["phone_hash"], name="person_phone_hash"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def measure_kind_label(self) -> str:
        """The current measure's name in the reader's language (the field keeps its code)."""
        return str(MEASURE_KIND_LABELS.get(self.measure_kind, self.measure_kind))


# The names of the codes `Person.measure_kind` may hold, registered by the apps that write it (measures, tracing) in
# their AppConfig.ready: the ledger does not depend on them.
MEASURE_KIND_LABELS: dict[str, Any] = {}


class ImportJobQuerySet(models.QuerySet["ImportJob"]):
    def visible_to(self, user: Any, perm: str = "people.import") -> ImportJobQuerySet:
        from fangkong.tenancy.scope import scope_q

        # An import belongs to the organisation as a whole, not to one unit.
        return self.filter(scope_q(user, perm, org="organization", unit=None))


class ImportJob(TimeStampedModel):
    """One upload of the ledger spreadsheet: validated first (preview), committed only when the user says so.

    The file is kept under MEDIA_ROOT/imports until the job is committed or cancelled; the row keeps the counts and
    every problem found, so the record of what was imported stays after the file is gone.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("排队中")
        VALIDATING = "validating", _("正在校验")
        VALIDATED = "validated", _("待确认")
        COMMITTING = "committing", _("正在导入")
        DONE = "done", _("已导入")
        CANCELLED = "cancelled", _("已取消")
        FAILED = "failed", _("失败")

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="import_jobs", verbose_name=_("单位")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("上传人"),
    )
    file = models.FileField(_("文件"), upload_to="imports/", blank=True)
    original_name = models.CharField(_("文件名"), max_length=255, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(_("总行数"), default=0)
    processed = models.PositiveIntegerField(_("已处理"), default=0)
    # {"new": n, "updated": n, "invalid": n} after validation; {"created": n, "updated": n, "skipped": n} after commit.
    counts = models.JSONField(_("统计"), default=dict, blank=True)
    # [{"row": 17, "column": "身份证号", "message": "..."}] with Excel row numbers (the header is row 1); the Chinese
    # message, plus "msgid" and "params" when it has values, so error_lines() words it in the reader's language.
    errors = models.JSONField(_("问题"), default=list, blank=True)
    message = models.TextField(_("说明"), blank=True, default="")
    committed_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")

    def __str__(self) -> str:
        return self.original_name or f"import #{self.pk}"

    @property
    def running(self) -> bool:
        return self.status in (self.Status.PENDING, self.Status.VALIDATING, self.Status.COMMITTING)

    @property
    def percent(self) -> int:
        return int(self.processed * 100 / self.total) if self.total else 0

    def error_lines(self) -> list[str]:
        """The problems found, one line each, in the reader's language."""
        from fangkong.people.importing import error_lines

        return error_lines(self.errors)
