from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("我的组织"), "tenancy:org_home", "org.view", icon="building", order=10),
    # Officers (jurisdiction.view) also get the list of every organisation in their jurisdiction.
    NavItem(_("辖区单位"), "tenancy:org_list", "jurisdiction.view", icon="buildings", order=11),
]
