"""Documents of one measure: the day-by-day record (.xlsx) and the quarantine notice (PDF).

Both read across apps (health check-ins, testing results through the services), so they live here rather than in
the models; the person's ID number appears masked only. They are Chinese records (Chinese headers and sentences):
their labels (kind, status, test, custodian role) are worded in Chinese whatever the language of the page that asks
for them, while an error explaining why one cannot be made is in the reader's language.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone, translation
from django.utils.translation import gettext

from fangkong.core.errors import ServiceError
from fangkong.measures import rules, services
from fangkong.measures.models import Measure

RESULT_LABELS = {"negative": "阴性", "positive": "阳性", "invalid": "无效", None: "待出结果"}


@dataclass(frozen=True)
class DayRow:
    day: int
    on: date
    temperatures: str
    symptoms: str
    tests: str


def daily_rows(*, measure: Measure, today: date | None = None) -> list[DayRow]:
    """One row per day of the measure up to today (or its end): temperatures and symptoms checked in, tests due."""
    from fangkong.health.models import Checkin  # health sits beside measures: imported where needed

    today = today or timezone.localdate()
    last = min(d for d in (measure.end_date, today) if d is not None)
    if last < measure.start_date:
        return []
    checkins: dict[date, list[tuple[str, list[str]]]] = {}
    for on, temp, symptoms in (Checkin.objects.filter(person_id=measure.person_id, date__gte=measure.start_date,
                                                      date__lte=last)
                               .order_by("date", "submitted_at").values_list("date", "temperature", "symptoms")):
        checkins.setdefault(on, []).append((f"{temp}" if temp is not None else "", list(symptoms or [])))
    tests: dict[date, list[str]] = {}
    for kind, due, result in services.measure_test_results(measure=measure, today=today):
        if due <= last:
            tests.setdefault(due, []).append(f"{rules.TEST_LABELS.get(kind, kind)}：{RESULT_LABELS[result]}")
    out = []
    for k in range((last - measure.start_date).days + 1):
        on = measure.start_date + timedelta(days=k)
        day = checkins.get(on, [])
        symptoms = sorted({s for _t, ss in day for s in ss})
        out.append(DayRow(day=k + 1, on=on, temperatures=" / ".join(t for t, _s in day if t) or "未报",
                          symptoms=("、".join(_symptom_labels(symptoms)) if symptoms else "无"),
                          tests="；".join(tests.get(on, []))))
    return out


def _symptom_labels(codes: list[str]) -> list[str]:
    from fangkong.health import rules as health_rules

    return health_rules.symptom_labels(codes)


def daily_record_xlsx(*, measure: Measure, today: date | None = None) -> bytes:
    import openpyxl

    person = measure.person
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "逐日记录"
    end = f"{measure.end_date:%Y-%m-%d}" if measure.end_date else "…"
    with translation.override("zh-hans"):
        ws.append([f"{person.name}（{person.id_number_masked}） {measure.get_kind_display()} "
                   f"{measure.start_date:%Y-%m-%d} 至 {end}  状态：{measure.get_status_display()}"])
        ws.append(["第几天", "日期", "体温（℃）", "症状", "检测"])
        for r in daily_rows(measure=measure, today=today):
            ws.append([r.day, r.on, r.temperatures, r.symptoms, r.tests])
    for col, width in zip("ABCDE", (8, 12, 20, 24, 40), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _pdf(title: str, lines: list[str], signature: str) -> bytes:
    """One A4 page in Chinese: a title, paragraphs, the issuing organisation and today's date at the foot."""
    from fpdf import FPDF

    from fangkong.access.posters import cjk_font

    path, index = cjk_font()
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.add_font("cjk", fname=path, collection_font_number=index)
    pdf.add_page()
    pdf.set_font("cjk", size=20)
    pdf.cell(0, 14, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=12)
    for line in lines:
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.ln(10)
    pdf.cell(0, 8, signature, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 8, f"{timezone.localdate():%Y年%m月%d日}", align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def notice_pdf(*, measure: Measure) -> bytes:
    """隔离医学观察通知书: who, what, where, from when to when, on what basis, which tests, who looks after them."""
    with translation.override("zh-hans"):
        title, lines = _notice_text(measure)
    return _pdf(title, lines, measure.person.organization.name)


def _notice_text(measure: Measure) -> tuple[str, list[str]]:
    person = measure.person
    end = f"{measure.end_date:%Y年%m月%d日}" if measure.end_date else "另行通知"
    place = {"": "另行通知", services.HOME: "居家"}.get(measure.place, measure.place)
    lines = [
        f"{person.name}（证件号码 {person.id_number_masked}）：",
        f"根据{measure.policy_number}{measure.clause}，自 {measure.start_date:%Y年%m月%d日} 起至 {end} 止，"
        f"对您实施{measure.get_kind_display()}，执行地点：{place}。",
    ]
    if measure.explanation_zh:
        lines.append(f"依据说明：{measure.explanation_zh}")
    tests = [f"{t.due_date:%m月%d日} {t.get_kind_display()}" for t in measure.tests.all()]
    if tests:
        lines.append("检测安排：" + "，".join(tests) + "。")
    custodians = [f"{c.get_role_display()} {c.name} {c.phone}".strip() for c in measure.custodians.all()]
    if custodians:
        # Full numbers here: the notice exists so the person can reach the people looking after them.
        lines.append("包保人员：" + "；".join(custodians) + "。")
    lines.append("观察期间请每日早晚测量体温并如实报告；如出现发热、干咳、乏力等症状，请立即报告包保人员。")
    return f"{measure.get_kind_display()}通知书", lines


def release_certificate_pdf(*, measure: Measure) -> bytes:
    """解除隔离医学观察证明: only for a released measure; names the approver and the negative tests."""
    if measure.status != Measure.Status.RELEASED or measure.released_at is None:
        raise ServiceError(gettext("措施 #%(pk)s（%(kind)s）尚未解除，不能出具解除证明") % {
            "pk": measure.pk, "kind": measure.get_kind_display()}, {"measure": [gettext("措施尚未解除")]})
    with translation.override("zh-hans"):
        title, lines = _certificate_text(measure, timezone.localtime(measure.released_at))
    return _pdf(title, lines, measure.person.organization.name)


def _certificate_text(measure: Measure, released: datetime) -> tuple[str, list[str]]:
    person = measure.person
    end = f"{measure.end_date:%Y年%m月%d日}" if measure.end_date else f"{released:%Y年%m月%d日}"
    tests = [f"{t.due_date:%m月%d日} {t.get_kind_display()}" for t in measure.tests.all()]
    lines = [
        f"{person.name}（证件号码 {person.id_number_masked}）自 {measure.start_date:%Y年%m月%d日} 至 {end} "
        f"实施{measure.get_kind_display()}，期满检测结果均为阴性、无异常症状，"
        f"经审批于 {released:%Y年%m月%d日 %H:%M} 解除。",
    ]
    if tests:
        lines.append("期间检测：" + "，".join(tests) + "，结果均为阴性。")
    approver = measure.released_by
    name = (approver.get_full_name() or approver.get_username()) if approver else "—"
    lines.append(f"审批人：{name}")
    lines.append("解除后请继续做好个人防护，按所在单位要求进行健康监测。")
    return f"解除{measure.get_kind_display()}证明", lines
