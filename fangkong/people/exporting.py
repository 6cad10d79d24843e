"""Spreadsheets out: the import template and the export of a filtered ledger, both with the import's columns so an
exported file can be corrected and imported back."""

from __future__ import annotations

import random
from collections.abc import Iterable
from io import BytesIO
from typing import Any

from django.db import transaction
from django.utils import translation

from fangkong.core.audit import audit_record
from fangkong.people.idgen import synthetic_id_number, synthetic_mobile
from fangkong.people.importing import HEADERS, MAX_ADDRESS, MAX_DORMITORY, unit_path_of
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization, Unit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _zh(choices: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    with translation.override("zh-hans"):
        return [(code, str(label)) for code, label in choices]


def template_workbook(organization: Organization | None) -> bytes:
    """The import template: the header row, one example row with a synthetic valid ID, and a '说明' sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    units = list(Unit.objects.filter(organization=organization)) if organization else []
    by_id = {u.pk: u for u in units}
    paths = sorted(unit_path_of(u, by_id) for u in units)
    region = getattr(organization, "region", None)
    region_code = region.code if region is not None else "140428"
    # A fixed seed: the template is the same file every time, and its ID is synthetic (valid checksum, no real person).
    rng = random.Random(2021)
    book = Workbook()
    sheet = book.active
    sheet.title = "人员台账"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.append([
        "张三", "男", "居民身份证", synthetic_id_number(rng, region_code.ljust(6, "0"), gender="male"),
        synthetic_mobile(rng), "职工", paths[0] if paths else "", region_code, "示例路 1 号", "",
    ])
    # Text format for the ID and phone columns, so Excel keeps 18 digits instead of turning them into 1.4E+17.
    for column in ("D", "E"):
        for row in range(2, 2001):
            sheet[f"{column}{row}"].number_format = "@"
    for column, width in zip("ABCDEFGHIJ", (10, 6, 14, 22, 14, 10, 20, 20, 30, 10), strict=True):
        sheet.column_dimensions[column].width = width

    notes = book.create_sheet("说明")
    notes.append(["列", "说明", "可填写的值"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    notes.append(["姓名", "必填", ""])
    notes.append(["性别", "可空；居民身份证按证件号自动判断", "男、女、未知（或 male、female、unknown）"])
    notes.append(["证件类型", "可空，默认居民身份证", "、".join(f"{label}（{code}）" for code, label in _zh(Person.IdType.choices))])
    notes.append(["身份证号", "必填；同一单位内唯一，已存在的人员按证件号更新", "请将本列设为文本格式"])
    notes.append(["手机号", "可空", "11 位手机号，或带区号的固定电话"])
    notes.append(["人员类别", "可空，默认职工", "、".join(f"{label}（{code}）" for code, label in _zh(Person.Kind.choices))])
    notes.append(["部门", "可空；按层级用“/”分隔", "、".join(paths) if paths else "（本单位尚未设置部门）"])
    notes.append(["居住地区划", "可空", "行政区划代码或名称，如 140428 或 山西省长治市长子县"])
    notes.append(["居住地址", "可空", f"不超过 {MAX_ADDRESS} 个字"])
    notes.append(["宿舍", "可空", f"不超过 {MAX_DORMITORY} 个字"])
    notes.append(["", "更新已有人员时，空白单元格不会覆盖原有值。第 1 行为表头，请勿修改。", ""])
    notes.column_dimensions["A"].width = 12
    notes.column_dimensions["B"].width = 48
    notes.column_dimensions["C"].width = 80
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def export_rows(people: Iterable[Person], *, unmasked: bool, unit_paths: dict[int, str]) -> Iterable[list[str]]:
    with translation.override("zh-hans"):
        genders = dict((c, str(label)) for c, label in Person.Gender.choices)
        id_types = dict((c, str(label)) for c, label in Person.IdType.choices)
        kinds = dict((c, str(label)) for c, label in Person.Kind.choices)
    for p in people:
        yield [
            p.name, genders.get(p.gender, p.gender), id_types.get(p.id_type, p.id_type),
            p.id_number if unmasked else p.id_number_masked, p.phone if unmasked else p.phone_masked,
            kinds.get(p.kind, p.kind), unit_paths.get(p.unit_id, "") if p.unit_id else "",
            p.residence_region.full_name if p.residence_region is not None else "", p.address, p.dormitory,
        ]


@transaction.atomic
def export_workbook(*, people: Any, actor: Any, unmasked: bool, organization_id: int | None, filters: dict) -> bytes:
    """Write the filtered ledger with openpyxl's streaming writer; masked unless the caller chose (and may) unmask.

    The export is audited with the count and whether values were unmasked, in the same transaction as the read."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    people = people.select_related("residence_region")
    if not unmasked:
        # The encrypted columns are not needed: skip decrypting them for every row.
        people = people.defer("id_number", "phone")
    units = Unit.objects.filter(pk__in=people.exclude(unit=None).values("unit_id").distinct())
    org_ids = set(units.values_list("organization_id", flat=True))
    all_units = {u.pk: u for u in Unit.objects.filter(organization_id__in=org_ids)}
    paths = {pk: unit_path_of(u, all_units) for pk, u in all_units.items()}
    book = Workbook(write_only=True)
    sheet = book.create_sheet("人员台账")
    header = []
    for title in HEADERS:
        cell = WriteOnlyCell(sheet, value=title)
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in export_rows(people.iterator(chunk_size=2000), unmasked=unmasked, unit_paths=paths):
        sheet.append(row)
        count += 1
    out = BytesIO()
    book.save(out)
    audit_record(
        actor=actor, action="person.export", object_type="people.person", object_repr=f"导出 {count} 人",
        organization_id=organization_id,
        changes={"count": [None, count], "unmasked": [None, unmasked], "filters": [None, filters]},
    )
    return out.getvalue()
