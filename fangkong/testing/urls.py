from django.urls import path

from fangkong.testing import views

app_name = "testing"

urlpatterns = [
    path("programs/", views.program_list, name="programs"),
    path("programs/new/", views.program_new, name="program_new"),
    path("programs/<int:pk>/", views.program_detail, name="program"),
    path("programs/<int:pk>/toggle/", views.program_toggle, name="program_toggle"),
    path("programs/<int:pk>/generate/", views.program_generate, name="program_generate"),
    path("samples/", views.sample_list, name="samples"),
    path("samples/new/", views.sample_new, name="sample_new"),
    path("results/new/", views.result_new, name="result_new"),
    path("results/import/", views.result_import, name="result_import"),
    path("overdue/", views.overdue_list, name="overdue"),
    path("findings/", views.finding_list, name="findings"),
    path("vaccinations/person/<int:person_id>/", views.person_vaccinations, name="person_vaccinations"),
    path("vaccinations/coverage/", views.coverage, name="coverage"),
    path("vaccinations/unvaccinated/", views.unvaccinated, name="unvaccinated"),
    path("vaccinations/unvaccinated/export/", views.unvaccinated_export, name="unvaccinated_export"),
    path("vaccinations/import/", views.vaccination_import, name="vaccination_import"),
]
