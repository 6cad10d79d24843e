"""Every page the UI links to works for every demo login: a crawl of the demo world.

Each demo user signs in and follows the links their pages show (navigation first, then the links on those pages,
breadth first, bounded), with GET only. A link the UI offers must not answer with an error: no 500 (a template or
query broken by data the unit tests did not think of), and no 403/404 (a link shown to someone who may not follow
it). Downloads (Excel, PDF) count as pages.
"""

from __future__ import annotations

import re
from collections import deque
from io import StringIO
from urllib.parse import urldefrag, urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client

pytestmark = pytest.mark.django_db

DEMO_LOGINS = ["admin", "county", "bureau", "factory", "hospital", "school", "workshop", "gate", "worker"]
PASSWORD = "fangkong-demo"
HREF = re.compile(r'href="([^"#][^"]*)"')
SKIP = ("/logout", "/i18n/", "/admin/", "/api/", "/static/", "/media/", "mailto:", "tel:", "javascript:")
PER_USER = 120  # pages per login: enough to reach every list, its filters and a detail or two


@pytest.fixture(scope="module")
def demo_world(django_db_setup, django_db_blocker):
    """Seeded once for the module (it takes tens of seconds), in a transaction rolled back at the end; each login's
    crawl runs in a savepoint of it."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            call_command("seed_demo", stdout=StringIO())
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _links(html: str) -> list[str]:
    out = []
    for raw in HREF.findall(html):
        url = urldefrag(raw.replace("&amp;", "&"))[0]
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith(SKIP):
            continue
        out.append(url)
    return out


def _crawl(client: Client) -> dict[str, int]:
    seen: dict[str, int] = {}
    queue: deque[str] = deque(["/"])
    shapes: set[str] = set()
    while queue and len(seen) < PER_USER:
        url = queue.popleft()
        if url in seen:
            continue
        # Visit one URL per shape (/people/12/ and /people/13/ are the same page) to cover more pages.
        shape = re.sub(r"\d+", "N", urlsplit(url).path) + ("?" if urlsplit(url).query else "")
        if shape in shapes:
            continue
        shapes.add(shape)
        response = client.get(url)
        seen[url] = response.status_code
        if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            queue.extend(_links(response.content.decode()))
    return seen


@pytest.mark.parametrize(("username", "language"), [
    *((name, "zh-hans") for name in DEMO_LOGINS),
    # English words pages through other catalogue entries: a translation that breaks a page shows only there.
    ("factory", "en"), ("county", "en"), ("hospital", "en"),
])
def test_every_link_a_demo_user_sees_works(demo_world, username, language):
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    assert client.login(username=username, password=PASSWORD), username
    visited = _crawl(client)
    assert len(visited) > 5, visited
    broken = {url: status for url, status in visited.items() if status >= 400}
    assert not broken, f"{username} is shown links that fail: {broken}"


def test_every_link_works_for_a_platform_administrator_without_memberships(demo_world):
    """A superuser with no membership has no acting organisation: `request.membership` is then a lazy object that
    wraps None (`is not None` is true of it), which took down /measures/ and the tracing task list."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root-only", password=PASSWORD)
    client = Client()
    assert client.login(username="root-only", password=PASSWORD)
    visited = _crawl(client)
    assert len(visited) > 5, visited
    broken = {url: status for url, status in visited.items() if status >= 400}
    assert not broken, f"links that fail: {broken}"
