from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("管控措施"), "measures:measure_list", "measures.view", icon="shield-check", order=44),
    NavItem(_("管控人数统计"), "measures:counts", "measures.view", icon="chart-bar", order=45),
]
