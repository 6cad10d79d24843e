from django.apps import AppConfig


class ObligationsConfig(AppConfig):
    name = "fangkong.obligations"
    label = "obligations"
    default_auto_field = "django.db.models.BigAutoField"
