from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("病例与流调"), "tracing:case_list", "cases.view", icon="virus", order=500),
    NavItem(_("传播关系图"), "tracing:graph", "tracing.view", icon="topology-star-3", order=501),
    NavItem(_("流调任务"), "tracing:task_list", "investigations.view", icon="checklist", order=502),
    NavItem(_("协查名单"), "tracing:assist_list", "assists.view", icon="file-export", order=503),
    NavItem(_("同住与会议"), "tracing:groups", "cases.view", icon="users-group", order=504),
]
