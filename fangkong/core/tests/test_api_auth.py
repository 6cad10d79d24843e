"""API authentication: a write without credentials is a 401 like a read, not a CSRF failure; a signed-in browser
session still needs its CSRF token (403 without it); a bearer token needs none.

The test client skips CSRF checks unless asked (`enforce_csrf_checks=True`), which hid the 403s: these tests ask.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string  # type: ignore[attr-defined]
from django.test import Client

from fangkong.core.models import AuditEvent
from fangkong.core.tokens import token_issue

pytestmark = pytest.mark.django_db

WRITES = [
    ("post", "/api/v1/people"),
    ("patch", "/api/v1/people/1"),
    ("delete", "/api/v1/people/1"),
    ("post", "/api/v1/notifications/read-all"),
]


@pytest.fixture
def strict_client() -> Client:
    return Client(enforce_csrf_checks=True)


def _send(client: Client, method: str, path: str, **extra):
    return getattr(client, method)(path, data="{}", content_type="application/json", **extra)


def _is_unauthenticated(r) -> bool:
    body = r.json()
    return r.status_code == 401 and set(body) == {"message", "errors"} and body["errors"] == {} and "CSRF" not in (
        body["message"])


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_an_anonymous_write_is_401_not_a_csrf_failure(strict_client, world, method, path):
    assert strict_client.get("/api/v1/people").status_code == 401  # the read already was
    r = _send(strict_client, method, path)
    assert _is_unauthenticated(r), (r.status_code, r.content)


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_write_with_a_bogus_bearer_token_is_401(strict_client, world, method, path):
    r = _send(strict_client, method, path, HTTP_AUTHORIZATION="Bearer fk_bogus")
    assert _is_unauthenticated(r), (r.status_code, r.content)


def test_an_anonymous_write_with_a_stale_session_cookie_is_401(strict_client, world):
    strict_client.cookies[settings.SESSION_COOKIE_NAME] = "no-such-session"
    r = _send(strict_client, "post", "/api/v1/notifications/read-all")
    assert _is_unauthenticated(r), (r.status_code, r.content)


def test_the_401_is_in_the_callers_language(strict_client, world):
    r = _send(strict_client, "post", "/api/v1/notifications/read-all", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 401 and r.json()["message"] == "Not signed in, or the token is not valid"


def test_a_signed_in_session_without_a_csrf_token_is_still_refused(strict_client, world):
    strict_client.force_login(world.alice)
    before = AuditEvent.objects.count()
    r = _send(strict_client, "post", "/api/v1/notifications/read-all")
    assert r.status_code == 403 and "CSRF" in r.json()["message"]
    # A bogus bearer token beside the session does not get around the check.
    r = _send(strict_client, "post", "/api/v1/notifications/read-all", HTTP_AUTHORIZATION="Bearer fk_bogus")
    assert r.status_code == 403
    assert AuditEvent.objects.count() == before
    # Reads need no token.
    assert strict_client.get("/api/v1/notifications").status_code == 200


def test_a_signed_in_session_with_its_csrf_token_may_write(strict_client, world):
    strict_client.force_login(world.alice)
    secret = _get_new_csrf_string()
    strict_client.cookies[settings.CSRF_COOKIE_NAME] = secret
    r = _send(strict_client, "post", "/api/v1/notifications/read-all", HTTP_X_CSRFTOKEN=secret)
    assert r.status_code == 200 and r.json() == {"updated": 0}


def test_a_valid_bearer_token_needs_no_csrf_token(strict_client, world):
    _token, raw = token_issue(user=world.alice, name="gate")
    r = _send(strict_client, "post", "/api/v1/notifications/read-all", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert r.status_code == 200 and r.json() == {"updated": 0}


def test_the_openapi_security_schemes_keep_their_names(client):
    schemes = client.get("/api/v1/openapi.json").json()["components"]["securitySchemes"]
    assert set(schemes) == {"BearerToken", "SessionAuth"}
    assert schemes["SessionAuth"] == {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


@pytest.mark.django_db
def test_an_offset_beyond_any_list_is_an_empty_page_not_a_500(world):
    _t, raw = token_issue(user=world.alice, name="t")
    client = Client()
    for path in ("/api/v1/people", "/api/v1/visits", "/api/v1/vehicles", "/api/v1/scans", "/api/v1/checkins"):
        r = client.get(path, {"offset": "99999999999999999999"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert r.status_code == 200, (path, r.content[:300])
        body = r.json()
        assert (body["items"] if isinstance(body, dict) else body) == [], path
