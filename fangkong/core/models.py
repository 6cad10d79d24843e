from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.core.fields import EncryptedTextField


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


class User(AbstractUser):
    """A person who signs in. Phone sign-in uses the HMAC of the number; the number itself is encrypted."""

    display_name = models.CharField(_("姓名"), max_length=64, blank=True)
    phone = EncryptedTextField(_("手机号"), blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    language = models.CharField(_("语言"), max_length=10, blank=True, default="")

    def __str__(self) -> str:
        return self.display_name or self.username

    def get_full_name(self) -> str:
        """The name people know them by: Chinese names live in `display_name`, not first/last name (a release
        certificate printed the login name as its approver)."""
        return self.display_name or super().get_full_name()

    def get_short_name(self) -> str:
        return self.display_name or super().get_short_name()


class AuditEvent(models.Model):
    """Who changed what, when and from where. Written by services in the same transaction as the change."""

    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_repr = models.CharField(_("操作人"), max_length=150, blank=True)
    action = models.CharField(_("操作"), max_length=64, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    # Plain ids, not foreign keys: core sits below tenancy, and the trail must outlive what it describes.
    organization_id = models.BigIntegerField(null=True, blank=True)
    jurisdiction_path = models.CharField(max_length=255, blank=True, default="")
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["organization_id", "-at"]),
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["jurisdiction_path"]),
        ]
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_repr} {self.action} {self.object_repr}"

    @property
    def action_label(self) -> str:
        from fangkong.core.audit_labels import action_label

        return action_label(self.action)

    @property
    def actor_label(self) -> str:
        """Who acted: a user as recorded; the system actors by their names in the reader's language."""
        from fangkong.core.audit_labels import actor_label

        return self.actor_repr if self.actor_id is not None else actor_label(self.actor_repr)

    def change_rows(self) -> list[tuple[str, Any, Any]]:
        from fangkong.core.audit_labels import change_rows

        return change_rows(self.object_type, self.changes)


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is kept; the raw token is shown once when issued."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(_("前缀"), max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
