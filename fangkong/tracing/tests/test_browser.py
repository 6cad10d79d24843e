"""End to end in Chromium: the office confirms a case, runs tracing, opens the graph and downloads the assist list."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from django.utils import timezone

from conftest import login
from fangkong.access.models import Scan, Venue
from fangkong.tracing import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_confirm_trace_graph_and_assist_export(world, make_person, live_server, page):
    canteen = Venue.objects.create(organization=world.factory, name="一食堂", kind="canteen")
    other_canteen_user = make_person(name="外单位丙", organization=world.other_org)
    case_person = make_person(name="病例甲")
    contact = make_person(name="密接乙")
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    for person, start, minutes in ((case_person, noon, 40), (contact, noon, 30),
                                   (other_canteen_user, noon + timedelta(minutes=5), 30)):
        Scan.objects.create(organization=world.factory, venue=canteen, person=person, direction="entry", at=start,
                            left_at=start + timedelta(minutes=minutes), decision="admit")
    case = services.case_create(person_id=case_person.pk, actor=world.alice, onset_date=date.today())

    page.on("dialog", lambda dialog: dialog.accept())
    login(page, live_server, "officer", "pw-officer")
    page.goto(f"{live_server.url}/tracing/cases/{case.pk}/")
    with page.expect_navigation():
        page.click("#confirm-case")
    assert "确诊病例" in page.inner_text("#case-status")
    with page.expect_navigation():
        page.click("#run-trace")
    assert "密接 2 人" in page.inner_text("#snapshot-counts")
    rows = page.locator("#contact-table tbody tr")
    assert rows.count() == 2
    assert "同场所停留" in page.inner_text("#contact-table") and "30 分钟" in page.inner_text("#contact-table")
    assert page.locator("#contact-table tr.table-warning").count() == 2  # both new on the first run

    page.goto(f"{live_server.url}/tracing/graph/")
    page.wait_for_selector("#graph[data-ready='3']")
    assert page.locator("#graph canvas").count() >= 1

    page.goto(f"{live_server.url}/tracing/cases/{case.pk}/")
    with page.expect_navigation():
        page.click("#make-assist")
    with page.expect_download() as info:
        page.click("#assist-table a:has-text('下载名单')")
    data = Path(info.value.path()).read_bytes()
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and [r[0] for r in rows[1:]] == ["外单位丙"]
