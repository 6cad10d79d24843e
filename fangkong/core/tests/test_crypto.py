from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangkong.core import crypto
from fangkong.core.audit import diff

pytestmark = pytest.mark.smoke


@given(st.text(min_size=0, max_size=200))
def test_encrypt_round_trip(text):
    assert crypto.decrypt(crypto.encrypt(text)) == text


def test_ciphertexts_differ_but_lookup_hashes_agree():
    a, b = crypto.encrypt("11010519491231002X"), crypto.encrypt("11010519491231002X")
    assert a != b
    assert crypto.lookup_hash("11010519491231002x") == crypto.lookup_hash(" 11010519491231002X ")


def test_tampered_ciphertext_is_rejected():
    token = crypto.encrypt("13812345678")
    raw = bytearray(token.encode())
    raw[-3] = ord("A") if raw[-3] != ord("A") else ord("B")
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises InvalidTag or a decoding error
        crypto.decrypt(raw.decode())


@pytest.mark.parametrize(
    ("value", "masked"),
    [("11010519491231002X", "110105********002X"), ("E12345678", "E1*****78"), ("123", "***")],
)
def test_mask_id_number(value, masked):
    assert crypto.mask_id_number(value) == masked


def test_mask_phone():
    assert crypto.mask_phone("13812345678") == "138****5678"
    assert crypto.mask_phone("0355-1234567") == "035*****4567"


def test_audit_diff_masks_personal_values_and_skips_unchanged():
    changes = diff({"name": "张三", "id_number": "11010519491231002X"},
                   {"name": "张三", "id_number": "110105194912310029", "phone": "13900001111"})
    assert "name" not in changes
    assert changes["id_number"] == ["110105********002X", "110105********0029"]
    assert changes["phone"] == [None, "139****1111"]
