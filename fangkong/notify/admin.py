from django.contrib import admin

from fangkong.notify.models import Delivery, Notification, WebhookEndpoint


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "recipient", "title", "level", "event", "created_at", "read_at")
    list_filter = ("level",)
    search_fields = ("title", "event", "dedupe_key")
    raw_id_fields = ("recipient", "organization")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "organization", "name", "kind", "url_masked", "levels", "is_active")
    list_filter = ("kind", "is_active")
    # URL and secret are edited on the webhooks page, which masks them, validates and audits the change.
    exclude = ("url", "secret")
    readonly_fields = ("url_masked",)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "channel", "target", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "channel")
    # The log is a record of what happened: read-only.
    readonly_fields = ("notification", "webhook", "organization", "channel", "target", "payload", "status",
                       "attempts", "last_error", "sent_at")
