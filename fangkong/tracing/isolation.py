"""A person with an open case (suspected, confirmed or asymptomatic) is isolated: the gate refuses them and no
check-in is asked of them. Contributed to the person's restriction (`Person.measure_kind`) through the measures
app's registry, so the strictest of measures and cases decides in one place."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone

from fangkong.tracing.models import Case


def case_isolation(person_id: int) -> list[tuple[str, date | None, date]]:
    from fangkong.measures.rules import ISOLATION

    case = Case.objects.filter(person_id=person_id).exclude(status=Case.Status.EXCLUDED).order_by("id").first()
    if case is None:
        return []
    start = case.report_date or case.sample_date or timezone.localdate()
    return [(ISOLATION, None, start)]


def refresh(case: Case) -> dict[str, Any]:
    """After a case is created or changes status: the person's restriction follows (changes for the audit)."""
    from fangkong.measures.services import person_measure_refresh

    return person_measure_refresh(person=case.person)
