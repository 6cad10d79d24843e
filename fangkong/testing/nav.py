from typing import Any

from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

# Lazy like the labels, so the menu group follows the language; typed Any because NavItem.group says str.
_T: Any = _("检测")
_V: Any = _("疫苗接种")

NAV = [
    NavItem(_("检测计划"), "testing:programs", "tests.view", icon="calendar-repeat", group=_T, order=400),
    NavItem(_("采样登记"), "testing:sample_new", "tests.change", icon="test-pipe", group=_T, order=405, needs_organization=True),
    NavItem(_("样本"), "testing:samples", "tests.view", icon="list", group=_T, order=410),
    NavItem(_("录入结果"), "testing:result_new", "tests.change", icon="clipboard-check", group=_T, order=415, needs_organization=True),
    NavItem(_("导入结果"), "testing:result_import", "tests.change", icon="file-import", group=_T, order=420, needs_organization=True),
    NavItem(_("逾期未检"), "testing:overdue", "tests.view", icon="clock-exclamation", group=_T, order=425),
    NavItem(_("阳性发现"), "testing:findings", "tests.view", icon="alert-octagon", group=_T, order=430),
    NavItem(_("接种覆盖率"), "testing:coverage", "vaccinations.view", icon="vaccine", group=_V, order=440),
    NavItem(_("未接种人员"), "testing:unvaccinated", "vaccinations.view", icon="user-x", group=_V, order=445),
    NavItem(_("导入接种记录"), "testing:vaccination_import", "vaccinations.change", icon="file-import", group=_V,
            order=450, needs_organization=True),
]
