"""Writes to obligations. Generation is one set-based INSERT ... SELECT per call and idempotent through the unique
window constraint; fulfilment and the overdue sweep are one UPDATE each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.models import F, Value
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.core.audit import audit_record
from fangkong.core.errors import ServiceError
from fangkong.obligations.models import Obligation
from fangkong.tenancy.models import Organization

OPEN = (Obligation.Status.DUE, Obligation.Status.OVERDUE)
_COLUMNS = (
    "organization_id", "subject_type", "subject_id", "person_id", "unit_id", "kind", "day", "due_from", "due_until",
    "status", "waived_reason", "source", "evidence_type", "abnormal", "created_at",
)


@dataclass(frozen=True)
class Evidence:
    """What fulfilled an obligation: a row of another app (a check-in, a test result), named by type and id."""

    type: str
    id: int
    abnormal: bool = False


def obligations_generate_for_people(
    *, organization: Organization, people: models.QuerySet, kind: str, day: date, due_from: datetime,
    due_until: datetime, source: str,
) -> int:
    """One obligation per person of `people` (a Person QuerySet of this organisation); returns how many were new.

    The people QuerySet is compiled into the SELECT of a single INSERT, so a million people are one statement and
    no row travels through Python. Rows that already exist (same kind, subject and window start) are skipped by
    the database, which makes a second run a no-op.
    """
    if due_until <= due_from:
        raise ServiceError(gettext("截止时间（%(until)s）必须晚于开始时间（%(start)s）") % {"until": due_until, "start": due_from})
    now = timezone.now()
    select = (
        people.filter(organization_id=organization.pk)
        .order_by()
        .annotate(
            _org=Value(organization.pk, output_field=models.BigIntegerField()),
            _stype=Value(Obligation.SubjectType.PERSON, output_field=models.CharField()),
            _sid=F("id"),
            _pid=F("id"),
            _uid=F("unit_id"),
            _kind=Value(kind, output_field=models.CharField()),
            _day=Value(day, output_field=models.DateField()),
            _from=Value(due_from, output_field=models.DateTimeField()),
            _until=Value(due_until, output_field=models.DateTimeField()),
            _status=Value(Obligation.Status.DUE, output_field=models.CharField()),
            _wr=Value("", output_field=models.CharField()),
            _source=Value(source, output_field=models.CharField()),
            _et=Value("", output_field=models.CharField()),
            _abn=Value(False, output_field=models.BooleanField()),
            _created=Value(now, output_field=models.DateTimeField()),
        )
        .values_list(
            "_org", "_stype", "_sid", "_pid", "_uid", "_kind", "_day", "_from", "_until", "_status", "_wr",
            "_source", "_et", "_abn", "_created",
        )
    )
    sql, params = select.query.sql_with_params()
    table = Obligation._meta.db_table
    columns = ", ".join(_COLUMNS)
    if connection.vendor == "postgresql":
        statement = f"INSERT INTO {table} ({columns}) {sql} ON CONFLICT DO NOTHING"
    else:
        # SQLite: the same single statement; OR IGNORE skips rows that hit the unique window constraint.
        statement = f"INSERT OR IGNORE INTO {table} ({columns}) {sql}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return max(cursor.rowcount, 0)


def obligation_fulfil(
    *, evidence: Evidence, obligation: Obligation | None = None, kind: str = "", subject_type: str = "person",
    subject_id: int | None = None, day: date | None = None, at: datetime | None = None,
) -> int:
    """Mark the obligation fulfilled by `evidence`: either the given one, or the open one of (kind, subject, day).

    One UPDATE, no read first (the check-in hot path). Late evidence still fulfils an overdue obligation; the
    fulfilment time shows it was late. Returns the number of obligations fulfilled (0 when there was none open).
    """
    at = at or timezone.now()
    if obligation is not None:
        qs = Obligation.objects.filter(pk=obligation.pk)
    else:
        if not kind or subject_id is None or day is None:
            raise ServiceError(gettext("需要指定义务，或类型、对象与日期"))
        qs = Obligation.objects.filter(kind=kind, subject_type=subject_type, subject_id=subject_id, day=day)
    return qs.filter(status__in=OPEN).update(
        status=Obligation.Status.FULFILLED, evidence_type=evidence.type, evidence_id=evidence.id,
        abnormal=evidence.abnormal, fulfilled_at=at,
    )


def obligation_mark_abnormal(*, kind: str, subject_id: int, day: date, subject_type: str = "person") -> int:
    """Mark the day's already fulfilled obligation abnormal: later evidence (a fever reported in the afternoon after a
    normal morning check-in) must show in compliance, whose abnormal count reads the obligation. The evidence that
    fulfilled it stays. Returns the number of obligations changed (0 when none was fulfilled or it was abnormal)."""
    return Obligation.objects.filter(
        kind=kind, subject_type=subject_type, subject_id=subject_id, day=day, status=Obligation.Status.FULFILLED,
        abnormal=False,
    ).update(abnormal=True)


@transaction.atomic
def obligation_waive(*, obligation: Obligation, reason: str, actor: Any) -> Obligation:
    reason = _waiver_reason(reason)
    obligation = Obligation.objects.select_for_update().get(pk=obligation.pk)
    if not obligation.is_open:
        raise ServiceError(gettext("该义务（%(day)s %(kind)s）已是“%(status)s”，不能免除") % {
            "day": obligation.day, "kind": obligation.kind, "status": obligation.get_status_display()})
    _waive(obligation, reason, actor)
    return obligation


def obligations_waive_bulk(*, obligations: models.QuerySet, reason: str, actor: Any = None) -> int:
    """Waive every open obligation of `obligations` with one reason, each audited (for the small sets a rule
    waives at once, such as the check-ins of people absent through illness). Returns how many were waived."""
    reason = _waiver_reason(reason)
    waived = 0
    with transaction.atomic():
        for obligation in obligations.filter(status__in=OPEN).select_for_update().order_by("id"):
            _waive(obligation, reason, actor)
            waived += 1
    return waived


def _waiver_reason(reason: str) -> str:
    reason = (reason or "").strip()[:200]
    if not reason:
        raise ServiceError(gettext("免除义务必须填写原因"), {"reason": [gettext("必填")]})
    return reason


def _waive(obligation: Obligation, reason: str, actor: Any) -> None:
    """One open obligation (locked by the caller) → waived with its reason, audited."""
    old = obligation.status
    obligation.status = Obligation.Status.WAIVED
    obligation.waived_reason = reason
    obligation.save(update_fields=["status", "waived_reason"])
    audit_record(
        actor=actor, action="obligation.waive", obj=obligation, organization_id=obligation.organization_id,
        changes={"status": [old, obligation.status], "waived_reason": ["", reason]},
    )


def obligations_mark_overdue(now: datetime | None = None) -> list[int]:
    """Every due obligation whose deadline has passed turns overdue, in one UPDATE; returns the ids it changed."""
    now = now or timezone.now()
    table = Obligation._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s WHERE status = %s AND due_until <= %s RETURNING id",
            # Adapted the way the ORM stores datetimes (SQLite keeps them as UTC text, compared as text).
            [Obligation.Status.OVERDUE, Obligation.Status.DUE, connection.ops.adapt_datetimefield_value(now)],
        )
        return [row[0] for row in cursor.fetchall()]


def obligations_bulk_create(*, rows: list[Obligation], batch_size: int = 5000) -> int:
    """Obligations built row by row by the caller (several kinds or windows at once, e.g. a measure's test days).

    Skips rows whose (kind, subject, window start) already exists, so re-running is a no-op. Returns how many rows
    were offered (PostgreSQL does not report how many of an ignore_conflicts batch were new).
    """
    for ob in rows:
        if ob.due_until <= ob.due_from:
            raise ServiceError(gettext("义务 %(kind)s（%(day)s）：截止时间必须晚于开始时间") % {"kind": ob.kind, "day": ob.day})
        if ob.person_id and not ob.subject_id:
            ob.subject_type, ob.subject_id = Obligation.SubjectType.PERSON, ob.person_id
    Obligation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=batch_size)
    return len(rows)
