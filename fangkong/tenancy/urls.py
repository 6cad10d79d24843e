from django.urls import path

from fangkong.tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("", views.org_home, name="org_home"),
    path("list/", views.org_list, name="org_list"),
    path("new/", views.org_create, name="org_create"),
    path("<int:pk>/", views.org_detail, name="org_detail"),
    path("<int:pk>/edit/", views.org_edit, name="org_edit"),
    path("<int:pk>/units/", views.unit_tree, name="unit_tree"),
    path("<int:pk>/units/add/", views.unit_add, name="unit_add"),
    path("units/<int:pk>/rename/", views.unit_rename, name="unit_rename"),
    path("units/<int:pk>/leader/", views.unit_leader, name="unit_leader"),
    path("<int:pk>/taskforces/", views.taskforce_list, name="taskforce_list"),
    path("<int:pk>/taskforces/apply-template/", views.taskforce_apply_template, name="taskforce_apply_template"),
    path("taskforces/<int:pk>/edit/", views.taskforce_edit, name="taskforce_edit"),
    path("taskforces/<int:pk>/members/add/", views.taskforce_member_add, name="taskforce_member_add"),
    path("taskforce-members/<int:pk>/edit/", views.taskforce_member_edit, name="taskforce_member_edit"),
    path("taskforce-members/<int:pk>/remove/", views.taskforce_member_remove, name="taskforce_member_remove"),
    path("<int:pk>/members/", views.membership_list, name="membership_list"),
    path("memberships/<int:pk>/revoke/", views.membership_revoke, name="membership_revoke"),
]
