from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("人员台账"), "people_list", "people.view", icon="users", order=20),
    NavItem(_("导入人员"), "people_import", "people.import", icon="file-import", order=21),
]
