"""Batches larger than one chunk: the scans are sent in pipeline mode while the rest are decided (scan_writer)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg import pq

from fangkong.access import scan_writer, services
from fangkong.access.models import Scan, Venue
from fangkong.people.models import Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(scan_writer, "CHUNK", 7)  # a 30-item batch in five chunks


def items_for(people, venue, start, n):
    """n entries spread over the people, one minute apart, each with its own client key."""
    return [services.ScanInput(venue_id=venue.pk, person_id=people[i % len(people)].pk,
                               at=start + timedelta(minutes=i), temperature=None, health_code="green",
                               device_id="gate-1", client_key=f"k{i}") for i in range(n)]


def record(world, items):
    return services.scans_record(items=items, actor=world.alice, venues=Venue.objects.all(),
                                 people=Person.objects.all())


def test_a_batch_of_several_chunks_stores_every_scan_with_its_id(world, make_person, gate_venue, small_chunks):
    people = [make_person() for _ in range(3)]
    start = timezone.now() - timedelta(hours=2)
    items = items_for(people, gate_venue, start, 30)
    # An exit decided in the last chunk closes an entry sent in the first one.
    items.append(services.ScanInput(venue_id=gate_venue.pk, person_id=people[0].pk, direction="exit",
                                    at=start + timedelta(minutes=40), device_id="gate-1", client_key="out"))
    results = record(world, items)
    assert all(r.ok and not r.replay for r in results)
    stored = {s.client_key: s for s in Scan.objects.all()}
    assert len(stored) == 31
    for r in results:
        assert stored[r.scan.client_key].pk == r.scan.pk
    exit_scan = stored["out"]
    entry = Scan.objects.get(pk=exit_scan.entry_id)
    assert entry.person_id == people[0].pk and entry.left_at == exit_scan.at and entry.client_key == "k27"
    assert Person.objects.get(pk=people[1].pk).health_code == "green"
    # The same batch again: every item is a replay and nothing new is stored.
    again = record(world, items)
    assert all(r.replay for r in again) and Scan.objects.count() == 31


def test_a_duplicate_found_in_the_pipeline_rolls_the_batch_back(world, make_person, gate_venue, small_chunks):
    """A key stored by a concurrent upload between the replay check and the insert: the error surfaces when the ids
    are read, nothing of the batch is kept, and the retry returns the replay."""
    people = [make_person() for _ in range(2)]
    start = timezone.now() - timedelta(hours=2)
    items = items_for(people, gate_venue, start, 20)
    record(world, items[15:16])  # k15 exists already, as if stored concurrently
    with pytest.raises(IntegrityError), transaction.atomic():
        services._record(items, world.alice, Venue.objects.all(), Person.objects.all(), timezone.now(),
                         check_replays=False)
    assert Scan.objects.count() == 1
    assert connection.connection.pgconn.pipeline_status == pq.PipelineStatus.OFF  # pipeline mode was left
    results = record(world, items)
    assert sum(r.replay for r in results) == 1 and Scan.objects.count() == 20


def test_people_for_decision_reads_what_the_orm_reads(world, make_person):
    """The batch API's people read (one prepared statement, psycopg's timestamp loader) gives the same values as
    the QuerySet it replaces, deferred fields included."""
    from datetime import date

    from fangkong.access import scan_fast

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's fast path")
    plain, marked = make_person(), make_person()
    Person.objects.filter(pk=marked.pk).update(
        measure_kind="home_quarantine", measure_until=date(2026, 12, 1), symptomatic_since=timezone.now(),
        health_code="yellow", health_code_at=timezone.now() - timedelta(hours=3))
    fast = scan_fast.people_for_decision([plain.pk, marked.pk, 999_999])
    orm = {p.pk: p for p in Person.objects.filter(pk__in=[plain.pk, marked.pk]).only(*services.DECISION_FIELDS)}
    assert set(fast) == set(orm) == {plain.pk, marked.pk}
    for pk, person in orm.items():
        for name in services.DECISION_FIELDS:
            assert getattr(fast[pk], name) == getattr(person, name), name
        assert fast[pk].get_deferred_fields() == person.get_deferred_fields()
        assert not fast[pk]._state.adding
    assert fast[marked.pk].phone == marked.phone  # a deferred field loads on access, decrypted


def _deferred_fk_violation_raises_only_at_commit() -> bool:
    """Inside an atomic block: does a scan naming no venue wait for the end of the block before failing?"""
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SAVEPOINT probe")
            try:
                cur.execute(
                    "INSERT INTO access_scan (organization_id, venue_id, person_id, direction, at, health_code, "
                    "decision, reasons, device_id, estimated_exit, created_at) "
                    "SELECT organization_id, 0, id, 'entry', now(), '', 'admit', '[]', 'probe', false, now() "
                    "FROM people_person LIMIT 1")
                deferred = True
            except IntegrityError:
                deferred = False
            cur.execute("ROLLBACK TO SAVEPOINT probe")
        return deferred
    except IntegrityError:  # pragma: no cover - the probe row is rolled back before the block ends
        return True


def test_foreign_keys_are_checked_per_chunk_then_deferred_again(world, make_person, gate_venue, small_chunks):
    # Checked at each chunk's end, the four foreign keys of a scan are looked up while Python decides the next
    # chunk, instead of all at commit while it waits. The caller's transaction gets Django's deferred checks back.
    people = [make_person() for _ in range(3)]
    with transaction.atomic():
        assert _deferred_fk_violation_raises_only_at_commit()
        results = services._record(items_for(people, gate_venue, timezone.now() - timedelta(hours=2), 30),
                                   world.alice, Venue.objects.all(), Person.objects.all(), timezone.now())
        assert all(r.ok for r in results)
        assert _deferred_fk_violation_raises_only_at_commit()
    assert Scan.objects.count() == 30
