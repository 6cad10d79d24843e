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

    transaction.on_commit(lambda: services.case_propose_from_finding(finding_id=instance.pk))


def _audit_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw or instance.action != "result.record":
        return
    proposed = (instance.changes or {}).get("propose_case")
    if not (isinstance(proposed, list) and len(proposed) == 2 and proposed[1]):
        return
    from fangkong.tracing import services

    org = instance.organization_id
    transaction.on_commit(lambda: services.cases_propose_from_open_findings(organization_id=org))


def connect() -> None:
    from django.db.models.signals import post_save

    from fangkong.core.models import AuditEvent
    from fangkong.testing.models import PositiveFinding

    post_save.connect(_finding_saved, sender=PositiveFinding, dispatch_uid="tracing.finding_saved")
    post_save.connect(_audit_saved, sender=AuditEvent, dispatch_uid="tracing.audit_result_saved")
