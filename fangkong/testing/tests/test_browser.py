"""End to end in Chromium: alice registers a 10-in-1 pooled tube by scanning ID numbers, enters a positive result
(everyone in the tube gets an individual re-test, the office is alerted), records a dose and sees the coverage."""

from __future__ import annotations

import pytest

from conftest import login
from fangkong.notify.models import Notification
from fangkong.obligations.models import Obligation
from fangkong.testing.models import Sample

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pooled_sample_positive_result_and_vaccination(world, make_person, live_server, page):
    people = [make_person(unit=world.workshop1, name=f"职工{i}") for i in range(10)]
    login(page, live_server, "alice", "pw-alice")

    page.goto(f"{live_server.url}/testing/samples/new/")
    page.fill("#id_tube_code", "HC20211110001")
    page.fill("#id_members", "\n".join(p.id_number for p in people))
    with page.expect_navigation():
        page.click("#sample-save")
    assert "已登记管码 HC20211110001（10 人）" in page.content()
    assert Sample.objects.get().members.count() == 10

    page.goto(f"{live_server.url}/testing/results/new/")
    page.fill("#id_tube_code", "HC20211110001")
    page.select_option("#id_result", "positive")
    with page.expect_navigation():
        page.click("#result-save")
    assert "已为 10 人生成立即复检任务并通知防控办" in page.content()
    retests = Obligation.objects.filter(source__startswith="retest:sample:")
    assert sorted(retests.values_list("person_id", flat=True)) == sorted(p.pk for p in people)
    assert Notification.objects.filter(recipient=world.alice, event="testing.positive").exists()

    page.goto(f"{live_server.url}/testing/vaccinations/person/{people[0].pk}/")
    page.fill("#id_dose_number", "1")
    page.fill("#id_vaccinated_on", "2021-06-01")
    with page.expect_navigation():
        page.click("#dose-save")
    assert page.inner_text("#vax-status") == "未全程"

    page.goto(f"{live_server.url}/testing/vaccinations/coverage/")
    row = page.inner_text("#coverage tbody tr")
    assert "一车间" in row and "10.0%" in row
