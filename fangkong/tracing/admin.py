from django.contrib import admin

from fangkong.tracing.models import Household, Meeting


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "organization", "created_at")
    search_fields = ("name",)
    raw_id_fields = ("members",)
    list_filter = ("organization",)


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "organization", "venue", "starts_at", "ends_at")
    search_fields = ("title",)
    raw_id_fields = ("attendees", "venue")
    list_filter = ("organization",)
    date_hierarchy = "starts_at"
