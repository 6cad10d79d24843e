from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "fangkong.tracing"
    label = "tracing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from fangkong.measures.rules import ISOLATION
        from fangkong.obligations.models import KIND_LABELS
        from fangkong.people.models import MEASURE_KIND_LABELS

        KIND_LABELS["disinfection_terminal"] = _("终末消毒")
        MEASURE_KIND_LABELS[ISOLATION] = _("病例隔离")
        from fangkong.measures.services import PERSON_RESTRICTIONS
        from fangkong.tracing import signals
        from fangkong.tracing.isolation import case_isolation

        signals.connect()
        if case_isolation not in PERSON_RESTRICTIONS:
            PERSON_RESTRICTIONS.append(case_isolation)
