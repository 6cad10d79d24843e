"""Pages: every list renders (with its empty state), forms work end to end, other tenants get 404."""

from __future__ import annotations

import datetime as dt
import re
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from fangkong.obligations.models import Obligation
from fangkong.testing import services
from fangkong.testing.models import Result, Sample, TestProgram, Vaccination

pytestmark = pytest.mark.django_db

PAGES = ["programs", "program_new", "samples", "sample_new", "result_new", "result_import", "overdue", "findings",
         "coverage", "unvaccinated", "vaccination_import"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_render_for_alice(client, world, name):
    client.force_login(world.alice)
    r = client.get(reverse(f"testing:{name}"))
    assert r.status_code == 200, name


def test_member_cannot_see_testing_pages(client, world, make_person):
    from django.contrib.auth import get_user_model

    from fangkong.tenancy import services as tenancy
    from fangkong.tenancy.roles import Role

    dave = get_user_model().objects.create_user("dave", password="pw")
    tenancy.membership_grant(user=dave, role=Role.MEMBER, organization=world.factory, actor=world.admin)
    client.force_login(dave)
    assert client.get(reverse("testing:programs")).status_code == 403
    assert client.get(reverse("testing:coverage")).status_code == 403


def test_create_programme_generates_today(client, world, make_person):
    make_person(post_category="cold_chain")
    client.force_login(world.alice)
    r = client.post(reverse("testing:program_new"), {
        "name": "冷链每 3 天核酸", "kind": "every_n_days", "test_kind": "nat", "post_categories": ["cold_chain"],
        "interval_days": 3, "per_day": 100, "start_date": dt.date.today().isoformat(),
        "source_note": "003：进口冷链从业人员每 3 天一次核酸",
    })
    program = TestProgram.objects.get()
    assert r.status_code == 302 and r.url == reverse("testing:program", args=[program.pk])
    assert Obligation.objects.filter(source=program.source).count() == 1
    r = client.get(r.url)
    assert "冷链每 3 天核酸" in r.content.decode() and "0.0%" in r.content.decode()


def test_programme_of_another_tenant_is_404(client, world):
    program = services.program_create(organization=world.other_org, actor=world.charlie, name="x",
                                      kind="on_admission", start_date=dt.date.today())
    client.force_login(world.alice)
    assert client.get(reverse("testing:program", args=[program.pk])).status_code == 404
    assert client.post(reverse("testing:program_toggle", args=[program.pk])).status_code == 404
    program.refresh_from_db()
    assert program.active


def test_register_pooled_sample_by_scanning_ids_then_enter_result(client, world, make_person):
    people = [make_person() for _ in range(3)]
    client.force_login(world.alice)
    r = client.post(reverse("testing:sample_new"), {
        "tube_code": "T0009", "kind": "nat", "pooled": "on", "members": "\n".join(p.id_number for p in people),
    })
    assert r.status_code == 302, r.content.decode()[:2000]
    sample = Sample.objects.get()
    assert sample.pooled and sample.members.count() == 3
    r = client.post(reverse("testing:result_new"), {"tube_code": "T0009", "result": "positive"}, follow=True)
    assert "已为 3 人生成立即复检任务" in r.content.decode()
    r = client.post(reverse("testing:result_new"), {"tube_code": "T123", "result": "negative"})
    assert "未知的管码 T123" in r.content.decode()


def test_sample_with_unknown_person_shows_error(client, world, make_person):
    stranger = make_person(organization=world.other_org)
    client.force_login(world.alice)
    r = client.post(reverse("testing:sample_new"), {"tube_code": "T1", "kind": "nat", "pooled": "on",
                                                    "members": stranger.id_number})
    assert r.status_code == 200 and "本单位找不到这些人员" in r.content.decode()
    assert not Sample.objects.exists()


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("results.csv", text.encode("utf-8-sig"), content_type="text/csv")


def test_result_import_reports_rows_and_respects_the_choice(client, world, make_person):
    a, b = make_person(), make_person()
    services.sample_register(organization=world.factory, tube_code="A1", members=[a], actor=world.alice,
                             sampled_at=dt.datetime(2021, 11, 10, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    text = ("管码,身份证号,结果,采样时间,报告时间\n"
            "A1,,阴性,2021-11-10 08:00,2021-11-10 20:00\n"
            "T123,,阴性,2021-11-10 08:00,2021-11-10 20:00\n"
            f",{b.id_number},阳性,2021-11-10 08:00,2021-11-10 20:00\n"
            "A2,,阴性,昨天,2021-11-10 20:00\n")
    client.force_login(world.alice)
    r = client.post(reverse("testing:result_import"), {"file": _csv(text), "mode": "all"})
    page = r.content.decode()
    assert "第 3 行，管码：未知的管码 T123" in page and "第 5 行，采样时间" in page
    assert not Result.objects.exists()
    r = client.post(reverse("testing:result_import"), {"file": _csv(text), "mode": "valid"})
    page = r.content.decode()
    assert "已导入 2 条结果" in page, re.findall(r"第 \d 行[^<]*|alert[^<]*<[^<]*", page)
    assert Result.objects.count() == 2


def test_vaccination_pages_and_export(client, world, make_person):
    p = make_person(unit=world.workshop1, name="张三")
    q = make_person(unit=world.workshop1, name="李四")
    client.force_login(world.alice)
    url = reverse("testing:person_vaccinations", args=[p.pk])
    r = client.post(url, {"form": "dose", "dose_number": 2, "product": "灭活疫苗", "vaccinated_on": "2021-06-01"})
    assert "缺少第 1 剂" in r.content.decode()
    r = client.post(url, {"form": "dose", "dose_number": 1, "product": "灭活疫苗", "vaccinated_on": "2021-06-01"})
    assert r.status_code == 302 and Vaccination.objects.count() == 1
    r = client.get(reverse("testing:coverage"))
    assert "50.0%" in r.content.decode()
    r = client.get(reverse("testing:unvaccinated"))
    assert "李四" in r.content.decode() and "张三" not in r.content.decode()
    r = client.get(reverse("testing:unvaccinated_export"))
    book = load_workbook(BytesIO(r.content))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and [row[0] for row in rows[1:]] == ["李四"]
    assert rows[1][1] == q.id_number_masked
    client.force_login(world.charlie)
    assert client.get(url).status_code == 404


def test_vaccination_import_page(client, world, make_person):
    p = make_person()
    book = Workbook()
    sheet = book.active
    sheet.append(["身份证号", "剂次", "疫苗名称", "生产企业", "接种日期", "接种单位"])
    sheet.append([p.id_number, 1, "灭活疫苗", "北京生物", dt.date(2021, 5, 1), "长子县人民医院"])
    sheet.append([p.id_number, 3, "灭活疫苗", "北京生物", "2021-06-01", ""])
    out = BytesIO()
    book.save(out)
    upload = SimpleUploadedFile("v.xlsx", out.getvalue())
    client.force_login(world.alice)
    r = client.post(reverse("testing:vaccination_import"), {"file": upload, "mode": "all"})
    assert "第 3 行，剂次" in r.content.decode() and not Vaccination.objects.exists()


def test_coverage_in_english_and_the_unvaccinated_export_stays_chinese(client, world, make_person):
    from django.conf import settings
    from django.utils import translation

    from fangkong.testing import selectors

    make_person(unit=world.workshop1, name="李四", kind="employee", post_category="cold_chain")
    client.force_login(world.alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("testing:coverage")).content.decode()
    assert "Total" in page and "合计" not in page
    with translation.override("en"):
        assert selectors.coverage_total([]).name == "Total"
    # The mobilisation list is kept under Chinese headers: the people's kinds and posts stay Chinese.
    rows = list(load_workbook(BytesIO(client.get(reverse("testing:unvaccinated_export")).content))
                .active.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and rows[1][:1] + rows[1][3:5] == ("李四", "职工", "进口冷链")
