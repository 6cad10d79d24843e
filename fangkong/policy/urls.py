from django.urls import path

from fangkong.policy import views

app_name = "policy"

urlpatterns = [
    path("", views.policy_list, name="policy_list"),
    path("packs/install/", views.pack_install, name="pack_install"),
    path("<int:pk>/toggle/", views.policy_toggle, name="policy_toggle"),
    path("rules/<int:pk>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("what-if/", views.what_if, name="what_if"),
    path("risk-areas/", views.risk_area_list, name="risk_area_list"),
    path("risk-areas/new/", views.risk_area_announce, name="risk_area_announce"),
    path("risk-areas/import/", views.risk_area_import, name="risk_area_import"),
    path("risk-areas/<int:pk>/", views.risk_area_detail, name="risk_area_detail"),
    path("risk-areas/<int:pk>/change/", views.risk_area_change, name="risk_area_change"),
    path("runs/<int:pk>/", views.run_progress, name="run_progress"),
    path("travel/", views.travel_list, name="travel_list"),
    path("travel/<int:pk>/decide/", views.travel_decide, name="travel_decide"),
    path("travel/<int:pk>/withdraw/", views.travel_withdraw, name="travel_withdraw"),
    path("travel/<int:pk>/return/", views.travel_return, name="travel_return"),
]
