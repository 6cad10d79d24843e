"""Evidence in words: the case's page says it in the reader's language; the assist lists' spreadsheets stay Chinese."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import openpyxl
import pytest
import time_machine
from django.conf import settings
from django.utils import translation

from fangkong.tracing import services
from fangkong.tracing.tests.conftest import SH, at
from fangkong.tracing.wording import evidence_line

NOW = datetime(2021, 9, 23, 9, 0, tzinfo=SH)


@pytest.fixture
def traced(world, make_person, venues, scan):
    a, b = make_person(name="病例甲"), make_person(name="密接乙")
    k, far = make_person(name="外单位丙", organization=world.other_org), make_person(name="无关丁")
    scan(a, venues["canteen"], at(240), at(280))
    scan(b, venues["canteen"], at(240), at(270))
    scan(k, venues["canteen"], at(250), at(280))
    return {"a": a, "b": b, "k": k, "far": far}


def _traced_case(world, traced):
    with time_machine.travel(NOW, tick=False):
        case = services.case_create(person_id=traced["a"].pk, actor=world.officer, status="confirmed",
                                    onset_date=NOW.date() - timedelta(days=1), isolated_at=NOW - timedelta(hours=10))
        services.trace_run(case=case, actor=world.officer)
        services.contact_add_manual(case=case, person_id=traced["far"].pk, reason="同车", actor=world.officer,
                                    exposed_at=at(120))
    return case


def test_evidence_lines_across_days_and_without_a_venue():
    day = datetime(2021, 12, 4, tzinfo=SH)
    shift = {"kind": "same_unit_shift", "from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}
    home = {"kind": "household", "from": day.isoformat(), "to": (day + timedelta(days=2, hours=18)).isoformat()}
    meeting = {"kind": "meeting", "venue_id": None, "title": "周例会", "from": (day + timedelta(hours=9)).isoformat(),
               "to": (day + timedelta(hours=10)).isoformat(), "minutes": 60}
    manual = {"kind": "manual", "reason": "同住家属（丈夫）", "from": (day + timedelta(hours=19)).isoformat(),
              "to": (day + timedelta(hours=19)).isoformat(), "minutes": 0}
    with translation.override("zh-hans"):
        assert evidence_line(shift, {}, SH) == "同班组同日出勤 12-04 00:00–24:00"
        assert evidence_line(home, {}, SH) == "同住家庭成员 12-04 00:00–12-06 18:00"
        assert evidence_line(meeting, {}, SH) == "同一会议 “周例会” 12-04 09:00–10:00 60 分钟"
        assert evidence_line(manual, {}, SH) == "人工判定：同住家属（丈夫） 12-04 19:00"


@pytest.mark.django_db
def test_case_page_words_the_evidence_in_english(world, traced, client):
    case = _traced_case(world, traced)
    client.force_login(world.officer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(f"/tracing/cases/{case.pk}/").content.decode()
    assert "Same place 一食堂 09-20 12:00–12:30, 30 min" in html
    assert "Added by hand: 同车 09-20 10:00" in html  # what the investigator typed stays as typed
    assert "同场所停留" not in html and "人工判定" not in html and " 分钟" not in html


@pytest.mark.django_db
def test_assist_spreadsheets_stay_chinese_for_an_english_reader(world, traced, client):
    case = _traced_case(world, traced)
    outgoing = services.assist_create_outgoing(case=case, deadline=NOW + timedelta(days=3000), actor=world.officer)
    buf = io.BytesIO()
    book = openpyxl.Workbook()
    book.active.append(["姓名", "身份证号", "手机号"])
    book.active.append(["密接乙", traced["b"].id_number, ""])
    book.save(buf)
    incoming = services.assist_import(data=buf.getvalue(), filename="list.xlsx", deadline=NOW + timedelta(days=3000),
                                      organization_id=world.factory.pk, actor=world.officer)
    client.force_login(world.officer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    def rows(assist):
        r = client.get(f"/tracing/assists/{assist.pk}/download/")
        assert r.status_code == 200
        return list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))

    header, *contacts = rows(outgoing)
    assert header[4:7] == ("类别", "最后接触", "依据")
    assert [(c[0], c[4], c[6]) for c in contacts] == [("外单位丙", "密切接触者", "同场所停留 一食堂 09-20 12:10–12:40 30 分钟")]
    header, *report = rows(incoming)
    assert header[6] == "核实任务状态" and [(r[1], r[3], r[6]) for r in report] == [("密接乙", "是", "待办")]
