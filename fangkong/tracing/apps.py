from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "fangkong.tracing"
    label = "tracing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangkong.measures.services import PERSON_RESTRICTIONS
        from fangkong.tracing import signals
        from fangkong.tracing.isolation import case_isolation

        signals.connect()
        if case_isolation not in PERSON_RESTRICTIONS:
            PERSON_RESTRICTIONS.append(case_isolation)
