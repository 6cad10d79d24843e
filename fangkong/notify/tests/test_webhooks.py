from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from django.core import mail
from django.utils import translation
from huey.contrib.djhuey import HUEY

from fangkong.notify.models import Delivery, Notification, WebhookEndpoint
from fangkong.notify.services import notify_send, webhook_create, webhook_send_test
from fangkong.notify.tests.conftest import run_scheduled

TITLE = {"zh-hans": "一车间发热人员", "en": "Fever in workshop 1"}
BODY = {"zh-hans": "张三 38.2 ℃，已引导至发热门诊", "en": "Zhang San 38.2 °C"}


def hook(world, receiver_url, kind="generic", levels=("warning", "alert"), secret="", path="/hook"):
    return webhook_create(
        organization=world.factory, name=f"{kind} robot", kind=kind, url=receiver_url + path, secret=secret,
        levels=levels, actor=world.alice,
    )


def send(world, *, level="alert", org=None, users=None):
    return notify_send(
        recipients=users if users is not None else [world.alice, world.bob], title=TITLE, body=BODY,
        link="/health/checkins/7/", level=level, organization_id=(org or world.factory).pk, event="health.fever",
    )


@pytest.mark.django_db
def test_generic_webhook_gets_one_json_message_per_event(world, receiver, settings,
                                                          django_capture_on_commit_callbacks):
    settings.FANGKONG_BASE_URL = "https://fk.example.cn"
    endpoint = hook(world, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        send(world)
    assert len(receiver.received) == 1  # two recipients, one group message
    got = receiver.received[0]
    assert got.path == "/hook"
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    at = got.json.pop("at")
    assert at.startswith("20")
    assert got.json == {
        "event": "health.fever", "level": "alert", "title": "一车间发热人员", "body": "张三 38.2 ℃，已引导至发热门诊",
        "link": "https://fk.example.cn/health/checkins/7/", "organization_id": world.factory.pk,
    }
    delivery = Delivery.objects.get(webhook=endpoint)
    assert (delivery.status, delivery.attempts, delivery.organization_id) == ("sent", 1, world.factory.pk)
    assert delivery.target == receiver.url + "/hook"  # no query string, nothing to hide


@pytest.mark.django_db
def test_wecom_markdown_format(world, receiver, django_capture_on_commit_callbacks):
    hook(world, receiver.url, kind="wecom", path="/cgi-bin/webhook/send?key=abc-123")
    with django_capture_on_commit_callbacks(execute=True):
        send(world)
    (got,) = receiver.received
    assert got.query == {"key": ["abc-123"]}
    assert got.json == {
        "msgtype": "markdown",
        "markdown": {"content": "**【警报】一车间发热人员**\n\n张三 38.2 ℃，已引导至发热门诊\n\n[查看详情](/health/checkins/7/)"},
    }
    assert Delivery.objects.get().target == receiver.url + "/cgi-bin/webhook/send?***"


@pytest.mark.django_db
def test_dingtalk_markdown_with_signature(world, receiver, django_capture_on_commit_callbacks):
    secret = "SEC0123456789abcdef"
    hook(world, receiver.url, kind="dingtalk", secret=secret, path="/robot/send?access_token=tok")
    with django_capture_on_commit_callbacks(execute=True):
        send(world)
    (got,) = receiver.received
    assert got.json == {
        "msgtype": "markdown",
        "markdown": {
            "title": "一车间发热人员",
            "text": "**【警报】一车间发热人员**\n\n张三 38.2 ℃，已引导至发热门诊\n\n[查看详情](/health/checkins/7/)",
        },
    }
    assert got.query["access_token"] == ["tok"]
    timestamp = got.query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert got.query["sign"] == [expected]


@pytest.mark.django_db
def test_dingtalk_without_secret_is_not_signed(world, receiver, django_capture_on_commit_callbacks):
    hook(world, receiver.url, kind="dingtalk", path="/robot/send?access_token=tok")
    with django_capture_on_commit_callbacks(execute=True):
        send(world)
    assert receiver.received[0].query == {"access_token": ["tok"]}


@pytest.mark.django_db
def test_only_matching_levels_and_own_organisation_are_forwarded(world, receiver,
                                                                django_capture_on_commit_callbacks):
    hook(world, receiver.url, levels=["alert"])
    inactive = hook(world, receiver.url, levels=["info", "warning", "alert"], path="/inactive")
    WebhookEndpoint.objects.filter(pk=inactive.pk).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        send(world, level="info")
        send(world, level="warning")
        send(world, level="alert", org=world.other_org, users=[world.charlie])
        notify_send(recipients=[world.alice], title=TITLE, body=BODY, level="alert")  # no organisation
    assert receiver.received == []
    with django_capture_on_commit_callbacks(execute=True):
        send(world, level="alert")
    assert [r.path for r in receiver.received] == ["/hook"]


@pytest.mark.django_db
def test_alert_without_recipients_still_reaches_the_group(world, receiver, django_capture_on_commit_callbacks):
    hook(world, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        assert send(world, users=[]) == []
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_repeated_alert_reaches_the_group_once(world, receiver, django_capture_on_commit_callbacks):
    hook(world, receiver.url)

    def alert(users):
        return notify_send(recipients=users, title=TITLE, body=BODY, level="alert",
                           organization_id=world.factory.pk, dedupe_key="health.flag:1")

    with django_capture_on_commit_callbacks(execute=True):
        alert([])  # nobody to tell in the inbox: the group chat is told
        alert([])  # the same alert again: deduplicated on the webhook delivery
    assert len(receiver.received) == 1
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert len(alert([world.alice])) == 1  # the inbox row is new; the group already has this alert
        assert alert([world.alice]) == []
    assert len(receiver.received) == 1
    assert len(callbacks) == 1  # the repeat with nothing new queued nothing
    assert Delivery.objects.get(webhook__isnull=False).dedupe_key == "health.flag:1"


@pytest.mark.django_db
def test_robot_errcode_counts_as_failure(world, receiver, django_capture_on_commit_callbacks):
    receiver.reply = {"errcode": 310000, "errmsg": "sign not match"}
    hook(world, receiver.url, kind="dingtalk", secret="SECwrong")
    with django_capture_on_commit_callbacks(execute=True):
        send(world)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert "310000" in delivery.last_error and "sign not match" in delivery.last_error


@pytest.mark.django_db
def test_failed_webhook_is_retried_three_times_then_failed(world, closed_port_url,
                                                            django_capture_on_commit_callbacks):
    webhook_create(organization=world.factory, name="broken", kind="generic", url=closed_port_url,
                   levels=["alert"], actor=world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        send(world)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("queued", 1)  # first attempt failed, a retry is scheduled
    assert delivery.last_error.startswith("无法连接")
    (retry,) = HUEY.scheduled()
    assert retry.retries == 2 and retry.eta is not None  # 60 s later, two more to go after it
    assert run_scheduled() == 3
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert HUEY.scheduled() == []


@pytest.mark.django_db
def test_failed_webhook_recovers_on_retry(world, receiver, django_capture_on_commit_callbacks):
    receiver.status = 502
    hook(world, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        send(world)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("queued", "HTTP 502 Bad Gateway")
    receiver.status = 200
    assert run_scheduled() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert delivery.sent_at is not None
    assert len(receiver.received) == 2


@pytest.mark.django_db
def test_failed_email_is_retried_without_resending_what_went_out(world, settings, monkeypatch,
                                                                  django_capture_on_commit_callbacks):
    from fangkong.notify.models import NotificationPreference
    from fangkong.notify.sms import MemorySmsBackend

    settings.FANGKONG_SMS_BACKEND = "fangkong.notify.sms.MemorySmsBackend"
    MemorySmsBackend.outbox.clear()
    world.alice.email, world.alice.phone = "alice@example.org", "13800001111"
    world.alice.save()
    NotificationPreference.objects.create(user=world.alice, email=True, sms=True)
    calls = {"n": 0}
    real_send = mail.get_connection().__class__.send_messages

    def flaky(self, messages):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionRefusedError("SMTP down")
        return real_send(self, messages)

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        (n,) = notify_send(recipients=[world.alice], title=TITLE, body=BODY)
    email = Delivery.objects.get(notification=n, channel="email")
    assert (email.status, email.attempts, email.last_error) == ("queued", 1, "ConnectionRefusedError: SMTP down")
    assert Delivery.objects.get(notification=n, channel="sms").status == "sent"
    run_scheduled()
    email.refresh_from_db()
    assert (email.status, email.attempts) == ("sent", 2)
    assert len(mail.outbox) == 1
    assert len(MemorySmsBackend.outbox) == 1  # the SMS was not sent again on the e-mail's retry


@pytest.mark.django_db
def test_send_test_message_ignores_levels(world, receiver, django_capture_on_commit_callbacks):
    endpoint = hook(world, receiver.url, kind="wecom", levels=["alert"])
    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhook_send_test(endpoint=endpoint, actor=world.alice)
    assert receiver.received[0].json["markdown"]["content"].startswith("**【通知】防控系统测试消息**")
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_secret_and_url_are_stored_encrypted(world, receiver):
    from django.db import connection

    endpoint = hook(world, receiver.url, kind="dingtalk", secret="SECtopsecret", path="/robot/send?access_token=t")
    with connection.cursor() as cur:
        cur.execute("SELECT url, secret FROM notify_webhookendpoint WHERE id = %s", [endpoint.pk])
        url, secret = cur.fetchone()
    assert "access_token" not in url and "SECtopsecret" not in secret
    assert WebhookEndpoint.objects.get().secret == "SECtopsecret"


@pytest.mark.django_db
def test_internal_addresses_are_refused_unless_allowed(world, receiver, settings,
                                                        django_capture_on_commit_callbacks):
    from fangkong.core.errors import ServiceError

    endpoint = hook(world, receiver.url)  # allowed while the tests' receiver needs it
    settings.FANGKONG_WEBHOOK_ALLOW_INTERNAL = False
    with pytest.raises(ServiceError, match="不能指向本机或内网地址"):
        webhook_create(organization=world.factory, name="metadata", kind="generic",
                       url="http://169.254.169.254/latest/meta-data/", levels=["alert"], actor=world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_send_test(endpoint=endpoint, actor=world.alice)
    assert receiver.received == []  # checked again when sending: the stored URL points at 127.0.0.1
    delivery = Delivery.objects.get()
    assert delivery.status == "queued" and "指向内网（127.0.0.1）" in delivery.last_error
    # Recorded by a task in the site's language; the log words it for an English reader.
    with translation.override("en"):
        assert delivery.error_text == "The target 127.0.0.1 points to an internal network (127.0.0.1); not sent"


@pytest.mark.django_db
def test_webhook_errors_in_english(world, settings):
    from fangkong.core.errors import ServiceError
    from fangkong.core.rule_errors import worded
    from fangkong.notify.channels import DeliveryError, check_destination

    settings.FANGKONG_WEBHOOK_ALLOW_INTERNAL = False
    with translation.override("en"):
        with pytest.raises(ServiceError, match=r"^Webhook Address: The address cannot point to this server or an "
                                               r"internal network$") as err:
            webhook_create(organization=world.factory, name="metadata", kind="generic",
                           url="http://169.254.169.254/latest/meta-data/", levels=["alert"], actor=world.alice)
        assert err.value.field_errors == {"url": ["The address cannot point to this server or an internal network"]}
        # A delivery's error keeps its Chinese sentence and is worded for its reader (the delivery log).
        with pytest.raises(DeliveryError, match="指向内网") as refused:
            check_destination("http://localhost:9/hook")
        assert worded(refused.value) == "The target localhost points to an internal network (127.0.0.1); not sent"


@pytest.mark.django_db
def test_retry_after_channel_switched_off_closes_the_delivery(world, monkeypatch,
                                                              django_capture_on_commit_callbacks):
    from fangkong.notify.models import NotificationPreference

    world.alice.email = "alice@example.org"
    world.alice.save()

    def down(self, messages):
        raise ConnectionRefusedError("SMTP down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", down)
    with django_capture_on_commit_callbacks(execute=True):
        (n,) = notify_send(recipients=[world.alice], title=TITLE, body=BODY)
    NotificationPreference.objects.create(user=world.alice, email=False)
    run_scheduled()
    delivery = Delivery.objects.get(notification=n)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "接收人已关闭该渠道或未登记地址，不再发送"


@pytest.mark.django_db
@pytest.mark.parametrize("code", [301, 302, 307])
def test_a_redirect_is_not_followed(world, receiver, code, django_capture_on_commit_callbacks):
    """check_destination looks at the address given; a redirect could point anywhere (169.254.169.254)."""
    endpoint = hook(world, receiver.url)
    receiver.status, receiver.headers = code, {"Location": "http://169.254.169.254/latest/meta-data/"}
    with django_capture_on_commit_callbacks(execute=True):
        webhook_send_test(endpoint=endpoint, actor=world.alice)
    assert len(receiver.received) == 1
    delivery = Delivery.objects.get()
    assert delivery.status != "sent" and "重定向" in delivery.last_error and "169.254.169.254" in delivery.last_error
