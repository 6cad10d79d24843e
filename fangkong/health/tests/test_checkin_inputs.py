"""A check-in's slot must be one the person checks in for, its note is refused (not cut) when too long; the query
strings of the pages give nothing found rather than a 500; the compliance export names slots and is audited."""

from __future__ import annotations

import json
from datetime import date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from fangkong.core.errors import ServiceError
from fangkong.core.models import AuditEvent
from fangkong.core.tokens import token_issue
from fangkong.health import services
from fangkong.health.models import Checkin, CheckinSetting
from fangkong.people.models import Person

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2021, 11, 10)
NOW = datetime(2021, 11, 10, 12, 30, tzinfo=SH)
BIG = "99999999999999999999"


def _post(client, user, data):
    _t, raw = token_issue(user=user, name="t")
    return client.post("/api/v1/checkins", json.dumps(data), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {raw}")


@time_machine.travel(NOW, tick=False)
def test_a_slot_the_person_has_no_check_in_for_is_refused(client, world, checkin_member, make_person):
    ann = checkin_member()  # the factory checks in once a day
    services.obligations_generate_for_day(day=DAY)
    with pytest.raises(ServiceError) as refused:
        services.checkin_submit(actor=ann.user, person=ann, slot="noon")
    assert list(refused.value.field_errors) == ["slot"]
    assert "午检" in refused.value.message and "每日" in refused.value.message
    r = _post(client, ann.user, {"slot": "noon", "temperature": 36.5})
    assert r.status_code == 400 and list(r.json()["errors"]) == ["slot"]
    assert not Checkin.objects.exists()
    assert _post(client, ann.user, {"slot": "day", "temperature": 36.5}).status_code == 201
    # The roll call offers the slots people here check in for (the day's, and a measure's), not the noon check.
    client.force_login(world.bob)
    html = client.get(f"/health/rollcall/?unit={world.workshop1.pk}").content.decode()
    assert 'value="day"' in html and 'value="morning"' in html and 'value="noon"' not in html
    # Under a measure the person checks in morning and afternoon, whatever the organisation's frequency.
    watched = make_person(unit=world.workshop1, name="居家")
    Person.objects.filter(pk=watched.pk).update(measure_kind="home_health_monitoring")
    watched.refresh_from_db()
    assert services.checkin_submit(actor=world.bob, person=watched, slot="afternoon", proxy=True).checkin.slot == \
        "afternoon"
    # An organisation with twice-daily check-ins takes its slots.
    setting = CheckinSetting.objects.get(organization=world.factory)
    setting.frequency = "twice"
    setting.save()
    assert services.checkin_submit(actor=ann.user, person=ann, slot="morning").checkin.slot == "morning"


@time_machine.travel(NOW, tick=False)
def test_a_long_note_is_refused_not_cut(client, world, checkin_member):
    ann = checkin_member()
    services.obligations_generate_for_day(day=DAY)
    r = _post(client, ann.user, {"temperature": 36.5, "note": "咳" * 201})  # the one-statement path too
    assert r.status_code == 400 and list(r.json()["errors"]) == ["note"] and "200" in r.json()["message"]
    with pytest.raises(ServiceError) as refused:
        services.checkin_submit(actor=ann.user, person=ann, temperature="38.2", note="x" * 250)
    assert list(refused.value.field_errors) == ["note"]
    assert not Checkin.objects.exists()
    r = _post(client, ann.user, {"temperature": 36.5, "note": "咳" * 200})
    assert r.status_code == 201 and Checkin.objects.get().note == "咳" * 200


@time_machine.travel(NOW, tick=False)
def test_compliance_export_names_the_slot_and_is_audited(client, world, checkin_member):
    checkin_member()
    services.obligations_generate_for_day(day=DAY)
    client.force_login(world.bob)
    r = client.get("/health/compliance/?date=2021-11-10&unit=&export=xlsx")
    detail = list(load_workbook(BytesIO(r.content)).worksheets[1].iter_rows(values_only=True))
    assert detail[0][2] == "时段" and detail[1][1] == "安安" and detail[1][2] == "每日"
    event = AuditEvent.objects.get(action="compliance.export")
    assert event.actor_id == world.bob.pk and event.organization_id == world.factory.pk
    assert event.object_repr == "1 rows" and event.changes["filters"] == [None, "date=2021-11-10&unit="]
    client.cookies["django_language"] = "en"
    r = client.get("/health/compliance/?date=2021-11-10&export=xlsx", HTTP_ACCEPT_LANGUAGE="en")
    detail = list(load_workbook(BytesIO(r.content)).worksheets[1].iter_rows(values_only=True))
    assert "checkin" not in detail[1]


def test_query_strings_out_of_range_give_no_error(client, world, checkin_member):
    checkin_member()
    client.force_login(world.alice)
    assert client.get("/health/checkins/", {"unit": "²"}).status_code == 200
    r = client.get("/health/checkins/", {"unit": BIG})
    assert r.status_code == 200 and len(r.context["page"]) == 0
    assert client.get("/health/rollcall/", {"unit": BIG}).status_code == 404
    assert client.get("/health/absences/", {"unit": BIG}).status_code == 200
    assert client.get("/health/compliance/", {"unit": BIG}).status_code == 200
