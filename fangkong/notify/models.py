"""Notifications: the in-app inbox row, each user's channel preferences, organisation webhooks and the delivery log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.core.fields import EncryptedTextField


class Level(models.TextChoices):
    INFO = "info", _("通知")
    WARNING = "warning", _("提醒")
    ALERT = "alert", _("警报")


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_user(self, user: Any) -> NotificationQuerySet:
        """A user's own inbox: notifications are private to their recipient, whatever their roles."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(recipient=user)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message in one user's inbox, already in that user's language."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("接收人")
    )
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True, default="")
    level = models.CharField(_("级别"), max_length=10, choices=Level.choices, default=Level.INFO)
    event = models.CharField(_("事件"), max_length=64, blank=True, default="", db_index=True)
    organization = models.ForeignKey(
        "tenancy.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("单位"),
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True, default="")

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        constraints = [
            # Reminders are sent by periodic tasks that may run twice; the key makes the second run a no-op.
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"], condition=~models.Q(dedupe_key=""),
                name="notification_unique_dedupe_key",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"]),
            # The header badge counts unread rows on every page.
            models.Index(fields=["recipient"], condition=models.Q(read_at__isnull=True), name="notification_unread"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """Which channels besides the inbox a user wants. No row means the defaults below."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField(_("电子邮件"), default=True)
    # Text messages cost money and reach people anywhere, so they are opt-in.
    sms = models.BooleanField(_("短信"), default=False)
    quiet_start = models.TimeField(_("免打扰开始"), null=True, blank=True)
    quiet_end = models.TimeField(_("免打扰结束"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知偏好")
        verbose_name_plural = _("通知偏好")

    def __str__(self) -> str:
        return f"{self.user} · email={self.email} sms={self.sms}"


class WebhookEndpointQuerySet(models.QuerySet["WebhookEndpoint"]):
    def visible_to(self, user: Any, perm: str = "notify.webhooks") -> WebhookEndpointQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit=None))


class WebhookEndpoint(models.Model):
    """An organisation's group robot (WeCom/DingTalk) or any HTTP endpoint that receives its notifications."""

    class Kind(models.TextChoices):
        GENERIC = "generic", _("通用 JSON")
        WECOM = "wecom", _("企业微信群机器人")
        DINGTALK = "dingtalk", _("钉钉群机器人")

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="webhooks", verbose_name=_("单位")
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.GENERIC)
    # The robot URLs carry their access key in the query string, so the URL is as secret as the signing secret.
    url = EncryptedTextField(_("地址"))
    url_masked = models.CharField(_("地址"), max_length=120, editable=False, default="")
    secret = EncryptedTextField(_("加签密钥"), blank=True, default="")
    levels = models.JSONField(_("转发级别"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "name", "id"]
        verbose_name = _("Webhook 接收地址")
        verbose_name_plural = _("Webhook 接收地址")

    def __str__(self) -> str:
        return self.name

    def forwards(self, level: str) -> bool:
        return self.is_active and level in (self.levels or [])


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def visible_to(self, user: Any, perm: str = "notify.webhooks") -> DeliveryQuerySet:
        from fangkong.tenancy.scope import scope_q

        return self.filter(scope_q(user, perm, org="organization", unit=None))


class Delivery(models.Model):
    """One message on one channel to one target: the log of what went out, what failed and how often it was tried."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("电子邮件")
        SMS = "sms", _("短信")
        WEBHOOK = "webhook", _("Webhook")

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("失败")

    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    webhook = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    organization = models.ForeignKey(
        "tenancy.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("单位"),
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    target = models.CharField(_("发送目标"), max_length=200, blank=True, default="")  # masked, never in clear
    # What a webhook delivery posts (event, level, title, body, link, at): kept so a retry sends the same message.
    payload = models.JSONField(default=dict, blank=True)
    # The caller's dedupe key, for webhooks: a repeated alert is posted to each group chat once.
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True, default="")
    # The error's template and values ({"msgid", "params"}) when the system worded it: a task records it in the
    # site's language, the log words it again for whoever reads it (last_error keeps the sentence as recorded).
    last_error_wording = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("发送记录")
        verbose_name_plural = _("发送记录")
        constraints = [
            # A retry updates the row of its channel instead of adding one.
            models.UniqueConstraint(
                fields=["notification", "channel"], condition=models.Q(webhook__isnull=True),
                name="delivery_unique_channel_per_notification",
            ),
            models.UniqueConstraint(
                fields=["webhook", "dedupe_key"], condition=~models.Q(dedupe_key=""),
                name="delivery_unique_dedupe_key_per_webhook",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.target} ({self.get_status_display()})"

    @property
    def error_text(self) -> str:
        """The last error in the reader's language where it was worded by the system, else as recorded."""
        from fangkong.core.rule_errors import RuleError, worded

        wording = self.last_error_wording or {}
        if not wording.get("msgid"):
            return self.last_error
        return worded(RuleError(wording["msgid"], **(wording.get("params") or {})))
