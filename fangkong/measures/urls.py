from django.urls import path

from fangkong.measures import views

app_name = "measures"

urlpatterns = [
    path("", views.measure_list, name="measure_list"),
    path("export.xlsx", views.measure_list_export, name="measure_list_export"),
    path("counts/", views.measure_counts, name="counts"),
    path("person/<int:pk>/", views.person_measures, name="person"),
    path("<int:pk>/confirm/", views.measure_confirm, name="confirm"),
    path("<int:pk>/start/", views.measure_start, name="start"),
    path("<int:pk>/release/", views.measure_release, name="release"),
    path("<int:pk>/extend/", views.measure_extend, name="extend"),
    path("<int:pk>/escalate/", views.measure_escalate, name="escalate"),
    path("<int:pk>/custodians/", views.custodian_add, name="custodian_add"),
    path("<int:pk>/record.xlsx", views.measure_record, name="record"),
    path("<int:pk>/notice.pdf", views.measure_notice, name="notice"),
    path("<int:pk>/release.pdf", views.measure_certificate, name="certificate"),
    path("custodians/<int:pk>/remove/", views.custodian_remove, name="custodian_remove"),
]
