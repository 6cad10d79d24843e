from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "fangkong.access"
    label = "access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the venue cache's invalidation (a venue saved anywhere drops its cached entry in every process).
        from fangkong.access import scan_fast  # noqa: F401
