"""The Excel import: every problem reported with its Excel row and column, valid rows only, re-import updates,
one transaction, one audit event."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse

from fangkong.core import crypto
from fangkong.core.models import AuditEvent
from fangkong.people import importing
from fangkong.people.idgen import synthetic_id_number, synthetic_mobile
from fangkong.people.models import ImportJob, Person
from fangkong.people.tests.helpers import read_xlsx, upload, xlsx

pytestmark = pytest.mark.django_db

BAD_CHECKSUM = "110105194912310021"


def ids(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [synthetic_id_number(rng) for _ in range(n)]


def row(name: str, id_number: str, **kw: str) -> list[object]:
    values = {"性别": "", "证件类型": "", "手机号": "", "人员类别": "职工", "部门": "", "居住地区划": "", "居住地址": "",
              "宿舍": "", **kw}
    return [name, values["性别"], values["证件类型"], id_number, values["手机号"], values["人员类别"], values["部门"],
            values["居住地区划"], values["居住地址"], values["宿舍"]]


def start(client, user, rows):
    client.force_login(user)
    r = client.post(reverse("people_import"), {"file": upload(rows)})
    assert r.status_code == 302, r.content.decode()[:2000]
    return ImportJob.objects.latest("id")


def test_bad_row_is_reported_with_excel_row_and_column(client, world):
    a, b = ids(2)
    job = start(client, world.alice, [row("张三", a, 部门="一车间/一班"), row("李四", b),
                                      row("王五", BAD_CHECKSUM, 手机号="12345")])
    assert job.status == ImportJob.Status.VALIDATED
    assert job.counts == {"total": 3, "new": 2, "updated": 0, "unchanged": 0, "invalid": 1}, job.errors
    page = client.get(reverse("people_import_job", args=[job.pk])).content.decode()
    # The header is row 1, so the third data row is Excel's row 4; both problems of the row are listed.
    assert "第 4 行，身份证号：身份证号校验位不正确" in page
    assert "第 4 行，手机号：手机号应为 11 位数字" in page
    assert 'id="import-errors"' in page and 'id="import-commit"' in page
    assert Person.objects.count() == 0  # the preview writes nothing


@pytest.mark.smoke  # also on SQLite: the bulk_create / bulk_update fallback of the commit
def test_commit_writes_valid_rows_only_with_one_audit_event(client, world):
    a, b = ids(2)
    job = start(client, world.alice, [
        row("张三", a, 部门="一车间/一班", 手机号="13812345678", 居住地区划="140428"),
        row("李四", b, 人员类别="外包人员", 部门="二车间", 居住地区划="山西省长治市长子县", 性别="女"),
        row("王五", BAD_CHECKSUM),
    ])
    r = client.post(reverse("people_import_commit", args=[job.pk]))
    assert r.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.counts["created"] == 2 and job.counts["skipped"] == 1
    assert not job.file  # the upload is not kept once imported
    zhang = Person.objects.get(name="张三")
    assert zhang.organization == world.factory and zhang.unit == world.team1
    assert zhang.id_number == a and zhang.id_number_hash == crypto.lookup_hash(a)
    assert zhang.phone == "13812345678" and zhang.phone_masked == "138****5678"
    assert zhang.residence_region_id == "140428" and zhang.name_sort == "zhang san" and zhang.birth_date
    li = Person.objects.get(name="李四")
    assert li.kind == "contractor" and li.unit == world.workshop2 and li.gender == "female"
    assert li.residence_region_id == "140428"
    events = AuditEvent.objects.filter(action="person.import")
    assert events.count() == 1
    assert events.get().changes["counts"][1] == {"created": 2, "updated": 0, "unchanged": 0, "skipped": 1}
    assert not AuditEvent.objects.filter(action="person.create").exists()  # not one event per row


@pytest.mark.smoke  # also on SQLite: the bulk_create / bulk_update fallback of the commit
def test_reimport_updates_instead_of_duplicating(client, world, make_person):
    a, b = ids(2)
    existing = make_person(name="张三", id_number=a, phone="13900000000", unit=world.workshop1)
    job = start(client, world.alice, [row("张三丰", a.lower(), 部门="二车间"), row("李四", b)])
    assert job.counts["new"] == 1 and job.counts["updated"] == 1
    client.post(reverse("people_import_commit", args=[job.pk]))
    assert Person.objects.filter(organization=world.factory).count() == 2
    existing.refresh_from_db()
    assert existing.name == "张三丰" and existing.unit == world.workshop2
    assert existing.phone == "13900000000"  # an empty cell leaves the stored phone alone
    # The same rows again: nothing to change, and nothing is rewritten.
    stamps = dict(Person.objects.values_list("pk", "updated_at"))
    job = start(client, world.alice, [row("张三丰", a, 部门="二车间"), row("李四", b)])
    assert job.counts == {"total": 2, "new": 0, "updated": 0, "unchanged": 2, "invalid": 0}
    client.post(reverse("people_import_commit", args=[job.pk]))
    assert Person.objects.filter(organization=world.factory).count() == 2
    assert dict(Person.objects.values_list("pk", "updated_at")) == stamps
    # One changed cell makes that row an update.
    job = start(client, world.alice, [row("张三丰", a, 部门="二车间", 宿舍="3-101"), row("李四", b)])
    assert (job.counts["updated"], job.counts["unchanged"]) == (1, 1)


def test_same_id_in_another_organization_is_a_new_person(world, make_person):
    (a,) = ids(1)
    make_person(organization=world.other_org, name="外单位", id_number=a)
    result = importing.validate_rows(world.factory, importing.RawSheet([(2, {"姓名": "张三", "身份证号": a})]))
    assert result.counts["new"] == 1


def test_duplicates_unknown_units_and_regions_are_reported_on_each_row(world):
    a, b = ids(2)
    sheet = importing.parse_workbook(__import__("io").BytesIO(xlsx([
        row("张三", a), row("李四", b, 部门="三车间"), row("张三", a, 居住地区划="火星"), [None] * 10,
        row("赵六", b.replace(b[-1], "0") if b[-1] != "0" else b[:-1] + "1", 人员类别="领导"),
    ])))
    result = importing.validate_rows(world.factory, sheet)
    lines = result.error_lines()
    assert "第 2 行，身份证号：与第 4 行的证件号码重复" in lines
    assert "第 4 行，身份证号：与第 2 行的证件号码重复" in lines
    assert any(line.startswith("第 3 行，部门：本单位没有部门“三车间”") for line in lines)
    assert any(line.startswith("第 4 行，居住地区划：未知的行政区划“火星”") for line in lines)
    assert any(line.startswith("第 6 行，人员类别：未知的人员类别“领导”") for line in lines)
    assert any(line.startswith("第 6 行，身份证号：") for line in lines)
    # Row 5 is empty and skipped silently; nothing here is valid.
    assert result.counts == {"total": 4, "new": 0, "updated": 0, "unchanged": 0, "invalid": 4}


def test_english_codes_and_number_cells_are_accepted(world):
    (a,) = ids(1)
    sheet = importing.parse_workbook(__import__("io").BytesIO(xlsx([
        ["Ann", "female", "resident_id", a, 13812345678, "visitor", "一班", "140428", "", "3-201"],
    ])))
    result = importing.validate_rows(world.factory, sheet)
    assert result.errors == []
    values = result.valid[0].values
    assert values["kind"] == "visitor" and values["phone"] == "13812345678" and values["unit_id"] == world.team1.pk


def test_missing_required_column_fails_the_job(client, world):
    client.force_login(world.alice)
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = xlsx([["张三"]], headers=["姓名"])
    client.post(reverse("people_import"), {"file": SimpleUploadedFile("x.xlsx", content)})
    job = ImportJob.objects.latest("id")
    assert job.status == ImportJob.Status.FAILED and "缺少必填列 身份证号" in job.message
    page = client.get(reverse("people_import_job", args=[job.pk])).content.decode()
    assert "缺少必填列" in page


def test_not_an_excel_file_is_refused_by_the_form(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world.alice)
    r = client.post(reverse("people_import"), {"file": SimpleUploadedFile("x.csv", b"a,b")})
    assert r.status_code == 200 and "请上传 .xlsx 格式的 Excel 文件" in r.content.decode()
    assert not ImportJob.objects.exists()


def test_cancel_writes_nothing(client, world):
    (a,) = ids(1)
    job = start(client, world.alice, [row("张三", a)])
    client.post(reverse("people_import_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED and not job.file
    r = client.post(reverse("people_import_commit", args=[job.pk]))
    assert r.status_code == 302
    assert Person.objects.count() == 0


def test_a_crash_in_the_middle_writes_nothing(client, world, make_person, monkeypatch):
    """Small batches so the crash comes after some rows were already inserted in the transaction."""
    numbers = ids(7)
    existing = make_person(name="旧名", id_number=numbers[0])
    job = start(client, world.alice, [row(f"人员{i}", n) for i, n in enumerate(numbers)])
    monkeypatch.setattr(importing, "BATCH", 2)
    inserted = []
    real_insert = importing._insert_batch

    def insert(*args, **kwargs):
        inserted.append(len(args[1]))
        real_insert(*args, **kwargs)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing, "_insert_batch", insert)
    monkeypatch.setattr(importing, "_update_rows", crash)
    client.post(reverse("people_import_commit", args=[job.pk]))
    monkeypatch.undo()
    assert inserted == [2, 2, 2]  # the new people were already inserted when the update failed
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "已全部回滚" in job.message
    assert list(Person.objects.values_list("name", flat=True)) == ["旧名"]
    existing.refresh_from_db()
    assert existing.name == "旧名"
    assert not AuditEvent.objects.filter(action="person.import").exists()


def test_progress_endpoint_polls_while_running_and_refreshes_when_done(client, world):
    (a,) = ids(1)
    job = start(client, world.alice, [row("张三", a)])
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATING, total=10, processed=4)
    r = client.get(reverse("people_import_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert 'hx-trigger="every 1s"' in body and "40%" in body and "HX-Refresh" not in r.headers
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATED)
    r = client.get(reverse("people_import_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert r.headers["HX-Refresh"] == "true"


def test_template_has_headers_instructions_and_an_example_that_imports(client, world):
    client.force_login(world.alice)
    r = client.get(reverse("people_import_template"))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    sheets = read_xlsx(r.content)
    data, notes = sheets["人员台账"], sheets["说明"]
    assert data[0] == importing.HEADERS
    flat = " ".join(str(c) for line in notes for c in line if c)
    for label in ("职工", "外包人员", "学生", "教师", "陪护", "患者", "访客", "其他", "居民身份证", "一车间/一班"):
        assert label in flat
    # The example row is valid as it stands.
    sheet = importing.parse_workbook(__import__("io").BytesIO(r.content))
    assert importing.validate_rows(world.factory, sheet).errors == []


def test_others_cannot_see_or_commit_alices_import(client, world):
    (a,) = ids(1)
    job = start(client, world.alice, [row("张三", a)])
    for user in (world.charlie, world.bob):
        client.force_login(user)
        assert client.get(reverse("people_import_job", args=[job.pk])).status_code in (403, 404)
        assert client.post(reverse("people_import_commit", args=[job.pk])).status_code in (403, 404)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED and Person.objects.count() == 0


def test_random_phones_roundtrip(world):
    rng = random.Random(3)
    rows = [(i + 2, {"姓名": f"人{i}", "身份证号": synthetic_id_number(rng), "手机号": synthetic_mobile(rng)})
            for i in range(50)]
    result = importing.validate_rows(world.factory, importing.RawSheet(rows))
    assert result.counts["new"] == 50 and result.errors == []


@pytest.mark.parametrize("calamine", [True, False])
def test_both_readers_give_the_same_rows(world, monkeypatch, calamine):
    """python-calamine when installed, openpyxl's streaming reader otherwise: the same rows and row numbers."""
    import io
    import sys

    if not calamine:
        monkeypatch.setitem(sys.modules, "python_calamine", None)
    (a,) = ids(1)
    sheet = importing.parse_workbook(io.BytesIO(xlsx([[None] * 10, row("张三", a, 手机号=13812345678)])))
    assert sheet.rows == [(3, {"姓名": "张三", "性别": "", "证件类型": "", "身份证号": a, "手机号": "13812345678",
                                "人员类别": "职工", "部门": "", "居住地区划": "", "居住地址": "", "宿舍": ""})]
    with pytest.raises(importing.ServiceError, match="无法读取文件"):
        importing.parse_workbook(io.BytesIO(b"not a workbook"))


def test_unconfirmed_uploads_are_deleted_after_a_day(client, world):
    from datetime import timedelta

    from django.utils import timezone

    from fangkong.people.tasks import expire_stale_imports

    (a,) = ids(1)
    job = start(client, world.alice, [row("张三", a)])
    path = job.file.path
    assert expire_stale_imports() == 0
    assert expire_stale_imports(now=timezone.now() + timedelta(hours=25)) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CANCELLED and not job.file
    assert not __import__("os").path.exists(path)


@pytest.mark.parametrize("calamine", [True, False])
def test_an_id_number_stored_as_a_number_is_explained(world, monkeypatch, calamine):
    """Typed without the template, an 18-digit ID becomes a number in Excel and loses its last digits: say so,
    instead of calling a correct number's checksum wrong. Numbers are fine for phones (see above)."""
    import io
    import sys

    if not calamine:
        monkeypatch.setitem(sys.modules, "python_calamine", None)
    (a,) = ids(1)
    sheet = importing.parse_workbook(io.BytesIO(xlsx([row("钱八", int(a) if a[-1] != "X" else 110101199003074514)])))
    result = importing.validate_rows(world.factory, sheet)
    (error,) = result.errors
    assert error["row"] == 2 and error["column"] == "身份证号"
    assert "数字格式" in importing.error_text(error) and "文本格式" in importing.error_text(error)


def test_an_unreadable_file_is_named_plainly(world):
    import io

    with pytest.raises(importing.ServiceError) as refused:
        importing.parse_workbook(io.BytesIO(b"%PDF-1.4 not a workbook"))
    assert "无法读取文件" in refused.value.message and "Error" not in refused.value.message


def test_nothing_valid_offers_no_import_and_refuses_one(client, world):
    job = start(client, world.alice, [row("王五", BAD_CHECKSUM)])
    assert job.status == ImportJob.Status.VALIDATED and job.counts["invalid"] == 1
    page = client.get(reverse("people_import_job", args=[job.pk])).content.decode()
    assert 'id="import-commit"' not in page and 'id="import-nothing"' in page
    r = client.post(reverse("people_import_commit", args=[job.pk]))
    assert r.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED and not AuditEvent.objects.filter(action="person.import").exists()
