from django.urls import path

from fangkong.access import views

app_name = "access"

urlpatterns = [
    path("venues/", views.venue_list, name="venue_list"),
    path("venues/posters.pdf", views.venue_posters, name="venue_posters"),
    path("venues/<int:pk>/", views.venue_detail, name="venue_detail"),
    path("venues/<int:pk>/rotate/", views.venue_rotate, name="venue_rotate"),
    path("settings/", views.settings_page, name="settings"),
    path("scans/", views.scan_list, name="scan_list"),
    path("gate/", views.gate, name="gate"),
    path("gate/scan/", views.gate_scan, name="gate_scan"),
    path("gate/search/", views.gate_search, name="gate_search"),
    path("gate/health-code/", views.gate_health_code, name="gate_health_code"),
    path("gate/walk-in/", views.gate_walkin, name="gate_walkin"),
    path("gate/walk-ins/", views.gate_walkins, name="gate_walkins"),
    path("gate/hosts/", views.gate_hosts, name="gate_hosts"),
    path("gate/visits/<int:pk>/decide/", views.gate_visit_decide, name="gate_visit_decide"),
    path("pass/", views.pass_page, name="pass"),
    path("v/<str:token>/", views.venue_scan, name="venue_scan"),
    path("book/", views.visit_book_link, name="book_link"),
    path("book/<str:token>/", views.book, name="book"),
    path("book/<str:token>/hosts/", views.book_hosts, name="book_hosts"),
    path("visit/<str:token>/", views.visit_pass, name="visit_pass"),
    path("visits/", views.visit_list, name="visit_list"),
    path("visits/<int:pk>/decide/", views.visit_decide, name="visit_decide"),
    path("vehicles/", views.vehicle_list, name="vehicle_list"),
    path("vehicles/<int:pk>/exit/", views.vehicle_exit, name="vehicle_exit"),
]
