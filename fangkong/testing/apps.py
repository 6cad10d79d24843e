from django.apps import AppConfig


class TestingConfig(AppConfig):
    name = "fangkong.testing"
    label = "testing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangkong.obligations.models import KIND_LABELS
        from fangkong.testing.models import TestKind, obligation_kind

        KIND_LABELS.update({obligation_kind(kind): label for kind, label in TestKind.choices})

        from fangkong.people.services import POST_ASSIGNMENT_CHECKS
        from fangkong.testing.services import check_post_assignment

        if check_post_assignment not in POST_ASSIGNMENT_CHECKS:
            POST_ASSIGNMENT_CHECKS.append(check_post_assignment)

        from fangkong.policy.selectors import VACCINATION_LOOKUPS
        from fangkong.testing.services import vaccinated_lookup

        if vaccinated_lookup not in VACCINATION_LOOKUPS:
            VACCINATION_LOOKUPS.append(vaccinated_lookup)
