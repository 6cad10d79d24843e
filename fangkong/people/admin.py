from django.contrib import admin

from fangkong.people.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "organization", "original_name", "status", "total", "created_by", "created_at")
    list_filter = ("status",)
    # The counts and problems are the record of the import: read-only here.
    readonly_fields = ("organization", "created_by", "file", "original_name", "status", "total", "processed",
                       "counts", "errors", "message", "committed_at")
