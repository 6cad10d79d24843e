from django.urls import path

from fangkong.people import views

# Plain names (no namespace): other apps link to `person_detail` and `people_list` directly.
urlpatterns = [
    path("", views.people_list, name="people_list"),
    path("new/", views.person_create, name="person_create"),
    path("export/", views.people_export, name="people_export"),
    path("import/", views.people_import, name="people_import"),
    path("import/template/", views.people_import_template, name="people_import_template"),
    path("import/<int:pk>/", views.people_import_job, name="people_import_job"),
    path("import/<int:pk>/progress/", views.people_import_progress, name="people_import_progress"),
    path("import/<int:pk>/commit/", views.people_import_commit, name="people_import_commit"),
    path("import/<int:pk>/cancel/", views.people_import_cancel, name="people_import_cancel"),
    path("<int:pk>/", views.person_detail, name="person_detail"),
    path("<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("<int:pk>/archive/", views.person_archive, name="person_archive"),
    path("<int:pk>/unmask/", views.person_unmask, name="person_unmask"),
]
