"""The ledger spreadsheet: its columns, and the set-based import (parse → validate → commit).

Validation runs row by row through the pure rules (fangkong/people/rules.py) but touches the database only a fixed
number of times per file: the organisation's units once, the regions named in the file once per distinct value, and
the organisation's existing ID hashes once. The commit is one transaction of bulk_create / bulk_update batches and one
audit event with the counts, so a crash half-way writes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from fangkong.core import crypto
from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.core.fields import EncryptedTextField
from fangkong.core.rule_errors import RuleError, enumeration, gettext_noop, listed, worded
from fangkong.geo.models import Region
from fangkong.people import rules
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization, Unit

# The spreadsheet's columns, in the order of the template and the export.
logger = logging.getLogger(__name__)

HEADERS = ["姓名", "性别", "证件类型", "身份证号", "手机号", "人员类别", "部门", "居住地区划", "居住地址", "宿舍"]
FIELD_OF = {
    "姓名": "name", "性别": "gender", "证件类型": "id_type", "身份证号": "id_number", "手机号": "phone",
    "人员类别": "kind", "部门": "unit", "居住地区划": "residence_region", "居住地址": "address", "宿舍": "dormitory",
}
# Headers people write instead of ours; a file made by another system often says 证件号码 or 联系电话.
HEADER_ALIASES = {"证件号码": "身份证号", "证件号": "身份证号", "联系电话": "手机号", "电话": "手机号", "手机": "手机号",
                  "类别": "人员类别", "部门/班组": "部门", "地址": "居住地址", "住址": "居住地址"}
REQUIRED = ("姓名", "身份证号")
BATCH = 2000
MAX_ADDRESS, MAX_DORMITORY = 200, 64


def _choice_map(choices: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Both the Chinese label and the English code map to the code (labels taken in zh-hans, whatever the UI uses)."""
    out: dict[str, str] = {}
    with translation.override("zh-hans"):
        for code, label in choices:
            out[str(label)] = code
            out[code] = code
            out[code.upper()] = code
    return out


def kind_map() -> dict[str, str]:
    return _choice_map(Person.Kind.choices)


def gender_map() -> dict[str, str]:
    return {**_choice_map(Person.Gender.choices), "男性": "male", "女性": "female", "M": "male", "F": "female"}


def id_type_map() -> dict[str, str]:
    return {**_choice_map(Person.IdType.choices), "身份证": "resident_id", "港澳通行证": "hk_macao_permit",
            "台胞证": "taiwan_permit"}


def unit_paths(organization: Organization) -> dict[str, Unit]:
    """'一车间/一班' → unit, for every unit of the organisation (one query); a unique leaf name maps as well."""
    units = list(Unit.objects.filter(organization=organization))
    by_id = {u.pk: u for u in units}
    paths: dict[str, Unit] = {}
    for unit in units:
        names: list[str] = []
        node: Unit | None = unit
        while node is not None:
            names.append(node.name)
            node = by_id.get(node.parent_id) if node.parent_id else None
        paths["/".join(reversed(names))] = unit
    leaf_count: dict[str, int] = {}
    for unit in units:
        leaf_count[unit.name] = leaf_count.get(unit.name, 0) + 1
    for unit in units:
        if leaf_count[unit.name] == 1:
            paths.setdefault(unit.name, unit)
    return paths


def unit_path_of(unit: Unit | None, by_id: dict[int, Unit]) -> str:
    names: list[str] = []
    node = unit
    while node is not None:
        names.append(node.name)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return "/".join(reversed(names))


def _cell(value: Any) -> str:
    """Excel gives numbers for digit-only cells (a phone typed without a leading quote); read them back as digits."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (date,)):
        return value.isoformat()
    return str(value).strip()


# Marks a row whose ID number cell Excel stored as a number: an 18-digit number keeps only about 15 significant
# digits, so the last ones are already lost (and an X check digit cannot be a number at all).
ID_WAS_A_NUMBER = "\x00id_number_was_a_number"


@dataclass
class RawSheet:
    """The decoded sheet: (excel row number, {header: text}) per non-empty data row."""

    rows: list[tuple[int, dict[str, str]]]
    header_problems: list[dict[str, Any]] = field(default_factory=list)


def _sheet_rows(source: str | Path | IO[bytes]) -> Iterator[tuple[Any, ...]]:
    """The first sheet's rows as tuples of values, row 1 first.

    python-calamine (Rust) when installed: about 20 times faster than openpyxl, whose XML parsing was the largest
    part of a 100,000-row import (see bench/README.md). openpyxl's streaming reader otherwise.
    """
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        yield from _openpyxl_rows(source)
        return
    try:
        book = (CalamineWorkbook.from_path(str(source)) if isinstance(source, (str, Path))
                else CalamineWorkbook.from_filelike(source))
        # skip_empty_area=False keeps row numbers as Excel shows them even when the first rows are empty.
        rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own error types for files that are not workbooks
        raise _unreadable(exc) from None
    yield from (tuple(r) for r in rows)


def _openpyxl_rows(source: str | Path | IO[bytes]) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise _unreadable(exc) from None
    try:
        yield from book.worksheets[0].iter_rows(values_only=True)
    finally:
        book.close()


def _unreadable(exc: Exception) -> ServiceError:
    # The reader's own error class (CalamineError, BadZipFile …) means nothing to the clerk: logged, not shown.
    logger.info("unreadable people import file: %r", exc)
    return ServiceError(gettext("无法读取文件：请上传 .xlsx 格式的 Excel 文件（可用本页的模板）"),
                        {"file": [gettext("请上传 .xlsx 格式的 Excel 文件")]})


def parse_workbook(source: str | Path | IO[bytes]) -> RawSheet:
    """Decode the first sheet; the header row is row 1, as Excel numbers it."""
    rows_iter = _sheet_rows(source)
    header_row = next(rows_iter, None)
    if header_row is None:
        raise ServiceError(gettext("文件是空的：第 1 行应为表头"), {"file": [gettext("文件是空的")]})
    columns: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, value in enumerate(header_row):
        name = "".join(_cell(value).split())
        name = HEADER_ALIASES.get(name, name)
        if name in FIELD_OF and name not in seen:
            columns.append((index, name))
            seen.add(name)
    missing = [h for h in REQUIRED if h not in seen]
    if missing:
        names = enumeration(missing)
        raise ServiceError(
            gettext("第 1 行，表头：缺少必填列 %(columns)s（请使用导入模板）") % {"columns": names},
            {"file": [gettext("缺少必填列：%(columns)s") % {"columns": names}]},
        )
    rows: list[tuple[int, dict[str, str]]] = []
    for number, values in enumerate(rows_iter, start=2):
        width = len(values)
        record = {name: _cell(values[index]) if index < width else "" for index, name in columns}
        if any(record.values()):
            id_index = next((index for index, name in columns if name == "身份证号"), None)
            if id_index is not None and id_index < width and isinstance(values[id_index], int | float):
                record[ID_WAS_A_NUMBER] = "1"
            rows.append((number, record))
    return RawSheet(rows)


@dataclass
class ValidRow:
    row: int
    values: dict[str, Any]  # model field values, hashes and masks included
    existing_pk: int | None
    unchanged: bool = False  # an existing person whose stored values already equal the row's


@dataclass
class Validation:
    total: int
    valid: list[ValidRow]
    errors: list[dict[str, Any]]
    invalid_rows: int

    @property
    def counts(self) -> dict[str, int]:
        new = sum(1 for r in self.valid if r.existing_pk is None)
        unchanged = sum(1 for r in self.valid if r.unchanged)
        return {"total": self.total, "new": new, "updated": len(self.valid) - new - unchanged, "unchanged": unchanged,
                "invalid": self.invalid_rows}

    def error_lines(self) -> list[str]:
        return error_lines(self.errors)


def error_lines(errors: list[dict[str, Any]]) -> list[str]:
    """The problems of a file as lines ('第 17 行，身份证号：…'), in the reader's language.

    A problem is stored with its Chinese sentence ("message") and, when the sentence has values, its template and
    values ("msgid", "params"), so it is worded when read, whatever language the check ran in. The column is the
    template's header, as it stands in the file."""
    line = gettext("第 %(row)d 行，%(column)s：%(error)s")
    return [line % {"row": e["row"], "column": e["column"], "error": error_text(e)} for e in errors]


def error_text(error: dict[str, Any]) -> str:
    if "msgid" in error:
        return worded(RuleError(error["msgid"], **error["params"]))
    return gettext(error["message"]) if error["message"] else ""


class _Regions:
    """Resolve a code or a name once per distinct value in the file."""

    def __init__(self) -> None:
        self.cache: dict[str, Region | None] = {}

    def __call__(self, text: str) -> Region | None:
        if text not in self.cache:
            from fangkong.geo.selectors import region_by_name, region_get

            compact = "".join(text.split())
            self.cache[text] = region_get(compact) if compact.isdigit() else region_by_name(compact)
        return self.cache[text]


def validate_rows(
    organization: Organization, sheet: RawSheet, *, progress: Callable[[int], None] | None = None,
) -> Validation:
    """Check every row and report every problem; nothing is written."""
    kinds, genders, id_types = kind_map(), gender_map(), id_type_map()
    units = unit_paths(organization)
    regions = _Regions()
    sort_keys: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    bad_rows: set[int] = set()
    candidates: list[ValidRow] = []
    row_hashes: list[tuple[int, str]] = []  # every row with a well-formed ID, valid elsewhere or not

    def fail(row: int, column: str, message: str, **params: Any) -> None:
        """`message` is a template marked by gettext_noop (or a rule's error); the Chinese sentence is stored, with
        the template and the values when there are any, for error_lines() to word it in the reader's language."""
        error: dict[str, Any] = {"row": row, "column": column,
                                 "message": message % listed(params, "、") if params else message}
        if params:
            error.update(msgid=message, params=params)
        errors.append(error)
        bad_rows.add(row)

    def refuse(row: int, column: str, exc: ValueError) -> None:
        if isinstance(exc, RuleError):
            fail(row, column, exc.message, **exc.params)
        else:
            fail(row, column, str(exc))

    for position, (row, cells) in enumerate(sheet.rows, start=1):
        values: dict[str, Any] = {}
        problems_before = len(errors)
        try:
            values["name"] = rules.check_name(cells.get("姓名", ""))
            name = values["name"]
            if name not in sort_keys:
                sort_keys[name] = rules.name_sort_key(name)
            values["name_sort"] = sort_keys[name]
        except ValueError as e:
            refuse(row, "姓名", e)
        id_type = "resident_id"
        if text := cells.get("证件类型", ""):
            if text in id_types:
                id_type = id_types[text]
            else:
                fail(row, "证件类型", gettext_noop("未知的证件类型“%(text)s”（见“说明”表）"), text=text)
        values["id_type"] = id_type
        info = None
        try:
            if cells.get(ID_WAS_A_NUMBER) and len(cells.get("身份证号", "")) >= 15:
                raise RuleError(gettext_noop("该单元格是数字格式，Excel 只保留 15 位有效数字，末几位已丢失：请把“身份证号”列设为"
                                             "文本格式后重新填写（或使用导入模板）"))
            info = rules.check_id_number(id_type, cells.get("身份证号", ""))
            values.update(
                id_number=info.number, id_number_hash=crypto.lookup_hash(info.number),
                id_number_masked=crypto.mask_id_number(info.number), birth_date=info.birth_date,
            )
            row_hashes.append((row, values["id_number_hash"]))
        except ValueError as e:
            refuse(row, "身份证号", e)
        if text := cells.get("性别", ""):
            if text in genders:
                values["gender"] = genders[text]
            else:
                fail(row, "性别", gettext_noop("性别应为 男、女 或 未知，实为“%(text)s”"), text=text)
        if info is not None and info.gender and values.get("gender", "unknown") == "unknown":
            values["gender"] = info.gender
        if text := cells.get("手机号", ""):
            try:
                phone = rules.check_phone(text)
                values.update(phone=phone, phone_hash=crypto.lookup_hash(phone), phone_masked=crypto.mask_phone(phone))
            except ValueError as e:
                refuse(row, "手机号", e)
        if text := cells.get("人员类别", ""):
            if text in kinds:
                values["kind"] = kinds[text]
            else:
                fail(row, "人员类别", gettext_noop("未知的人员类别“%(text)s”（见“说明”表）"), text=text)
        if text := cells.get("部门", ""):
            path = "/".join(part.strip() for part in re.split(r"[/／>]", text) if part.strip())
            unit = units.get(path)
            if unit is None:
                fail(row, "部门", gettext_noop("本单位没有部门“%(text)s”（按“一车间/一班”的路径填写，见“说明”表）"), text=text)
            else:
                values["unit_id"] = unit.pk
        if text := cells.get("居住地区划", ""):
            region = regions(text)
            if region is None:
                fail(row, "居住地区划", gettext_noop("未知的行政区划“%(text)s”（填写代码或名称，如 140428 或 山西省长治市长子县）"),
                     text=text)
            else:
                values["residence_region_id"] = region.pk
        if text := cells.get("居住地址", ""):
            if len(text) > MAX_ADDRESS:
                fail(row, "居住地址", gettext_noop("不能超过 %(n)d 个字符"), n=MAX_ADDRESS)
            values["address"] = text
        if text := cells.get("宿舍", ""):
            if len(text) > MAX_DORMITORY:
                fail(row, "宿舍", gettext_noop("不能超过 %(n)d 个字符"), n=MAX_DORMITORY)
            values["dormitory"] = text
        if len(errors) == problems_before:
            candidates.append(ValidRow(row, values, None))
        if progress is not None and position % BATCH == 0:
            progress(position)

    # Duplicates inside the file: every row of a group is reported, naming the others, and none is imported (the
    # clerk decides which one is right). Rows invalid on another column still count, so their twin is not imported.
    by_hash: dict[str, list[int]] = {}
    for row, hashed in row_hashes:
        by_hash.setdefault(hashed, []).append(row)
    for group in by_hash.values():
        if len(group) > 1:
            for row in group:
                others = [o for o in group if o != row]
                fail(row, "身份证号", gettext_noop("与第 %(rows)s 行的证件号码重复"), rows=others)
    valid = [c for c in candidates if c.row not in bad_rows]

    # One query for the organisation's people, with the plain columns (the encrypted ones are compared through
    # their hashes), so re-importing an unchanged file writes nothing instead of rewriting every row.
    existing = {
        row[0]: row[1:]
        for row in Person.objects.filter(organization=organization)
        .values_list("id_number_hash", "pk", *COMPARED).iterator(chunk_size=10000)
    }
    for item in valid:
        stored = existing.get(item.values["id_number_hash"])
        if stored is not None:
            item.existing_pk = stored[0]
            item.unchanged = all(item.values[name] == stored[i] for i, name in enumerate(COMPARED, start=1)
                                 if name in item.values)
    errors.sort(key=lambda e: (e["row"], HEADERS.index(e["column"]) if e["column"] in HEADERS else 99))
    if progress is not None:
        progress(len(sheet.rows))
    return Validation(total=len(sheet.rows), valid=valid, errors=errors, invalid_rows=len(bad_rows))


# Columns compared to decide whether a re-imported row changes anything (the phone through its hash; the ID is
# equal by construction, being the match).
COMPARED = ("name", "gender", "id_type", "phone_hash", "kind", "unit_id", "residence_region_id", "address", "dormitory",
            "birth_date")
UPDATABLE = (
    "name", "name_sort", "gender", "id_type", "id_number", "id_number_masked", "birth_date", "phone", "phone_hash",
    "phone_masked", "kind", "unit_id", "residence_region_id", "address", "dormitory",
)


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    size = BATCH  # read at call time, so a test can make batches small
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _preparers(fields: list[Any], conn: Any) -> list[Callable[[Any], Any]]:
    """How each column's value becomes a query parameter. Plain values (text, numbers, booleans, dates, keys) go as
    they are; encrypted text through the field (that is where encryption happens); timestamps through the field,
    once per distinct value. Calling get_db_prep_save for every cell cost more than the COPY itself."""
    from django.db.models import DateTimeField

    preparers: list[Callable[[Any], Any]] = []
    for f in fields:
        if isinstance(f, EncryptedTextField):
            preparers.append(f.get_prep_value)
        elif isinstance(f, DateTimeField):
            cache: dict[Any, Any] = {}

            def prep(value: Any, f: Any = f, cache: dict[Any, Any] = cache) -> Any:
                if value not in cache:
                    cache[value] = f.get_db_prep_save(value, conn)
                return cache[value]

            preparers.append(prep)
        else:
            preparers.append(_same)
    return preparers


def _same(value: Any) -> Any:
    return value


def _insert_batch(organization: Organization, rows: list[dict[str, Any]], now: Any) -> None:
    """Insert new people. On PostgreSQL through COPY, several times faster than a 2,000-row INSERT with 50,000
    parameters."""
    if connection.vendor != "postgresql":
        Person.objects.bulk_create(
            [Person(organization=organization, created_at=now, updated_at=now, **values) for values in rows])
        return
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the `connection` proxy costs a lookup per access
    meta: Any = Person._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    base = {f.attname: f.get_default() for f in fields}
    base.update(organization_id=organization.pk, created_at=now, updated_at=now)
    names = [f.attname for f in fields]
    preparers = _preparers(fields, conn)
    qn = conn.ops.quote_name
    sql = f"COPY {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) FROM STDIN"
    with conn.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for values in rows:
            record = {**base, **values}
            copy.write_row([prep(record[name]) for prep, name in zip(preparers, names, strict=True)])


def _update_rows(rows: list[ValidRow], now: Any) -> None:
    """Update existing people with the rows' values (only the columns each row fills).

    On PostgreSQL the rows are COPied into a temporary table and applied with one `UPDATE .. FROM` per set of
    columns: Django's bulk_update (`SET col = CASE WHEN id=1 THEN .. END` per column) managed 56 rows/s in the
    benchmark, and a 2,000-row `UPDATE .. FROM (VALUES ..)` with 30,000 parameters cost more CPU in building and
    binding the query than the update itself. The ID and phone are encrypted by their field, as on save()."""
    if not rows:
        return
    groups: dict[tuple[str, ...], list[ValidRow]] = {}
    for r in rows:
        groups.setdefault(tuple(f for f in UPDATABLE if f in r.values), []).append(r)
    if connection.vendor != "postgresql":
        for fields, members in groups.items():
            for batch in _batches(members):
                people = [Person(pk=r.existing_pk, updated_at=now, **r.values) for r in batch]
                Person.objects.bulk_update(people, [*fields, "updated_at"])
        return
    conn = connections[DEFAULT_DB_ALIAS]
    meta: Any = Person._meta
    qn = conn.ops.quote_name
    temp = "people_import_update"
    columns = [meta.get_field(name) for name in UPDATABLE]
    column_list = ", ".join(qn(f.column) for f in columns)
    preparers = _preparers(columns, conn)
    with conn.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {temp} ON COMMIT DROP AS "
            f"SELECT {qn(meta.pk.column)}, {column_list} FROM {qn(meta.db_table)} WITH NO DATA"
        )
        for fields, members in groups.items():
            cursor.execute(f"TRUNCATE {temp}")
            with cursor.cursor.copy(f"COPY {temp} ({qn(meta.pk.column)}, {column_list}) FROM STDIN") as copy:
                for r in members:
                    values = r.values
                    copy.write_row([r.existing_pk, *(
                        prep(values.get(name)) if name in values else None
                        for prep, name in zip(preparers, UPDATABLE, strict=True)
                    )])
            assignments = ", ".join(f"{qn(meta.get_field(name).column)} = u.{qn(meta.get_field(name).column)}"
                                    for name in fields)
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} AS t SET {assignments}, {qn('updated_at')} = %s "
                f"FROM {temp} AS u WHERE t.{qn(meta.pk.column)} = u.{qn(meta.pk.column)}",
                [now],
            )


@transaction.atomic
def import_commit(
    *, organization: Organization, validation: Validation, actor: Any, job_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the valid rows: new people in bulk, existing ones (same organisation and ID hash) updated in place.

    An empty optional cell leaves the stored value alone on update, so a partial sheet does not wipe phone numbers.
    """
    now = timezone.now()
    new_rows = [r for r in validation.valid if r.existing_pk is None]
    updates = [r for r in validation.valid if r.existing_pk is not None and not r.unchanged]
    done = 0
    for batch in _batches(new_rows):
        _insert_batch(organization, [r.values for r in batch], now)
        done += len(batch)
        if progress is not None:
            progress(done)
    _update_rows(updates, now)
    if progress is not None:
        progress(len(new_rows) + len(updates))
    counts = {"created": len(new_rows), "updated": len(updates), "unchanged": validation.counts["unchanged"],
              "skipped": validation.invalid_rows}
    audit_record(
        actor=actor, action="person.import", object_type="people.importjob", object_id=str(job_id or ""),
        object_repr=f"导入 {validation.total} 行", organization_id=organization.pk,
        changes={"counts": [None, counts]},
    )
    return counts


# --- the import job (upload → preview → commit or cancel) ------------------------------------------------------------


def _progress(job_id: int) -> Callable[[int], None]:
    from fangkong.people.models import ImportJob

    def report(done: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(processed=done, updated_at=timezone.now())

    return report


def _load(job: Any) -> tuple[RawSheet, Validation]:
    with job.file.open("rb") as handle:
        sheet = parse_workbook(handle)
    job.total = len(sheet.rows)
    job.processed = 0
    job.save(update_fields=["total", "processed", "status", "updated_at"])
    return sheet, validate_rows(job.organization, sheet, progress=_progress(job.pk))


def job_validate(job: Any) -> Any:
    """Parse and check the uploaded file; the job then holds the counts and every problem (the preview)."""
    job.status = job.Status.VALIDATING
    try:
        _, validation = _load(job)
    except ServiceError as e:
        job.status, job.message = job.Status.FAILED, e.message
        job.save(update_fields=["status", "message", "updated_at"])
        return job
    job.refresh_from_db(fields=["status"])
    if job.status == job.Status.CANCELLED:  # cancelled while we were reading
        return job
    job.status = job.Status.VALIDATED
    job.processed = validation.total
    job.counts = validation.counts
    job.errors = validation.errors
    job.save(update_fields=["status", "processed", "counts", "errors", "updated_at"])
    return job


def job_commit(job: Any, *, actor: Any) -> Any:
    """Write the valid rows of the job's file in one transaction, with the job's final state in the same one.

    The file is read and checked again (the ledger may have changed since the preview), so what is written is
    exactly what is valid now."""
    job.status = job.Status.COMMITTING
    try:
        _, validation = _load(job)
    except ServiceError as e:
        job.status, job.message = job.Status.FAILED, e.message
        job.save(update_fields=["status", "message", "updated_at"])
        return job
    with transaction.atomic():
        counts = import_commit(organization=job.organization, validation=validation, actor=actor, job_id=job.pk)
        job.status = job.Status.DONE
        job.processed = validation.total
        job.counts = {**validation.counts, **counts}
        job.errors = validation.errors
        job.committed_at = timezone.now()
        job.save(update_fields=["status", "processed", "counts", "errors", "committed_at", "updated_at"])
    job.file.delete(save=True)  # the personal data in the upload is not kept once it is in the ledger
    return job
