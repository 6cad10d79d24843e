from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("风险地区"), "policy:risk_area_list", "riskareas.view", icon="map-pin", order=40),
    NavItem(_("防控政策"), "policy:policy_list", "policy.view", icon="file-certificate", order=41),
    NavItem(_("政策试算"), "policy:what_if", "policy.view", icon="flask", order=42),
    NavItem(_("外出报备"), "policy:travel_list", "travel.request", icon="plane", order=43),
]
