"""Reading result and vaccination files (.xlsx or .csv) into service rows, with row-level errors as Excel numbers
them (the header is row 1): "第 N 行，采样时间：无法识别的时间“…”"."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Iterator
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext

from fangkong.core.errors import ServiceError
from fangkong.testing.services import (
    ApplyReport,
    ResultRow,
    VaccinationRow,
    listed,
    nothing_saved,
    results_apply,
    row_error_line,
    vaccinations_import,
    validate_results,
)

RESULT_HEADERS = ("管码", "身份证号", "结果", "采样时间", "报告时间", "检测类型", "检测机构")
VACCINATION_HEADERS = ("身份证号", "剂次", "疫苗名称", "生产企业", "接种日期", "接种单位")
ALIASES = {"试管编码": "管码", "样本编号": "管码", "条码": "管码", "证件号码": "身份证号", "检测结果": "结果",
           "采集时间": "采样时间", "疫苗": "疫苗名称", "厂家": "生产企业", "接种点": "接种单位"}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    return value


def _rows(name: str, data: bytes) -> Iterator[tuple[Any, ...]]:
    if name.lower().endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ServiceError(gettext("无法读取 CSV 文件：请保存为 UTF-8 编码"), {"file": [gettext("编码无法识别")]})
        yield from (tuple(r) for r in csv.reader(io.StringIO(text)))
        return
    try:
        from python_calamine import CalamineWorkbook

        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception:  # calamine raises its own types for a file that is not a workbook
        # The reader's own error class (CalamineError …) means nothing to the clerk.
        raise ServiceError(gettext("无法读取文件：请上传 .xlsx 或 .csv 文件"),
                           {"file": [gettext("请上传 .xlsx 或 .csv 文件")]}) from None
    yield from (tuple(r) for r in rows)


def read_table(name: str, data: bytes | IO[bytes], known: tuple[str, ...], required: tuple[str, ...]
               ) -> list[tuple[int, dict[str, Any]]]:
    raw = data if isinstance(data, bytes) else data.read()
    it = _rows(name, raw)
    header = next(it, None)
    if header is None:
        raise ServiceError(gettext("文件是空的：第 1 行应为表头"), {"file": [gettext("文件是空的")]})
    columns: list[tuple[int, str]] = []
    for index, value in enumerate(header):
        label = "".join(str(_cell(value)).split())
        label = ALIASES.get(label, label)
        if label in known and label not in {c for _, c in columns}:
            columns.append((index, label))
    have = {c for _, c in columns}
    missing = [h for h in required if h not in have]
    if missing:
        # The columns are named as the file must name them (the template's Chinese headers).
        raise ServiceError(gettext("第 1 行，表头：缺少必填列 %(columns)s") % {"columns": listed(missing)},
                           {"file": [gettext("缺少必填列：%(columns)s") % {"columns": listed(missing)}]})
    out = []
    last = max(i for i, _label in columns)
    for number, values in enumerate(it, start=2):
        if len(values) > last:
            # The common case, inlined (a lab sheet has 100,000 rows): text cells are only stripped.
            record = {label: v.strip() if type(v) is str else _cell(v)
                      for i, label in columns for v in (values[i],)}
        else:
            width = len(values)
            record = {label: _cell(values[i]) if i < width else "" for i, label in columns}
        if any(v != "" for v in record.values()):
            out.append((number, record))
    return out


def parse_time(value: Any) -> dt.datetime | None:
    """Excel datetimes, or text like 2021-11-10 12:30, 2021/11/10 12:30:00, 2021-11-10T12:30+08:00."""
    if value in ("", None):
        return None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime.combine(value, dt.time.min)
    else:
        return _parse_text_time(str(value).strip())
    return timezone.make_aware(when) if timezone.is_naive(when) else when


@functools.lru_cache(maxsize=4096)
def _parse_text_time(text: str) -> dt.datetime:
    # A lab sheet repeats the same few times thousands of times: parse each distinct text once.
    try:
        when = dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise ValueError(gettext("无法识别的时间“%(value)s”，应为 YYYY-MM-DD HH:MM") % {"value": text}) from None
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def import_results(*, organization: Any, name: str, data: bytes | IO[bytes], actor: Any,
                   valid_only: bool = False) -> ApplyReport:
    """A lab's result sheet: each row matched by 管码 (or by 身份证号 when there is no tube code)."""
    table = read_table(name, data, RESULT_HEADERS, ("结果",))
    if table and "管码" not in table[0][1] and "身份证号" not in table[0][1]:
        raise ServiceError(gettext("第 1 行，表头：需要“管码”或“身份证号”列"), {"file": [gettext("缺少管码或身份证号列")]})
    rows: list[ResultRow] = []
    problems: list[dict[str, Any]] = []
    for number, rec in table:
        try:
            sampled = parse_time(rec.get("采样时间"))
        except ValueError as exc:
            problems.append({"row": number, "column": "采样时间", "message": str(exc)})
            continue
        try:
            reported = parse_time(rec.get("报告时间"))
        except ValueError as exc:
            problems.append({"row": number, "column": "报告时间", "message": str(exc)})
            continue
        rows.append(ResultRow(line=number, result=str(rec.get("结果", "")), tube_code=str(rec.get("管码", "")),
                              id_number=str(rec.get("身份证号", "")), kind=str(rec.get("检测类型", "")),
                              sampled_at=sampled, reported_at=reported, lab=str(rec.get("检测机构", ""))))
    if problems and not valid_only:
        # Report every problem of the file at once (the service's checks too), storing nothing.
        _resolved, service_errors = validate_results(organization, rows)
        raise _all_problems(problems + service_errors)
    report = results_apply(organization=organization, rows=rows, actor=actor, valid_only=valid_only)
    report.errors = sorted(problems + report.errors, key=lambda e: e["row"])
    report.total = len(table)
    return report


def _all_problems(problems: list[dict[str, Any]]) -> ServiceError:
    problems = sorted(problems, key=lambda p: p["row"])
    return ServiceError(nothing_saved(problems), {"rows": [row_error_line(p) for p in problems]})


def import_vaccinations(*, organization: Any, name: str, data: bytes | IO[bytes], actor: Any,
                        valid_only: bool = False) -> ApplyReport:
    table = read_table(name, data, VACCINATION_HEADERS, ("身份证号", "剂次", "疫苗名称", "接种日期"))
    rows = []
    for number, rec in table:
        on = rec.get("接种日期", "")
        if isinstance(on, (dt.date, dt.datetime)):
            on = (on.date() if isinstance(on, dt.datetime) else on).isoformat()
        rows.append(VaccinationRow(line=number, id_number=str(rec.get("身份证号", "")),
                                   dose_number=str(rec.get("剂次", "")), product=str(rec.get("疫苗名称", "")),
                                   vaccinated_on=str(on).replace("/", "-"),
                                   manufacturer=str(rec.get("生产企业", "")), site=str(rec.get("接种单位", ""))))
    report = vaccinations_import(organization=organization, rows=rows, actor=actor, valid_only=valid_only)
    report.total = len(table)
    return report
