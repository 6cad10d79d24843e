"""A positive result proposes a case: tracing listens to testing without testing knowing about tracing.

- `PositiveFinding` saved one by one: post_save (created) → after the commit, a suspected case for that finding.
- Findings written with bulk_create send no post_save; testing records each result in the audit trail in the same
  transaction with the people it proposes a case for (`changes.propose_case`), so that event → after the commit,
  the organisation's open findings. The periodic sweep in tasks.py catches anything else.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction


def _finding_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw:
        return
    from fangkong.tracing import services

    # robust: the results are already stored when this runs; a failure to propose a case is logged (and the periodic
    # sweep retries it) instead of surfacing as an error of the import that saved them.
    transaction.on_commit(lambda: services.case_propose_from_finding(finding_id=instance.pk), robust=True)


def _audit_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw or instance.action != "result.record":
        return
    proposed = (instance.changes or {}).get("propose_case")
    if not (isinstance(proposed, list) and len(proposed) == 2 and proposed[1]):
        return
    from fangkong.tracing import services

    org = instance.organization_id
    # An import of 50 positives writes 50 audit events in one transaction: sweep the organisation's findings once.
    # The pending callbacks of the transaction are Django's own list (cleared on rollback, so nothing is missed).
    connection = transaction.get_connection()
    if any(getattr(func, "tracing_sweep_org", None) == org for _sids, func, _robust in connection.run_on_commit):
        return

    def sweep() -> None:
        services.cases_propose_from_open_findings(organization_id=org)

    sweep.tracing_sweep_org = org  # type: ignore[attr-defined]
    transaction.on_commit(sweep, robust=True)


def connect() -> None:
    from django.db.models.signals import post_save

    from fangkong.core.models import AuditEvent
    from fangkong.testing.models import PositiveFinding

    post_save.connect(_finding_saved, sender=PositiveFinding, dispatch_uid="tracing.finding_saved")
    post_save.connect(_audit_saved, sender=AuditEvent, dispatch_uid="tracing.audit_result_saved")
