"""Periodic work: programme test obligations of the day at 00:10; admission tests every 10 minutes (seed 001: new
inpatients and escorts are tested at once, so waiting for the night run would be too late)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from fangkong.testing import services
from fangkong.testing.models import TestProgram

log = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="0", minute="10"))
def generate_programme_tests() -> int:
    created = services.programs_generate(day=timezone.localdate())
    log.info("generated %s programme test obligations", created)
    return created


@db_periodic_task(crontab(minute="*/10"))
def generate_admission_tests() -> int:
    """Today's admissions, and yesterday's again: someone admitted in the last minutes before midnight is not
    picked up by the next run, which already looks at the new day (generation is idempotent, so repeating
    yesterday creates nothing for those already tested)."""
    today = timezone.localdate()
    return sum(services.programs_generate(day=day, kinds=[TestProgram.Kind.ON_ADMISSION])
               for day in (today - timedelta(days=1), today))
