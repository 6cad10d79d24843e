"""Pure rules: no database."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, time
from urllib.parse import parse_qs, unquote_plus, urlsplit
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangkong.notify import rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
MSG = rules.Message(event="health.fever", level="warning", title="发热", body="张三 38.2 ℃", link="",
                    organization_id=7, at="2021-06-01T08:00:00+08:00")


@pytest.mark.parametrize(("language", "expected"), [
    ("zh-hans", "中文"), ("", "中文"), ("en", "English"), ("en-us", "English"), ("EN", "English"), ("fr", "中文"),
])
def test_pick_text(language, expected):
    assert rules.pick_text({"zh-hans": "中文", "en": "English"}, language) == expected


def test_pick_text_falls_back_when_english_is_missing_or_empty():
    assert rules.pick_text({"zh-hans": "中文"}, "en") == "中文"
    assert rules.pick_text({"zh-hans": "中文", "en": ""}, "en") == "中文"
    assert rules.pick_text({}, "en") == ""


def test_check_texts():
    rules.check_texts({"zh-hans": "标题"}, "通知标题")
    with pytest.raises(ValueError, match="通知标题不能为空"):
        rules.check_texts({"zh-hans": " "}, "通知标题")
    with pytest.raises(ValueError, match="缺少中文"):
        rules.check_texts({"en": "Title"}, "通知标题")


@pytest.mark.parametrize(("now", "start", "end", "quiet"), [
    (time(23, 0), time(22, 0), time(7, 0), True),
    (time(6, 59), time(22, 0), time(7, 0), True),
    (time(7, 0), time(22, 0), time(7, 0), False),
    (time(12, 0), time(22, 0), time(7, 0), False),
    (time(13, 0), time(12, 0), time(14, 0), True),
    (time(14, 0), time(12, 0), time(14, 0), False),
    (time(13, 0), None, None, False),
    (time(13, 0), time(8, 0), time(8, 0), False),
])
def test_in_quiet_hours(now, start, end, quiet):
    assert rules.in_quiet_hours(now, start, end) is quiet


def test_quiet_hours_end_crosses_midnight():
    late = datetime(2021, 6, 1, 23, 30, tzinfo=SHANGHAI)
    assert rules.quiet_hours_end(late, time(22, 0), time(7, 0)) == datetime(2021, 6, 2, 7, 0, tzinfo=SHANGHAI)
    early = datetime(2021, 6, 2, 5, 0, tzinfo=SHANGHAI)
    assert rules.quiet_hours_end(early, time(22, 0), time(7, 0)) == datetime(2021, 6, 2, 7, 0, tzinfo=SHANGHAI)
    noon = datetime(2021, 6, 2, 12, 0, tzinfo=SHANGHAI)
    assert rules.quiet_hours_end(noon, time(22, 0), time(7, 0)) is None


times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(now=times, start=times, end=times)
def test_quiet_hours_end_is_after_now_and_outside_the_window(now, start, end):
    moment = datetime(2021, 6, 1, now.hour, now.minute, tzinfo=SHANGHAI)
    until = rules.quiet_hours_end(moment, start, end)
    if until is None:
        assert not rules.in_quiet_hours(now, start, end)
    else:
        assert moment < until
        assert (until - moment).total_seconds() <= 24 * 3600
        assert until.time() == end
        assert not rules.in_quiet_hours(until.time(), start, end)


def test_only_alerts_break_quiet_hours():
    assert not rules.holds_for_quiet_hours("alert")
    assert rules.holds_for_quiet_hours("warning") and rules.holds_for_quiet_hours("info")


def test_masks():
    assert rules.mask_email("alice@example.org") == "a***e@example.org"
    assert rules.mask_email("al@example.org") == "a***@example.org"
    assert rules.mask_email("nonsense") == "***"
    assert rules.mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc") == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?***"
    )
    assert rules.mask_url("https://user:pw@hooks.example.org:8443/x") == "https://hooks.example.org:8443/x"


def test_absolute_link():
    assert rules.absolute_link("/health/1/", "https://fk.example.cn/") == "https://fk.example.cn/health/1/"
    assert rules.absolute_link("/health/1/", "") == "/health/1/"
    assert rules.absolute_link("https://x.example/", "https://fk.example.cn") == "https://x.example/"
    assert rules.absolute_link("", "https://fk.example.cn") == ""


def test_payload_formats():
    assert rules.payload_for("generic", MSG) == MSG.as_dict()
    text = "**【提醒】发热**\n\n张三 38.2 ℃"
    assert rules.payload_for("wecom", MSG) == {"msgtype": "markdown", "markdown": {"content": text}}
    assert rules.payload_for("dingtalk", MSG) == {"msgtype": "markdown", "markdown": {"title": "发热", "text": text}}


def test_wecom_content_is_cut_to_4096_bytes():
    long = rules.Message(**{**MSG.as_dict(), "body": "很长" * 2000})
    content = rules.wecom_payload(long)["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("…")


def test_dingtalk_signature_matches_the_documented_algorithm():
    # DingTalk's documentation: sign = urlEncode(base64(HmacSHA256(secret, timestamp + "\n" + secret)))
    secret, ts = "SECabc123", 1622505600000
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest())
    sign = rules.dingtalk_sign(ts, secret)
    assert unquote_plus(sign) == expected.decode()
    assert "+" not in sign and "/" not in sign and "=" not in sign  # URL-encoded
    url = rules.signed_dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=t", secret, ts)
    query = parse_qs(urlsplit(url).query)
    assert query == {"access_token": ["t"], "timestamp": [str(ts)], "sign": [expected.decode()]}
    assert rules.signed_dingtalk_url("https://x/robot", "", ts) == "https://x/robot"


def test_robot_error():
    assert rules.robot_error("wecom", b'{"errcode":0,"errmsg":"ok"}') == ""
    assert rules.robot_error("dingtalk", b'{"errcode":310000,"errmsg":"sign not match"}') == (
        "errcode=310000 sign not match"
    )
    assert rules.robot_error("generic", b'{"errcode":1}') == ""
    assert rules.robot_error("wecom", b"not json") == ""


def test_sms_text():
    assert rules.sms_text("发热提醒", "张三 38.2 ℃") == "【防控】发热提醒：张三 38.2 ℃"
    assert rules.sms_text("提醒", "") == "【防控】提醒"
    assert len(rules.sms_text("t", "长" * 1000)) == 300


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2400:3200::1", True), ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.8", False),
    ("172.16.5.5", False), ("169.254.169.254", False), ("::1", False), ("fe80::1%eth0", False), ("0.0.0.0", False),
    ("224.0.0.1", False), ("not-an-ip", False),
])
def test_is_public_address(address, public):
    assert rules.is_public_address(address) is public


def test_literal_host_is_internal():
    assert rules.literal_host_is_internal("http://127.0.0.1:8000/hook")
    assert rules.literal_host_is_internal("http://localhost/hook")
    assert rules.literal_host_is_internal("http://[::1]/hook")
    assert rules.literal_host_is_internal("http://169.254.169.254/latest/meta-data/")
    assert not rules.literal_host_is_internal("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    assert not rules.literal_host_is_internal("https://8.8.8.8/")
