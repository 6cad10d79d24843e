"""Tracing runs for many cases at once, and the overdue-task alert."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from fangkong.tracing import services
from fangkong.tracing.models import Case


@db_task()
def trace_cases(case_ids: list[int], actor_id: int | None = None, params: dict[str, Any] | None = None) -> list[int]:
    """One snapshot per case, each in its own transaction (a case that cannot be traced does not stop the others)."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    done = []
    for case in Case.objects.filter(pk__in=case_ids).select_related("person"):
        try:
            done.append(services.trace_run(case=case, actor=actor or "system", params=params).pk)
        except services.ServiceError:
            continue
    return done


@db_periodic_task(crontab(minute="*/15"))
def alert_overdue_tasks() -> int:
    """Every quarter of an hour: overdue investigation tasks alert their organisation's office once."""
    return services.tasks_alert_overdue()
