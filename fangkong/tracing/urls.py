from django.urls import path

from fangkong.tracing import views

app_name = "tracing"

urlpatterns = [
    path("cases/", views.case_list, name="case_list"),
    path("cases/new/", views.case_create, name="case_create"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/status/", views.case_status, name="case_status"),
    path("cases/<int:pk>/trace/", views.case_trace, name="case_trace"),
    path("cases/<int:pk>/contacts/add/", views.contact_add, name="contact_add"),
    path("cases/<int:pk>/assist/", views.assist_outgoing, name="assist_outgoing"),
    path("groups/", views.groups, name="groups"),
    path("graph/", views.graph, name="graph"),
    path("graph/data/", views.graph_data, name="graph_data"),
    path("investigations/", views.task_list, name="task_list"),
    path("investigations/tasks/<int:pk>/", views.task_update, name="task_update"),
    path("assists/", views.assist_list, name="assist_list"),
    path("assists/import/", views.assist_import, name="assist_import"),
    path("assists/<int:pk>/download/", views.assist_download, name="assist_download"),
]
