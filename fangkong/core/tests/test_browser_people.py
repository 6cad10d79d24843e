"""The person ledger in a real browser: import an Excel file with one bad row, see the row's error, commit the valid
rows, then export the list and open the downloaded workbook."""

from __future__ import annotations

import io
import random

import openpyxl
import pytest

from conftest import login
from fangkong.people.idgen import synthetic_id_number, synthetic_mobile
from fangkong.people.importing import HEADERS
from fangkong.people.models import Person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def ledger_file(tmp_path, rng: random.Random) -> tuple[str, list[str]]:
    """Three good rows and, on spreadsheet row 4, an ID number whose check digit is wrong."""
    good = [synthetic_id_number(rng) for _ in range(3)]
    bad = good[0][:-1] + ("0" if good[0][-1] != "0" else "1")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    rows = [
        ["王建国", "男", "居民身份证", good[0], synthetic_mobile(rng), "职工", "一车间", "140428", "丹河路 1 号", "1-101"],
        ["李秀英", "女", "居民身份证", good[1], synthetic_mobile(rng), "职工", "一车间/一班", "", "", ""],
        ["赵错号", "男", "居民身份证", bad, synthetic_mobile(rng), "职工", "二车间", "", "", ""],
        ["孙外包", "男", "居民身份证", good[2], synthetic_mobile(rng), "外包人员", "二车间", "", "", ""],
    ]
    for row in rows:
        sheet.append(row)
    path = tmp_path / "台账.xlsx"
    book.save(path)
    return str(path), good


def test_import_with_a_bad_row_commit_the_valid_rows_and_export_masked(page, live_server, world, rng, tmp_path):
    path, good = ledger_file(tmp_path, rng)
    login(page, live_server, "alice", "pw-alice")

    page.goto(f"{live_server.url}/people/import/")
    page.set_input_files("#import-file", path)
    with page.expect_navigation():
        page.click("#import-upload")
    # Validation ran (Huey is immediate in tests): the bad row is named by its spreadsheet row and column.
    errors = page.locator("#import-errors").inner_text()
    assert "第 4 行" in errors and "身份证号" in errors, errors
    assert "第 2 行" not in errors and "第 3 行" not in errors and "第 5 行" not in errors
    assert page.locator("#count-new").inner_text().strip() == "3"
    assert page.locator("#count-invalid").inner_text().strip() == "1"
    assert Person.objects.filter(organization=world.factory).count() == 0  # nothing written before the commit

    page.once("dialog", lambda dialog: dialog.accept())  # the data-confirm question before writing
    with page.expect_navigation():
        page.click("#import-commit")
    page.locator("#count-created").wait_for()
    assert page.locator("#count-created").inner_text().strip() == "3"
    names = set(Person.objects.filter(organization=world.factory).values_list("name", flat=True))
    assert names == {"王建国", "李秀英", "孙外包"}

    page.goto(f"{live_server.url}/people/")
    table = page.locator("#people-table").inner_text()
    assert "王建国" in table and "赵错号" not in table
    assert good[0] not in table  # the list shows masked ID numbers

    with page.expect_download() as download_info:
        page.click("#export-link")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as f:
        book = openpyxl.load_workbook(io.BytesIO(f.read()), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    id_col = header.index("身份证号")
    exported = {row[header.index("姓名")]: row[id_col] for row in body}
    assert set(exported) == {"王建国", "李秀英", "孙外包"}
    for number in good:
        assert number not in exported.values()
    assert exported["王建国"] == good[0][:6] + "********" + good[0][-4:]
