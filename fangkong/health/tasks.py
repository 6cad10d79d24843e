"""Periodic work: the day's obligations at 00:05, overdue sweep and reminders every 5 minutes, integrity daily."""

from __future__ import annotations

import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from fangkong.health import services
from fangkong.health.absence_waivers import checkins_waive_for_day
from fangkong.health.models import CheckinSetting
from fangkong.obligations.services import obligations_mark_overdue
from fangkong.tenancy.models import Organization

log = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="0", minute="5"))
def generate_todays_obligations() -> int:
    today = timezone.localdate()
    created = services.obligations_generate_for_day(day=today)
    waived = checkins_waive_for_day(day=today)
    log.info("generated %s obligations, waived %s for absences", created, waived)
    return created


@db_periodic_task(crontab(minute="*/5"))
def sweep_overdue() -> int:
    """Deadlines passed → overdue; remind the people once each, and the unit leaders after the configured delay."""
    now = timezone.now()
    # Absences registered since the morning's generation: waive before the deadline turns them overdue.
    checkins_waive_for_day(day=timezone.localdate(now))
    ids = obligations_mark_overdue(now)
    sent = services.remind_overdue(obligation_ids=ids)
    sent += services.remind_leaders(now=now)
    return sent


@db_periodic_task(crontab(hour="22", minute="30"))
def integrity_daily() -> int:
    found = 0
    org_ids = CheckinSetting.objects.filter(is_active=True).values_list("organization_id", flat=True).distinct()
    for org in Organization.objects.filter(pk__in=list(org_ids)):
        found += services.integrity_scan(organization=org)
    return found
