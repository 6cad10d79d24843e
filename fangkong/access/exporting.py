"""Spreadsheets of entry control for the records the plans ask to keep (seed 002: person in/out records with name,
origin, destination, transport and time; vehicle disinfection; visitor registration). Names and masked numbers
only; every export is audited like any export of people."""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from typing import Any

from django.utils import timezone, translation

from fangkong.core.audit import audit_record

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 200_000


def _time(value: Any) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}" if value else ""


def _workbook(sheet_name: str, header: list[str], rows: Iterable[list[Any]]) -> tuple[bytes, int]:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append(header)
    n = 0
    # The rows are the record the plans ask to keep, under Chinese headers: their labels and reasons are worded
    # in Chinese too, whatever language the page that asked for them is in (the rows are generated lazily, here).
    with translation.override("zh-hans"):
        for row in rows:
            sheet.append(row)
            n += 1
            if n >= MAX_ROWS:
                break
    out = BytesIO()
    book.save(out)
    return out.getvalue(), n


def _audit(actor: Any, what: str, object_type: str, n: int, filters: str, organization_id: int | None) -> None:
    audit_record(actor=actor, action=f"{what}.export", object_type=object_type, object_id="",
                 object_repr=f"{n} rows", organization_id=organization_id, changes={"filters": [None, filters]})


def scans_xlsx(*, scans: Any, actor: Any, filters: str = "", organization_id: int | None = None) -> bytes:
    rows = (
        [s.person.name, s.person.get_kind_display(), s.person.id_number_masked, s.venue.name, s.get_direction_display(),
         _time(s.at), str(s.temperature or ""), s.get_health_code_display() if s.health_code else "",
         s.get_decision_display(), "；".join(s.reason_texts), _time(s.left_at), "是" if s.estimated_exit else "",
         s.device_id]
        for s in scans.select_related("venue", "person").iterator(chunk_size=2000)
    )
    data, n = _workbook("出入记录", ["姓名", "人员类别", "证件号码", "场所", "方向", "时间", "体温（℃）", "健康码", "结果",
                                 "原因", "离开时间", "离开时间为推定", "设备"], rows)
    _audit(actor, "scan", "access.scan", n, filters, organization_id)
    return data


def visits_xlsx(*, visits: Any, actor: Any, filters: str = "", organization_id: int | None = None) -> bytes:
    rows = (
        [v.visitor.name, v.visitor.id_number_masked, v.visitor.phone_masked, v.company, v.host.name, v.purpose,
         _time(v.starts_at), _time(v.ends_at), v.places_14d, v.get_health_code_display() if v.health_code else "",
         "现场登记" if v.walk_in else "预约", v.get_status_display(), v.decision_note, _time(v.arrived_at)]
        for v in visits.select_related("visitor", "host").iterator(chunk_size=2000)
    )
    data, n = _workbook("访客登记", ["访客", "证件号码", "手机号", "来访单位", "被访人", "事由", "预约开始", "预约结束",
                                 "近14天行程", "健康码", "方式", "状态", "审批意见", "到达时间"], rows)
    _audit(actor, "visit", "access.visit", n, filters, organization_id)
    return data


def vehicles_xlsx(*, vehicles: Any, actor: Any, filters: str = "", organization_id: int | None = None) -> bytes:
    rows = (
        [v.plate, v.driver.name, v.driver.phone_masked, v.origin, v.destination, v.cargo, _time(v.time_in),
         _time(v.time_out), "是" if v.disinfected else "否", v.disinfected_by, v.disinfectant, _time(v.disinfected_at)]
        for v in vehicles.select_related("driver").iterator(chunk_size=2000)
    )
    data, n = _workbook("车辆通行", ["车牌号", "驾驶员", "手机号", "出发地", "目的地", "货物", "进入时间", "离开时间",
                                 "已消毒", "消毒人", "消毒剂", "消毒时间"], rows)
    _audit(actor, "vehicle", "access.vehiclepass", n, filters, organization_id)
    return data

