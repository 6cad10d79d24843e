"""Capacity alerts for scans recorded through the API (single and batch): one occupancy query for every venue a
batch touched, in a task, at most one alert per venue per hour (issue 4, seed 001)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fangkong.access import capacity, services
from fangkong.access.models import Scan, Venue
from fangkong.notify.models import Notification


@pytest.fixture(autouse=True)
def _no_pending_sweep(monkeypatch):
    """Each test starts without a sweep pending in this process (and leaves none behind for later tests)."""
    monkeypatch.setattr(capacity, "_sweep_at", 0.0)


def _enter(venue: Venue, people: list[Any], at: Any = None, **extra: Any) -> list[Scan]:
    at = at or timezone.now() - timedelta(minutes=1)
    results = services.scans_record(
        items=[services.ScanInput(person_id=p.pk, venue_id=venue.pk, at=at, **extra) for p in people],
        actor="gate-device", venues=Venue.objects.all(), people=type(people[0]).objects.all())
    assert all(r.ok for r in results), [r.message for r in results]
    return [r.scan for r in results if r.scan is not None]


def _scan_queries(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "access_scan" in q["sql"]]


def test_full_venues_alert_the_prevention_office_with_one_occupancy_query(world, gate_venue, make_person):
    hall = services.venue_create(organization=world.factory, actor=world.admin, name="会议室", kind="meeting_room",
                                 capacity=2)
    canteen = services.venue_create(organization=world.factory, actor=world.admin, name="食堂", kind="canteen",
                                    capacity=50)
    free = services.venue_create(organization=world.factory, actor=world.admin, name="仓库", kind="other")
    people = [make_person() for _ in range(4)]
    _enter(gate_venue, people[:3])  # 3 of 3: full
    _enter(hall, people[:2])  # 2 of 2: full
    _enter(canteen, people[:1])
    _enter(free, people)
    with CaptureQueriesContext(connection) as ctx:
        alerted = capacity.alert_full_venues([gate_venue.pk, hall.pk, canteen.pk, free.pk])
    assert sorted(alerted) == sorted([gate_venue.pk, hall.pk])
    assert len(_scan_queries(ctx)) == 1  # one occupancy query for all four venues
    notes = Notification.objects.filter(event="access.capacity", recipient=world.alice)
    assert sorted(n.title for n in notes) == sorted(["东大门已达容量上限（3/3 人）", "会议室已达容量上限（2/2 人）"])
    # Still full a minute later: not told again within the hour (and nothing but the check is done).
    with CaptureQueriesContext(connection) as ctx:
        assert capacity.alert_full_venues([gate_venue.pk, hall.pk], now=timezone.now() + timedelta(minutes=1)) == []
    assert len(ctx.captured_queries) == 3
    assert Notification.objects.filter(event="access.capacity", recipient=world.alice).count() == 2


def test_an_hour_later_a_venue_still_full_is_told_again(world, gate_venue, make_person, time_machine):
    time_machine.move_to(timezone.now().replace(minute=10))
    _enter(gate_venue, [make_person() for _ in range(3)])
    assert capacity.alert_full_venues([gate_venue.pk]) == [gate_venue.pk]
    assert capacity.alert_full_venues([gate_venue.pk]) == []
    assert capacity.alert_full_venues([gate_venue.pk], now=timezone.now() + timedelta(minutes=55)) == [gate_venue.pk]


def test_nothing_to_check_costs_nothing(world, gate_venue, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert capacity.alert_full_venues([]) == []


def test_queue_alerts_after_a_batch_runs_the_task_on_commit(world, gate_venue, make_person,
                                                           django_capture_on_commit_callbacks,
                                                           django_assert_num_queries):
    people = [make_person() for _ in range(4)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        scans = _enter(gate_venue, people[:3])
        with django_assert_num_queries(0):  # the request only looks at the scans it has
            assert capacity.queue_alerts(scans) == [gate_venue.pk]
    assert Notification.objects.filter(event="access.capacity").count() == 0  # nothing before the commit
    for callback in callbacks:
        callback()  # the commit: the (immediate, in tests) Huey task runs
    assert Notification.objects.filter(event="access.capacity", recipient=world.alice).count() == 1


def test_queue_alerts_ignores_exits_refusals_and_venues_without_capacity(world, gate_venue, make_person,
                                                                        django_capture_on_commit_callbacks):
    free = services.venue_create(organization=world.factory, actor=world.admin, name="仓库", kind="other")
    person = make_person()
    refused = _enter(gate_venue, [person], health_code="red")
    assert refused[0].decision == "refuse"
    admitted_free = _enter(free, [person])
    entry = _enter(gate_venue, [make_person()])
    exits = _enter(gate_venue, [entry[0].person], at=timezone.now(), direction="exit")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert capacity.queue_alerts([*refused, *admitted_free, *exits, None]) == []
    assert callbacks == []


def test_api_batch_raises_the_capacity_alert(world, gate_venue, make_person, api,
                                             django_capture_on_commit_callbacks):
    people = [make_person() for _ in range(3)]
    at = (timezone.now() - timedelta(minutes=2)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        r = api(world.alice).post("/scans/batch", {"items": [
            {"venue_id": gate_venue.pk, "person_id": p.pk, "at": at, "direction": "entry"} for p in people]})
    assert r.status_code == 200 and r.json()["stored"] == 3
    assert Notification.objects.filter(event="access.capacity", recipient=world.alice).count() == 1


def test_api_single_scans_raise_the_capacity_alert(world, gate_venue, make_person, api,
                                                   django_capture_on_commit_callbacks):
    """Single scans take the prepared-statement path (scan_fast) on PostgreSQL: it queues the check too."""
    caller = api(world.alice)
    at = (timezone.now() - timedelta(minutes=2)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        for p in [make_person() for _ in range(3)]:
            r = caller.post("/scans", {"venue_id": gate_venue.pk, "person_id": p.pk, "at": at})
            assert r.status_code == 201 and r.json()["decision"] == "admit"
    assert Notification.objects.filter(event="access.capacity", recipient=world.alice).count() == 1


def test_a_busy_process_queues_one_delayed_sweep_not_one_per_scan(world, gate_venue, make_person, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    from fangkong.access import tasks

    scheduled: list[tuple[Any, float]] = []
    monkeypatch.setattr(capacity, "_delay", lambda: 5.0)  # as with a real consumer (tests run Huey immediately)
    monkeypatch.setattr(tasks.capacity_alerts, "schedule", lambda args, delay: scheduled.append((args, delay)))
    hall = services.venue_create(organization=world.factory, actor=world.admin, name="会议室", kind="meeting_room",
                                 capacity=2)
    people = [make_person() for _ in range(4)]
    with django_capture_on_commit_callbacks(execute=True):
        _enter(gate_venue, people[:1])  # scans_record queues the sweep itself
    assert scheduled == [((None,), 5.0)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = _enter(hall, people[1:2])  # another venue: covered by the same pending sweep
        assert capacity.queue_alerts(second) == []
    assert callbacks == [] and len(scheduled) == 1
    # A pending sweep about to run (less than the commit margin away) no longer covers a new scan.
    monkeypatch.setattr(capacity, "_sweep_at", capacity._sweep_at - 4.5)
    with django_capture_on_commit_callbacks(execute=True):
        _enter(gate_venue, people[2:3])
    assert len(scheduled) == 2


def test_the_sweep_alerts_every_full_venue_with_someone_inside(world, gate_venue, make_person):
    hall = services.venue_create(organization=world.factory, actor=world.admin, name="会议室", kind="meeting_room",
                                 capacity=2)
    free = services.venue_create(organization=world.factory, actor=world.admin, name="仓库", kind="other")
    people = [make_person() for _ in range(3)]
    _enter(hall, people[:2])  # full
    _enter(gate_venue, people[:1])  # 1 of 3
    _enter(free, people)  # no capacity
    assert capacity.sweep() == [hall.pk]
    assert capacity.sweep() == []  # once an hour


def test_a_rolled_back_transaction_leaves_no_pending_sweep(world, gate_venue, make_person, monkeypatch):
    from django.db import transaction

    from fangkong.access import tasks

    scheduled: list[Any] = []
    monkeypatch.setattr(capacity, "_delay", lambda: 5.0)
    monkeypatch.setattr(tasks.capacity_alerts, "schedule", lambda args, delay: scheduled.append(args))
    person = make_person()
    scans = _enter(gate_venue, [person])  # its own on-commit queueing never runs inside the test's transaction

    class Retry(Exception):
        pass

    with pytest.raises(Retry), transaction.atomic():  # e.g. the scan path's retry after a replayed client key
        assert capacity.queue_alerts(scans) == [gate_venue.pk]
        raise Retry
    assert capacity._sweep_at == 0.0 and scheduled == []
    assert capacity.queue_alerts(scans) == [gate_venue.pk]  # the retry queues again
