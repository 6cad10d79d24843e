from django.contrib import admin

from fangkong.access.models import AccessSetting, Scan, VehiclePass, Venue, Visit


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "kind", "capacity", "max_stay_minutes", "code_version", "active")
    list_filter = ("kind", "active")
    search_fields = ("name",)


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ("at", "venue", "person", "direction", "decision", "temperature", "health_code", "left_at")
    list_filter = ("decision", "direction")
    raw_id_fields = ("venue", "person", "entry", "recorded_by")
    date_hierarchy = "at"


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ("visitor", "host", "starts_at", "status")
    list_filter = ("status",)
    raw_id_fields = ("visitor", "host", "decided_by")


@admin.register(VehiclePass)
class VehiclePassAdmin(admin.ModelAdmin):
    list_display = ("plate", "driver", "time_in", "time_out", "disinfected")
    raw_id_fields = ("driver", "recorded_by")


admin.site.register(AccessSetting)
