from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "fangkong.tenancy"
    label = "tenancy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from fangkong.core.access import register_permission_checker
        from fangkong.tenancy.scope import has_perm

        register_permission_checker(has_perm)
