"""Issue 4 walked line by line: the capacity warning (console, phone, prevention office), exports of the records
the plans ask to keep, empty states."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from fangkong.access import services
from fangkong.access.models import Venue
from fangkong.core.models import AuditEvent
from fangkong.notify.models import Notification
from fangkong.people.models import Person


def _admit(venue, person, at=None):
    scan, _ = services.scan_record(actor="test", venues=Venue.objects.all(), people=Person.objects.all(),
                                   venue_id=venue.pk, person_id=person.pk, at=at or timezone.now())
    return scan


def test_capacity_warning_on_console_phone_and_to_prevention_office(client, world, gate_venue, make_person):
    # gate_venue holds 3 people.
    for _ in range(2):
        _admit(gate_venue, make_person())
    member = make_person(name="周职工")
    Person.objects.filter(pk=member.pk).update(user=world.bob)
    client.force_login(world.bob)
    r = client.post(reverse("access:venue_scan", args=[services.venue_token(gate_venue)]), {"direction": "entry"})
    html = r.content.decode()
    assert "fk-decision admit" in html and "已达容量上限 3 人" in html
    alert = Notification.objects.get(event="access.capacity", recipient=world.alice)
    assert "东大门已达容量上限（3/3 人）" in alert.title
    # The gate console shows it too; the office is told once an hour, not on every further entry.
    client.force_login(world.alice)
    person = make_person()
    r = client.post(reverse("access:gate_scan"), {"venue": gate_venue.pk, "code": services.pass_token(person)},
                    HTTP_HX_REQUEST="true")
    assert "已达容量上限 3 人，请暂停放行" in r.content.decode()
    assert Notification.objects.filter(event="access.capacity").count() == 1
    r = client.get(reverse("access:venue_list"))
    assert "已满" in r.content.decode()


def test_missing_exit_closed_after_max_stay_frees_the_place(world, gate_venue, make_person):
    person = make_person()
    entered = timezone.now() - timedelta(minutes=90)  # gate_venue: max stay 60 minutes
    scan = _admit(gate_venue, person, at=entered)
    assert services.close_overdue_entries() == 1
    scan.refresh_from_db()
    assert scan.estimated_exit and scan.left_at == entered + timedelta(minutes=60)
    assert services.occupancy(gate_venue) == 0


def _sheet(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    return rows[0], rows[1:]


def test_exports_of_scans_visits_and_vehicles(client, world, gate_venue, other_venue, make_person):
    worker = make_person(name="李发热", id_number="11010519491231002X")
    services.scan_record(actor="test", venues=Venue.objects.all(), people=Person.objects.all(),
                         venue_id=gate_venue.pk, person_id=worker.pk, at=timezone.now(),
                         temperature=Decimal("38.1"))
    stranger = make_person(organization=world.other_org, name="外单位人员")
    _admit(other_venue, stranger)
    host = make_person(name="王主任")
    services.visit_book(organization=world.factory, host=host, name="孙访客", id_number="440524188001010014",
                        phone="13912345678", purpose="送货", starts_at=timezone.now(),
                        ends_at=timezone.now() + timedelta(hours=1), places_14d="山西省长治市")
    services.vehicle_create(organization=world.factory, actor=world.alice, plate="晋D12345", driver=worker,
                            origin="长治", destination="厂区", cargo="钢材", disinfected=True,
                            disinfected_by="张消毒", disinfectant="含氯消毒液")
    client.force_login(world.alice)
    html = client.get(reverse("access:scan_list") + "?decision=refuse").content.decode()
    assert "decision=refuse&amp;export=xlsx" in html
    header, rows = _sheet(client.get(reverse("access:scan_list"), {"decision": "refuse", "export": "xlsx"}))
    assert header[0] == "姓名" and len(rows) == 1
    assert rows[0][0] == "李发热" and rows[0][2] == "110105********002X" and "体温异常" in rows[0][9]
    assert AuditEvent.objects.filter(action="scan.export").exists()
    header, rows = _sheet(client.get(reverse("access:visit_list"), {"status": "all", "export": "xlsx"}))
    assert [r[0] for r in rows] == ["孙访客"] and rows[0][8] == "山西省长治市" and "13912345678" not in str(rows)
    header, rows = _sheet(client.get(reverse("access:vehicle_list"), {"export": "xlsx"}))
    assert rows[0][0] == "晋D12345" and rows[0][8] == "是" and rows[0][9] == "张消毒"
    # Another tenant's export holds only its own rows.
    client.force_login(world.charlie)
    _, rows = _sheet(client.get(reverse("access:scan_list"), {"export": "xlsx"}))
    assert [r[0] for r in rows] == ["外单位人员"]


def test_empty_states(client, world):
    client.force_login(world.alice)
    assert "没有访客预约" in client.get(reverse("access:visit_list")).content.decode()
    assert "没有车辆通行记录" in client.get(reverse("access:vehicle_list")).content.decode()
    assert "没有符合条件的出入记录" in client.get(reverse("access:scan_list")).content.decode()
    assert "还没有场所" in client.get(reverse("access:venue_list")).content.decode()
    assert "还没有启用的场所" in client.get(reverse("access:gate")).content.decode()
    assert "没有等候审批的现场访客" in client.get(reverse("access:gate_walkins")).content.decode()


def test_scan_reasons_follow_the_reader_and_the_export_stays_chinese(client, world, gate_venue, make_person):
    worker = make_person(name="李发热")
    services.scan_record(actor="test", venues=Venue.objects.all(), people=Person.objects.all(),
                         venue_id=gate_venue.pk, person_id=worker.pk, at=timezone.now(),
                         temperature=Decimal("38.1"))
    client.force_login(world.alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(reverse("access:scan_list")).content.decode()
    assert "Temperature 38.1°C ≥ 37.3°C: please go to the fever clinic" in html and "体温异常" not in html
    # The spreadsheet is the record kept under Chinese headers: its labels and reasons stay Chinese.
    header, rows = _sheet(client.get(reverse("access:scan_list"), {"export": "xlsx"}))
    assert header[0] == "姓名" and "体温异常" in rows[0][9] and rows[0][4] == "进入"
