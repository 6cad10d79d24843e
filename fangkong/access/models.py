"""Entry control: venues with signed codes, scans with their decisions, visits by appointment, vehicle passes.

A presence interval is one row: the entry scan carries `left_at` once the exit comes (or the periodic task closes it
after the venue's maximum stay, `estimated_exit=True`), so tracing reads intervals per venue without pairing rows.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import TimeStampedModel

HEALTH_CODES = [("green", _("绿码")), ("yellow", _("黄码")), ("red", _("红码"))]


class _OrgScopedQuerySet(models.QuerySet):
    def visible_to(self, user: Any, perm: str) -> Any:
        from fangkong.tenancy.scope import scope_q

        # Venues, scans, visits and vehicles belong to the organisation as a whole: a unit leader sees their org's.
        return self.filter(scope_q(user, perm, org="organization", unit=None))


class AccessSetting(models.Model):
    """Per-organisation switches of the entry decision."""

    class Provider(models.TextChoices):
        MANUAL = "manual", _("门岗人工录入")
        # The interface configured for the whole system (settings.FANGKONG_HEALTH_CODE_PROVIDER, see
        # fangkong/access/healthcodes.py); when it knows no colour or is down, the gatekeeper enters it by hand.
        INTERFACE = "interface", _("健康码接口（查不到或接口故障时门岗人工录入）")

    organization = models.OneToOneField(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="access_setting", verbose_name=_("单位")
    )
    # Empty: the organisation's check-in setting decides (health app, default 37.3 ℃), so one number is set once.
    fever_threshold = models.DecimalField(_("发热阈值（℃）"), max_digits=3, decimal_places=1, null=True, blank=True,
                                          help_text=_("留空则沿用健康打卡设置中的发热阈值"))
    refuse_unknown = models.BooleanField(_("拒绝未登记人员和无有效预约的访客"), default=True)
    health_code_provider = models.CharField(
        _("健康码来源"), max_length=20, choices=Provider.choices, default=Provider.MANUAL
    )

    class Meta:
        verbose_name = _("出入管理设置")
        verbose_name_plural = _("出入管理设置")

    def __str__(self) -> str:
        return f"{self.organization_id}"


class Venue(TimeStampedModel):
    class Kind(models.TextChoices):
        GATE = "gate", _("大门")
        BUILDING = "building", _("楼宇")
        CANTEEN = "canteen", _("食堂")
        DORMITORY = "dormitory", _("宿舍")
        MEETING_ROOM = "meeting_room", _("会议室")
        WORKSHOP = "workshop", _("车间")
        WARD = "ward", _("病区")
        OTHER = "other", _("其他")

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.PROTECT, related_name="venues", verbose_name=_("单位")
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.GATE)
    capacity = models.PositiveIntegerField(_("容量（人）"), null=True, blank=True)
    max_stay_minutes = models.PositiveIntegerField(_("最长停留（分钟）"), default=720)
    # Empty: the organisation's threshold (access setting, else the check-in setting).
    fever_threshold = models.DecimalField(_("发热阈值（℃）"), max_digits=3, decimal_places=1, null=True, blank=True,
                                          help_text=_("留空则沿用本单位的发热阈值"))
    # Bumped by rotation: tokens carry the version, so posters printed before the rotation stop working.
    code_version = models.PositiveIntegerField(_("场所码版本"), default=1)
    active = models.BooleanField(_("启用"), default=True)

    objects = _OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["organization_id", "name", "id"]
        verbose_name = _("场所")
        verbose_name_plural = _("场所")
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="venue_unique_name_per_org")]

    def __str__(self) -> str:
        return self.name


class Scan(models.Model):
    class Direction(models.TextChoices):
        ENTRY = "entry", _("进入")
        EXIT = "exit", _("离开")

    class Decision(models.TextChoices):
        ADMIT = "admit", _("放行")
        REFUSE = "refuse", _("拒绝")

    # No single-column FK indexes on the three busiest columns: the composite indexes below lead with each of them,
    # and every index is paid on every one of tens of millions of inserts (bench/README.md, access).
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="+",
                                     db_index=False)
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="scans", verbose_name=_("场所"),
                              db_index=False)
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="scans",
                               verbose_name=_("人员"), db_index=False)
    direction = models.CharField(_("方向"), max_length=5, choices=Direction.choices, default=Direction.ENTRY)
    at = models.DateTimeField(_("时间"))
    temperature = models.DecimalField(_("体温"), max_digits=3, decimal_places=1, null=True, blank=True)
    health_code = models.CharField(_("健康码"), max_length=10, blank=True, default="", choices=HEALTH_CODES)
    decision = models.CharField(_("结果"), max_length=6, choices=Decision.choices)
    reasons = models.JSONField(_("原因"), default=list, blank=True)
    device_id = models.CharField(_("设备"), max_length=64, blank=True, default="")
    client_key = models.CharField(max_length=64, blank=True, null=True)
    # On admitted entries: when the person left (the exit scan, or at + max stay when estimated).
    left_at = models.DateTimeField(_("离开时间"), null=True, blank=True)
    estimated_exit = models.BooleanField(_("离开时间为推定"), default=False)
    # On exits: the entry the exit closed.
    # Indexed only where set (exits): a plain FK index took an entry for every one of the ~98 % of rows without one.
    entry = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False)
    # Not indexed: only deleting a user reads by it (users are deactivated, not deleted), and it would cost an index
    # entry on every scan.
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = _OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("扫码记录")
        verbose_name_plural = _("扫码记录")
        indexes = [
            models.Index(fields=["venue", "at"], name="scan_venue_at"),
            models.Index(fields=["person", "at"], name="scan_person_at"),
            models.Index(fields=["organization", "at"], name="scan_org_at"),
            models.Index(fields=["entry"], name="scan_exit_entry", condition=Q(entry__isnull=False)),
            # Open intervals: occupancy and the closing task read only these.
            models.Index(fields=["venue", "at"], name="scan_open_entries",
                         condition=Q(direction="entry", decision="admit", left_at__isnull=True)),
            # Presence intervals for contact tracing (admitted entries): who was at a venue when, and where a person
            # was, answered from the index alone (PostgreSQL INCLUDE; plain indexes on SQLite).
            models.Index(fields=["venue", "at"], include=["left_at", "person"], name="scan_presence_venue",
                         condition=Q(direction="entry", decision="admit")),
            models.Index(fields=["person", "at"], include=["venue", "left_at"], name="scan_presence_person",
                         condition=Q(direction="entry", decision="admit")),
        ]
        constraints = [
            # A device's client key is its own within one organisation: another organisation's gate may send
            # the same device name and key, and must not get this scan back as its replay.
            models.UniqueConstraint(fields=["organization", "device_id", "client_key"], name="scan_unique_client_key",
                                    condition=Q(client_key__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.person_id}@{self.venue_id} {self.direction} {self.at:%Y-%m-%d %H:%M}"

    @property
    def reason_texts(self) -> list[str]:
        """The reasons in the reader's language: each is stored in both (rules.Reason.as_dict), as decided."""
        key = "en" if (get_language() or "").startswith("en") else "text"
        return [r.get(key) or r.get("text") or r.get("code", "") for r in self.reasons or []]


class Visit(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已同意")
        REFUSED = "refused", _("已拒绝")
        CANCELLED = "cancelled", _("已取消")
        ARRIVED = "arrived", _("已到访")

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="visits")
    visitor = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="visits",
                                verbose_name=_("访客"))
    host = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="hosted_visits",
                             verbose_name=_("被访人"))
    company = models.CharField(_("来访单位"), max_length=100, blank=True)
    purpose = models.CharField(_("事由"), max_length=200)
    starts_at = models.DateTimeField(_("预约开始"))
    ends_at = models.DateTimeField(_("预约结束"))
    places_14d = models.TextField(_("近14天行程"), blank=True)
    health_code = models.CharField(_("健康码"), max_length=10, blank=True, default="", choices=HEALTH_CODES)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=200, blank=True)
    arrived_at = models.DateTimeField(_("到达时间"), null=True, blank=True)
    # Walk-ins: registered by a gatekeeper at the gate, waiting there for the host's approval.
    walk_in = models.BooleanField(_("现场登记"), default=False)
    venue = models.ForeignKey(Venue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("登记场所"))
    gate_temperature = models.DecimalField(_("登记时体温"), max_digits=3, decimal_places=1, null=True, blank=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")

    objects = _OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("访客预约")
        verbose_name_plural = _("访客预约")
        indexes = [
            models.Index(fields=["organization", "status", "starts_at"]),
            models.Index(fields=["visitor", "starts_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.visitor} → {self.host}"


class VehiclePass(TimeStampedModel):
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="vehicle_passes")
    plate = models.CharField(_("车牌号"), max_length=12)
    driver = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="vehicle_passes",
                               verbose_name=_("驾驶员"))
    origin = models.CharField(_("出发地"), max_length=100, blank=True)
    destination = models.CharField(_("目的地"), max_length=100, blank=True)
    cargo = models.CharField(_("货物"), max_length=100, blank=True)
    time_in = models.DateTimeField(_("进入时间"))
    time_out = models.DateTimeField(_("离开时间"), null=True, blank=True)
    disinfected = models.BooleanField(_("已消毒"), default=False)
    disinfected_by = models.CharField(_("消毒人"), max_length=64, blank=True)
    disinfectant = models.CharField(_("消毒剂"), max_length=64, blank=True)
    disinfected_at = models.DateTimeField(_("消毒时间"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    objects = _OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-time_in", "-id"]
        verbose_name = _("车辆通行")
        verbose_name_plural = _("车辆通行")
        indexes = [models.Index(fields=["organization", "time_in"]), models.Index(fields=["plate"])]

    def __str__(self) -> str:
        return self.plate


class PassCode(models.Model):
    """A personal pass code the gatekeeper can type (the QR carries a signed token instead). Lives a few minutes;
    kept in the database so every server process recognises it."""

    code = models.CharField(max_length=12, unique=True)
    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.code
