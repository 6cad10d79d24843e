from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("今日打卡"), "health:checkin", "self.checkin", icon="thermometer", order=200),
    NavItem(_("晨午检"), "health:rollcall", "checkins.submit_others", icon="clipboard-list", order=205),
    NavItem(_("打卡记录"), "health:checkins", "checkins.view", icon="list", order=210),
    NavItem(_("打卡完成情况"), "health:compliance", "compliance.view", icon="chart-bar", order=215),
    NavItem(_("症状标记"), "health:flags", "health.flags", icon="alert-triangle", order=220),
    NavItem(_("因病缺勤"), "health:absences", "checkins.view", icon="bed", order=225),
    NavItem(_("聚集性预警"), "health:clusters", "checkins.view", icon="urgent", order=227),
    NavItem(_("待核实"), "health:integrity", "checkins.view", icon="zoom-question", order=230),
    NavItem(_("打卡设置"), "health:settings", "checkins.settings", icon="settings", order=235,
            needs_organization=True),
]
