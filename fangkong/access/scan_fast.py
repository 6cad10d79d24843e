"""The single entry scan from a gate, in two prepared statements (ADR 0010).

A gate sends one scan per person walking through it. For a plain entry (a known member, a venue of the caller's
scope, no fever) the API asks `scan_entry_common` first: it reads the venue from the per-process venue cache, the
person with one prepared SELECT, decides in Python with the same pure rules as every other path (`rules.decide_entry`)
and writes with one prepared statement: the scan (a replayed client key inserts nothing), the health-code colour seen
(never over a newer one) and the audit event of a changed colour.

It returns None whenever the general path must decide: SQLite, exits (they close an interval), visitors (their
appointments), fever (the alert), anything invalid (the general path words the error), a venue outside the cache's
view. Nothing has been written then, and `services.scan_record` does everything from the start.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from datetime import datetime
from decimal import InvalidOperation
from typing import Any

from django.core import signing
from django.db import connection
from django.db.models import Subquery
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from psycopg.types.json import Jsonb

from fangkong.access import capacity, rules
from fangkong.access.models import Scan, Venue
from fangkong.access.services import (
    DECISION_FIELDS,
    HEALTH_CODE_REFRESH,
    VENUE_SALT,
    ScanInput,
    effective_fever_threshold,
    setting_for,
    to_aware,
)
from fangkong.core import authcache, fastsql, model_rows
from fangkong.core.context import client_ip
from fangkong.people.models import Person

# Venues change rarely and every scan names one: each process keeps them, with what the scope check needs, in the
# auth cache (fangkong.core.authcache, ADR 0009: explicit invalidation, a shared version) for VENUE_TTL seconds. A
# miss loads every venue of that organisation in one query (a gate scans into one organisation's venues). A save,
# delete or code rotation drops the entry at once in the process that made it; other processes follow within 1 s
# with a shared cache (Redis, database), within VENUE_TTL (60 s) with the per-process default cache.
VENUE_TTL = 60.0
_venue_load = threading.Lock()


def venue_cached(venue_id: int) -> tuple[Venue, str, int | None] | None:
    """(venue, its organisation's jurisdiction path, its organisation's authority id), cached per process for
    VENUE_TTL seconds. One thread loads; the others of the process wait for it instead of loading the same."""
    hit = authcache.get(("venue", venue_id))
    if hit is not None:
        return hit
    with _venue_load:
        hit = authcache.get(("venue", venue_id))
        if hit is not None:
            return hit
        return _venues_load(venue_id)


def _venues_load(venue_id: int) -> tuple[Venue, str, int | None] | None:
    gen = authcache.generation()
    same_org = Venue.objects.filter(pk=venue_id).values("organization_id")[:1]
    found = None
    for venue in Venue.objects.select_related("organization__jurisdiction").filter(organization_id=Subquery(same_org)):
        org = venue.organization
        entry = (venue, org.jurisdiction.path if org.jurisdiction_id else "", org.authority_id)
        authcache.put(("venue", venue.pk), entry, user_id=None, generation=gen, seconds=VENUE_TTL)
        if venue.pk == venue_id:
            found = entry
    return found


@receiver([post_save, post_delete], sender=Venue, dispatch_uid="access_forget_venue")
def _forget_venue(sender: Any, instance: Venue, **kwargs: Any) -> None:
    authcache.forget(("venue", instance.pk))


def venue_visible(user: Any, perm: str, venue: Venue, jurisdiction_path: str, authority_id: int | None) -> bool:
    """`Venue.objects.visible_to(user, perm)` for one venue, in Python over the (cached) memberships: the same
    rules as `scope_q(user, perm, org="organization", unit=None)`."""
    from fangkong.tenancy.scope import user_scope

    return _in_scope(user_scope(user, perm), venue, jurisdiction_path, authority_id)


def _in_scope(scope: Any, venue: Venue, jurisdiction_path: str, authority_id: int | None) -> bool:
    if scope.everything:
        return True
    org_id = venue.organization_id
    return (org_id in scope.organization_ids or org_id in scope.unit_org_ids
            or (authority_id is not None and authority_id in scope.authority_ids)
            or any(jurisdiction_path.startswith(p) for p in scope.jurisdiction_paths))


def venues_visible(user: Any, perm: str, venue_ids: Iterable[int]) -> dict[int, Venue]:
    """What `Venue.objects.visible_to(user, perm).filter(id__in=venue_ids)` finds, from the per-process venue cache:
    a batch names hundreds of venues, and building them from the database was a tenth of its Python. The venues are
    shared with other requests: read them, never change them."""
    from fangkong.tenancy.scope import user_scope

    scope = user_scope(user, perm)
    found = {}
    for venue_id in venue_ids:
        cached = venue_cached(venue_id)
        if cached is not None and _in_scope(scope, *cached):
            found[venue_id] = cached[0]
    return found


def people_for_decision(person_ids: Iterable[int]) -> dict[int, Person]:
    """`Person.objects.filter(id__in=…).only(*services.DECISION_FIELDS)` by id, for a batch: one prepared statement
    with psycopg's own (C) timestamp loader, instead of the ORM's query compilation and Django's Python one (≈ 10 µs a
    value). The people come back as model instances with the other fields deferred, exactly as `only()` gives."""
    fields, sql = _decision_people_sql()
    rows = fastsql.fetch_all(sql, ([int(i) for i in person_ids],), native_timestamps=True)
    alias = connection.alias
    return {row[0]: model_rows.instance(Person, dict(zip(fields, row, strict=True)), db=alias) for row in rows}


@functools.cache
def _decision_people_sql() -> tuple[list[str], str]:
    # Model order: from_db takes the values of the fields it is given in the order the model declares them.
    fields = [f.attname for f in Person._meta.concrete_fields if f.attname in DECISION_FIELDS]
    return fields, f"SELECT {', '.join(fields)} FROM people_person WHERE id = ANY(%s::bigint[])"


# What the decision and the response read about the person (never the encrypted ID number or phone).
_PERSON_SQL = """
SELECT id, organization_id, name, kind, is_active, measure_kind, measure_until, symptomatic_since, health_code,
       health_code_at
FROM people_person WHERE id = %s
"""

_SCAN_INSERT = """
WITH s AS (
    INSERT INTO access_scan (organization_id, venue_id, person_id, direction, at, temperature, health_code, decision,
                             reasons, device_id, client_key, left_at, estimated_exit, entry_id, recorded_by_id,
                             created_at)
    VALUES (%(org)s, %(venue)s, %(person)s, 'entry', %(at)s, %(temp)s, %(code)s, %(decision)s, %(reasons)s,
            %(device)s, %(key)s, NULL, false, NULL, %(recorder)s, %(now)s)
    ON CONFLICT DO NOTHING
    RETURNING id
)"""
# The colour seen, as services.people_set_health_codes records it: never over a newer observation.
_CODE_UPDATE = """, p AS (
    UPDATE people_person SET health_code = %(code)s, health_code_at = %(at)s FROM s
    WHERE people_person.id = %(person)s
      AND (people_person.health_code_at IS NULL OR people_person.health_code_at < %(at)s)
    RETURNING 1
)"""
_CODE_AUDIT = """, a AS (
    INSERT INTO core_auditevent (at, actor_id, actor_repr, action, object_type, object_id, object_repr,
                                 organization_id, jurisdiction_path, changes, ip)
    SELECT %(now)s, %(recorder)s, %(actor_repr)s, 'person.health_code', 'people.person', %(person_text)s,
           %(person_name)s, %(org)s, '', %(changes)s, %(ip)s::inet
    FROM s
)"""
_STATEMENTS = {
    (False, False): _SCAN_INSERT + " SELECT id FROM s",
    (True, False): _SCAN_INSERT + _CODE_UPDATE + " SELECT id FROM s",
    (True, True): _SCAN_INSERT + _CODE_UPDATE + _CODE_AUDIT + " SELECT id FROM s",
}


def _venue_of(item: ScanInput) -> tuple[int, int | None] | None:
    if item.venue_id is not None:
        return item.venue_id, None
    if not item.venue_token:
        return None
    try:
        venue_id, version = signing.loads(item.venue_token, salt=VENUE_SALT)
        return int(venue_id), version
    except (signing.BadSignature, ValueError, TypeError):
        return None


def scan_entry_common(item: ScanInput, *, actor: Any, perm: str, now: datetime | None = None
                      ) -> tuple[Scan, bool] | None:
    """A plain entry scan in two round trips: (scan, replay), or None for the general path (see the module)."""
    if not fastsql.available() or item.direction != Scan.Direction.ENTRY:
        return None
    found = _venue_of(item)
    if found is None:
        return None
    venue_id, version = found
    cached = venue_cached(venue_id)
    if cached is None:
        return None
    venue, jurisdiction_path, authority_id = cached
    if not venue_visible(actor, perm, venue, jurisdiction_path, authority_id):
        return None
    if not venue.active or (version is not None and version != venue.code_version):
        return None
    row = fastsql.fetch_one(_PERSON_SQL, (item.person_id,), native_timestamps=True)  # two timestamps: see fastsql
    if row is None:
        return None
    (person_id, org_id, name, kind, is_active, measure_kind, measure_until, symptomatic_since, old_code,
     code_at) = row
    if org_id != venue.organization_id or kind == Person.Kind.VISITOR:
        return None
    now = now or timezone.now()
    at = to_aware(item.at)
    try:
        rules.check_time(at, now)
        temperature = rules.check_temperature(item.temperature)
        health_code = rules.check_health_code(item.health_code)
    except (ValueError, InvalidOperation):
        return None
    setting = setting_for(venue.organization_id)
    facts = rules.PersonFacts(
        known=is_active, is_visitor=False, has_approved_visit=False, measure_kind=measure_kind,
        measure_until=measure_until, symptomatic=symptomatic_since is not None, health_code=old_code,
        health_code_at=code_at,
    )
    decision = rules.decide_entry(
        facts, temperature=temperature, health_code=health_code,
        threshold=effective_fever_threshold(setting, venue), today=timezone.localdate(at), now=at,
        refuse_unknown=setting.refuse_unknown,
    )
    if decision.fever:
        return None
    recorder = actor if getattr(actor, "is_authenticated", False) else None
    reasons = decision.reasons_json()
    params: dict[str, Any] = {
        "org": org_id, "venue": venue.pk, "person": person_id, "at": at, "temp": temperature, "code": health_code,
        "decision": decision.value, "reasons": Jsonb(reasons), "device": item.device_id or "",
        "key": item.client_key or None, "recorder": recorder.pk if recorder else None, "now": now,
    }
    newer = code_at is None or code_at < at
    fresh = code_at is not None and at - code_at < HEALTH_CODE_REFRESH
    write_code = bool(health_code) and newer and not (health_code == old_code and fresh)
    audit = write_code and health_code != old_code
    if audit:
        params.update({
            "actor_repr": str(recorder) if recorder else str(actor or "system"), "person_text": str(person_id),
            "person_name": name[:200], "changes": Jsonb({"health_code": [old_code, health_code]}),
            "ip": client_ip.get(),
        })
    result = fastsql.fetch_one(_STATEMENTS[(write_code, audit)], params)
    if result is None:  # the organisation's (device, client key) was stored before: the first result, nothing new
        earlier = Scan.objects.filter(organization_id=org_id, device_id=params["device"],
                                      client_key=params["key"]).first()
        return None if earlier is None else (earlier, True)
    # The stored row, as read back (every column named, so none is deferred), without Model.__init__ (model_rows):
    # the constructor was a tenth of this path's Python.
    scan = model_rows.instance(Scan, {
        "id": result[0], "organization_id": org_id, "venue_id": venue.pk, "person_id": person_id,
        "direction": Scan.Direction.ENTRY, "at": at, "temperature": temperature, "health_code": health_code,
        "decision": decision.value, "reasons": reasons, "device_id": params["device"], "client_key": params["key"],
        "left_at": None, "estimated_exit": False, "entry_id": None, "recorded_by_id": params["recorder"],
        "created_at": now,
    }, db=connection.alias)
    Scan.venue.field.set_cached_value(scan, venue)
    if recorder is not None:
        Scan.recorded_by.field.set_cached_value(scan, recorder)
    capacity.queue_alerts([scan])  # no query: a task after commit, for venues with a capacity
    return scan, False
