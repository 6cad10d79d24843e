"""Entry-control work in the background: close presence intervals whose exit never came; capacity alerts for
scans recorded through the API."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from fangkong.access import capacity, services


@db_periodic_task(crontab(minute="*/10"))
def close_overdue_entries() -> int:
    """Every ten minutes: entries older than the venue's maximum stay get an estimated exit."""
    return services.close_overdue_entries()


@db_task()
def capacity_alerts(venue_ids: list[int] | None = None) -> list[int]:
    """Queued by `capacity.queue_alerts` (None: sweep every venue with someone inside), or for given venues."""
    return capacity.sweep() if venue_ids is None else capacity.alert_full_venues(venue_ids)
