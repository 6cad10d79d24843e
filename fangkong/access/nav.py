from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("门岗查验"), "access:gate", "scans.create", icon="scan", order=300),
    NavItem(_("我的通行码"), "access:pass", "self.view", icon="qrcode", order=301),
    NavItem(_("场所与场所码"), "access:venue_list", "venues.view", icon="building", order=302),
    NavItem(_("出入记录"), "access:scan_list", "scans.view", icon="list-check", order=303),
    NavItem(_("访客预约"), "access:visit_list", "visits.host", icon="user-check", order=304),
    NavItem(_("车辆通行"), "access:vehicle_list", "vehicles.view", icon="truck", order=305),
]
