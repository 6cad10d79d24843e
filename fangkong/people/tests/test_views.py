"""The ledger pages: list, search and filters, detail with unmask, create/edit through the services, archive,
export; and the tenant walls (charlie gets 404 and changes nothing, bob sees his unit only)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fangkong.core.models import AuditEvent
from fangkong.people.models import Person
from fangkong.people.tests.helpers import read_xlsx

pytestmark = pytest.mark.django_db

ZHANG_ID = "11010519491231002X"


@pytest.fixture
def people(world, make_person):
    return {
        "zhang": make_person(name="张三", id_number=ZHANG_ID, phone="13812345678", unit=world.team1),
        "li": make_person(name="李四", unit=world.workshop2, kind="contractor"),
        "an": make_person(name="安娜", unit=world.workshop1),
        "other": make_person(organization=world.other_org, name="外院患者", kind="patient"),
    }


def names(response) -> list[str]:
    return [p.name for p in response.context["page"]]


def test_alice_lists_her_organisation_sorted_by_pinyin_and_masked(client, world, people):
    client.force_login(world.alice)
    r = client.get(reverse("people_list"))
    assert r.status_code == 200
    assert names(r) == ["安娜", "李四", "张三"]
    body = r.content.decode()
    assert "110105********002X" in body and "138****5678" in body
    assert ZHANG_ID not in body and "13812345678" not in body
    assert 'id="people-table"' in body and 'id="export-link"' in body


@pytest.mark.parametrize(("query", "expected"), [
    ({"q": "张"}, ["张三"]), ({"q": "zhang"}, ["张三"]), ({"q": ZHANG_ID.lower()}, ["张三"]),
    ({"q": "13812345678"}, ["张三"]), ({"q": "1381234"}, []), ({"kind": "contractor"}, ["李四"]),
])
def test_search_and_filters(client, world, people, query, expected):
    client.force_login(world.alice)
    assert names(client.get(reverse("people_list"), query)) == expected


def test_unit_filter_includes_descendants_and_archived_filter(client, world, people):
    client.force_login(world.alice)
    assert names(client.get(reverse("people_list"), {"unit": world.workshop1.pk})) == ["安娜", "张三"]
    client.post(reverse("person_archive", args=[people["an"].pk]))
    assert names(client.get(reverse("people_list"), {"unit": world.workshop1.pk})) == ["张三"]
    assert names(client.get(reverse("people_list"), {"unit": world.workshop1.pk, "archived": "1"})) == ["安娜", "张三"]


def test_empty_state_links_to_import(client, world):
    client.force_login(world.alice)
    body = client.get(reverse("people_list")).content.decode()
    assert 'class="fk-empty"' in body and reverse("people_import") in body


def test_pagination_at_50(client, world, make_person):
    for i in range(52):
        make_person(name=f"人员{i:02d}")
    client.force_login(world.alice)
    r = client.get(reverse("people_list"))
    assert len(r.context["page"]) == 50 and r.context["page"].paginator.num_pages == 2
    assert len(client.get(reverse("people_list"), {"page": 2}).context["page"]) == 2


def test_bob_sees_only_his_unit(client, world, people):
    client.force_login(world.bob)
    assert names(client.get(reverse("people_list"))) == ["安娜", "张三"]
    assert client.get(reverse("person_detail", args=[people["li"].pk])).status_code == 404
    # His export holds his unit only.
    rows = read_xlsx(client.get(reverse("people_export")).content)["人员台账"]
    assert sorted(r[0] for r in rows[1:]) == ["安娜", "张三"]
    # No unmasking for a unit leader, not even in the export.
    assert 'id="export-unmasked"' not in client.get(reverse("people_list")).content.decode()
    assert client.get(reverse("people_export"), {"unmasked": "1"}).status_code == 403
    assert client.post(reverse("person_unmask", args=[people["zhang"].pk]), {"field": "id_number"}).status_code == 403


def test_officer_sees_all_organisations_with_a_filter(client, world, people):
    client.force_login(world.officer)
    r = client.get(reverse("people_list"))
    assert names(r) == ["安娜", "李四", "张三"]  # the other organisation is in another jurisdiction
    assert names(client.get(reverse("people_list"), {"org": world.factory.pk, "q": "李"})) == ["李四"]
    assert 'id="filter-org"' in r.content.decode()


def test_detail_and_unmask_is_audited_and_shown_once(client, world, people):
    zhang = people["zhang"]
    client.force_login(world.alice)
    body = client.get(reverse("person_detail", args=[zhang.pk])).content.decode()
    assert "110105********002X" in body and ZHANG_ID not in body and 'id="unmask-id-number"' in body
    r = client.post(reverse("person_unmask", args=[zhang.pk]), {"field": "id_number"})
    assert r.status_code == 200 and ZHANG_ID in r.content.decode()
    assert AuditEvent.objects.filter(action="person.unmask.id_number", object_id=str(zhang.pk),
                                     actor=world.alice).count() == 1
    # Shown once: the next visit is masked again.
    assert ZHANG_ID not in client.get(reverse("person_detail", args=[zhang.pk])).content.decode()


def test_charlie_gets_404_and_changes_nothing(client, world, people):
    zhang = people["zhang"]
    client.force_login(world.charlie)
    assert names(client.get(reverse("people_list"))) == ["外院患者"]
    for name in ("person_detail", "person_edit"):
        assert client.get(reverse(name, args=[zhang.pk])).status_code == 404
    assert client.post(reverse("person_edit", args=[zhang.pk]), {"name": "改名"}).status_code == 404
    assert client.post(reverse("person_archive", args=[zhang.pk])).status_code == 404
    assert client.post(reverse("person_unmask", args=[zhang.pk]), {"field": "id_number"}).status_code == 404
    zhang.refresh_from_db()
    assert zhang.is_active and zhang.name == "张三"
    assert not AuditEvent.objects.filter(object_id=str(zhang.pk), action__in=[
        "person.unmask.id_number", "person.archive", "person.update"]).exists()
    # Charlie's export has his own people only.
    rows = read_xlsx(client.get(reverse("people_export")).content)["人员台账"]
    assert [r[0] for r in rows[1:]] == ["外院患者"]


def test_create_shows_service_errors_on_the_fields(client, world):
    client.force_login(world.alice)
    form = {"name": "王五", "id_type": "resident_id", "id_number": "110105194912310021", "gender": "unknown",
            "kind": "employee", "residence_region": "火星"}
    r = client.post(reverse("person_create"), form)
    assert r.status_code == 200
    errors = r.context["form"].errors
    assert "未知的行政区划" in errors["residence_region"][0]
    form["residence_region"] = "长治市长子县"
    r = client.post(reverse("person_create"), form)
    assert r.context["form"].errors["id_number"] == ["身份证号校验位不正确"]
    form["id_number"] = ZHANG_ID
    form["unit"] = world.team1.pk
    r = client.post(reverse("person_create"), form)
    assert r.status_code == 302
    person = Person.objects.get(name="王五")
    assert person.residence_region_id == "140428" and person.unit == world.team1 and person.gender == "female"
    # The same ID again in the same organisation: refused on the field.
    r = client.post(reverse("person_create"), {**form, "name": "王六"})
    assert r.context["form"].errors["id_number"] == ["本单位已有相同证件号码的人员"]


def test_unit_select_is_limited_to_the_organisation(client, world):
    from fangkong.tenancy import services as tenancy

    foreign = tenancy.unit_create(organization=world.other_org, name="外科", kind="ward", actor=world.admin)
    client.force_login(world.alice)
    r = client.get(reverse("person_create"))
    choices = list(r.context["form"].fields["unit"].queryset)
    assert foreign not in choices and world.team1 in choices
    r = client.post(reverse("person_create"), {"name": "王五", "id_type": "resident_id", "id_number": ZHANG_ID,
                                               "gender": "unknown", "kind": "employee", "unit": foreign.pk})
    assert "unit" in r.context["form"].errors and not Person.objects.exists()


def test_edit_keeps_numbers_when_left_empty(client, world, people):
    zhang = people["zhang"]
    client.force_login(world.alice)
    body = client.get(reverse("person_edit", args=[zhang.pk])).content.decode()
    assert ZHANG_ID not in body and "13812345678" not in body  # the edit form is not a way round unmasking
    r = client.post(reverse("person_edit", args=[zhang.pk]), {
        "name": "张三丰", "id_type": "resident_id", "id_number": "", "phone": "", "gender": "female",
        "kind": "teacher", "unit": world.workshop2.pk, "residence_region": "140428"})
    assert r.status_code == 302
    zhang.refresh_from_db()
    assert (zhang.name, zhang.kind, zhang.unit, zhang.id_number, zhang.phone) == (
        "张三丰", "teacher", world.workshop2, ZHANG_ID, "13812345678")
    assert AuditEvent.objects.filter(action="person.update", object_id=str(zhang.pk)).exists()


def test_archive_keeps_the_record(client, world, people):
    client.force_login(world.alice)
    r = client.post(reverse("person_archive", args=[people["li"].pk]))
    assert r.status_code == 302
    people["li"].refresh_from_db()
    assert not people["li"].is_active
    assert AuditEvent.objects.filter(action="person.archive").count() == 1


def test_export_is_masked_and_follows_the_filters(client, world, people):
    client.force_login(world.alice)
    r = client.get(reverse("people_export"), {"unit": world.workshop1.pk})
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    rows = read_xlsx(r.content)["人员台账"]
    assert rows[0][:5] == ["姓名", "性别", "证件类型", "身份证号", "手机号"]
    zhang = next(r for r in rows if r[0] == "张三")
    assert zhang[3] == "110105********002X" and zhang[4] == "138****5678" and zhang[6] == "一车间/一班"
    assert zhang[2] == "居民身份证" and zhang[5] == "职工"
    assert {r[0] for r in rows[1:]} == {"张三", "安娜"}
    event = AuditEvent.objects.get(action="person.export")
    assert event.changes["count"][1] == 2 and event.changes["unmasked"][1] is False


def test_export_unmasked_for_alice_is_audited(client, world, people):
    client.force_login(world.alice)
    body = client.get(reverse("people_list"), {"q": "张三"}).content.decode()
    assert 'id="export-unmasked"' in body and 'name="q" value="张三"' in body
    rows = read_xlsx(client.get(reverse("people_export"), {"q": "张三", "unmasked": "1"}).content)["人员台账"]
    assert rows[1][3] == ZHANG_ID and rows[1][4] == "13812345678"
    event = AuditEvent.objects.get(action="person.export")
    assert event.changes["unmasked"][1] is True and event.changes["count"][1] == 1


def test_exported_file_imports_back_as_updates(client, world, people):
    """The export has the template's columns: corrected and uploaded again, it updates the same people."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from fangkong.people.models import ImportJob

    client.force_login(world.alice)
    content = client.get(reverse("people_export"), {"unmasked": "1"}).content
    client.post(reverse("people_import"), {"file": SimpleUploadedFile("export.xlsx", content)})
    job = ImportJob.objects.latest("id")
    assert job.errors == [] and job.counts == {"total": 3, "new": 0, "updated": 0, "unchanged": 3, "invalid": 0}


def test_home_card_and_menu(client, world, people):
    client.force_login(world.alice)
    body = client.get("/").content.decode()
    assert "在册人员" in body and reverse("people_list") in body and reverse("people_import") in body
    client.force_login(world.bob)
    body = client.get("/").content.decode()
    assert reverse("people_list") in body and reverse("people_import") not in body  # no import for a unit leader
