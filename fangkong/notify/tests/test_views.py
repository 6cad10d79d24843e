from __future__ import annotations

import pytest

from fangkong.core.models import AuditEvent
from fangkong.notify.models import Delivery, NotificationPreference, WebhookEndpoint
from fangkong.notify.services import notify_send, webhook_create


def send(users, zh="打卡提醒", level="info", link=""):
    return notify_send(recipients=users, title={"zh-hans": zh, "en": "Reminder"},
                       body={"zh-hans": "请完成今日健康打卡", "en": "Please check in"}, level=level, link=link)


@pytest.mark.django_db
def test_inbox_lists_own_notifications_paginated(client, world):
    for i in range(30):
        send([world.bob], zh=f"提醒{i:02d}")
    send([world.alice], zh="别人的通知")
    client.force_login(world.bob)
    page1 = client.get("/notify/").content.decode()
    assert "提醒29" in page1 and "提醒05" in page1 and "提醒04" not in page1  # 25 a page, newest first
    assert "别人的通知" not in page1
    page2 = client.get("/notify/?page=2").content.decode()
    assert "提醒04" in page2 and "提醒29" not in page2
    assert "提醒07" in client.get("/notify/?q=提醒07").content.decode()
    assert "提醒08" not in client.get("/notify/?q=提醒07").content.decode()


@pytest.mark.django_db
def test_inbox_empty_state(client, world):
    client.force_login(world.bob)
    html = client.get("/notify/").content.decode()
    assert 'class="fk-empty"' in html and "还没有通知" in html


@pytest.mark.django_db
def test_mark_read_and_all_read(client, world):
    a, b = send([world.bob])[0], send([world.bob])[0]
    (theirs,) = send([world.alice])
    client.force_login(world.bob)
    assert client.post(f"/notify/{theirs.pk}/read/").status_code == 404
    response = client.post(f"/notify/{a.pk}/read/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "notify-changed"
    assert f'id="notification-{a.pk}"' in response.content.decode()
    assert 'id="inbox-unread" hx-swap-oob="true">1 条未读<' in response.content.decode()  # the page's count too
    a.refresh_from_db()
    assert a.read_at is not None
    response = client.post("/notify/read-all/")
    assert response.status_code == 302
    b.refresh_from_db()
    theirs.refresh_from_db()
    assert b.read_at is not None and theirs.read_at is None


@pytest.mark.django_db
def test_open_marks_read_and_follows_only_local_links(client, world):
    (local,) = send([world.bob], link="/health/checkins/")
    (external,) = send([world.bob], link="https://evil.example.com/")
    client.force_login(world.bob)
    response = client.get(f"/notify/{local.pk}/open/")
    assert response.status_code == 302 and response["Location"] == "/health/checkins/"
    local.refresh_from_db()
    assert local.read_at is not None
    assert client.get(f"/notify/{external.pk}/open/")["Location"] == "/notify/"


@pytest.mark.django_db
def test_badge_counts_unread(client, world):
    client.force_login(world.bob)
    html = client.get("/notify/badge/").content.decode()
    assert 'id="notify-count"' not in html and "ti-bell" in html
    send([world.bob])
    send([world.bob], level="alert")
    html = client.get("/notify/badge/").content.decode()
    assert 'id="notify-count">2<' in html and "ti-bell-ringing" in html


@pytest.mark.django_db
def test_preferences_page_saves_and_validates(client, world):
    client.force_login(world.bob)
    assert client.get("/notify/preferences/").status_code == 200
    response = client.post("/notify/preferences/", {"sms": "on", "quiet_start": "22:00", "quiet_end": "07:00"})
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(user=world.bob)
    assert (pref.email, pref.sms, pref.quiet_start.hour, pref.quiet_end.hour) == (False, True, 22, 7)
    response = client.post("/notify/preferences/", {"email": "on", "quiet_start": "22:00"})
    assert response.status_code == 200
    assert "开始和结束时间需同时填写" in response.content.decode()


@pytest.mark.django_db
def test_webhook_pages_for_org_admin_only(client, world):
    client.force_login(world.bob)  # a unit leader manages no webhooks
    assert client.get("/notify/webhooks/").status_code == 403
    assert client.get("/notify/deliveries/").status_code == 403
    client.force_login(world.alice)
    assert "还没有配置群机器人" in client.get("/notify/webhooks/").content.decode()
    response = client.post("/notify/webhooks/", {
        "organization": world.factory.pk, "name": "防疫办工作群", "kind": "wecom",
        "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-key", "levels": ["alert"],
    })
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.levels == ["alert"] and endpoint.organization == world.factory
    html = client.get("/notify/webhooks/").content.decode()
    assert "防疫办工作群" in html and "secret-key" not in html and "?***" in html
    assert AuditEvent.objects.filter(action="notify.webhook_create", object_id=str(endpoint.pk)).exists()


@pytest.mark.django_db
def test_webhook_form_errors_are_shown(client, world):
    client.force_login(world.alice)
    response = client.post("/notify/webhooks/", {
        "organization": world.factory.pk, "name": "x", "kind": "generic", "url": "ftp://example.org/", "levels": ["alert"],
    })
    assert response.status_code == 200
    assert "地址必须以 http:// 或 https:// 开头" in response.content.decode()
    response = client.post("/notify/webhooks/", {
        "organization": world.other_org.pk, "name": "x", "kind": "generic", "url": "https://example.org/",
        "levels": ["alert"],
    })
    assert response.status_code == 200  # another tenant's organisation is not a choice
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_other_tenant_gets_404_on_webhooks(client, world):
    endpoint = webhook_create(organization=world.factory, name="群", kind="generic", url="https://example.org/h",
                              levels=["alert"], actor=world.alice)
    client.force_login(world.charlie)
    assert client.get(f"/notify/webhooks/{endpoint.pk}/edit/").status_code == 404
    assert client.post(f"/notify/webhooks/{endpoint.pk}/delete/").status_code == 404
    assert client.post(f"/notify/webhooks/{endpoint.pk}/test/").status_code == 404
    assert f'id="webhook-{endpoint.pk}"' not in client.get("/notify/webhooks/").content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.django_db
def test_edit_keeps_url_and_secret_unless_replaced(client, world):
    endpoint = webhook_create(organization=world.factory, name="钉钉群", kind="dingtalk",
                              url="https://oapi.dingtalk.com/robot/send?access_token=t1", secret="SEC1",
                              levels=["alert"], actor=world.alice)
    client.force_login(world.alice)
    response = client.post(f"/notify/webhooks/{endpoint.pk}/edit/", {
        "name": "钉钉工作群", "kind": "dingtalk", "levels": ["warning", "alert"], "is_active": "on",
    })
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.secret, endpoint.levels) == ("钉钉工作群", "SEC1", ["warning", "alert"])
    assert endpoint.url.endswith("access_token=t1")
    client.post(f"/notify/webhooks/{endpoint.pk}/edit/", {
        "name": "钉钉工作群", "kind": "dingtalk", "levels": ["alert"], "clear_secret": "on",
        "url": "https://oapi.dingtalk.com/robot/send?access_token=t2",
    })
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.is_active) == ("", False)
    assert endpoint.url.endswith("access_token=t2")


@pytest.mark.django_db
def test_delete_webhook(client, world):
    endpoint = webhook_create(organization=world.factory, name="群", kind="generic", url="https://example.org/h",
                              levels=["alert"], actor=world.alice)
    client.force_login(world.alice)
    assert 'data-confirm="' in client.get("/notify/webhooks/").content.decode()
    assert client.post(f"/notify/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.filter(action="notify.webhook_delete").exists()


@pytest.mark.django_db
def test_test_button_and_delivery_log_filter(client, world, receiver, closed_port_url,
                                             django_capture_on_commit_callbacks):
    good = webhook_create(organization=world.factory, name="好的群", kind="generic", url=receiver.url + "/ok",
                          levels=["alert"], actor=world.alice)
    bad = webhook_create(organization=world.factory, name="坏的群", kind="generic", url=closed_port_url,
                         levels=["alert"], actor=world.alice)
    theirs = webhook_create(organization=world.other_org, name="别家的群", kind="generic", url=receiver.url + "/x",
                            levels=["alert"], actor=world.charlie)
    client.force_login(world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/notify/webhooks/{good.pk}/test/")
        client.post(f"/notify/webhooks/{bad.pk}/test/")
    assert response.status_code == 302 and response["Location"] == f"/notify/deliveries/?webhook={good.pk}"
    assert len(receiver.received) == 1 and receiver.received[0].json["title"] == "防控系统测试消息"
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(world.charlie)
        client.post(f"/notify/webhooks/{theirs.pk}/test/")
    ids = {d.webhook_id: f'id="delivery-{d.pk}"' for d in Delivery.objects.all()}
    client.force_login(world.alice)
    html = client.get("/notify/deliveries/").content.decode()
    assert ids[good.pk] in html and ids[bad.pk] in html and ids[theirs.pk] not in html
    retrying = client.get("/notify/deliveries/?status=queued").content.decode()
    assert ids[bad.pk] in retrying and ids[good.pk] not in retrying and "无法连接" in retrying
    assert ids[good.pk] in client.get(f"/notify/deliveries/?webhook={good.pk}").content.decode()
    assert Delivery.objects.filter(status="sent").count() == 2  # alice's good one and charlie's


@pytest.mark.django_db
def test_nav_entries_follow_permissions(client, world):
    client.force_login(world.bob)
    html = client.get("/notify/").content.decode()
    assert "/notify/preferences/" in html and "/notify/webhooks/" not in html
    client.force_login(world.alice)
    html = client.get("/notify/").content.decode()
    assert "/notify/webhooks/" in html and "/notify/deliveries/" in html


@pytest.mark.django_db
def test_home_card_counts_unread(rf, world):
    from fangkong.notify.dashboard import cards

    request = rf.get("/")
    request.user = world.bob
    assert cards(request) == [{"title": "未读通知", "value": 0, "url": "/notify/?show=unread", "tone": ""}]
    send([world.bob])
    send([world.bob], level="alert")
    (card,) = cards(request)
    assert (card["value"], card["tone"], card["note"]) == (2, "danger", "其中 1 条警报")


@pytest.mark.django_db
def test_home_page_shows_the_card(client, world):
    send([world.bob], level="alert")
    client.force_login(world.bob)
    html = client.get("/").content.decode()
    assert "未读通知" in html and "其中 1 条警报" in html and "/notify/?show=unread" in html
