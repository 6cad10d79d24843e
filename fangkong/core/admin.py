from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from fangkong.core.models import ApiToken, AuditEvent, User

admin.site.register(User, UserAdmin)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_repr", "action", "object_repr", "ip")
    search_fields = ("actor_repr", "object_repr", "action")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "revoked_at")
    exclude = ("key_hash",)
