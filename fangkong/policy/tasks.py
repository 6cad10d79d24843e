"""Background work: re-evaluating the people a risk-area change affects."""

from __future__ import annotations

from huey.contrib.djhuey import db_task


@db_task()
def reevaluate_task(run_id: int) -> None:
    from fangkong.policy.services import reevaluate_run

    reevaluate_run(run_id)
