from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "fangkong.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the auth cache's invalidation signals in every process (web, Huey, commands): ADR 0009.
        from fangkong.core import tokens  # noqa: F401
