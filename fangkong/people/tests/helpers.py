from __future__ import annotations

from io import BytesIO

from django.core.files.uploadedfile import SimpleUploadedFile

from fangkong.people.importing import HEADERS


def xlsx(rows: list[list[object]], headers: list[str] = HEADERS) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def upload(rows: list[list[object]], name: str = "名单.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, xlsx(rows), content_type="application/octet-stream")


def read_xlsx(content: bytes) -> dict[str, list[list[object]]]:
    from openpyxl import load_workbook

    book = load_workbook(BytesIO(content), read_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book.worksheets}
