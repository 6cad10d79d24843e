"""The ledger's refusals in the reader's language: a rule's error worded where it is reported, the services' own
errors, and an import's problems worded when the job is read (whatever language the check ran in)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from fangkong.core.errors import ServiceError
from fangkong.core.rule_errors import RuleError, worded
from fangkong.core.tokens import token_issue
from fangkong.people import rules, services
from fangkong.people.models import ImportJob
from fangkong.people.tests.helpers import upload, xlsx
from fangkong.people.tests.test_import import BAD_CHECKSUM, ids, row

pytestmark = pytest.mark.django_db


def test_rule_error_is_chinese_and_worded_in_english():
    with pytest.raises(RuleError) as caught:
        rules.check_id_number("resident_id", "11010519491231002")
    assert str(caught.value) == "身份证号应为 18 位，实为 17 位"
    with translation.override("en"):
        assert worded(caught.value) == "A resident ID number has 18 characters, this one has 17"


def test_bad_id_number_on_the_api_in_english(client, world):
    _t, raw = token_issue(user=world.alice, name="t")
    body = {"name": "李四", "id_number": BAD_CHECKSUM, "organization_id": world.factory.pk}
    r = client.post("/api/v1/people", json.dumps(body), content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 400
    assert r.json()["errors"]["id_number"] == ["The check digit of the ID number is wrong"]
    assert r.json()["message"] == "ID number: The check digit of the ID number is wrong"


def test_service_errors_in_english(world, make_person):
    p = make_person()
    with translation.override("en"):
        with pytest.raises(ServiceError, match=r"^ID number: This organisation already has a person with the same"):
            services.person_create(organization=world.factory, actor=world.alice, name="重复", id_number=p.id_number)
        with pytest.raises(ServiceError, match=r"^Unit: The unit does not belong to this organisation$"):
            services.person_update(person=p, actor=world.alice, unit=world.other_org.units.create(name="外单位部门"))


def test_import_problems_read_in_english(client, world):
    a, b = ids(2)
    client.force_login(world.alice)
    # Checked in Chinese (the default language); the problems are stored in Chinese ...
    client.post(reverse("people_import"), {"file": upload([
        row("张三", a), row("王五", BAD_CHECKSUM, 手机号="12345"), row("张三", a), row("李四", b, 人员类别="领导")])})
    job = ImportJob.objects.latest("id")
    assert "第 3 行，身份证号：身份证号校验位不正确" in job.error_lines()
    # ... and read in English.
    page = client.get(reverse("people_import_job", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Row 3, 身份证号: The check digit of the ID number is wrong" in page
    assert "Row 3, 手机号: A phone number should be 11 digits starting with 1" in page
    assert "Row 2, 身份证号: Same ID number as row(s) 4" in page
    assert "Row 5, 人员类别: Unknown kind “领导” (see the “说明” sheet)" in page


def test_refused_file_in_english(client, world):
    client.force_login(world.alice)
    content = xlsx([["张三"]], headers=["姓名"])
    client.post(reverse("people_import"), {"file": SimpleUploadedFile("x.xlsx", content)}, HTTP_ACCEPT_LANGUAGE="en")
    job = ImportJob.objects.latest("id")
    assert job.status == ImportJob.Status.FAILED
    assert job.message == "Row 1, header: required column(s) missing: 身份证号 (please use the import template)"
