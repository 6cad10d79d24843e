from django.urls import path

from fangkong.obligations import views

app_name = "obligations"

urlpatterns = [
    path("", views.obligations, name="list"),
    path("<int:pk>/waive/", views.waive, name="waive"),
]
