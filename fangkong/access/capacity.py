"""Capacity warnings (seed 001: meetings of at most 100 people). The gate console shows the count after every
decision; venues scanned only by phones (meeting rooms, canteens) have nobody watching a console, so reaching the
capacity there also tells the organisation's prevention office, once an hour per venue.

Scans recorded through the API (gate hardware, offline gates uploading a batch) are checked after the request, in
a task (`queue_alerts` → `tasks.capacity_alerts` → `sweep` → `alert_full_venues`): one occupancy query for every
venue with someone inside, so the request does not wait and a 1,000-scan batch does not count 1,000 times. The task
runs a few seconds later, and a busy process queues one sweep every few seconds, not one per scan or per venue (a
task per venue was a queue write on nearly every scan of a busy site).

No module-level import of `services`: services may import this module to queue the check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from fangkong.access import rules, selectors
from fangkong.access.models import Scan, Venue


def _dedupe_key(venue: Venue, now: datetime) -> str:
    return f"access.capacity.{venue.pk}.{timezone.localtime(now):%Y%m%d%H}"


def _alert(venue: Venue, inside: int, now: datetime) -> None:
    """Tell the organisation's prevention office (its admins); at most once per venue per clock hour."""
    from fangkong.notify.recipients import org_admins
    from fangkong.notify.services import notify_send

    notify_send(
        recipients=org_admins(venue.organization),
        title={"zh-hans": f"{venue.name}已达容量上限（{inside}/{venue.capacity} 人）",
               "en": f"{venue.name} is at capacity ({inside}/{venue.capacity})"},
        body={"zh-hans": f"{venue.name}在场 {inside} 人，已达容量上限 {venue.capacity} 人。请暂停放行、分批进入，"
                         "避免聚集。",
              "en": f"{inside} people inside {venue.name}, capacity {venue.capacity}: stop admitting for now."},
        link=reverse("access:venue_detail", args=[venue.pk]), level="warning",
        organization_id=venue.organization_id, event="access.capacity", dedupe_key=_dedupe_key(venue, now),
    )


def after_admit(scan: Scan, now: datetime | None = None) -> tuple[int, str]:
    """(people inside, 'ok' | 'near' | 'full') after an admitted entry; alerts when the venue is full."""
    from fangkong.access import services

    venue: Venue = scan.venue
    if not venue.capacity or scan.direction != "entry" or scan.decision != "admit":
        return 0, "ok"
    now = now or timezone.now()
    inside = services.occupancy(venue, now)
    state = rules.occupancy_state(inside, venue.capacity)
    if state == "full":
        _alert(venue, inside, now)
    return inside, state


def alert_full_venues(venue_ids: Iterable[int], now: datetime | None = None) -> list[int]:
    """Raise the capacity alert for every venue among `venue_ids` that is full now; returns the ids alerted.

    Three queries whatever the number of venues: the venues with a capacity, their occupancy (one query for all,
    `selectors.occupancy_by_venue`), and the alerts already sent this hour. Then one notification per full venue
    not yet alerted this hour (a venue that stays full is told once an hour, not once per scan).
    """
    from fangkong.notify.models import Notification

    ids = sorted({int(i) for i in venue_ids})
    if not ids:
        return []
    now = now or timezone.now()
    venues = list(Venue.objects.filter(pk__in=ids, capacity__isnull=False, capacity__gt=0)
                  .select_related("organization"))
    if not venues:
        return []
    inside = selectors.occupancy_by_venue(venues, now)  # type: ignore[arg-type]  # a list of venues is enough
    full = [v for v in venues if rules.occupancy_state(inside.get(v.pk, 0), v.capacity) == "full"]
    if not full:
        return []
    sent = set(Notification.objects.filter(dedupe_key__in=[_dedupe_key(v, now) for v in full])
               .values_list("dedupe_key", flat=True).distinct())
    alerted = []
    for venue in full:
        if _dedupe_key(venue, now) in sent:
            continue
        _alert(venue, inside.get(venue.pk, 0), now)
        alerted.append(venue.pk)
    return alerted


def sweep(now: datetime | None = None) -> list[int]:
    """Alert every full venue that has someone inside: the venues with a capacity among the open admitted entries
    (a small partial index, `scan_open_entries`), then `alert_full_venues`. Returns the ids alerted."""
    from datetime import timedelta

    from django.db.models import Max

    now = now or timezone.now()
    longest = Venue.objects.filter(capacity__gt=0).aggregate(m=Max("max_stay_minutes"))["m"]
    if not longest:
        return []
    ids = (Scan.objects.filter(direction="entry", decision="admit", left_at__isnull=True, venue__capacity__gt=0,
                               at__gte=now - timedelta(minutes=longest), at__lte=now)
           .values_list("venue_id", flat=True).distinct())
    return alert_full_venues(list(ids), now)


# A sweep runs this long after the scan that queued it, and scans in this process meanwhile queue no other: a busy
# process costs one task every few seconds, however many venues and scans, and the sweep still runs after them.
CHECK_DELAY = 5.0  # seconds; settings.FANGKONG_CAPACITY_CHECK_DELAY
# A pending sweep covers a scan only if it runs at least this long after it (the scan's transaction must commit).
_MARGIN = 1.0
_sweep_at = 0.0  # time.monotonic() when this process's queued sweep runs
_lock = threading.Lock()


def _delay() -> float:
    from fangkong.access.tasks import capacity_alerts

    if capacity_alerts.huey.immediate:  # tests, and a set-up without a consumer: check at once
        return 0.0
    return float(getattr(settings, "FANGKONG_CAPACITY_CHECK_DELAY", CHECK_DELAY))


def _covered(now: float) -> bool:
    return _sweep_at - now >= _MARGIN


def _enqueue(delay: float) -> None:
    """On commit (a rolled-back transaction queues nothing and leaves no pending mark behind)."""
    global _sweep_at
    from fangkong.access.tasks import capacity_alerts

    with _lock:
        now = time.monotonic()
        if _covered(now):  # another thread of this process queued one meanwhile
            return
        _sweep_at = now + delay
    if delay > 0:
        capacity_alerts.schedule((None,), delay=delay)
    else:
        capacity_alerts(None)


def queue_alerts(scans: Iterable[Any]) -> list[int]:
    """After storing scans: make sure a capacity sweep runs after them when one admitted someone into a venue with a
    capacity. Returns those venues' ids when this call queued the sweep, [] when none was needed or one was pending.

    Costs the request no query and, on a busy process, no task either: a loop over the scans it already has (their
    `venue` is loaded; a scan without it counts as a venue with a capacity), then at most one task per CHECK_DELAY
    seconds per process, queued when the transaction commits. The task sweeps every venue with someone inside, so
    the scans this process stored while a sweep was pending are covered by it.
    """
    ids = sorted({s.venue_id for s in scans if s is not None and s.direction == "entry" and s.decision == "admit"
                  and (not Scan.venue.is_cached(s) or s.venue.capacity)})  # never a query for the venue here
    if not ids or _covered(time.monotonic()):
        return []
    delay = _delay()
    transaction.on_commit(lambda: _enqueue(delay))
    return ids
