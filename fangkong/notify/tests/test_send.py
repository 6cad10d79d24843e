from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction
from django.utils import translation

from fangkong.core.errors import ServiceError
from fangkong.notify import recipients
from fangkong.notify.models import Delivery, Notification, NotificationPreference
from fangkong.notify.services import notify_send
from fangkong.notify.sms import MemorySmsBackend
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role

TITLE = {"zh-hans": "发热提醒", "en": "Fever alert"}
BODY = {"zh-hans": "张三体温 38.2 ℃", "en": "Zhang San: 38.2 °C"}


def send(users, **kw):
    kw.setdefault("title", TITLE)
    kw.setdefault("body", BODY)
    return notify_send(recipients=users, **kw)


@pytest.mark.django_db
def test_each_recipient_gets_their_language(world, django_capture_on_commit_callbacks):
    world.bob.language = "en"
    world.bob.save()
    with django_capture_on_commit_callbacks(execute=True):
        created = send([world.alice, world.bob, world.alice], link="/health/1/", level="alert", event="health.fever")
    assert len(created) == 2  # alice listed twice, told once
    by_user = {n.recipient_id: n for n in Notification.objects.all()}
    assert (by_user[world.alice.pk].title, by_user[world.alice.pk].body) == ("发热提醒", "张三体温 38.2 ℃")
    assert (by_user[world.bob.pk].title, by_user[world.bob.pk].body) == ("Fever alert", "Zhang San: 38.2 °C")
    assert {n.level for n in created} == {"alert"}
    assert by_user[world.bob.pk].link == "/health/1/"


@pytest.mark.django_db
def test_dedupe_key_creates_nothing_the_second_time(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = send([world.alice], dedupe_key="checkin-reminder:2021-06-01")
        second = send([world.alice, world.bob], dedupe_key="checkin-reminder:2021-06-01")
        third = send([world.alice, world.bob], dedupe_key="checkin-reminder:2021-06-01")
    assert len(first) == 1
    assert [n.recipient for n in second] == [world.bob]
    assert third == []
    assert Notification.objects.filter(recipient=world.alice).count() == 1
    assert len(callbacks) == 2  # the call that created nothing queued nothing


@pytest.mark.django_db(transaction=True)
def test_rollback_removes_rows_and_queues_nothing(world, monkeypatch):
    queued = []
    monkeypatch.setattr("fangkong.notify.services._queue_dispatch", lambda ids, message: queued.append(ids))
    world.alice.email = "alice@example.org"
    world.alice.save()
    with pytest.raises(RuntimeError), transaction.atomic():
        send([world.alice], organization_id=world.factory.pk)
        assert Notification.objects.count() == 1
        raise RuntimeError("the caller's change failed")
    assert Notification.objects.count() == 0
    assert queued == []
    assert mail.outbox == []
    send([world.alice], organization_id=world.factory.pk)
    assert len(queued) == 1  # the same call outside a failing transaction does queue


@pytest.mark.django_db
def test_email_is_sent_after_commit_and_logged(world, django_capture_on_commit_callbacks):
    world.alice.email = "alice@example.org"
    world.alice.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (n,) = send([world.alice], link="/health/checkins/")
    assert mail.outbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.org"]
    assert message.subject == "[防控] 发热提醒"
    assert "张三体温 38.2 ℃" in message.body and "/health/checkins/" in message.body
    delivery = Delivery.objects.get(notification=n)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", "sent", 1)
    assert delivery.target == "a***e@example.org"


@pytest.mark.django_db
def test_sms_goes_through_the_configured_backend(world, settings, django_capture_on_commit_callbacks):
    settings.FANGKONG_SMS_BACKEND = "fangkong.notify.sms.MemorySmsBackend"
    MemorySmsBackend.outbox.clear()
    world.bob.phone = "13912345678"
    world.bob.save()
    NotificationPreference.objects.create(user=world.bob, email=False, sms=True)
    with django_capture_on_commit_callbacks(execute=True):
        (n,) = send([world.bob])
    assert MemorySmsBackend.outbox == [("13912345678", "【防控】发热提醒：张三体温 38.2 ℃")]
    delivery = Delivery.objects.get(notification=n)
    assert (delivery.channel, delivery.status, delivery.target) == ("sms", "sent", "139****5678")


@pytest.mark.django_db
def test_default_sms_backend_logs_masked_number(world, caplog, django_capture_on_commit_callbacks):
    world.bob.phone = "13912345678"
    world.bob.save()
    NotificationPreference.objects.create(user=world.bob, email=False, sms=True)
    with caplog.at_level("INFO", logger="fangkong.notify.sms"), django_capture_on_commit_callbacks(execute=True):
        send([world.bob])
    logged = [r.getMessage() for r in caplog.records if r.name == "fangkong.notify.sms"]
    assert logged == ["SMS to 139****5678: 【防控】发热提醒：张三体温 38.2 ℃"]


@pytest.mark.django_db
def test_bad_input_is_refused_with_a_reason(world):
    with pytest.raises(ServiceError, match="级别"):
        send([world.alice], level="urgent")
    with pytest.raises(ServiceError, match="中文"):
        send([world.alice], title={"en": "only English"})
    with pytest.raises(ServiceError, match="通知内容不能为空"):
        send([world.alice], body={})
    with pytest.raises(ServiceError, match="过长"):
        send([world.alice], link="/x/" * 200)


@pytest.mark.django_db
def test_bad_input_is_refused_in_english(world):
    with translation.override("en"):
        with pytest.raises(ServiceError, match=r"^The notification body is empty$") as err:
            send([world.alice], body={})
        assert err.value.field_errors == {"body": ["The notification body is empty"]}
        with pytest.raises(ServiceError, match=r"^The notification title has no Chinese \(zh-hans\) text$"):
            send([world.alice], title={"en": "only English"})
        with pytest.raises(ServiceError, match=r"^Notification level “urgent” is not valid; choose one of: "
                                               r"info, warning, alert$"):
            send([world.alice], level="urgent")


@pytest.mark.django_db
def test_recipients_follow_memberships(world):
    assert recipients.unit_leaders(world.team1) == [world.bob]  # bob leads the workshop above the team
    assert recipients.unit_leaders(world.workshop2) == []
    assert recipients.org_admins(world.factory) == [world.alice]
    assert recipients.jurisdiction_officers(world.county) == [world.officer]
    assert recipients.jurisdiction_officers(world.city) == []
    tenancy.membership_grant(user=world.charlie, role=Role.UNIT_LEADER, unit=world.team1, actor=world.admin)
    assert recipients.unit_leaders(world.team1) == [world.bob, world.charlie]
    world.bob.is_active = False
    world.bob.save()
    assert recipients.unit_leaders(world.team1) == [world.charlie]


@pytest.mark.django_db
def test_person_user(world, make_person):
    person = make_person()
    assert recipients.person_user(person) == []
    person.user = world.bob
    person.save()
    assert recipients.person_user(person) == [world.bob]


@pytest.mark.django_db
def test_quiet_hours_hold_routine_messages_but_not_alerts(world, django_capture_on_commit_callbacks):
    import datetime as dt
    from zoneinfo import ZoneInfo

    import time_machine
    from huey.contrib.djhuey import HUEY

    from fangkong.notify.tests.conftest import run_scheduled

    world.bob.email = "bob@example.org"
    world.bob.save()
    NotificationPreference.objects.create(user=world.bob, email=True, quiet_start=dt.time(22), quiet_end=dt.time(7))
    with time_machine.travel(dt.datetime(2021, 6, 1, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            send([world.bob], level="info")
        assert mail.outbox == []
        (held,) = HUEY.scheduled()
        assert held.eta == dt.datetime(2021, 6, 1, 23, 0)  # 07:00 in Shanghai, as Huey's naive UTC
        with django_capture_on_commit_callbacks(execute=True):
            send([world.bob], level="alert")
        assert len(mail.outbox) == 1  # an alert does not wait
    assert run_scheduled() == 1
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_purge_removes_only_what_is_past_retention(world):
    import datetime as dt

    from django.utils import timezone

    from fangkong.notify.services import notifications_purge

    old, recent = send([world.alice])[0], send([world.alice])[0]
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=181))
    Delivery.objects.create(notification=recent, channel="email", target="a***@x", status="sent")
    stale = Delivery.objects.create(channel="webhook", target="https://x/", status="failed")
    Delivery.objects.filter(pk=stale.pk).update(created_at=timezone.now() - dt.timedelta(days=200))
    assert notifications_purge() == {"notifications": 1, "deliveries": 1}
    assert list(Notification.objects.values_list("pk", flat=True)) == [recent.pk]
    assert Delivery.objects.count() == 1
