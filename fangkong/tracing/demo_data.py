"""Demo tracing (picked up by fangkong.tenancy.demo.run_demo after the base steps).

The fever-clinic nurse whose sample of two days ago came back positive that evening (testing demo) becomes a case the
way the system does it: `case_propose_from_finding` (a suspected case from the PositiveFinding), confirmed by the
county office (`case_confirm`), isolated that night. The trace runs over the demo's hospital scans at that time
(`trace_run(now=…)`): her ward colleagues are close contacts (co-presence and the same team on the same days), the
laboratory staff the couriers met are secondary contacts, each with its evidence, and the engine proposes their
measures. Her husband, a teacher at the school, is added by hand (`contact_add_manual`) and sent to the school
through an outgoing assist list (`assist_create_outgoing`). Since then the office has worked through the tasks:
the 24-hour companion sweep and most contact checks are done; two checks are past their deadline (and alerted).

The investigation is dated when the case was proposed (the result came in two evenings ago), not when the demo was
seeded: the rows are created now, then moved to that time, so the deadlines fall where they would have.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

from fangkong.testing.models import PositiveFinding
from fangkong.tracing import services
from fangkong.tracing.models import Case, CaseStatusChange, Investigation, InvestigationTask


def _at(day: Any, h: int, m: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(h, m)))


def seed(ctx: Any) -> None:
    index = ctx.shared.get("index_case")
    if index is None:
        return
    county = ctx.users["county"]
    finding = PositiveFinding.objects.filter(person_id=index.pk).order_by("id").first()
    if finding is None:
        return
    proposed_at = finding.reported_at + timedelta(minutes=5)
    case = services.case_propose_from_finding(finding_id=finding.pk)
    if case is None:  # already proposed (the signal ran first)
        case = Case.objects.get(person_id=index.pk)
    Case.objects.filter(pk=case.pk).update(created_at=proposed_at)
    CaseStatusChange.objects.filter(case=case).update(at=proposed_at)
    Investigation.objects.filter(case=case).update(created_at=proposed_at)
    case = services.case_update(case=case, actor=county, isolated_at=proposed_at + timedelta(minutes=55))
    case = services.case_confirm(case=case, actor=county,
                                 note="市疾控中心复核核酸阳性（ORF1ab Ct 24，N Ct 22），诊断为确诊病例（轻型）")
    ctx.counts["cases"] += 1

    run_at = proposed_at + timedelta(hours=1, minutes=20)
    snapshot = services.trace_run(case=case, actor=county, now=run_at)
    husband = ctx.shared.get("index_household")
    if husband is not None:
        services.contact_add_manual(case=case, person_id=husband.pk, actor=county,
                                    reason="同住家属（丈夫），流调电话核实：每日同住同餐",
                                    exposed_at=_at(case.sample_date, 19, 0))
        services.assist_create_outgoing(case=case, deadline=timezone.now() + timedelta(hours=20), actor=county)
    ctx.counts["contacts"] += sum(snapshot.counts.get(k, 0) for k in ("close", "secondary"))

    # The office's work since: the companion sweep done, most contact checks done, two overdue, the key-area sweep
    # running (due tonight).
    tasks = list(InvestigationTask.objects.filter(investigation__case=case).order_by("id"))
    checks = [t for t in tasks if t.kind == InvestigationTask.Kind.VERIFY_CONTACT]
    for t in tasks:
        if t.kind == InvestigationTask.Kind.COMPANIONS_24H:
            services.task_update(task=t, actor=county, status=InvestigationTask.Status.DONE, assignee=county,
                                 note="通信大数据推送 37 人，已全部电话核实，无异常")
        elif t.kind == InvestigationTask.Kind.KEY_AREA_48H:
            services.task_update(task=t, actor=county, assignee=county, note="发热门诊候诊区到访人员排查中")
    for i, t in enumerate(checks):
        if i < len(checks) - 2:
            services.task_update(task=t, actor=county, status=InvestigationTask.Status.DONE,
                                 note="已核实，已转运至集中隔离点")
        else:
            services.task_update(task=t, actor=county, assignee=county, note="电话未接通，已联系所在社区")
    services.tasks_alert_overdue()
