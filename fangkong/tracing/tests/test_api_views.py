"""API and pages: cases, trace, contacts, investigations, assist lists; scope (cross-tenant 404)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from fangkong.tracing import services
from fangkong.tracing.models import AssistList, Case, InvestigationTask
from fangkong.tracing.tests.conftest import SH, at

NOW = datetime(2021, 9, 23, 9, 0, tzinfo=SH)


@pytest.fixture
def traced(world: Any, make_person: Any, venues: Any, scan: Any) -> dict[str, Any]:
    a = make_person(name="病例甲")
    b = make_person(name="密接乙")
    k = make_person(name="外单位丙", organization=world.other_org)
    far = make_person(name="无关丁")
    scan(a, venues["canteen"], at(240), at(280))
    scan(b, venues["canteen"], at(240), at(270))
    scan(k, venues["canteen"], at(250), at(280))
    scan(far, venues["canteen"], at(600), at(700))
    return {"a": a, "b": b, "k": k, "far": far}


@pytest.mark.django_db
def test_secondary_contact_shows_count_total_and_longest_three(world, traced, make_person, venues, scan, api, client):
    """A secondary contact met the close contact 5 times: the API and the page say 5 times and 200 minutes in all,
    and list only the 3 longest (the close contact keeps all its evidence)."""
    sec = make_person(name="次密戊")
    for i, minutes in enumerate((20, 50, 30, 60, 40)):  # 09-21, after 密接乙 met the case
        start = at(26 * 60 + 100 * i)
        scan(traced["b"], venues["meeting"], start, start + timedelta(minutes=minutes))
        scan(sec, venues["meeting"], start, start + timedelta(minutes=minutes))
    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=traced["a"].pk, actor=world.officer, status="confirmed",
                                    onset_date=datetime(2021, 9, 22).date(), report_date=NOW.date(),
                                    isolated_at=datetime(2021, 9, 22, 18, 0, tzinfo=SH))
        services.trace_run(case=case, actor=world.officer)
    officer = api(world.officer)
    [item] = officer.get(f"/cases/{case.pk}/contacts", degree=2).json()
    assert item["person_id"] == sec.pk and item["via_person_id"] == traced["b"].pk
    assert (item["co_presences"], item["minutes_together"], item["evidence_complete"]) == (5, 200, False)
    assert [e["minutes"] for e in item["evidence"]] == [60, 50, 40]
    close = {c["person_id"]: c for c in officer.get(f"/cases/{case.pk}/contacts", degree=1).json()}
    b = close[traced["b"].pk]
    assert b["co_presences"] is None and b["evidence_complete"] is True and len(b["evidence"]) == 1
    client.force_login(world.officer)
    html = client.get(f"/tracing/cases/{case.pk}/", {"degree": "2"}).content.decode()
    assert "5 次共处，共 200 分钟" in html and "仅列出最长的 3 次" in html and "次密戊" in html


@pytest.mark.django_db
def test_api_case_trace_contacts(world, traced, api):
    officer = api(world.officer)
    with time_machine.travel(NOW, tick=False):
        r = officer.post("/cases", {"person_id": traced["a"].pk, "status": "confirmed", "onset_date": "2021-09-22",
                                    "isolated_at": "2021-09-22T18:00:00+08:00"})
        assert r.status_code == 201, r.content
        case_id = r.json()["id"]
        r = officer.post(f"/cases/{case_id}/trace", {})
        assert r.status_code == 200, r.content
        body = r.json()
        assert body["close"] == 2 and body["secondary"] == 0 and body["new"] == 2 and body["snapshot_id"]
        r = officer.get(f"/cases/{case_id}/contacts", degree=1)
    assert r.status_code == 200
    contacts = {c["person_id"]: c for c in r.json()}
    assert set(contacts) == {traced["b"].pk, traced["k"].pk}
    ev = contacts[traced["b"].pk]["evidence"][0]
    assert ev["kind"] == "co_presence" and ev["minutes"] == 30 and ev["venue_id"]
    assert officer.get(f"/cases/{case_id}/contacts", degree=2).json() == []
    assert officer.get(f"/cases/{case_id}/contacts", degree=3).status_code == 400
    # PATCH: a bad date is a clear 400 naming the field.
    r = officer.patch(f"/cases/{case_id}", {"onset_date": "2021-09-30"})
    assert r.status_code == 400 and "onset_date" in r.json()["errors"] and "晚于报告日期" in r.json()["message"]
    r = officer.patch(f"/cases/{case_id}", {"source": "notice", "source_reference": "太原协查 12 号"})
    assert r.status_code == 200 and r.json()["source"] == "notice"
    r = officer.get("/investigations", status="open")
    assert r.status_code == 200
    kinds = [t["kind"] for t in r.json()]
    # The office sees its own jurisdiction's tasks; the other organisation's verification is for that organisation.
    assert kinds.count("verify_contact") == 1 and "companions_24h" in kinds
    theirs = api(world.charlie).get("/investigations").json()
    assert [(t["kind"], t["person_id"]) for t in theirs] == [("verify_contact", traced["k"].pk)]


@pytest.mark.django_db
def test_api_scope_and_bad_input(world, traced, api):
    charlie, alice, bob = api(world.charlie), api(world.alice), api(world.bob)
    # A person of another tenant: 404, not 403.
    r = charlie.post("/cases", {"person_id": traced["a"].pk, "onset_date": "2021-09-22"})
    assert r.status_code == 404
    r = alice.post("/cases", {"person_id": traced["a"].pk, "onset_date": "2021-09-22", "report_date": "2021-09-21"})
    assert r.status_code == 400 and "onset_date" in r.json()["errors"]
    r = alice.post("/cases", {"person_id": traced["a"].pk, "onset_date": "2021-09-22", "report_date": "2021-09-23",
                              "isolated_at": "2021-09-19T08:00:00+08:00"})
    assert r.status_code == 400 and "早于暴露窗口开始" in r.json()["message"]
    # An organisation admin may register a suspected case but not confirm one.
    assert alice.post("/cases", {"person_id": traced["a"].pk, "status": "confirmed",
                                 "onset_date": "2021-09-22"}).status_code == 403
    r = alice.post("/cases", {"person_id": traced["a"].pk, "onset_date": "2021-09-22", "report_date": "2021-09-23"})
    assert r.status_code == 201
    case_id = r.json()["id"]
    assert charlie.get(f"/cases/{case_id}/contacts").status_code == 404
    assert charlie.post(f"/cases/{case_id}/trace", {}).status_code in (403, 404)
    assert alice.post(f"/cases/{case_id}/trace", {}).status_code == 403  # tracing.run is the office's
    # bob leads workshop 1: the case's person has no unit, so the case is outside his scope.
    assert bob.get(f"/cases/{case_id}/contacts").status_code in (403, 404)
    r = api(world.officer).post(f"/cases/{case_id}/trace", {"min_minutes": {"canteen": "long"}})
    assert r.status_code == 422


@pytest.mark.django_db
def test_api_errors_in_english(world, traced, api, client):
    caller = api(world.alice)
    r = client.post("/api/v1/cases", {"person_id": traced["a"].pk, "onset_date": "2021-09-22",
                                      "report_date": "2021-09-23", "isolated_at": "2021-09-19T08:00:00+08:00"},
                    content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {caller.raw}",
                    HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 400
    error = ("Isolated at 2021-09-19 08:00, before the exposure window starts at 2021-09-20 00:00 "
             "(2 days before the onset date)")
    assert r.json()["errors"] == {"isolated_at": [error]}
    assert r.json()["message"] == f"The case's dates do not fit: {error}"


@pytest.mark.django_db
def test_assist_export_and_import(world, traced, api, client, make_person):
    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=traced["a"].pk, actor=world.officer, status="confirmed",
                                    onset_date=NOW.date() - timedelta(days=1), isolated_at=NOW - timedelta(hours=10))
        services.trace_run(case=case, actor=world.officer)
    assist = services.assist_create_outgoing(case=case, deadline=NOW + timedelta(days=3000), actor=world.officer)
    r = api(world.officer).get(f"/assists/{assist.pk}/export")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("姓名", "身份证号", "手机号", "所属单位")
    assert [row[0] for row in rows[1:]] == ["外单位丙"]  # only the contact of another organisation
    # The county office may not unmask a person of another city's hospital: masked (the export is audited).
    assert rows[1][1] == traced["k"].id_number_masked
    assert api(world.charlie).get(f"/assists/{assist.pk}/export").status_code == 404

    # Incoming list: one known by ID number, one by phone, one unknown.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "手机号"])
    ws.append(["密接乙", traced["b"].id_number, ""])
    ws.append(["无关丁", "", traced["far"].phone])
    ws.append(["查无此人", "110105194912310029", "13800000000"])
    buf = io.BytesIO()
    wb.save(buf)
    client.force_login(world.officer)
    r = client.post("/api/v1/assists/import", {
        "file": SimpleUploadedFile("list.xlsx", buf.getvalue()), "organization_id": world.factory.pk,
        "deadline": (NOW + timedelta(days=3000)).isoformat()})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["counts"] == {"rows": 3, "found": 2, "not_found": 1, "people": 2}
    assert [row["matched_by"] for row in body["rows"]] == ["id_number", "phone", ""]
    incoming = AssistList.objects.get(pk=body["id"])
    assert set(InvestigationTask.objects.filter(assist_list=incoming).values_list("person_id", flat=True)) == {
        traced["b"].pk, traced["far"].pk}
    r = client.get(f"/api/v1/assists/{incoming.pk}/export")
    report = list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert [row[3] for row in report[1:]] == ["是", "是", "否"]
    r = client.post("/api/v1/assists/import", {"file": SimpleUploadedFile("list.csv", b"a,b"),
                                               "organization_id": world.factory.pk})
    assert r.status_code == 400 and ".xlsx" in r.json()["message"]


@pytest.mark.django_db
def test_pages(world, traced, client):
    client.force_login(world.officer)
    r = client.get("/tracing/cases/new/", {"q": "病例甲"})
    assert r.status_code == 200 and "病例甲" in r.content.decode()
    r = client.post("/tracing/cases/new/?q=病例甲", {"person_id": traced["a"].pk, "status": "suspected",
                                                    "onset_date": "2021-09-22", "report_date": "2021-09-23",
                                                    "source": "clinic"})
    assert r.status_code == 302
    case = Case.objects.get(person=traced["a"])
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert client.post(f"/tracing/cases/{case.pk}/status/", {"status": "confirmed"}).status_code == 302
        case.refresh_from_db()
        assert case.status == "confirmed"
        Case.objects.filter(pk=case.pk).update(isolated_at=NOW - timedelta(hours=10))
        assert client.post(f"/tracing/cases/{case.pk}/trace/").status_code == 302
    r = client.get(f"/tracing/cases/{case.pk}/")
    html = r.content.decode()
    assert r.status_code == 200 and "密接乙" in html and "同场所停留" in html and "一食堂" in html
    assert "疑似病例 → 确诊病例" in html  # the status history names the statuses, not their codes
    assert "table-warning" in html  # new contacts highlighted
    r = client.post(f"/tracing/cases/{case.pk}/contacts/add/", {"person": str(traced["far"].pk), "reason": "同车"})
    assert r.status_code == 302
    assert "无关丁" in client.get(f"/tracing/cases/{case.pk}/").content.decode()
    data = client.get("/tracing/graph/data/").json()
    assert {n["name"] for n in data["nodes"]} >= {"病例甲", "密接乙", "无关丁"} and len(data["links"]) == 3
    assert client.get("/tracing/graph/").status_code == 200
    assert client.get("/tracing/investigations/").status_code == 200
    assert client.get("/tracing/investigations/", {"overdue": "1"}).status_code == 200
    assert client.get("/tracing/assists/").status_code == 200
    assert client.get("/tracing/cases/", {"q": "病例"}).status_code == 200
    client.force_login(world.charlie)
    assert client.get(f"/tracing/cases/{case.pk}/").status_code == 404
    assert "病例甲" not in client.get("/tracing/cases/").content.decode()


@pytest.mark.django_db
def test_contacts_page_queries_do_not_grow(world, make_person, django_assert_max_num_queries, client):
    from fangkong.tracing.models import Contact

    case_person = make_person(name="病例")
    case = services.case_create(person_id=case_person.pk, actor=world.officer, onset_date=NOW.date(),
                                report_date=NOW.date())
    people = [make_person(name=f"接触{i}") for i in range(120)]
    Contact.objects.bulk_create([Contact(case=case, person=p, degree=1, evidence=[
        {"kind": "co_presence", "venue_id": 1, "from": at(0).isoformat(), "to": at(30).isoformat(), "minutes": 30}])
        for p in people])
    client.force_login(world.officer)
    client.get(f"/tracing/cases/{case.pk}/")  # warm the session and the menu
    with django_assert_max_num_queries(25):
        r = client.get(f"/tracing/cases/{case.pk}/")
    assert r.status_code == 200 and r.content.decode().count("接触") >= 100


@pytest.mark.django_db
def test_queued_tracing_for_many_cases(world, traced, make_person, api):
    from fangkong.tracing.models import TraceSnapshot
    from fangkong.tracing.tasks import trace_cases

    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=traced["a"].pk, actor=world.officer, status="confirmed",
                                    onset_date=NOW.date() - timedelta(days=1), isolated_at=NOW - timedelta(hours=10))
        excluded = services.case_create(person_id=make_person(name="已排除").pk, actor=world.officer,
                                        onset_date=NOW.date())
        services.case_set_status(case=excluded, status="excluded", actor=world.officer)
        r = api(world.officer).post(f"/cases/{case.pk}/trace", {"run_async": True})
        assert r.status_code == 200 and r.json()["queued"] is True
        assert TraceSnapshot.objects.filter(case=case).count() == 1  # Huey runs immediately in tests
        # Many at once: the excluded case is skipped, the others each get a snapshot.
        done = trace_cases([case.pk, excluded.pk], world.officer.pk)
        done = done.get() if hasattr(done, "get") else done
    assert len(done) == 1 and TraceSnapshot.objects.filter(case=case).count() == 2
    assert not TraceSnapshot.objects.filter(case=excluded).exists()
    r = api(world.officer).post(f"/cases/{case.pk}/trace", {"run_async": True, "window_days": 99})
    assert r.status_code == 400 and "window_days" in r.json()["errors"]


@pytest.mark.django_db
def test_task_assignee_must_belong_to_the_task(world, traced, client):
    from fangkong.core.errors import ServiceError

    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=traced["a"].pk, actor=world.officer, status="confirmed",
                                    onset_date=NOW.date() - timedelta(days=1), isolated_at=NOW - timedelta(hours=10))
        services.trace_run(case=case, actor=world.officer)
    task = InvestigationTask.objects.get(investigation__case=case, kind="companions_24h")
    with pytest.raises(ServiceError, match="不能负责该任务"):
        services.task_update(task=task, actor=world.officer, assignee=world.charlie)  # another tenant's admin
    services.task_update(task=task, actor=world.officer, assignee=world.alice, status="done")
    task.refresh_from_db()
    assert task.assignee == world.alice and task.status == "done" and task.completed_at
    client.force_login(world.officer)
    r = client.post(f"/tracing/investigations/tasks/{task.pk}/", {"assignee": world.officer.pk, "status": "open"})
    assert r.status_code == 302
    task.refresh_from_db()
    assert task.assignee == world.officer and task.status == "open"
    html = client.get("/tracing/investigations/").content.decode()
    assert "charlie" not in html
    client.force_login(world.charlie)
    assert client.post(f"/tracing/investigations/tasks/{task.pk}/", {"status": "done"}).status_code in (403, 404)
