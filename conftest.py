import os

# Before Django reads its settings: in-memory Huey running tasks immediately, fast password hashing.
os.environ.setdefault("FANGKONG_TESTING", "1")

# Root fixtures: translations compiled before the run, regions reloaded after transactional flushes, and the
# browser harness (a session-wide headless Chromium driven by Playwright's sync API).
#
# Browser tests: mark them `@pytest.mark.browser` and `@pytest.mark.django_db(transaction=True)` and take `page`
# (1280x800) or `phone_page` (390x844) with `live_server`; `login(page, live_server, username, password)` signs in.

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


def _compile_messages() -> None:
    """Compile any .po newer than its .mo, so the English pages work without `make` (the .mo files are not in git).

    Written to a temporary `*.mo` beside it (ignored by git) and renamed, so a parallel run never reads half a
    catalogue. A .po that does not compile (someone is editing it) leaves the old .mo and only warns.
    """
    import tempfile
    import warnings

    for po in (ROOT / "locale").glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        fd, name = tempfile.mkstemp(dir=po.parent, prefix=".compiling-", suffix=".mo")
        os.close(fd)
        tmp = Path(name)
        try:
            if shutil.which("msgfmt"):
                subprocess.run(["msgfmt", "--check-format", "-o", str(tmp), str(po)], check=True,
                               capture_output=True)
            else:
                from babel.messages.mofile import write_mo
                from babel.messages.pofile import read_po

                with po.open("rb") as src, tmp.open("wb") as dst:
                    write_mo(dst, read_po(src))
            tmp.chmod(0o644)
            tmp.replace(mo)
        except Exception as exc:
            warnings.warn(f"could not compile {po}: {exc}", stacklevel=1)
        finally:
            tmp.unlink(missing_ok=True)


def pytest_configure(config: pytest.Config) -> None:
    # Only the controlling process compiles; xdist workers start after it and find the files ready.
    if not hasattr(config, "workerinput"):
        _compile_messages()


_db_blocker: Any = None


@pytest.fixture(scope="session", autouse=True)
def _keep_db_blocker(django_db_blocker: Any) -> None:
    global _db_blocker
    _db_blocker = django_db_blocker


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the site's default language (zh-Hans). LocaleMiddleware activates a request's language
    on the thread and never resets it, so a test that asks for English would otherwise leak English into the next
    test on the same process (the SQLite smoke run is a single process, so its order differs from xdist)."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def _is_transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool(marker and marker.kwargs.get("transaction")) or "transactional_db" in fixtures


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A transactional test (browser tests with live_server) ends with a flush that empties every table, including
    the administrative divisions loaded once per session (fangkong/conftest.py). With xdist the next test on the same
    worker may be an ordinary one, so load them again right after the flush, outside any test transaction."""
    yield
    # After the session's last test the test database is already gone (nextitem is None): nothing to restore.
    if _db_blocker is None or nextitem is None or not _is_transactional(item):
        return
    from django.db import connection

    from fangkong.geo.loader import load_regions
    from fangkong.geo.models import Region

    with _db_blocker.unblock():
        if not Region.objects.exists():
            load_regions()
        # Django's connections are context-local and this hook runs outside the tests' context: it gets a
        # connection object of its own that nothing else closes. Left open, it kept pytest-django from dropping
        # the test database at the end ("is being accessed by other users").
        connection.close()


def _chromium_available() -> bool:
    return CHROMIUM.exists()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not _chromium_available():
        pytest.skip("/usr/bin/chromium is missing: install it with `apt-get install -y chromium` (make test does, as root)")
    # Playwright's sync API runs an event loop; Django would refuse ORM calls from that thread as "async unsafe".
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


def _new_page(browser: Any, width: int, height: int, **extra: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", timezone_id="Asia/Shanghai",
        accept_downloads=True, **extra,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context per test (no cookies carried over), desktop-sized."""
    yield from _new_page(browser, 1280, 800)


@pytest.fixture
def phone_page(browser: Any) -> Iterator[Any]:
    """A phone-sized page (390x844, touch), for checking that the shell works on a phone."""
    yield from _new_page(browser, 390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)


def login(page: Any, live_server: Any, username: str, password: str) -> None:
    """Sign in through the real form and wait for the page that follows."""
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    # Scripts (Bootstrap's collapse and dropdowns, HTMX) and fonts loaded: a busy machine is slow to serve them.
    page.wait_for_load_state("networkidle")


@pytest.fixture
def browser_login() -> Any:
    """The `login` helper as a fixture, for test modules that prefer not to import from the root conftest."""
    return login
