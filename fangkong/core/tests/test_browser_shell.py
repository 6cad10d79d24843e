"""The UI shell in a real browser: sign in, switch organisation, change language, sign out, and the phone layout."""

from __future__ import annotations

import re

import pytest

from conftest import login
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_wrong_password_shows_the_error_then_the_right_one_lands_on_the_dashboard(page, live_server, world):
    login(page, live_server, "alice", "not-her-password")
    assert page.url.endswith("/login/")
    assert page.locator(".alert-danger").inner_text().strip() == "用户名/手机号或密码不正确。"

    login(page, live_server, "alice", "pw-alice")
    assert page.url == f"{live_server.url}/"
    assert page.locator("h2.page-title").inner_text().strip() == "工作台"
    # The header names the organisation she acts for, and the menu is hers.
    assert "长子县示范机械厂" in page.locator("header").inner_text()
    assert page.locator("#nav a", has_text="工作台").count() == 1


def test_switch_organisation_from_the_header(page, live_server, world):
    # A second membership: alice also administers the other organisation.
    tenancy.membership_grant(user=world.alice, role=Role.ORG_ADMIN, organization=world.other_org, actor=world.admin)
    login(page, live_server, "alice", "pw-alice")
    select = page.locator("#org-switcher #membership-select")
    assert select.locator("option:checked").inner_text().startswith("长子县示范机械厂")

    option_value = select.locator("option", has_text="太原某医院").get_attribute("value")
    with page.expect_navigation():
        select.select_option(option_value)
    assert page.locator("#toasts").inner_text().strip() == "已切换到：太原某医院"
    assert page.locator("#membership-select option:checked").inner_text().startswith("太原某医院")
    # The choice is kept in the session: another page still acts for the hospital.
    page.goto(f"{live_server.url}/tokens/")
    assert page.locator("#membership-select option:checked").inner_text().startswith("太原某医院")


def test_change_language_to_english_and_back(page, live_server, world):
    login(page, live_server, "alice", "pw-alice")
    with page.expect_navigation():
        page.locator("#language-form select").select_option("en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h2.page-title").inner_text().strip() == "Dashboard"
    nav = page.locator("#nav").inner_text()
    assert "Audit log" in nav and "API tokens" in nav
    assert "审计日志" not in nav

    with page.expect_navigation():
        page.locator("#language-form select").select_option("zh-hans")
    assert page.locator("h2.page-title").inner_text().strip() == "工作台"


def test_the_login_page_switches_language_too(page, live_server, world):
    page.goto(f"{live_server.url}/login/")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.locator("label[for=id_username]").inner_text().strip() == "Username or phone"
    assert page.get_by_role("button", name="Sign in").count() == 1


def test_sign_out(page, live_server, world):
    login(page, live_server, "alice", "pw-alice")
    page.locator("#account-menu").click()
    with page.expect_navigation():
        page.locator("#logout").click()
    assert re.search(r"/login/", page.url)
    # Signed out for real: a page behind sign-in sends her back to the form.
    page.goto(f"{live_server.url}/tokens/")
    assert "/login/" in page.url


def test_phone_layout_has_a_working_menu_and_switcher(phone_page, live_server, world):
    page = phone_page
    tenancy.membership_grant(user=world.alice, role=Role.ORG_ADMIN, organization=world.other_org, actor=world.admin)
    login(page, live_server, "alice", "pw-alice")
    # Nothing is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The switcher is visible without opening anything; the side menu opens from the toggler.
    assert page.locator("#membership-select").is_visible()
    assert not page.locator("#nav").is_visible()
    page.locator(".navbar-toggler").click()
    # Bootstrap adds .show when the collapse transition ends: a click while the menu still slides open can land
    # beside the moving link (seen once on a loaded machine).
    page.locator("#sidebar-menu.show").wait_for()
    page.locator("#nav a", has_text="审计日志").wait_for(state="visible")
    with page.expect_navigation():
        page.locator("#nav a", has_text="审计日志").click()
    assert page.locator("h2.page-title").inner_text().strip() == "审计日志"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_no_page_of_the_menu_is_wider_than_a_phone(phone_page, live_server, world, language):
    """English labels are longer: a filter's select sized to its longest option once pushed a page sideways."""
    page = phone_page
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    login(page, live_server, "alice", "pw-alice")
    links = page.eval_on_selector_all("#nav a[href^='/']", "els => els.map(e => e.getAttribute('href'))")
    assert len(links) > 10
    too_wide = []
    for href in dict.fromkeys(links):
        page.goto(f"{live_server.url}{href}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide.append(f"{href}: {width}px")
    assert not too_wide, too_wide
