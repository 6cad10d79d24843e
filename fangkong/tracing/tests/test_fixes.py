"""Refusals and limits found in review: scoped unmasking in the assist export, the task page's redirect, case dates,
queued tracing of an untraceable case, the exposure window's wording, assist-list imports, status labels."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

import openpyxl
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.tracing import services
from fangkong.tracing.models import AssistList, Case, InvestigationTask, TraceSnapshot
from fangkong.tracing.tests.conftest import SH, at

NOW = datetime(2021, 9, 23, 9, 0, tzinfo=SH)

pytestmark = pytest.mark.django_db


@pytest.fixture
def neighbour(world: Any) -> Any:
    """A second organisation under the county: the county officer may unmask its people."""
    from fangkong.tenancy import services as tenancy

    return tenancy.organization_create(name="长子县邻厂", kind="enterprise", region_code="140428",
                                       jurisdiction=world.county, actor=world.admin)


@pytest.fixture
def traced_case(world: Any, make_person: Any, venues: Any, scan: Any, neighbour: Any) -> dict[str, Any]:
    """A case of the factory who ate with a person of the neighbour (county) and one of the Taiyuan hospital."""
    a = make_person(name="病例甲")
    n = make_person(name="邻厂乙", organization=neighbour)
    k = make_person(name="外市丙", organization=world.other_org)
    scan(a, venues["canteen"], at(240), at(280))
    scan(n, venues["canteen"], at(240), at(275))
    scan(k, venues["canteen"], at(245), at(280))
    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=a.pk, actor=world.officer, status="confirmed",
                                    onset_date=date(2021, 9, 22), report_date=NOW.date(),
                                    isolated_at=datetime(2021, 9, 22, 18, 0, tzinfo=SH))
        services.trace_run(case=case, actor=world.officer)
    return {"case": case, "a": a, "n": n, "k": k}


def _sheet(content: bytes) -> list[tuple[Any, ...]]:
    return list(openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


# 1. The assist export unmasks only the people the caller may unmask --------------------------------------------------


def test_assist_export_unmasks_only_people_in_the_callers_unmask_scope(world, traced_case, api, client):
    n, k = traced_case["n"], traced_case["k"]
    assist = services.assist_create_outgoing(case=traced_case["case"], deadline=NOW + timedelta(days=3000),
                                             actor=world.officer)
    # The county officer: the neighbour's person in full, the other city's person masked.
    r = api(world.officer).get(f"/assists/{assist.pk}/export")
    assert r.status_code == 200
    rows = {row[0]: row for row in _sheet(r.content)[1:]}
    assert set(rows) == {"邻厂乙", "外市丙"}
    assert rows["邻厂乙"][1:3] == (n.id_number, n.phone)
    assert rows["外市丙"][1:3] == (k.id_number_masked, k.phone_masked)
    assert k.id_number not in r.content.decode("latin-1") and "*" in rows["外市丙"][1]
    event = AuditEvent.objects.filter(action="assist.export").latest("id")
    assert event.changes["unmasked"] == [None, True] and event.changes["unmasked_people"] == [None, [n.pk]]
    # The factory's admin may unmask the factory's people only: both contacts masked, on the page's download too.
    client.force_login(world.alice)
    r = client.get(f"/tracing/assists/{assist.pk}/download/")
    assert r.status_code == 200
    rows = {row[0]: row for row in _sheet(r.content)[1:]}
    assert rows["邻厂乙"][1:3] == (n.id_number_masked, n.phone_masked)
    assert rows["外市丙"][1:3] == (k.id_number_masked, k.phone_masked)
    event = AuditEvent.objects.filter(action="assist.export").latest("id")
    assert event.changes["unmasked"] == [None, False] and event.changes["unmasked_people"] == [None, []]


# 2. The task page's redirect stays on the site ------------------------------------------------------------------------


def test_task_update_does_not_redirect_off_site(world, traced_case, client):
    task = InvestigationTask.objects.get(investigation__case=traced_case["case"], kind="companions_24h")
    client.force_login(world.officer)
    for target in ("https://evil.example/phish", "//evil.example/", "http:/\\evil.example"):
        r = client.post(f"/tracing/investigations/tasks/{task.pk}/", {"status": "open", "next": target})
        assert r.status_code == 302 and r["Location"] == "/tracing/investigations/", target
    r = client.post(f"/tracing/investigations/tasks/{task.pk}/",
                    {"status": "open", "next": "/tracing/investigations/?status=done"})
    assert r["Location"] == "/tracing/investigations/?status=done"


# 3. Case dates ---------------------------------------------------------------------------------------------------------


def test_api_refuses_case_dates_in_the_future_or_far_before_the_report(world, make_person, api):
    person = make_person(name="日期甲")
    officer = api(world.officer)
    with time_machine.travel(NOW, tick=False):
        for values, field in (
            ({"onset_date": "2021-09-24"}, "onset_date"),
            ({"sample_date": "2021-09-24"}, "sample_date"),
            ({"onset_date": "2021-09-22", "report_date": "2021-09-24"}, "report_date"),
            ({"onset_date": "2021-09-22", "isolated_at": "2021-09-23T10:00:00+08:00"}, "isolated_at"),
            ({"onset_date": "1900-01-01"}, "onset_date"),
            ({"onset_date": "2021-07-01", "report_date": "2021-09-20"}, "onset_date"),
            ({"sample_date": "2021-07-01"}, "sample_date"),  # no report date: today's
        ):
            r = officer.post("/cases", {"person_id": person.pk, **values})
            assert r.status_code == 400, (values, r.content)
            assert field in r.json()["errors"], (values, r.json())
        assert not Case.objects.filter(person=person).exists()
        r = officer.post("/cases", {"person_id": person.pk, "onset_date": "2021-09-22",
                                    "isolated_at": "2021-09-23T08:59:00+08:00"})
        assert r.status_code == 201, r.content
        case_id = r.json()["id"]
        r = officer.patch(f"/cases/{case_id}", {"sample_date": "2021-09-25"})
        assert r.status_code == 400 and "sample_date" in r.json()["errors"]
        assert "晚于今天 2021-09-23" in r.json()["message"]
        r = officer.patch(f"/cases/{case_id}", {"onset_date": "1900-01-01"})
        assert r.status_code == 400 and "超过 60 天" in r.json()["errors"]["onset_date"][0]
        r = officer.patch(f"/cases/{case_id}", {"isolated_at": "2021-09-24T08:00:00+08:00"})
        assert r.status_code == 400 and "isolated_at" in r.json()["errors"]
    case = Case.objects.get(pk=case_id)
    assert (case.onset_date, case.sample_date) == (date(2021, 9, 22), None)


def test_case_form_refuses_a_future_onset(world, make_person, client):
    person = make_person(name="日期乙")
    client.force_login(world.officer)
    with time_machine.travel(NOW, tick=False):
        r = client.post("/tracing/cases/new/?q=日期乙", {"person_id": person.pk, "status": "suspected",
                                                       "onset_date": "2021-09-30", "report_date": "2021-09-23",
                                                       "source": "clinic"})
    assert r.status_code == 400 and "发病日期 2021-09-30 晚于今天 2021-09-23" in r.content.decode()
    assert not Case.objects.filter(person=person).exists()


# 4. Queued tracing refuses now what the worker would refuse ----------------------------------------------------------


def test_queued_trace_of_a_case_without_dates_is_refused_at_once(world, make_person, api):
    officer = api(world.officer)
    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=make_person(name="无日期").pk, actor=world.officer,
                                    report_date=NOW.date())
        sync = officer.post(f"/cases/{case.pk}/trace", {})
        queued = officer.post(f"/cases/{case.pk}/trace", {"run_async": True})
    assert sync.status_code == 400 and "onset_date" in sync.json()["errors"]
    assert queued.status_code == 400 and queued.json() == sync.json()
    assert not TraceSnapshot.objects.filter(case=case).exists()


def test_queued_trace_of_an_excluded_case_is_refused_at_once(world, make_person, api):
    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=make_person(name="已排除").pk, actor=world.officer,
                                    onset_date=NOW.date())
        services.case_set_status(case=case, status="excluded", actor=world.officer)
        r = api(world.officer).post(f"/cases/{case.pk}/trace", {"run_async": True})
    assert r.status_code == 400 and "已排除" in r.json()["message"]


# 5. The exposure window's error in local time -------------------------------------------------------------------------


def test_trace_error_gives_the_isolation_time_in_local_time(world, make_person):
    """Isolated 09-21 02:00 in Shanghai (09-20 18:00 UTC, as read back from the database); a run with a window of 0
    days starts 09-22 00:00."""
    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=make_person(name="隔离早").pk, actor=world.officer,
                                    onset_date=date(2021, 9, 22), report_date=NOW.date(),
                                    isolated_at=datetime(2021, 9, 21, 2, 0, tzinfo=SH))
        with pytest.raises(ServiceError) as err:
            services.trace_run(case=Case.objects.get(pk=case.pk), actor=world.officer, params={"window_days": 0})
    assert "隔离时间 2021-09-21 02:00 早于暴露窗口开始 2021-09-22 00:00" in err.value.message


# 6. Assist-list imports ------------------------------------------------------------------------------------------------


def _xlsx(*rows: tuple[Any, ...]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _import(client: Any, world: Any, content: bytes, deadline: str | None) -> Any:
    data: dict[str, Any] = {"file": SimpleUploadedFile("list.xlsx", content), "organization_id": world.factory.pk}
    if deadline is not None:
        data["deadline"] = deadline
    return client.post("/api/v1/assists/import", data)


def test_import_refuses_a_list_with_only_its_header(world, client):
    client.force_login(world.officer)
    r = _import(client, world, _xlsx(("姓名", "身份证号", "手机号")), None)
    assert r.status_code == 400 and r.json()["message"] == "协查名单只有表头，没有人员"
    assert "file" in r.json()["errors"]
    assert not AssistList.objects.exists()


def test_import_refuses_a_past_deadline_and_answers_in_local_time(world, make_person, client):
    person = make_person(name="协查甲")
    content = _xlsx(("姓名", "身份证号", "手机号"), ("协查甲", person.id_number, ""))
    client.force_login(world.officer)
    with time_machine.travel(NOW, tick=False):
        r = _import(client, world, content, "2021-09-23T08:00:00+08:00")
        assert r.status_code == 400 and "deadline" in r.json()["errors"]
        assert not AssistList.objects.exists()
        r = _import(client, world, content, "2021-09-24T10:00")  # no offset: local time
        assert r.status_code == 201, r.content
        assert r.json()["deadline"] == "2021-09-24T10:00:00+08:00"
        assert AssistList.objects.get().deadline == datetime(2021, 9, 24, 10, 0, tzinfo=SH)
        r = _import(client, world, content, "2021-09-24T02:00:00Z")  # an offset: answered in local time
        assert r.status_code == 201 and r.json()["deadline"] == "2021-09-24T10:00:00+08:00"
        r = _import(client, world, content, None)  # default: in 24 hours
        assert r.status_code == 201 and r.json()["deadline"] == "2021-09-24T09:00:00+08:00"


def test_import_gives_a_person_on_two_rows_one_task(world, make_person, client):
    twice = make_person(name="重复甲")
    once = make_person(name="一次乙")
    content = _xlsx(("姓名", "身份证号", "手机号"), ("重复甲", twice.id_number, ""), ("重复甲", "", twice.phone),
                    ("一次乙", once.id_number, once.phone))
    client.force_login(world.officer)
    r = _import(client, world, content, "2099-01-01T10:00:00+08:00")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["counts"] == {"rows": 3, "found": 3, "not_found": 0, "people": 2}
    assert [(row["person_id"], row["matched_by"], row["duplicate_of"]) for row in body["rows"]] == [
        (twice.pk, "id_number", None), (twice.pk, "phone", 2), (once.pk, "id_number", None)]
    tasks = InvestigationTask.objects.filter(assist_list_id=body["id"])
    assert sorted(tasks.values_list("person_id", flat=True)) == sorted([twice.pk, once.pk])


# 7. A refused status change names both statuses -----------------------------------------------------------------------


def test_refused_status_change_names_both_statuses(world, make_person):
    from django.utils import translation

    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=make_person(name="确诊甲").pk, actor=world.officer,
                                    status="confirmed", onset_date=NOW.date())
        with pytest.raises(ServiceError) as err:
            services.case_set_status(case=case, status="excluded", actor=world.officer)
        assert "当前为“确诊病例”，不能改为“已排除”" in err.value.message
        assert err.value.field_errors == {"status": ["不允许的状态变化：确诊病例 → 已排除"]}
        with translation.override("en"), pytest.raises(ServiceError) as err:
            services.case_set_status(case=case, status="excluded", actor=world.officer)
        assert "is “Confirmed case” and cannot be changed to “Ruled out”" in err.value.message
        assert err.value.field_errors == {"status": ["Status change not allowed: Confirmed case → Ruled out"]}
