"""The common check-in in one prepared statement (ADR 0010).

Most check-ins are a member reporting for themselves, once a day, with a normal temperature and no symptoms. For that
case one statement finds the caller's person, inserts the check-in (a replayed client key inserts nothing) and
fulfils the day's obligation with it. The decision whether the check-in is normal stays in Python (`rules`); the
statement only re-checks, next to the data, the assumptions the decision was made on (the person's organisation,
active, not under a measure), so a stale assumption makes it insert nothing rather than something wrong.

`checkin_submit_common` returns None whenever anything is not plainly the common case: a proxy or back-dated
check-in, a slot, symptoms, a region, a fever, an organisation whose settings differ by unit or person kind or ask
for more than one check-in a day, a user whose memberships name no single organisation, SQLite. The caller then
runs `services.checkin_submit`, which does everything from the start (nothing here has been written).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from fangkong.core import fastsql
from fangkong.core.tokens import ORGANIZATIONS_ATTR
from fangkong.health import rules
from fangkong.health.models import Checkin, CheckinSetting
from fangkong.health.services import uniform_setting
from fangkong.obligations.models import Obligation
from fangkong.tenancy.scope import memberships_of


@dataclass(frozen=True)
class CommonCheckin:
    id: int
    person_id: int
    person_name: str
    organization_id: int
    unit_id: int | None
    date: date
    temperature: Decimal | None
    note: str
    submitted_at: datetime
    created: bool  # False: the client key was seen before and nothing new was stored


# Table and column names are fixed by the migrations; spelled out so the statement is one constant text. It is
# prepared, so after a few runs PostgreSQL may keep a generic plan (no parameter values known): every lookup is an
# equality on a unique or leading index column (the person by user_id alone, materialized, then the guards; the
# obligation by kind, subject_type, subject_id), and the obligation takes
# the new check-in's ids as scalar subqueries, so no plan can scan a whole organisation or every open obligation.
_SQL = """
WITH u AS MATERIALIZED (
    SELECT id, organization_id, unit_id, name, is_active, measure_kind FROM people_person WHERE user_id = %(user)s
), p AS (
    SELECT id, organization_id, unit_id, name FROM u
    WHERE is_active AND organization_id = %(org)s AND measure_kind = ''
), c AS (
    INSERT INTO health_checkin (person_id, organization_id, unit_id, date, slot, temperature, symptoms, region_id,
                                note, abnormal, proxy, submitted_by_id, submitted_at, client_key, device_id, ip)
    SELECT p.id, p.organization_id, p.unit_id, %(day)s, 'day', %(temp)s, '[]'::jsonb, NULL, %(note)s, false, false,
           %(user)s, %(now)s, %(key)s, %(device)s, %(ip)s::inet
    FROM p
    ON CONFLICT DO NOTHING
    RETURNING id, person_id
), o AS (
    UPDATE obligations_obligation o SET status = %(fulfilled)s, evidence_type = 'health.checkin',
           evidence_id = (SELECT id FROM c), abnormal = false, fulfilled_at = %(now)s
    WHERE o.kind = 'checkin' AND o.subject_type = 'person' AND o.subject_id = (SELECT person_id FROM c)
      AND o.day = %(day)s AND o.status IN (%(due)s, %(overdue)s)
    RETURNING 1
)
SELECT p.id, p.organization_id, p.unit_id, p.name, c.id FROM p LEFT JOIN c ON true
"""


def _organization_hint(user: Any) -> int | None:
    """The one organisation the caller's memberships name (read with the bearer token, ADR 0009), else None."""
    read_with_token = getattr(user, ORGANIZATIONS_ATTR, None)
    if read_with_token is not None:
        return read_with_token[0] if len(read_with_token) == 1 else None
    orgs = {m.organization_id or (m.unit.organization_id if m.unit is not None else None) for m in memberships_of(user)}
    orgs.discard(None)
    return orgs.pop() if len(orgs) == 1 else None


def checkin_submit_common(
    *, user: Any, day: date | None, slot: str | None, temperature: Any, symptoms: list[str], region_code: str,
    note: str, client_key: str, device_id: str, ip: str | None,
) -> CommonCheckin | None:
    """The caller's own normal daily check-in in one statement, or None for the general path (see the module)."""
    if not fastsql.available() or symptoms or region_code or slot not in (None, "", "day") or not user.pk:
        return None
    now = timezone.now()
    today = timezone.localdate(now)
    if day is not None and day != today:
        return None
    org_id = _organization_hint(user)
    if org_id is None:
        return None
    setting = uniform_setting(org_id)
    if setting is None or setting.frequency != CheckinSetting.Frequency.DAILY:
        return None
    try:
        temp = rules.parse_temperature(temperature)
    except ValueError:
        return None  # the general path words the error
    if rules.is_abnormal(temp, [], setting.fever_threshold):
        return None  # the flag, the notifications and the instruction
    note = note or ""
    if len(note) > rules.NOTE_MAX:
        return None  # the general path refuses it with a field error
    key = (client_key or "").strip()[:64]
    row = fastsql.fetch_one(_SQL, {
        "user": user.pk, "org": org_id, "day": today, "temp": temp, "note": note, "now": now, "key": key,
        "device": (device_id or "")[:64], "ip": ip or None, "fulfilled": Obligation.Status.FULFILLED,
        "due": Obligation.Status.DUE, "overdue": Obligation.Status.OVERDUE,
    })
    if row is None:
        return None  # no such person here, or under a measure: the general path knows what to do
    person_id, organization_id, unit_id, name, checkin_id = row
    if checkin_id is None:
        if not key:  # pragma: no cover - without a client key nothing else is unique
            return None
        earlier = (Checkin.objects.filter(submitted_by_id=user.pk, client_key=key)
                   .values("id", "person_id", "organization_id", "unit_id", "date", "temperature", "note",
                           "submitted_at", "abnormal", "slot").first())
        if earlier is None or earlier["abnormal"] or earlier["slot"] != "day":
            return None  # the general path returns the earlier check-in as it was
        return CommonCheckin(
            id=earlier["id"], person_id=earlier["person_id"], person_name=name,
            organization_id=earlier["organization_id"], unit_id=earlier["unit_id"], date=earlier["date"],
            temperature=earlier["temperature"], note=earlier["note"], submitted_at=earlier["submitted_at"],
            created=False,
        )
    return CommonCheckin(id=checkin_id, person_id=person_id, person_name=name, organization_id=organization_id,
                         unit_id=unit_id, date=today, temperature=temp, note=note, submitted_at=now, created=True)
