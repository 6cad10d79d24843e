from __future__ import annotations

import pytest

from fangkong.core.tokens import token_issue
from fangkong.notify.models import Notification
from fangkong.notify.services import notify_send


def auth(user) -> dict[str, str]:
    _token, raw = token_issue(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def send(users, zh="打卡提醒", level="info"):
    return notify_send(recipients=users, title={"zh-hans": zh, "en": "Check-in reminder"},
                       body={"zh-hans": "请在 10:00 前完成今日健康打卡", "en": "Please check in by 10:00"}, level=level)


@pytest.mark.django_db
def test_list_own_notifications_and_unread_filter(client, world):
    (first,) = send([world.bob], zh="第一条")
    send([world.bob], zh="第二条", level="alert")
    send([world.alice], zh="别人的")
    Notification.objects.filter(pk=first.pk).update(read_at="2021-06-01T08:00:00+08:00")
    headers = auth(world.bob)
    data = client.get("/api/v1/notifications", **headers).json()
    assert [n["title"] for n in data["items"]] == ["第二条", "第一条"]
    assert (data["count"], data["unread_count"]) == (2, 1)
    data = client.get("/api/v1/notifications?unread=true", **headers).json()
    assert [n["title"] for n in data["items"]] == ["第二条"]
    assert data["items"][0]["level"] == "alert" and data["items"][0]["read_at"] is None
    assert client.get("/api/v1/notifications?level=info", **headers).json()["count"] == 1


@pytest.mark.django_db
def test_mark_read_own_only(client, world):
    (mine,) = send([world.bob])
    (theirs,) = send([world.charlie])
    headers = auth(world.bob)
    response = client.post(f"/api/v1/notifications/{mine.pk}/read", **headers)
    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    mine.refresh_from_db()
    assert mine.read_at is not None
    again = client.post(f"/api/v1/notifications/{mine.pk}/read", **headers)
    assert again.json()["read_at"] == response.json()["read_at"]  # marking twice keeps the first time

    response = client.post(f"/api/v1/notifications/{theirs.pk}/read", **headers)
    assert response.status_code == 404
    assert response.json()["message"] == "未找到或无权访问"
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.post("/api/v1/notifications/999999/read", **headers).status_code == 404


@pytest.mark.django_db
def test_read_all(client, world):
    send([world.bob])
    send([world.bob])
    (other,) = send([world.alice])
    headers = auth(world.bob)
    assert client.post("/api/v1/notifications/read-all", **headers).json() == {"updated": 2}
    assert client.get("/api/v1/notifications?unread=true", **headers).json()["count"] == 0
    other.refresh_from_db()
    assert other.read_at is None


@pytest.mark.django_db
def test_requires_authentication(client, world):
    assert client.get("/api/v1/notifications").status_code == 401
