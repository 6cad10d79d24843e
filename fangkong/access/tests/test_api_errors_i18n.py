"""Validation errors of the API speak the caller's language, not pydantic's English."""

from __future__ import annotations

import pytest
from django.utils import timezone

from fangkong.core.validation_messages import pydantic_message

pytestmark = pytest.mark.django_db


def test_common_pydantic_errors_get_our_sentence_and_others_keep_theirs():
    assert pydantic_message({"type": "int_parsing", "msg": "Input should be a valid integer"}) == "应为整数"
    assert pydantic_message({"type": "literal_error", "ctx": {"expected": "'entry' or 'exit'"}}) == \
        "应为以下之一：'entry' or 'exit'"
    assert pydantic_message({"type": "something_new", "msg": "as pydantic says"}) == "as pydantic says"


def test_single_and_batch_scan_errors_in_chinese_and_english(world, gate_venue, make_person, api, client):
    person = make_person()
    caller = api(world.alice)
    r = caller.post("/scans", {"venue_id": gate_venue.pk, "person_id": "x", "at": "soon"})
    assert r.status_code == 422
    body = r.json()
    assert body["errors"]["person_id"] == ["应为整数"] and body["errors"]["at"][0].startswith("应为时间")
    assert "输入有误" in body["message"]
    items = [{"venue_id": gate_venue.pk, "person_id": person.pk, "at": timezone.now().isoformat(), "direction": "in"}]
    batch = client.post("/api/v1/scans/batch", {"items": items}, content_type="application/json",
                        HTTP_AUTHORIZATION=f"Bearer {caller.raw}", HTTP_ACCEPT_LANGUAGE="en")
    item = batch.json()["results"][0]
    assert not item["ok"] and item["errors"]["direction"] == ["must be one of: 'entry' or 'exit'"], item


def test_the_apis_own_error_messages_speak_the_callers_language(world, gate_venue, api, client):
    caller = api(world.alice)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {caller.raw}"}
    for lang, not_found, unauthenticated, bad_body in [
        ("en", "Not found, or not yours to see", "Not signed in, or the token is not valid",
         "Cannot parse the request body: JSON expected"),
        ("zh-hans", "未找到或无权访问", "未登录或令牌无效", "请求体无法解析：应为 JSON"),
    ]:
        r = client.get("/api/v1/venues/999999", HTTP_ACCEPT_LANGUAGE=lang, **headers)
        assert (r.status_code, r.json()["message"]) == (404, not_found)
        r = client.get("/api/v1/venues", HTTP_ACCEPT_LANGUAGE=lang, HTTP_AUTHORIZATION="Bearer fk_wrong")
        assert (r.status_code, r.json()["message"]) == (401, unauthenticated)
        r = client.post("/api/v1/scans", "{not json", content_type="application/json", HTTP_ACCEPT_LANGUAGE=lang,
                        **headers)
        assert r.status_code == 400 and r.json()["message"].startswith(bad_body)


def test_batch_item_errors_in_english(world, gate_venue, make_person, api, client):
    from datetime import timedelta

    person = make_person(name="英文测试")
    caller = api(world.alice)
    now = timezone.now()
    items = [
        {"venue_id": 999999, "person_id": person.pk, "at": now.isoformat()},
        {"venue_id": gate_venue.pk, "person_id": person.pk, "at": (now + timedelta(hours=1)).isoformat()},
        {"venue_id": gate_venue.pk, "person_id": person.pk, "at": now.isoformat(), "temperature": "29.0"},
        {"venue_id": gate_venue.pk, "person_id": person.pk, "at": now.isoformat(), "direction": "exit"},
        {"venue_token": "garbage", "person_id": person.pk, "at": now.isoformat()},
    ]
    results = client.post("/api/v1/scans/batch", {"items": items}, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {caller.raw}", HTTP_ACCEPT_LANGUAGE="en").json()["results"]
    errors = [r["errors"] for r in results]
    assert errors[0] == {"venue_id": ["Venue 999999 does not exist or is not yours to use"]}
    assert results[0]["message"] == "Item 1: Venue 999999 does not exist or is not yours to use"
    assert list(errors[1]) == ["at"] and errors[1]["at"][0].startswith("Scan time ")
    assert errors[2] == {"temperature": ["Temperature 29.0 ℃ is not between 30 and 45 ℃; please measure again"]}
    assert errors[3] == {"direction": [f"英文测试 has no open entry at “{gate_venue.name}”, so no exit can be recorded"]}
    assert errors[4] == {"venue_token": ["Invalid venue code: the signature does not match (a forged or altered QR code?)"]}
    # The same batch in Chinese.
    results = client.post("/api/v1/scans/batch", {"items": items[:1]}, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {caller.raw}", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"]
    assert results[0]["errors"] == {"venue_id": ["场所 999999 不存在或无权访问"]}
