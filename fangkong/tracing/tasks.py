"""Tracing runs for many cases at once, and the overdue-task alert."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from fangkong.tracing import services


@db_task()
def trace_cases(case_ids: list[int], actor_id: int | None = None, params: dict[str, Any] | None = None) -> list[int]:
    """One snapshot per case: the reads for all cases together, each case's writes in its own transaction (a case
    that cannot be traced does not stop the others)."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    snapshots, _errors = services.trace_run_many(case_ids=case_ids, actor=actor or "system", params=params)
    return [s.pk for s in snapshots]


@db_periodic_task(crontab(minute="*/5"))
def propose_cases_from_findings() -> list[int]:
    """Every five minutes: open positive findings the signals did not turn into cases (safety net)."""
    return services.cases_propose_from_open_findings()


@db_periodic_task(crontab(minute="*/15"))
def alert_overdue_tasks() -> int:
    """Every quarter of an hour: overdue investigation tasks alert their organisation's office once."""
    return services.tasks_alert_overdue()
