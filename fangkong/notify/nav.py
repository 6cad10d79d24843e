from django.utils.translation import gettext_lazy as _

from fangkong.core.navigation import NavItem

NAV = [
    NavItem(_("消息通知"), "notify_inbox", "notify.inbox", icon="bell", order=10),
    NavItem(_("通知设置"), "notify_preferences", "notify.inbox", icon="bell-cog", order=940),
    NavItem(_("群机器人/Webhook"), "notify_webhooks", "notify.webhooks", icon="webhook", order=860),
    NavItem(_("通知发送记录"), "notify_deliveries", "notify.webhooks", icon="send", order=870),
]
