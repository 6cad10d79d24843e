from django.urls import path

from fangkong.notify import views

urlpatterns = [
    path("", views.inbox, name="notify_inbox"),
    path("badge/", views.badge, name="notify_badge"),
    path("read-all/", views.mark_all_read, name="notify_read_all"),
    path("<int:pk>/open/", views.open_notification, name="notify_open"),
    path("<int:pk>/read/", views.mark_read, name="notify_read"),
    path("preferences/", views.preferences, name="notify_preferences"),
    path("webhooks/", views.webhooks, name="notify_webhooks"),
    path("webhooks/<int:pk>/edit/", views.webhook_edit, name="notify_webhook_edit"),
    path("webhooks/<int:pk>/delete/", views.webhook_delete, name="notify_webhook_delete"),
    path("webhooks/<int:pk>/test/", views.webhook_test, name="notify_webhook_test"),
    path("deliveries/", views.deliveries, name="notify_deliveries"),
]
