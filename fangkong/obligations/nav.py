from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("待办义务"), "obligations:list", "obligations.view", icon="list-check", order=240),
]
