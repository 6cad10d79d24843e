"""End to end in Chromium: alice confirms a proposed home quarantine, starts it at home, registers the two tests'
tubes (sampled on the due days, entered after the fact) and enters negative results by hand, sees the measure in
the "ready for release" list after the nightly sweep, releases it as the named approver and downloads the release
certificate (a PDF naming her)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from conftest import login
from fangkong.measures import services, tasks
from fangkong.measures.models import Measure
from fangkong.measures.tests.test_measures import decision

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_confirm_record_tests_ready_release_and_certificate(world, make_person, live_server, page):
    today = timezone.localdate()
    start, end = today - dt.timedelta(days=14), today - dt.timedelta(days=1)  # days 1–14 are over
    person = make_person(unit=world.workshop1, name="隔离人员甲")
    (m,) = services.measures_record_decisions(
        person=person, decisions=[decision(kind="home_quarantine", start=start, end=end, key="hq", days=(1, 14))],
        actor=world.officer, evaluation_date=start)
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm prompts
    login(page, live_server, "alice", "pw-alice")

    # Confirm from the list of proposals.
    page.goto(f"{live_server.url}/measures/?status=proposed")
    row = page.locator("#measures tbody tr", has_text="隔离人员甲")
    with page.expect_navigation():
        row.locator("button", has_text="确认").click()
    assert Measure.objects.get(pk=m.pk).status == "confirmed"

    # Start it at home; the release is blocked: both tests have no result.
    page.goto(f"{live_server.url}/measures/person/{person.pk}/")
    with page.expect_navigation():
        page.click("#measures button:has-text('开始执行')")
    blockers = page.inner_text("[data-role=blockers]")
    assert f"核酸检测（{start.month}-{start.day}）尚无结果" in blockers
    assert page.locator("#measures button:has-text('解除')").is_disabled()

    # The two tubes, sampled on the due days (entered after the fact), and their negative results by hand.
    for i, due in enumerate((start, end)):
        code = f"HQ{due:%Y%m%d}{i}"
        page.goto(f"{live_server.url}/testing/samples/new/")
        page.fill("#id_tube_code", code)
        page.uncheck("#id_pooled")
        page.fill("#id_members", person.id_number)
        page.fill("#id_sampled_at", f"{due:%Y-%m-%d}T09:00")
        with page.expect_navigation():
            page.click("#sample-save")
        assert f"已登记管码 {code}（1 人）" in page.content()
        page.goto(f"{live_server.url}/testing/results/new/")
        page.fill("#id_tube_code", code)
        page.select_option("#id_result", "negative")
        with page.expect_navigation():
            page.click("#result-save")
        assert f"管码 {code}：阴性" in page.content()

    # The nightly sweep moves it to "ready for release"; the list shows it.
    assert tasks.mark_ready_for_release.call_local() == 1
    page.goto(f"{live_server.url}/measures/?status=ready_for_release")
    row = page.locator("#measures tbody tr", has_text="隔离人员甲")
    assert "第 14/14 天" in row.inner_text() and "居家" in row.inner_text()

    # Release as the named approver, then download the certificate.
    page.goto(f"{live_server.url}/measures/person/{person.pk}/")
    assert page.locator("[data-role=releasable]").is_visible()
    with page.expect_navigation():
        page.click("#measures button:has-text('解除')")
    assert "已解除" in page.content()
    assert "alice" in page.inner_text("[data-role=released]")
    released = Measure.objects.get(pk=m.pk)
    assert (released.status, released.released_by) == ("released", world.alice)
    person.refresh_from_db()
    assert person.measure_kind == ""
    with page.expect_download() as download:
        page.click("a:has-text('解除证明（PDF）')")
    body = Path(download.value.path()).read_bytes()
    assert body.startswith(b"%PDF") and len(body) > 1000
    assert download.value.suggested_filename == f"measure-{m.pk}-release.pdf"
