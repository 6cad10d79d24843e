from __future__ import annotations

import pytest

from fangkong.core import crypto

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def _with_phone(user, phone):
    user.phone = phone
    user.phone_hash = crypto.lookup_hash(phone)
    user.save()


def test_sign_in_by_username_and_by_phone(client, world):
    _with_phone(world.alice, "13812345678")
    r = client.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert r.status_code == 302
    client.post("/logout/")
    r = client.post("/login/", {"username": "138 1234 5678", "password": "pw-alice"})
    assert r.status_code == 302, "phone sign-in should work with spaces in the number"
    assert client.get("/api/v1/me").json()["username"] == "alice"


def test_wrong_password_or_unknown_phone_is_refused(client, world):
    _with_phone(world.alice, "13812345678")
    for username, password in (("alice", "nope"), ("13900000000", "pw-alice"), ("13812345678", "nope")):
        r = client.post("/login/", {"username": username, "password": password})
        assert r.status_code == 200
        assert "用户名/手机号或密码不正确" in r.content.decode()


def test_me_lists_memberships(client, world):
    client.force_login(world.bob)
    me = client.get("/api/v1/me").json()
    assert me["memberships"][0]["role"] == "unit_leader"
    assert me["memberships"][0]["node_name"] == "一车间"
