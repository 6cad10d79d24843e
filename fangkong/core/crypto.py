"""Encryption at rest for personal data, keyed lookups, and masking for display.

ID numbers and phone numbers are stored AES-GCM encrypted (a fresh nonce each time, so equal values do not look
equal in the database) with an HMAC-SHA256 beside them for exact lookups and de-duplication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_PREFIX = "v1:"


@cache
def _keys(master: str) -> tuple[AESGCM, bytes]:
    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=SHA256(), length=32, salt=b"fangkong", info=info).derive(master.encode())

    return AESGCM(derive(b"encryption")), derive(b"lookup-hmac")


def _aead() -> AESGCM:
    return _keys(settings.FANGKONG_DATA_KEY)[0]


def _mac_key() -> bytes:
    return _keys(settings.FANGKONG_DATA_KEY)[1]


def encrypt(plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = _aead().encrypt(nonce, plaintext.encode(), None)
    return _PREFIX + base64.b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    if not token.startswith(_PREFIX):
        raise ValueError("not an encrypted value")
    raw = base64.b64decode(token[len(_PREFIX) :])
    return _aead().decrypt(raw[:12], raw[12:], None).decode()


def normalize_identifier(value: str) -> str:
    """The form a value is hashed in: no spaces, upper case (the ID checksum letter is X or x)."""
    return "".join(value.split()).upper()


def lookup_hash(value: str) -> str:
    """Keyed hash for equality lookups; normalised so '11010519491231002x' finds '...002X'."""
    return hmac.new(_mac_key(), normalize_identifier(value).encode(), hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    """110105********1234: region and last four stay visible, the birth date is hidden."""
    value = normalize_identifier(value)
    if len(value) <= 6:
        return "*" * len(value)
    if len(value) < 12:
        return value[:2] + "*" * (len(value) - 4) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    value = "".join(value.split())
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
