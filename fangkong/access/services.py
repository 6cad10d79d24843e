"""Writes of entry control: venues and their codes, scans (one or a batch), health codes seen at the gate, visits,
vehicle passes. Scans are the hot path: a batch reads every venue, person, open interval, approved visit and replay
with one query each and inserts with one statement.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings as django_settings
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.access import capacity, rules
from fangkong.access.models import AccessSetting, PassCode, Scan, VehiclePass, Venue, Visit
from fangkong.access.scan_writer import ScanWriter, new_scan
from fangkong.core import authcache, crypto, fastsql
from fangkong.core.audit import audit_record
from fangkong.core.errors import NotFound, ServiceError
from fangkong.core.rule_errors import worded
from fangkong.people import rules as people_rules
from fangkong.people.models import Person
from fangkong.tenancy.models import Organization

VENUE_SALT = "fangkong.venue"
PASS_SALT = "fangkong.pass"
BOOK_SALT = "fangkong.book"
VISIT_SALT = "fangkong.visitpass"
PASS_TTL = timedelta(minutes=5)
BATCH_LIMIT = 1000
# An approved visit lets the visitor in from two hours before its window until its end.
VISIT_EARLY = timedelta(hours=2)


def _fail(field_name: str, message: str) -> ServiceError:
    return ServiceError(message, {field_name: [message]})


# --- settings ------------------------------------------------------------------------------------------------------


_SETTINGS_CACHE: dict[int, tuple[float, AccessSetting]] = {}
SETTINGS_TTL = 30.0


def setting_for(organization_id: int) -> AccessSetting:
    """The organisation's switches; defaults (37.3 ℃, refuse unknown) when it never saved any.

    Every scan reads them, so each process keeps them for 30 seconds: a changed threshold applies within that time
    everywhere (at once in the process that saved it).
    """
    hit = _SETTINGS_CACHE.get(organization_id)
    # Not in tests: rolled-back test transactions (and SQLite's reused ids) would leave stale entries behind.
    if hit and not django_settings.TESTING and time.monotonic() - hit[0] < SETTINGS_TTL:
        return hit[1]
    setting = AccessSetting.objects.filter(organization_id=organization_id).first()
    setting = setting or AccessSetting(organization_id=organization_id)
    # One number configured once: the access override if set, else the check-in setting's threshold.
    setting.effective_fever_threshold = None  # type: ignore[attr-defined]
    setting.effective_fever_threshold = effective_fever_threshold(setting)  # type: ignore[attr-defined]
    _SETTINGS_CACHE[organization_id] = (time.monotonic(), setting)
    return setting


def effective_fever_threshold(setting: AccessSetting, venue: Venue | None = None) -> Decimal:
    """Venue override, else the access setting's override, else the organisation's check-in threshold."""
    from fangkong.health.selectors import fever_threshold_for

    if venue is not None and venue.fever_threshold is not None:
        return venue.fever_threshold
    if setting.fever_threshold is not None:
        return setting.fever_threshold
    cached = getattr(setting, "effective_fever_threshold", None)  # set by setting_for(): no query per scan
    return cached if cached is not None else Decimal(fever_threshold_for(setting.organization_id))


@transaction.atomic
def setting_update(*, organization: Organization, actor: Any, fever_threshold: Decimal | None, refuse_unknown: bool
                   ) -> AccessSetting:
    """`fever_threshold=None` follows the organisation's check-in setting (health app)."""
    threshold = _check_threshold(fever_threshold)
    setting, _ = AccessSetting.objects.get_or_create(organization=organization)
    old = {"fever_threshold": str(setting.fever_threshold), "refuse_unknown": setting.refuse_unknown}
    setting.fever_threshold, setting.refuse_unknown = threshold, refuse_unknown
    setting.save()
    new = {"fever_threshold": str(threshold) if threshold is not None else "None", "refuse_unknown": refuse_unknown}
    _SETTINGS_CACHE.pop(organization.pk, None)
    transaction.on_commit(lambda: _SETTINGS_CACHE.pop(organization.pk, None))
    audit_record(actor=actor, action="access.settings", obj=setting, organization_id=organization.pk,
                 changes={k: [old[k], new[k]] for k in new if old[k] != new[k]})
    return setting


def _check_threshold(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    threshold = Decimal(value)
    if not Decimal("36.5") <= threshold <= Decimal("39"):
        raise _fail("fever_threshold", gettext("发热阈值应在 36.5–39.0℃ 之间"))
    return threshold


# --- venues and their codes ----------------------------------------------------------------------------------------


def _venue_values(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "name" in out:
        out["name"] = " ".join(str(out["name"] or "").split())
        if not out["name"]:
            raise _fail("name", gettext("场所名称不能为空"))
    if "kind" in out and out["kind"] not in Venue.Kind.values:
        raise _fail("kind", gettext("场所类型“%(kind)s”无效，可选：%(choices)s")
                    % {"kind": out["kind"], "choices": ", ".join(Venue.Kind.values)})
    if out.get("capacity") is not None and int(out["capacity"]) < 1:
        raise _fail("capacity", gettext("容量应为正整数，不限容量请留空"))
    if "max_stay_minutes" in out and not 5 <= int(out["max_stay_minutes"]) <= 7 * 24 * 60:
        raise _fail("max_stay_minutes", gettext("最长停留应在 5 分钟到 7 天之间"))
    if "fever_threshold" in out:
        out["fever_threshold"] = _check_threshold(out["fever_threshold"])
    return out


@transaction.atomic
def venue_create(*, organization: Organization, actor: Any, **values: Any) -> Venue:
    cleaned = _venue_values(values)
    if Venue.objects.filter(organization=organization, name=cleaned.get("name")).exists():
        raise _fail("name", gettext("本单位已有名为“%(name)s”的场所") % {"name": cleaned.get("name")})
    venue = Venue.objects.create(organization=organization, **cleaned)
    audit_record(actor=actor, action="venue.create", obj=venue, organization_id=organization.pk,
                 changes={k: [None, str(v)] for k, v in cleaned.items()})
    return venue


@transaction.atomic
def venue_update(*, venue: Venue, actor: Any, **values: Any) -> Venue:
    cleaned = _venue_values(values)
    if "name" in cleaned and Venue.objects.filter(
            organization_id=venue.organization_id, name=cleaned["name"]).exclude(pk=venue.pk).exists():
        raise _fail("name", gettext("本单位已有名为“%(name)s”的场所") % {"name": cleaned["name"]})
    changes = {k: [str(getattr(venue, k)), str(v)] for k, v in cleaned.items() if getattr(venue, k) != v}
    for key, value in cleaned.items():
        setattr(venue, key, value)
    venue.save()
    if changes:
        audit_record(actor=actor, action="venue.update", obj=venue, organization_id=venue.organization_id,
                     changes=changes)
    return venue


@transaction.atomic
def venue_rotate_code(*, venue: Venue, actor: Any) -> Venue:
    """A new code version: posters printed before stop working (e.g. a photo of the code was shared around)."""
    old = venue.code_version
    Venue.objects.filter(pk=venue.pk).update(code_version=old + 1)
    venue.code_version = old + 1
    # A bulk update sends no signal: drop the scan path's cached copy (here at once, elsewhere via the version).
    authcache.forget(("venue", venue.pk))
    audit_record(actor=actor, action="venue.rotate_code", obj=venue, organization_id=venue.organization_id,
                 changes={"code_version": [old, old + 1]})
    return venue


def venue_token(venue: Venue) -> str:
    return signing.dumps([venue.pk, venue.code_version], salt=VENUE_SALT, compress=True)


def venue_from_token(token: str, *, queryset: Any = None) -> Venue:
    """The venue a scanned code names. Forged, altered, rotated-away or retired codes each get their own message."""
    try:
        venue_id, version = signing.loads(token, salt=VENUE_SALT)
    except signing.BadSignature:
        raise _fail("venue_token", gettext("场所码无效：签名校验失败，可能是伪造或被篡改的二维码")) from None
    except (ValueError, TypeError):
        raise _fail("venue_token", gettext("场所码无效：内容无法识别")) from None
    qs = queryset if queryset is not None else Venue.objects.all()
    venue = qs.select_related("organization").filter(pk=venue_id).first()
    if venue is None:
        raise NotFound(gettext("场所码对应的场所不存在或无权访问"))
    if venue.code_version != version:
        raise _fail("venue_token", gettext("场所码已更换（%(venue)s），请扫描现场张贴的最新场所码") % {"venue": venue.name})
    if not venue.active:
        raise _fail("venue_token", gettext("场所“%(venue)s”已停用") % {"venue": venue.name})
    return venue


def occupancy(venue: Venue, now: datetime | None = None) -> int:
    """People inside: admitted entries without an exit, within the venue's maximum stay."""
    now = now or timezone.now()
    return Scan.objects.filter(
        venue=venue, direction=Scan.Direction.ENTRY, decision=Scan.Decision.ADMIT, left_at__isnull=True,
        at__gte=now - timedelta(minutes=venue.max_stay_minutes), at__lte=now,
    ).count()


# --- personal pass codes -------------------------------------------------------------------------------------------


def pass_token(person: Person) -> str:
    """The QR on the member's phone: signed, carries the time it was made, valid for five minutes."""
    return signing.dumps([person.pk], salt=PASS_SALT, compress=True)


@transaction.atomic
def pass_code_issue(*, person: Person, now: datetime | None = None) -> PassCode:
    """A short code to type at the gate. Reuses the current one while more than a minute of it is left."""
    now = now or timezone.now()
    PassCode.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    current = PassCode.objects.filter(person=person, expires_at__gt=now + timedelta(minutes=1)).first()
    if current:
        return current
    for _ in range(5):
        try:
            with transaction.atomic():
                return PassCode.objects.create(code=rules.new_pass_code(), person=person, expires_at=now + PASS_TTL)
        except IntegrityError:
            continue
    raise ServiceError(gettext("通行码生成失败，请刷新重试"))


def person_from_pass(value: str, *, people: Any, now: datetime | None = None) -> Person:
    """The person behind a scanned QR token or a typed short code, among `people` (the gatekeeper's scope)."""
    now = now or timezone.now()
    value = (value or "").strip()
    if not value:
        raise _fail("code", gettext("请扫描或输入通行码"))
    if rules.looks_like_pass_code(value):
        row = PassCode.objects.filter(code=rules.normalise_pass_code(value)).first()
        if row is None:
            raise _fail("code", gettext("通行码 %(code)s 不存在，请核对后重新输入") % {"code": value})
        if row.expires_at < now:
            raise _fail("code", gettext("通行码已过期，请让对方刷新手机上的通行码"))
        person_id = row.person_id
    else:
        try:
            (person_id,) = signing.loads(value, salt=PASS_SALT, max_age=PASS_TTL)
        except signing.SignatureExpired:
            raise _fail("code", gettext("通行码已过期，请让对方刷新手机上的通行码")) from None
        except (signing.BadSignature, ValueError, TypeError):
            raise _fail("code", gettext("通行码无效：签名校验失败，可能是伪造或截图篡改")) from None
    person = people.filter(pk=person_id).first()
    if person is None:
        raise NotFound(gettext("通行码对应的人员不在本单位台账中"))
    return person


# --- health code seen at the gate ----------------------------------------------------------------------------------


HEALTH_CODE_REFRESH = timedelta(hours=1)


def people_set_health_codes(*, observations: dict[int, tuple[Person, str, datetime]], actor: Any) -> int:
    """Record the colours the gatekeepers saw ({person id: (person, colour, when)}), in one UPDATE.

    Late uploads never overwrite a newer observation; an unchanged colour seen again within the hour is not
    rewritten (the hot path would otherwise write every person on every scan). Colour changes are audited in the
    caller's transaction: one event per person when one changed, else one event listing every change of the
    upload. Returns the number of people whose colour changed.
    """
    changed: list[tuple[Person, str]] = []
    rows: list[Person] = []
    for person, code, at in observations.values():
        if person.health_code_at and person.health_code_at >= at:
            continue
        fresh = person.health_code_at and at - person.health_code_at < HEALTH_CODE_REFRESH
        if code == person.health_code and fresh:
            continue
        if code != person.health_code:
            changed.append((person, person.health_code))
        person.health_code, person.health_code_at = code, at
        rows.append(person)
    if rows and fastsql.available():
        # One UPDATE … FROM unnest(): bulk_update's CASE WHEN per row costs milliseconds of Python per person.
        fastsql.execute(
            "UPDATE people_person AS p SET health_code = v.code, health_code_at = v.at "
            "FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS v(id, code, at) WHERE p.id = v.id",
            [[p.pk for p in rows], [p.health_code for p in rows], [p.health_code_at for p in rows]],
        )
    elif rows:
        Person.objects.bulk_update(rows, ["health_code", "health_code_at"])
    if len(changed) == 1:
        person, old = changed[0]
        audit_record(actor=actor, action="person.health_code", obj=person, organization_id=person.organization_id,
                     changes={"health_code": [old, person.health_code]})
    elif changed:
        audit_record(
            actor=actor, action="person.health_code", object_type="people.person",
            object_repr=f"{len(changed)} 人的健康码", organization_id=changed[0][0].organization_id,
            changes={f"{p.pk} {p.name}": [old, p.health_code] for p, old in changed},
        )
    return len(changed)


# --- scans ---------------------------------------------------------------------------------------------------------


@dataclass
class ScanInput:
    person_id: int
    at: datetime
    venue_id: int | None = None
    venue_token: str = ""
    direction: str = "entry"
    temperature: Decimal | None = None
    health_code: str = ""
    device_id: str = ""
    client_key: str | None = None


@dataclass
class ScanResult:
    index: int
    ok: bool
    scan: Scan | None = None
    replay: bool = False
    message: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    status: int = 400


def _item_error(index: int, field_name: str, message: str, status: int = 400) -> ScanResult:
    return ScanResult(index, False, message=message, errors={field_name: [message]}, status=status)


def _facts(person: Person, approved: bool) -> rules.PersonFacts:
    return rules.PersonFacts(
        known=person.is_active, is_visitor=person.kind == Person.Kind.VISITOR, has_approved_visit=approved,
        measure_kind=person.measure_kind, measure_until=person.measure_until,
        symptomatic=person.symptomatic_since is not None, health_code=person.health_code,
        health_code_at=person.health_code_at,
    )


def to_aware(at: datetime) -> datetime:
    return timezone.make_aware(at) if timezone.is_naive(at) else at


def scans_record(*, items: Sequence[ScanInput], actor: Any, venues: Any, people: Any,
                 now: datetime | None = None) -> list[ScanResult]:
    """Record scans; `venues` and `people` are the caller's scope (QuerySets), so anything outside it is 'not found'.
    Either may instead be a function from ids to the visible objects by id (the batch API's: the per-process venue
    cache, `scan_fast.venues_visible`, and `scan_fast.people_for_decision`).

    Valid items are stored even when others fail. Items are paired in time order, so an exit in the same batch as
    its entry closes it. A (device_id, client_key) the organisation saw before returns the first result and stores nothing.
    """
    now = now or timezone.now()
    if len(items) > BATCH_LIMIT:
        raise _fail("items", gettext("一次最多上传 %(limit)d 条，实为 %(n)d 条，请分批上传")
                    % {"limit": BATCH_LIMIT, "n": len(items)})
    # No savepoint on the common path: an outer atomic block (a caller's transaction, if any, becomes a savepoint).
    # A single scan skips the replay look-up and lets the unique index catch a replay (the rare case): one round
    # trip less on the hot path. A batch checks first, since one replay would otherwise redo the whole batch.
    try:
        with transaction.atomic():
            return _record(items, actor, venues, people, now, check_replays=len(items) > 1)
    except IntegrityError:
        pass
    # A replay, or a concurrent upload stored one of our client keys between our check and our insert: run again
    # with the look-up, and those items come back as replays.
    with transaction.atomic():
        return _record(items, actor, venues, people, now, check_replays=True)


def _in(model: Any, field_name: str, values: Iterable[Any]) -> Any:
    """`filter(_in(Model, "field", values))`: `field = ANY(%s)` with one array parameter instead of `IN (%s, %s, …)`
    with one placeholder per value (a full batch otherwise sends thousands that psycopg and PostgreSQL parse one by
    one). Same plans as an IN list (an index condition on the array)."""
    values = list(values)
    if connection.vendor != "postgresql":
        return Q(**{f"{field_name}__in": values})
    field = model._meta.get_field(field_name)
    q = connection.ops.quote_name
    sql_type = "bigint" if field.get_internal_type() in ("AutoField", "BigAutoField", "ForeignKey") else "text"
    return RawSQL(f"{q(model._meta.db_table)}.{q(field.column)} = ANY(%s::{sql_type}[])", [values],
                  output_field=BooleanField())


def _stored_before(keyed: set[tuple[int, str, str]]) -> dict[tuple[int, str, str], Scan]:
    """The scans stored earlier under any of these (organisation, device_id, client_key) keys, by key.

    A key is a device's own within one organisation: two organisations' gates may well send the same device name and
    key, and one must never get the other's scan back as "its" replay. On PostgreSQL the keys are joined to the
    table as three arrays: one probe of the unique (organisation, device_id, client_key) index per key. Filtering by
    `device_id = ANY(…) AND client_key = ANY(…)` instead made PostgreSQL read every keyed scan the device had ever
    uploaded and test each against the batch's keys (bench: 150,000 rows and 160 ms for 1,000 pairs, growing with
    the gate's history; the join: 1,000 index probes, 7 ms).
    """
    if connection.vendor == "postgresql":
        orgs, devices, keys = zip(*keyed, strict=True)
        q = connection.ops.quote_name
        table, org, device, key = (q(Scan._meta.db_table), q("organization_id"), q("device_id"), q("client_key"))
        found: Iterable[Scan] = Scan.objects.raw(
            f"SELECT s.* FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS k(organization_id, device_id, "
            f"client_key) JOIN {table} s ON s.{org} = k.organization_id AND s.{device} = k.device_id "
            f"AND s.{key} = k.client_key",
            [list(orgs), list(devices), list(keys)])
    else:
        found = Scan.objects.filter(organization_id__in={o for o, _, _ in keyed},
                                    device_id__in={d for _, d, _ in keyed}, client_key__in={k for _, _, k in keyed})
    return {k: s for s in found if (k := (s.organization_id, s.device_id, s.client_key or "")) in keyed}


def _replay_key(item: ScanInput, venue: Venue | None) -> tuple[int, str, str] | None:
    """Whose replay an item would be: its client key, within its device, within its venue's organisation."""
    if not item.client_key or venue is None:
        return None
    return venue.organization_id, item.device_id or "", item.client_key


def _record(items: Sequence[ScanInput], actor: Any, venue_scope: Any, people_scope: Any, now: datetime,
            check_replays: bool = True) -> list[ScanResult]:
    results: list[ScanResult | None] = [None] * len(items)

    # Venues by id and by token, one query.
    token_ids: dict[int, int] = {}
    parsed_tokens: dict[int, tuple[int, int]] = {}
    for idx, item in enumerate(items):
        if item.venue_id is None and item.venue_token:
            try:
                venue_id, version = signing.loads(item.venue_token, salt=VENUE_SALT)
                parsed_tokens[idx] = (int(venue_id), int(version))
                token_ids[idx] = int(venue_id)
            except signing.BadSignature:
                results[idx] = _item_error(idx, "venue_token", gettext("场所码无效：签名校验失败，可能是伪造或被篡改的二维码"))
            except (ValueError, TypeError):
                results[idx] = _item_error(idx, "venue_token", gettext("场所码无效：内容无法识别"))
    venue_ids = {i.venue_id for i in items if i.venue_id is not None} | set(token_ids.values())
    if not venue_ids:
        venues: dict[int, Venue] = {}
    elif callable(venue_scope):
        venues = venue_scope(venue_ids)
    else:
        venues = {v.pk: v for v in venue_scope.filter(_in(Venue, "id", venue_ids))}

    # Replays: one query for every (organisation, device, key) of the batch.
    def venue_of(idx: int, item: ScanInput) -> Venue | None:
        venue_id = item.venue_id if item.venue_id is not None else token_ids.get(idx)
        return venues.get(venue_id) if venue_id is not None else None

    replay_keys = [_replay_key(item, venue_of(idx, item)) for idx, item in enumerate(items)]
    keyed = {k for k in replay_keys if k is not None}
    previous: dict[tuple[int, str, str], Scan] = {}
    if keyed and check_replays:
        previous = _stored_before(keyed)
    person_ids = {i.person_id for i in items}
    # The decision never needs the encrypted ID number or phone: skip reading and decrypting them.
    if not person_ids:
        people: dict[int, Person] = {}
    elif callable(people_scope):
        people = people_scope(person_ids)
    else:
        people = {p.pk: p for p in people_scope.filter(_in(Person, "id", person_ids)).only(*DECISION_FIELDS)}

    visitor_ids = [p.pk for p in people.values() if p.kind == Person.Kind.VISITOR]
    visits: dict[int, list[Visit]] = {}
    if visitor_ids:
        for v in Visit.objects.filter(visitor_id__in=visitor_ids,
                                      status__in=[Visit.Status.APPROVED, Visit.Status.ARRIVED]):
            visits.setdefault(v.visitor_id, []).append(v)

    # Open intervals of the (venue, person) pairs that exit in this batch.
    exit_pairs = {(i.venue_id or token_ids.get(idx), i.person_id) for idx, i in enumerate(items)
                  if i.direction == Scan.Direction.EXIT}
    open_entries: dict[tuple[int, int], Scan] = {}
    if exit_pairs:
        # Open entries live in a small partial index; filter by person there and keep the exact pairs.
        for open_entry in Scan.objects.filter(person_id__in={p for _, p in exit_pairs}, direction="entry",
                                              decision="admit", left_at__isnull=True).order_by("at"):
            if (open_entry.venue_id, open_entry.person_id) in exit_pairs:
                open_entries[(open_entry.venue_id, open_entry.person_id)] = open_entry  # the latest open entry wins

    new_scans: list[tuple[int, Scan]] = []
    closed_existing: list[Scan] = []
    in_batch_links: list[tuple[Scan, Scan]] = []
    seen_keys: dict[tuple[int, str, str], int] = {}
    fever: list[Scan] = []
    codes_seen: dict[int, tuple[Person, str, datetime]] = {}
    # Read before the loop: once the first chunk of scans is sent, the connection is in pipeline mode until the
    # writer finishes, and the decisions themselves are pure.
    settings_by_org: dict[int, AccessSetting] = {
        org_id: setting_for(org_id) for org_id in {v.organization_id for v in venues.values()}}
    order = sorted(range(len(items)), key=lambda k: to_aware(items[k].at))
    tz = timezone.get_current_timezone()
    recorded_by_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    with ScanWriter() as writer:
        for idx in order:
            if results[idx] is not None:
                continue
            item = items[idx]
            key = replay_keys[idx]
            if key and key in previous:
                results[idx] = ScanResult(idx, True, previous[key], replay=True)
                continue
            if key and key in seen_keys:
                results[idx] = ScanResult(idx, True, None, replay=True, message=f"与第 {seen_keys[key] + 1} 条重复")
                continue
            venue_id = item.venue_id if item.venue_id is not None else token_ids.get(idx)
            venue = venues.get(venue_id) if venue_id is not None else None
            if venue is None:
                field_name = "venue_id" if item.venue_id is not None else "venue_token"
                if item.venue_id is None and not item.venue_token:
                    results[idx] = _item_error(idx, "venue_id", gettext("缺少场所：请提供 venue_id 或 venue_token"))
                else:
                    results[idx] = _item_error(idx, field_name, gettext("场所 %(venue)s 不存在或无权访问")
                                               % {"venue": venue_id}, 404)
                continue
            if idx in parsed_tokens and parsed_tokens[idx][1] != venue.code_version:
                results[idx] = _item_error(idx, "venue_token", gettext("场所码已更换（%(venue)s），请扫描最新的场所码")
                                           % {"venue": venue.name})
                continue
            if not venue.active:
                results[idx] = _item_error(idx, "venue_id", gettext("场所“%(venue)s”已停用") % {"venue": venue.name})
                continue
            person = people.get(item.person_id)
            if person is None or person.organization_id != venue.organization_id:
                results[idx] = _item_error(idx, "person_id", gettext("人员 %(person)s 不在该场所所属单位的台账中")
                                           % {"person": item.person_id}, 404)
                continue
            at = to_aware(item.at)
            field_name = "at"
            try:
                rules.check_time(at, now)
                field_name = "temperature"
                temperature = rules.check_temperature(item.temperature)
                field_name = "health_code"
                health_code = rules.check_health_code(item.health_code)
            except (ValueError, InvalidOperation) as exc:  # field_name: the check that refused
                results[idx] = _item_error(idx, field_name, worded(exc))
                continue
            if item.direction not in DIRECTIONS:
                results[idx] = _item_error(idx, "direction", gettext("方向应为 entry（进入）或 exit（离开）"))
                continue
            # Ids rather than objects (no descriptor per field), then the related objects cached as assignment
            # would: a batch builds up to 1,000 of these.
            scan = new_scan(
                organization_id=venue.organization_id, venue_id=venue.pk, person_id=person.pk,
                direction=item.direction, at=at, temperature=temperature, health_code=health_code,
                device_id=item.device_id or "", client_key=item.client_key or None, recorded_by_id=recorded_by_id,
            )
            _VENUE_CACHE.set_cached_value(scan, venue)
            _PERSON_CACHE.set_cached_value(scan, person)
            if recorded_by_id is not None:
                _RECORDER_CACHE.set_cached_value(scan, actor)
            if item.direction == Scan.Direction.EXIT:
                entry = open_entries.get((venue.pk, person.pk))
                if entry is None or entry.at > at:
                    results[idx] = _item_error(idx, "direction", gettext(
                        "%(person)s 在“%(venue)s”没有未结束的进入记录，无法登记离开") % {"person": person.name,
                                                                          "venue": venue.name})
                    continue
                decision = rules.exit_decision()
                entry.left_at, entry.estimated_exit = at, False
                if entry.pk:
                    scan.entry_id = entry.pk
                    closed_existing.append(entry)
                else:
                    in_batch_links.append((scan, entry))
                del open_entries[(venue.pk, person.pk)]
            else:
                setting = settings_by_org[venue.organization_id]
                approved = any(v.starts_at - VISIT_EARLY <= at <= v.ends_at for v in visits.get(person.pk, []))
                decision = rules.decide_entry(
                    _facts(person, approved), temperature=temperature, health_code=health_code,
                    threshold=effective_fever_threshold(setting, venue), today=at.astimezone(tz).date(), now=at,
                    refuse_unknown=setting.refuse_unknown,
                )
                if decision.admit:
                    open_entries[(venue.pk, person.pk)] = scan
                if decision.fever:
                    fever.append(scan)
            scan.decision = decision.value
            scan.reasons = decision.reasons_json()
            if health_code:
                seen = codes_seen.get(person.pk)
                if seen is None or seen[2] < at:
                    codes_seen[person.pk] = (person, health_code, at)
            new_scans.append((idx, scan))
            writer.add(scan)
            if key:
                seen_keys[key] = idx
            results[idx] = ScanResult(idx, True, scan)

    if new_scans:
        capacity.queue_alerts(s for _, s in new_scans)  # no query: a task after commit, for venues with a capacity
    if codes_seen:
        people_set_health_codes(observations=codes_seen, actor=actor)
    if closed_existing:
        Scan.objects.bulk_update(closed_existing, ["left_at", "estimated_exit"])
    if in_batch_links:
        for exit_scan, closed_entry in in_batch_links:
            exit_scan.entry_id = closed_entry.pk
        Scan.objects.bulk_update([e for _, e in in_batch_links] + [x for x, _ in in_batch_links],
                                 ["left_at", "estimated_exit", "entry"])
    for scan in fever:
        fever_alert(scan)
    visits_mark_arrived([s for _, s in new_scans if s.person.kind == Person.Kind.VISITOR])
    # In-batch duplicates point at the scan their first occurrence stored.
    for idx, res in enumerate(results):
        if res is not None and res.replay and res.scan is None:
            key = replay_keys[idx]
            first = results[seen_keys[key]] if key is not None else None
            res.scan = first.scan if first else None
    return [r for r in results if r is not None]


DIRECTIONS = frozenset(Scan.Direction.values)
# The foreign keys whose related objects a new scan caches (ForeignKey.set_cached_value, as assignment does).
_VENUE_CACHE: Any = Scan._meta.get_field("venue")
_PERSON_CACHE: Any = Scan._meta.get_field("person")
_RECORDER_CACHE: Any = Scan._meta.get_field("recorded_by")

# What the entry decision reads about a person (never the encrypted ID number or phone).
DECISION_FIELDS = ("id", "organization_id", "name", "kind", "is_active", "measure_kind", "measure_until",
                   "symptomatic_since", "health_code", "health_code_at")


def scan_record(*, actor: Any, venues: Any, people: Any, now: datetime | None = None,
                **values: Any) -> tuple[Scan, bool]:
    """One scan; raises the item's error. Returns (scan, replay). (The API tries `scan_fast` first.)"""
    (result,) = scans_record(items=[ScanInput(**values)], actor=actor, venues=venues, people=people, now=now)
    if not result.ok:
        if result.status == 404:
            raise NotFound(result.message)
        raise ServiceError(result.message, result.errors)
    assert result.scan is not None
    return result.scan, result.replay


def fever_alert(scan: Scan) -> None:
    """Tell the prevention office (the organisation's admins) at once; seed 004: the person goes to the fever
    clinic, escorted, not home."""
    from fangkong.notify.recipients import org_admins
    from fangkong.notify.services import notify_send

    person, venue = scan.person, scan.venue
    organization = Organization.objects.get(pk=scan.organization_id)
    temp = f"{scan.temperature:.1f}"
    notify_send(
        recipients=org_admins(organization),
        title={"zh-hans": f"发热预警：{person.name} 在{venue.name}测温 {temp}℃",
               "en": f"Fever alert: {person.name} at {venue.name}, {temp}°C"},
        body={"zh-hans": f"{person.name}于 {timezone.localtime(scan.at):%m-%d %H:%M} 在{venue.name}测温 {temp}℃，"
                         "已拒绝进入。请安排专人陪同到发热门诊就诊，做好登记和后续跟踪。",
              "en": f"{person.name} measured {temp}°C at {venue.name} and was refused entry. Escort them to the "
                    "fever clinic and follow up."},
        link=reverse("access:scan_list") + f"?person={person.pk}",
        level="alert", organization_id=scan.organization_id, event="access.fever",
        dedupe_key=f"access.fever.{scan.pk}",
    )


@transaction.atomic
def close_overdue_entries(*, now: datetime | None = None) -> int:
    """Close intervals whose exit never came: left_at = entry + the venue's maximum stay, marked estimated."""
    now = now or timezone.now()
    closed = 0
    for venue in Venue.objects.filter(
            scans__direction="entry", scans__decision="admit", scans__left_at__isnull=True).distinct():
        overdue = list(Scan.objects.filter(
            venue=venue, direction="entry", decision="admit", left_at__isnull=True,
            at__lt=now - timedelta(minutes=venue.max_stay_minutes),
        ))
        for scan in overdue:
            scan.left_at = scan.at + timedelta(minutes=venue.max_stay_minutes)
            scan.estimated_exit = True
        Scan.objects.bulk_update(overdue, ["left_at", "estimated_exit"])
        closed += len(overdue)
    return closed


# --- visitors ------------------------------------------------------------------------------------------------------


def book_token(organization: Organization) -> str:
    return signing.dumps([organization.pk], salt=BOOK_SALT)


def organization_from_book_token(token: str) -> Organization:
    try:
        (org_id,) = signing.loads(token, salt=BOOK_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise NotFound(gettext("预约链接无效")) from None
    org = Organization.objects.filter(pk=org_id, is_active=True).first()
    if org is None:
        raise NotFound(gettext("预约链接无效"))
    return org


def visit_token(visit: Visit) -> str:
    return signing.dumps([visit.pk], salt=VISIT_SALT)


def visit_from_token(token: str) -> Visit:
    try:
        (visit_id,) = signing.loads(token, salt=VISIT_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise NotFound(gettext("访客通行证链接无效")) from None
    visit = Visit.objects.select_related("visitor", "host", "organization").filter(pk=visit_id).first()
    if visit is None:
        raise NotFound(gettext("访客通行证链接无效"))
    return visit


def visitor_find_or_create(*, organization: Organization, name: str, id_number: str, phone: str,
                           id_type: str = Person.IdType.RESIDENT_ID, actor: Any = None,
                           members: bool = False) -> Person:
    """A visitor becomes (or is found as) a ledger person of kind visitor, de-duplicated by ID-number HMAC.

    Whoever types an ID number here (the public booking and venue pages, the gate's walk-in form) proves nothing
    but knowing it. So the number of one of the organisation's own people (an employee, a student) is refused
    rather than lending out their name: they sign in, or the gate finds them in the ledger. `members=True` (staff
    registering a vehicle's driver, who may be one of their own) finds such a person too. A person found is reused
    only when the typed name is theirs; the refusal never says whose the number is.
    """
    from fangkong.people.services import person_create

    try:
        info = people_rules.check_id_number(id_type, id_number)
    except ValueError as exc:
        raise _fail("id_number", gettext("身份证号：%(error)s") % {"error": worded(exc)}) from None
    try:
        name = people_rules.check_name(name)
    except ValueError as exc:
        raise _fail("name", worded(exc)) from None
    existing = Person.objects.filter(organization=organization,
                                     id_number_hash=crypto.lookup_hash(info.number)).first()
    if existing is None:
        return person_create(organization=organization, actor=actor or "访客自助登记", name=name,
                             id_number=info.number, id_type=id_type, phone=phone, kind=Person.Kind.VISITOR)
    if existing.kind != Person.Kind.VISITOR and not members:
        raise _fail("id_number", gettext("该证件号码属于本单位在册人员，不能按访客登记：本单位人员请登录后扫码或出示通行码，"
                                         "如有疑问请联系门岗"))
    if not rules.same_name(existing.name, name):
        raise _fail("name", gettext("姓名与证件号码不符，请核对后重新填写"))
    if not existing.is_active and existing.kind == Person.Kind.VISITOR:
        # A visitor archived after an earlier visit comes back: the same ledger row, active again.
        with transaction.atomic():
            Person.objects.filter(pk=existing.pk).update(is_active=True, updated_at=timezone.now())
            existing.is_active = True
            audit_record(actor=actor or "访客自助登记", action="person.restore", obj=existing,
                         organization_id=organization.pk, changes={"is_active": [False, True]})
    return existing


@transaction.atomic
def visit_book(*, organization: Organization, host: Person, name: str, id_number: str, phone: str, purpose: str,
               starts_at: datetime, ends_at: datetime, company: str = "", places_14d: str = "",
               health_code: str = "", actor: Any = None) -> Visit:
    if host.organization_id != organization.pk or not host.is_active:
        raise _fail("host", gettext("被访人不在本单位台账中"))
    if host.kind == Person.Kind.VISITOR:
        raise _fail("host", gettext("访客不能作为被访人，请选择本单位人员"))
    if not (purpose or "").strip():
        raise _fail("purpose", gettext("请填写来访事由"))
    try:
        rules.check_visit_window(starts_at, ends_at)
    except ValueError as exc:
        raise _fail("ends_at", worded(exc)) from None
    if ends_at < timezone.now():
        raise _fail("ends_at", gettext("预约时间已过，请重新选择"))
    try:
        health_code = rules.check_health_code(health_code)
        people_rules.check_phone(phone)
    except ValueError as exc:
        raise _fail("health_code" if "健康码" in str(exc) else "phone", worded(exc)) from None
    if not phone:
        raise _fail("phone", gettext("请填写手机号，便于被访人联系"))
    visitor = visitor_find_or_create(organization=organization, name=name, id_number=id_number, phone=phone,
                                     actor=actor)
    # The same request sent again (a double tap, the back button, a retry) is the request already waiting: the
    # visitor's row lock makes concurrent copies wait for the first and find it.
    Person.objects.select_for_update(no_key=True).filter(pk=visitor.pk).values_list("pk", flat=True).first()
    waiting = Visit.objects.filter(organization=organization, visitor=visitor, host=host, starts_at=starts_at,
                                   ends_at=ends_at, status=Visit.Status.PENDING, walk_in=False).first()
    if waiting is not None:
        return waiting
    visit = Visit.objects.create(
        organization=organization, visitor=visitor, host=host, company=company.strip(), purpose=purpose.strip(),
        starts_at=starts_at, ends_at=ends_at, places_14d=places_14d.strip(), health_code=health_code,
    )
    audit_record(actor=actor or "访客自助预约", action="visit.book", obj=visit, organization_id=organization.pk,
                 changes={"host": [None, host.name], "starts_at": [None, starts_at.isoformat()]})
    if host.user_id:
        from fangkong.notify.services import notify_send

        notify_send(
            recipients=[host.user],
            title={"zh-hans": f"访客预约待审批：{visitor.name}", "en": f"Visit request: {visitor.name}"},
            body={"zh-hans": f"{visitor.name}（{company or '个人'}）预约 {timezone.localtime(starts_at):%m-%d %H:%M} "
                             f"来访，事由：{purpose}", "en": f"{visitor.name} asks to visit: {purpose}"},
            link=reverse("access:visit_list"), level="info", organization_id=organization.pk,
            event="access.visit_booked", dedupe_key=f"access.visit.{visit.pk}.booked",
        )
    return visit


@transaction.atomic
def visit_decide(*, visit: Visit, approve: bool, actor: Any, note: str = "") -> Visit:
    if visit.status != Visit.Status.PENDING:
        raise _fail("status", gettext("该预约当前为“%(status)s”，不能再审批") % {"status": visit.get_status_display()})
    visit.status = Visit.Status.APPROVED if approve else Visit.Status.REFUSED
    visit.decided_by, visit.decided_at, visit.decision_note = actor, timezone.now(), note.strip()[:200]
    visit.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
    audit_record(actor=actor, action="visit.approve" if approve else "visit.refuse", obj=visit,
                 organization_id=visit.organization_id, changes={"status": ["pending", visit.status]})
    return visit


@transaction.atomic
def visit_cancel(*, visit: Visit, actor: Any) -> Visit:
    if visit.status in (Visit.Status.ARRIVED, Visit.Status.CANCELLED):
        raise _fail("status", gettext("该预约当前为“%(status)s”，不能取消") % {"status": visit.get_status_display()})
    old = visit.status
    visit.status = Visit.Status.CANCELLED
    visit.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action="visit.cancel", obj=visit, organization_id=visit.organization_id,
                 changes={"status": [old, visit.status]})
    return visit


def visits_mark_arrived(scans: Iterable[Scan]) -> None:
    """An admitted visitor's approved visit becomes 'arrived'."""
    for scan in scans:
        if scan.decision == "admit" and scan.direction == "entry" and scan.person.kind == Person.Kind.VISITOR:
            Visit.objects.filter(visitor_id=scan.person_id, status=Visit.Status.APPROVED,
                                 starts_at__lte=scan.at + VISIT_EARLY, ends_at__gte=scan.at).update(
                status=Visit.Status.ARRIVED, arrived_at=scan.at)


# --- vehicles ------------------------------------------------------------------------------------------------------

_VEHICLE_FIELDS = ("plate", "driver", "origin", "destination", "cargo", "time_in", "time_out", "disinfected",
                   "disinfected_by", "disinfectant", "disinfected_at")


def _vehicle_values(organization_id: int, values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(_VEHICLE_FIELDS)
    if unknown:
        raise ServiceError(gettext("未知字段：%(fields)s") % {"fields": ", ".join(sorted(unknown))})
    out = dict(values)
    if "plate" in out:
        try:
            out["plate"] = rules.check_plate(out["plate"])
        except ValueError as exc:
            raise _fail("plate", worded(exc)) from None
    if "driver" in out and (out["driver"] is None or out["driver"].organization_id != organization_id):
        raise _fail("driver", gettext("驾驶员不在本单位台账中，请先登记为访客"))
    if out.get("disinfected"):
        if not (out.get("disinfected_by") or "").strip():
            raise _fail("disinfected_by", gettext("已消毒时请填写消毒人"))
        out.setdefault("disinfected_at", timezone.now())
        if out.get("disinfected_at") is None:
            out["disinfected_at"] = timezone.now()
    now = timezone.now()
    for name in ("time_in", "time_out", "disinfected_at"):
        if out.get(name) is not None:
            out[name] = to_aware(out[name])
            try:
                rules.check_recorded_time(timezone.localtime(out[name]), timezone.localtime(now))
            except ValueError as exc:
                raise _fail(name, worded(exc)) from None
    return out


def _check_not_inside(organization_id: int, plate: str, exclude: int | None = None) -> None:
    """One open pass per plate: a vehicle inside is not let in again before its exit is recorded (it would count
    twice among the vehicles inside). The organisation's row is locked (a key-share-compatible lock, so inserts
    that refer to the organisation do not wait) while the caller's transaction lasts, so two gatekeepers registering
    the same plate at once cannot both pass."""
    Organization.objects.select_for_update(no_key=True).filter(pk=organization_id).values_list(
        "pk", flat=True).first()
    inside = VehiclePass.objects.filter(organization_id=organization_id, plate=plate, time_out__isnull=True)
    if exclude is not None:
        inside = inside.exclude(pk=exclude)
    first = inside.order_by("time_in").first()
    if first is not None:
        raise _fail("plate", gettext("车辆 %(plate)s 已于 %(at)s 进入，尚未登记离开：请先登记离开再登记进入") % {
            "plate": plate, "at": f"{timezone.localtime(first.time_in):%m-%d %H:%M}"})


@transaction.atomic
def vehicle_create(*, organization: Organization, actor: Any, **values: Any) -> VehiclePass:
    values.setdefault("time_in", timezone.now())
    values.setdefault("plate", "")
    cleaned = _vehicle_values(organization.pk, values)
    if "driver" not in cleaned:
        raise _fail("driver", gettext("请选择驾驶员"))
    if cleaned.get("time_out") and cleaned["time_out"] < cleaned["time_in"]:
        raise _fail("time_out", gettext("离开时间早于进入时间"))
    if not cleaned.get("time_out"):
        _check_not_inside(organization.pk, cleaned["plate"])
    vp = VehiclePass.objects.create(organization=organization, recorded_by=actor if getattr(
        actor, "is_authenticated", False) else None, **cleaned)
    audit_record(actor=actor, action="vehicle.create", obj=vp, organization_id=organization.pk,
                 changes={"plate": [None, vp.plate], "disinfected": [None, vp.disinfected]})
    return vp


@transaction.atomic
def vehicle_update(*, vehicle: VehiclePass, actor: Any, **values: Any) -> VehiclePass:
    cleaned = _vehicle_values(vehicle.organization_id, values)
    if cleaned.get("time_out") and cleaned["time_out"] < cleaned.get("time_in", vehicle.time_in):
        raise _fail("time_out", gettext("离开时间早于进入时间"))
    if "time_out" in cleaned and cleaned["time_out"] is None and vehicle.time_out is not None:
        # Back inside (a mistaken exit undone): not while another pass of the plate is open.
        _check_not_inside(vehicle.organization_id, cleaned.get("plate", vehicle.plate), exclude=vehicle.pk)
    changes = {k: [str(getattr(vehicle, k)), str(v)] for k, v in cleaned.items() if getattr(vehicle, k) != v}
    for key, value in cleaned.items():
        setattr(vehicle, key, value)
    vehicle.save()
    if changes:
        audit_record(actor=actor, action="vehicle.update", obj=vehicle, organization_id=vehicle.organization_id,
                     changes=changes)
    return vehicle


@transaction.atomic
def vehicle_exit(*, vehicle: VehiclePass, actor: Any, at: datetime | None = None) -> VehiclePass:
    """Record that the vehicle left. Once only: a second click, or a stale page, must not move the recorded exit
    (a correction of the time goes through `vehicle_update`)."""
    current = VehiclePass.objects.select_for_update().get(pk=vehicle.pk)
    if current.time_out is not None:
        raise _fail("time_out", gettext("车辆 %(plate)s 已于 %(at)s 登记离开，不能重复登记") % {
            "plate": current.plate, "at": f"{timezone.localtime(current.time_out):%m-%d %H:%M}"})
    # An entry time a little ahead (a gate clock within the five minutes allowed) is not a reason to refuse the exit.
    return vehicle_update(vehicle=current, actor=actor, time_out=at or max(timezone.now(), current.time_in))


@transaction.atomic
def vehicle_delete(*, vehicle: VehiclePass, actor: Any) -> None:
    audit_record(actor=actor, action="vehicle.delete", obj=vehicle, organization_id=vehicle.organization_id,
                 changes={"plate": [vehicle.plate, None]})
    vehicle.delete()
