"""The language chosen in the header is kept on the account: later messages use it, a new sign-in starts in it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from fangkong.conftest import make_user
from fangkong.notify.models import Notification
from fangkong.notify.services import notify_send

pytestmark = pytest.mark.django_db


def test_switching_language_is_remembered_and_words_later_messages():
    user = make_user("lan")
    client = Client()
    client.force_login(user)
    r = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert r.status_code == 302 and r.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    user.refresh_from_db()
    assert user.language == "en"
    notify_send(recipients=[user], title={"zh-hans": "提醒", "en": "Reminder"}, body={"zh-hans": "内容", "en": "Text"})
    assert Notification.objects.get(recipient=user).title == "Reminder"


def test_an_unknown_language_changes_nothing_and_anonymous_gets_only_the_cookie():
    user = make_user("lan2", language="zh-hans")
    client = Client()
    client.force_login(user)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
    user.refresh_from_db()
    assert user.language == "zh-hans"
    r = Client().post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert r.status_code == 302 and r.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_sign_in_restores_the_accounts_language():
    make_user("lan3", language="en")
    client = Client()
    r = client.post("/login/", {"username": "lan3", "password": "pw-lan3"})
    assert r.status_code == 302 and r.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert client.get("/").headers["Content-Language"] == "en"
    # Without a kept language the sign-in leaves the browser's choice alone.
    make_user("lan4")
    r = Client().post("/login/", {"username": "lan4", "password": "pw-lan4"})
    assert settings.LANGUAGE_COOKIE_NAME not in r.cookies


def test_the_header_names_each_language_in_itself():
    client = Client()
    client.force_login(make_user("lan5"))
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'value="en">English</option>' in page and "英语" not in page
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="zh-hans">简体中文</option>' in page
