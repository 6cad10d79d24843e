from django.utils.translation import gettext_lazy as _

from fangkong.core.access import AUTHENTICATED
from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("工作台"), "home", AUTHENTICATED, icon="home", order=0),
    NavItem(_("审计日志"), "audit_log", "audit.view", icon="history", order=900),
    NavItem(_("API 令牌"), "tokens", AUTHENTICATED, icon="key", order=950),
]
