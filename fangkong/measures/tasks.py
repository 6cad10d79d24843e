"""Daily lifecycle work for measures."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from fangkong.measures import services


@db_periodic_task(crontab(hour="1", minute="20"))
def mark_ready_for_release() -> int:
    """Each night: measures whose last day is over with every test negative and no symptoms wait for release."""
    return services.measures_mark_ready()
