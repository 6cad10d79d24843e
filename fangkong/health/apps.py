from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "fangkong.health"
    label = "health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from fangkong.obligations.models import KIND_LABELS

        KIND_LABELS.update({"checkin": _("健康打卡"), "checkin_morning": _("晨检"), "checkin_noon": _("午检"),
                            "checkin_afternoon": _("下午打卡")})
