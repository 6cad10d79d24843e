from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "fangkong.tracing"
    label = "tracing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangkong.tracing import signals

        signals.connect()
