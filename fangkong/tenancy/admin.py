from django.contrib import admin

from fangkong.tenancy.models import (
    Authority,
    Jurisdiction,
    Membership,
    Organization,
    Taskforce,
    TaskforceMember,
    Unit,
)

# The admin is for platform staff repairing data; everyday changes go through the pages, which audit them.


@admin.register(Jurisdiction)
class JurisdictionAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "parent", "path")
    search_fields = ("name",)
    readonly_fields = ("path",)


@admin.register(Authority)
class AuthorityAdmin(admin.ModelAdmin):
    list_display = ("name", "sector", "jurisdiction")
    list_filter = ("sector",)
    search_fields = ("name",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "region", "jurisdiction", "authority", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "address")
    raw_id_fields = ("region",)


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "organization", "parent", "path", "grid_leader")
    list_filter = ("kind",)
    search_fields = ("name", "organization__name")
    raw_id_fields = ("organization", "parent", "grid_leader")
    readonly_fields = ("path",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "jurisdiction", "authority", "organization", "unit")
    list_filter = ("role",)
    search_fields = ("user__username", "user__display_name")
    raw_id_fields = ("user", "jurisdiction", "authority", "organization", "unit")


class TaskforceMemberInline(admin.TabularInline):
    model = TaskforceMember
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Taskforce)
class TaskforceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "organization", "jurisdiction", "parent")
    list_filter = ("kind",)
    search_fields = ("name",)
    inlines = [TaskforceMemberInline]
