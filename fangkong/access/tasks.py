"""Periodic entry-control work: close presence intervals whose exit never came."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from fangkong.access import services


@db_periodic_task(crontab(minute="*/10"))
def close_overdue_entries() -> int:
    """Every ten minutes: entries older than the venue's maximum stay get an estimated exit."""
    return services.close_overdue_entries()
