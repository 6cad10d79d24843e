from django.urls import path

from fangkong.health import views

app_name = "health"

urlpatterns = [
    path("checkin/", views.checkin, name="checkin"),
    path("checkin/person/<int:person_id>/", views.checkin_for, name="checkin_for"),
    path("rollcall/", views.rollcall, name="rollcall"),
    path("checkins/", views.checkin_list, name="checkins"),
    path("flags/", views.flag_list, name="flags"),
    path("flags/<int:pk>/clear/", views.flag_clear, name="flag_clear"),
    path("compliance/", views.compliance, name="compliance"),
    path("absences/", views.absence_list, name="absences"),
    path("absences/new/", views.absence_new, name="absence_new"),
    path("absences/<int:pk>/", views.absence_detail, name="absence"),
    path("clusters/", views.cluster_list, name="clusters"),
    path("clusters/<int:pk>/report/", views.cluster_report, name="cluster_report"),
    path("integrity/", views.integrity, name="integrity"),
    path("integrity/<int:pk>/resolve/", views.integrity_resolve, name="integrity_resolve"),
    path("settings/", views.settings_edit, name="settings"),
]
