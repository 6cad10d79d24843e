"""Lists of people under measures (kind, place, unit, jurisdiction, day N of M, overdue tests, ready for release),
counts by unit / organisation / jurisdiction, their Excel exports and API — set-based: query counts are asserted."""

from __future__ import annotations

import datetime as dt
from datetime import date
from io import BytesIO

import pytest
import time_machine
from django.utils import timezone

from fangkong.measures import selectors, services
from fangkong.measures.models import Measure
from fangkong.measures.tests.test_lifecycle import sample
from fangkong.measures.tests.test_measures import D, bearer, decision
from fangkong.obligations.models import Obligation

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2021, 9, 24, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # day 8 of 14


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def measure(world, person, *, kind="centralized_quarantine", status="in_progress", place="", key=None, **kw):
    (m,) = services.measures_record_decisions(person=person, decisions=[decision(kind=kind, key=key or kind, **kw)],
                                              actor=world.alice, evaluation_date=D)
    if status != "proposed":
        m = services.measure_confirm(measure=m, actor=world.alice)
    if status in ("in_progress", "ready_for_release", "released", "escalated"):
        m = services.measure_start(measure=m, place=place or "home" if kind != "centralized_quarantine"
                                   else place or "城东隔离酒店", actor=world.alice)
    if status in ("ready_for_release", "escalated"):
        Measure.objects.filter(pk=m.pk).update(status=status)
    return Measure.objects.get(pk=m.pk)


@pytest.fixture
def scene(world, make_person, frozen):
    """Factory: 2 in 一车间 (one in 一班), 1 in 二车间; the other organisation (another jurisdiction): 1."""
    a = make_person(unit=world.workshop1, name="甲")
    b = make_person(unit=world.team1, name="乙")
    c = make_person(unit=world.workshop2, name="丙")
    d = make_person(organization=world.other_org, name="丁")
    ma = measure(world, a, place="城东隔离酒店")  # day 1 and day 7 tests overdue
    for t in ma.tests.filter(day=1):
        sample(world, a, t.due_date, "negative")  # one done: one overdue left
    Obligation.objects.filter(source=f"measure:{ma.pk}", day=D).update(status="fulfilled")
    mb = measure(world, b, kind="home_quarantine", key="hq")
    mc = measure(world, c, kind="routine_testing", status="confirmed", key="rt", days=(1,))
    mc2 = measure(world, c, kind="home_health_monitoring", status="ready_for_release", key="hm", days=())
    md = measure(world, d, kind="home_quarantine", key="hq-d", days=())
    proposed = measure(world, a, kind="temperature_twice_daily", status="proposed", key="tt", days=())
    return {"a": a, "b": b, "c": c, "d": d, "ma": ma, "mb": mb, "mc": mc, "mc2": mc2, "md": md,
            "proposed": proposed}


def ids(qs):
    return {m.pk for m in qs}


def test_list_views_filters_day_and_overdue(world, scene, django_assert_num_queries):
    s = scene
    with django_assert_num_queries(1):
        rows = list(selectors.measure_list(user=world.admin, view="active"))
    assert ids(rows) == {s["ma"].pk, s["mb"].pk, s["mc"].pk, s["mc2"].pk, s["md"].pk}
    overdue = {m.pk: m.overdue_tests for m in rows}
    # a: day 1 fulfilled, day 7 overdue; b: days 1 and 7 overdue; c's routine test (day 1) overdue for c's measures.
    assert overdue == {s["ma"].pk: 1, s["mb"].pk: 2, s["mc"].pk: 1, s["mc2"].pk: 1, s["md"].pk: 0}
    assert ids(selectors.measure_list(user=world.admin, view="overdue")) == {
        s["ma"].pk, s["mb"].pk, s["mc"].pk, s["mc2"].pk}
    assert ids(selectors.measure_list(user=world.admin, view="ready_for_release")) == {s["mc2"].pk}
    assert ids(selectors.measure_list(user=world.admin, view="proposed")) == {s["proposed"].pk}
    assert ids(selectors.measure_list(user=world.admin, view="active", kind="home_quarantine")) == {
        s["mb"].pk, s["md"].pk}
    assert ids(selectors.measure_list(user=world.admin, view="active", place="城东")) == {s["ma"].pk}
    assert ids(selectors.measure_list(user=world.admin, view="active", place="居家")) == {
        s["mb"].pk, s["mc2"].pk, s["md"].pk}
    assert ids(selectors.measure_list(user=world.admin, view="active", unit_path=world.workshop1.path)) == {
        s["ma"].pk, s["mb"].pk}
    assert ids(selectors.measure_list(user=world.admin, view="active", jurisdiction_path=world.city.path)) == {
        s["ma"].pk, s["mb"].pk, s["mc"].pk, s["mc2"].pk}
    assert ids(selectors.measure_list(user=world.admin, view="active", jurisdiction_path=world.other_jurisdiction.path)) == {
        s["md"].pk}
    # Scope: the unit leader of 一车间 sees 一车间 and 一班 only; the other organisation's admin only its own.
    assert ids(selectors.measure_list(user=world.bob, view="active")) == {s["ma"].pk, s["mb"].pk}
    assert ids(selectors.measure_list(user=world.charlie, view="all")) == {s["md"].pk}
    assert selectors.day_label(s["ma"]) == "第 8/14 天"
    assert selectors.day_label(s["mc2"]) == "第 8/14 天"


def test_counts_by_unit_and_jurisdiction_in_one_query(world, scene, django_assert_num_queries):
    # One aggregate query; by unit, the units' full names in at most two more (several workshops have a 一班).
    with django_assert_num_queries(2):
        rows = selectors.measure_counts(user=world.admin, by="unit")
    by_name = {r.name: r for r in rows}
    assert set(by_name) == {"一车间", "一车间/一班", "二车间", "（未分配）"}
    assert (by_name["一车间"].total, by_name["一车间"].by_kind["centralized_quarantine"], by_name["一车间"].in_progress,
            by_name["一车间"].with_overdue) == (1, 1, 1, 1)
    assert (by_name["二车间"].total, by_name["二车间"].confirmed, by_name["二车间"].ready,
            by_name["二车间"].by_kind["routine_testing"], by_name["二车间"].by_kind["home_health_monitoring"]) == (
        2, 1, 1, 1, 1)
    with django_assert_num_queries(1):
        rows = selectors.measure_counts(user=world.admin, by="jurisdiction")
    assert {(r.name, r.total, r.with_overdue) for r in rows} == {
        ("长子县疫情防控指挥部", 4, 4), ("太原市疫情防控指挥部", 1, 0)}
    assert selectors.counts_total(rows).total == 5
    # The jurisdiction officer of the county sees the factory only.
    assert [(r.name, r.total) for r in selectors.measure_counts(user=world.officer, by="jurisdiction")] == [
        ("长子县疫情防控指挥部", 4)]
    assert selectors.measure_counts(user=world.admin, by="unit", kind="refuse_entry") == []


def test_list_page_query_count_does_not_grow_with_rows(client, world, make_person, frozen,
                                                     django_assert_max_num_queries):
    client.force_login(world.alice)
    people = [make_person(unit=world.workshop1) for _ in range(3)]
    for p in people:
        measure(world, p, kind="home_quarantine", key="hq")
    with django_assert_max_num_queries(20) as few:
        page = client.get("/measures/?status=active")
    assert page.status_code == 200
    for _ in range(12):
        measure(world, make_person(unit=world.workshop2), kind="home_quarantine", key="hq")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/measures/?status=active")
    body = page.content.decode()
    assert body.count("第 8/14 天") == 15 and "居家" in body


def test_list_page_tabs_empty_states_and_export(client, world, scene):
    import openpyxl

    client.force_login(world.alice)
    body = client.get("/measures/?status=overdue").content.decode()
    assert "甲" in body and "乙" in body and "城东隔离酒店" in body and "第 8/14 天" in body
    body = client.get(f"/measures/?status=overdue&unit={world.workshop2.pk}&kind=centralized_quarantine").content.decode()
    assert "没有逾期未检的管控人员" in body
    assert "没有待解除的措施" in client.get(f"/measures/?status=ready_for_release&unit={world.workshop1.pk}").content.decode()
    assert client.get("/measures/?status=active&unit=999999").status_code == 404
    response = client.get("/measures/export.xlsx?status=active&kind=home_quarantine")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(openpyxl.load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("姓名", "证件号码", "单位", "部门")
    assert [(r[0], r[5], r[7], r[10], r[11]) for r in rows[1:]] == [("乙", "居家隔离医学观察", "居家", "第 8/14 天", 2)]
    assert "*" in rows[1][1]  # the ID number stays masked
    from fangkong.core.models import AuditEvent
    assert AuditEvent.objects.filter(action="measure.export_list").count() == 1


def test_counts_page_and_export(client, world, scene):
    import openpyxl

    client.force_login(world.officer)
    body = client.get("/measures/counts/?by=jurisdiction").content.decode()
    assert "长子县疫情防控指挥部" in body and "太原市" not in body
    body = client.get("/measures/counts/?by=unit").content.decode()
    assert "一车间" in body and "二车间" in body
    response = client.get("/measures/counts/?by=unit&format=xlsx")
    rows = list(openpyxl.load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("部门", "单位", "管控中合计")
    assert rows[-1][0] == "合计" and rows[-1][2] == 4
    client.force_login(world.charlie)
    assert "范围内没有正在执行的管控措施" in client.get("/measures/counts/?kind=centralized_quarantine").content.decode()


def test_api_list_and_counts(client, world, scene, django_assert_max_num_queries):
    s = scene
    # Token, user, scope, count, the page, its tests: a fixed number whatever the page size.
    with django_assert_max_num_queries(10):
        data = client.get("/api/v1/measures?status=overdue&limit=10", **bearer(world.alice)).json()
    assert {i["id"]: (i["overdue_tests"], i["day"], i["days"]) for i in data["items"]} == {
        s["ma"].pk: (1, 8, 14), s["mb"].pk: (2, 8, 14), s["mc"].pk: (1, 8, 14), s["mc2"].pk: (1, 8, 14)}
    data = client.get(f"/api/v1/measures?status=active&unit={world.workshop1.pk}&place=home", **bearer(world.alice)).json()
    assert [i["id"] for i in data["items"]] == [s["mb"].pk]
    data = client.get(f"/api/v1/measures?status=active&jurisdiction={world.other_jurisdiction.pk}", **bearer(world.admin)).json()
    assert [i["id"] for i in data["items"]] == [s["md"].pk]
    bad = client.get("/api/v1/measures?status=nonsense", **bearer(world.alice))
    assert bad.status_code == 400 and "未知的状态" in bad.json()["message"]
    counts = client.get("/api/v1/measures/counts?by=unit", **bearer(world.alice)).json()
    assert {c["name"]: c["total"] for c in counts} == {"一车间": 1, "一车间/一班": 1, "二车间": 2}
    counts = client.get("/api/v1/measures/counts?by=jurisdiction", **bearer(world.admin)).json()
    assert {c["name"]: (c["total"], c["with_overdue_tests"]) for c in counts} == {
        "长子县疫情防控指挥部": (4, 4), "太原市疫情防控指挥部": (1, 0)}
    assert client.get("/api/v1/measures/counts?by=x", **bearer(world.alice)).status_code == 400
    assert client.get(f"/api/v1/measures/counts?unit={world.workshop1.pk}", **bearer(world.charlie)).status_code == 404


def test_ready_for_release_list_after_the_daily_sweep(world, make_person):
    person = make_person(unit=world.workshop1)
    with time_machine.travel(NOW, tick=False):
        m = measure(world, person, kind="home_quarantine", key="hq", days=(1,))
    sample(world, person, D, "negative")
    services.measures_mark_ready(today=date(2021, 10, 1))
    with time_machine.travel(dt.datetime(2021, 10, 1, 9, tzinfo=timezone.get_current_timezone()), tick=False):
        assert ids(selectors.measure_list(user=world.alice, view="ready_for_release")) == {m.pk}
        assert selectors.day_label(Measure.objects.get(pk=m.pk)) == "第 14/14 天"


def test_list_and_counts_pages_in_english_and_their_exports_stay_chinese(client, world, scene):
    import openpyxl
    from django.conf import settings

    client.force_login(world.admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = client.get("/measures/?status=active").content.decode()
    assert "Day 8 of 14" in body and "第 8/14 天" not in body
    body = client.get("/measures/counts/?by=unit").content.decode()
    assert "(unassigned)" in body and "（未分配）" not in body
    # The spreadsheets are the records kept under Chinese headers: their labels stay Chinese.
    response = client.get("/measures/export.xlsx?status=active&kind=home_quarantine")
    rows = list(openpyxl.load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and {(r[5], r[6], r[7], r[10]) for r in rows[1:]} == {
        ("居家隔离医学观察", "执行中", "居家", "第 8/14 天")}
    response = client.get("/measures/counts/?by=unit&format=xlsx")
    rows = list(openpyxl.load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("部门", "单位", "管控中合计", "集中隔离医学观察")
    assert "（未分配）" in [r[0] for r in rows] and rows[-1][0] == "合计"


def test_units_are_named_in_full_in_the_list_and_its_export(client, world, scene):
    """Three workshops each have a 甲班: a unit is named with its parents ('一车间/一班'), not by its last part."""
    import io

    import openpyxl

    from fangkong.tenancy import services as tenancy
    from fangkong.tenancy.unit_names import unit_full_names

    twin = tenancy.unit_create(organization=world.factory, name="一班", parent=world.workshop2, actor=world.admin)
    assert unit_full_names([world.team1.pk, twin.pk, None]) == {world.team1.pk: "一车间/一班", twin.pk: "二车间/一班"}
    client.force_login(world.admin)
    assert "一车间/一班" in client.get("/measures/?status=all").content.decode()
    book = openpyxl.load_workbook(io.BytesIO(client.get("/measures/export.xlsx?status=all").content))
    units = {row[3] for row in book.active.iter_rows(min_row=2, values_only=True)}
    assert "一车间/一班" in units and "一班" not in units
