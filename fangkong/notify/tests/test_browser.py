from __future__ import annotations

import pytest

from fangkong.notify.models import Delivery, Notification
from fangkong.notify.services import notify_send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_inbox_mark_read_in_place(page, live_server, world, browser_login):
    notify_send(recipients=[world.bob], title={"zh-hans": "一车间 张三 体温 38.2 ℃"},
                body={"zh-hans": "请联系本人并引导至发热门诊"}, level="alert", link="/notify/preferences/")
    notify_send(recipients=[world.bob], title={"zh-hans": "今日打卡提醒"}, body={"zh-hans": "10:00 前完成"})
    browser_login(page, live_server, "bob", "pw-bob")
    page.goto(f"{live_server.url}/notify/")
    assert page.locator("#notifications .list-group-item").count() == 2
    first = Notification.objects.get(title__startswith="今日")
    row = page.locator(f"#notification-{first.pk}")
    row.get_by_role("button", name="标为已读").click()
    page.wait_for_function(f"!document.querySelector('#notification-{first.pk} button')")  # swapped by HTMX
    assert "已读" in row.inner_text()
    first.refresh_from_db()
    assert first.read_at is not None
    assert page.url.endswith("/notify/")  # no full-page navigation
    # Opening the alert follows its link and marks it read.
    page.get_by_text("一车间 张三 体温 38.2 ℃").click()
    page.wait_for_url("**/notify/preferences/")
    assert Notification.objects.unread().count() == 0


def test_admin_adds_robot_and_sends_test_message(page, live_server, world, receiver, browser_login):
    browser_login(page, live_server, "alice", "pw-alice")
    page.goto(f"{live_server.url}/notify/webhooks/")
    page.fill("#id_name", "防疫办工作群")
    page.select_option("#id_kind", "wecom")
    page.fill("#id_url", receiver.url + "/cgi-bin/webhook/send?key=k1")
    with page.expect_navigation():
        page.get_by_role("button", name="添加").click()
    assert "已添加 Webhook：防疫办工作群" in page.inner_text("#toasts")
    with page.expect_navigation():
        page.get_by_role("button", name="发送测试消息").click()
    assert "/notify/deliveries/" in page.url
    assert "已发送" in page.inner_text("table")
    assert receiver.received[0].json["msgtype"] == "markdown"
    assert Delivery.objects.get().status == "sent"
