from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "fangkong.measures"
    label = "measures"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangkong.measures.models import Measure
        from fangkong.people.models import MEASURE_KIND_LABELS

        MEASURE_KIND_LABELS.update(Measure.Kind.choices)
