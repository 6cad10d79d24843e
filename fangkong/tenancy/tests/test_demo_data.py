"""The demo shows the daily work: what the pages read after `seed_demo` (every app's demo_data.seed).

The demo is seeded once for this module, inside a transaction rolled back at its end (seeding takes tens of
seconds); each test runs in a savepoint of it, as usual. The clock is set to 10:30 today (Asia/Shanghai) with time
running on, so a run at any hour sees a working morning: the morning deadlines passed, the noon checks not yet due.
"""

from __future__ import annotations

from datetime import datetime, time
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from fangkong.access.models import Scan, VehiclePass, Venue, Visit
from fangkong.access.services import occupancy
from fangkong.health.models import Checkin, CheckinSetting, ClusterWarning, IntegrityFlag, SymptomFlag
from fangkong.measures.models import Measure
from fangkong.notify.models import Notification
from fangkong.obligations.models import Obligation
from fangkong.obligations.selectors import compliance_by_unit
from fangkong.people.models import Person
from fangkong.policy.models import Arrival, RiskArea
from fangkong.tenancy.models import Organization
from fangkong.testing.models import (
    Contraindication,
    PositiveFinding,
    Result,
    Sample,
    TestProgram,
    VaccinationState,
)
from fangkong.tracing.models import AssistList, Case, Contact, InvestigationTask

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    morning = timezone.make_aware(datetime.combine(timezone.localdate(), time(10, 30)))
    with time_machine.travel(morning, tick=True), django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            out = StringIO()
            call_command("seed_demo", stdout=out)
            yield out.getvalue()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _org(kind: str) -> Organization:
    return Organization.objects.get(kind=kind, name__startswith="长子县")


def _user(username: str):
    return get_user_model().objects.get(username=username)


def test_todays_checkins_show_done_missing_and_abnormal(demo):
    today = timezone.localdate()
    factory, school = _org("enterprise"), _org("school")
    assert CheckinSetting.objects.get(organization=school).frequency == CheckinSetting.Frequency.SCHOOL
    rows = compliance_by_unit(user=_user("factory"), day=today, kind="checkin", organization_id=factory.pk)
    expected, done = sum(r.expected for r in rows), sum(r.done for r in rows)
    assert expected > 500 and 0 < done < expected
    assert sum(r.abnormal for r in rows) >= 1  # the fever this morning
    # The history: 14 days back, about 95 % done, a few late, about 1 % abnormal, each fulfilled by its check-in.
    past = Obligation.objects.filter(kind__startswith="checkin", day__lt=today, day__gte=today - timezone.timedelta(
        days=14))
    counts = dict(past.values_list("status").annotate(n=Count("id")))
    total = sum(counts.values())
    assert 0.9 < counts["fulfilled"] / total < 0.99 and counts.get("overdue", 0) > 0
    fulfilled = past.filter(status="fulfilled")
    assert not fulfilled.exclude(evidence_type="health.checkin").exists()
    sample = fulfilled.order_by("id").first()
    checkin = Checkin.objects.get(pk=sample.evidence_id)
    assert (checkin.person_id, checkin.date) == (sample.person_id, sample.day)
    assert 0 < fulfilled.filter(abnormal=True).count() < total * 0.03
    late = [o for o in fulfilled.filter(fulfilled_at__gt=timezone.now() - timezone.timedelta(days=15))
            if o.fulfilled_at > o.due_until]
    assert late, "some check-ins came in after the deadline"


def test_fevers_today_raise_flags_and_notifications(demo):
    today = timezone.localdate()
    open_flags = SymptomFlag.objects.filter(cleared_at__isnull=True, raised_at__date__gte=today - timezone.timedelta(
        days=1))
    assert open_flags.count() >= 2
    for flag in open_flags:
        assert Person.objects.get(pk=flag.person_id).symptomatic_since is not None
        assert Notification.objects.filter(event="health.symptomatic", dedupe_key=f"health.flag:{flag.pk}").exists()
    # Past abnormal check-ins were flagged and cleared with a reason.
    assert SymptomFlag.objects.filter(cleared_at__isnull=False).exclude(reason="").exists()


def test_absence_cluster_and_integrity_suspect(demo):
    warning = ClusterWarning.objects.get()
    assert warning.status == "open" and warning.symptom == "fever" and warning.people.count() == 3
    assert warning.unit.organization.kind == "school"
    flags = IntegrityFlag.objects.filter(resolved_at__isnull=True)
    assert flags.exists() and {f.reason for f in flags} & {"same_temperature", "same_time"}


def test_every_organisation_has_venues_and_the_factory_has_scans(demo):
    factory = _org("enterprise")
    for org in Organization.objects.all():
        assert Venue.objects.filter(organization=org).count() >= 4
    kinds = set(Venue.objects.filter(organization=factory).values_list("kind", flat=True))
    assert {"gate", "canteen", "dormitory", "meeting_room", "workshop"} <= kinds
    scans = Scan.objects.filter(organization=factory)
    assert scans.count() > 3000
    assert scans.filter(at__date=timezone.localdate()).exists()
    refused = scans.filter(decision="refuse")
    assert refused.count() >= 3
    codes = {r["code"] for s in refused for r in s.reasons}
    assert {"fever", "visitor_no_appointment"} <= codes and codes & {"health_code_yellow", "health_code_red"}
    # Exits close their entries.
    exit_scan = scans.filter(direction="exit").first()
    assert exit_scan.entry.left_at == exit_scan.at
    assert occupancy(Venue.objects.get(organization=factory, name="东大门")) >= 1  # the visitor is still inside


def test_visits_and_vehicles(demo):
    factory = _org("enterprise")
    statuses = set(Visit.objects.filter(organization=factory).values_list("status", flat=True))
    assert {"pending", "approved", "arrived"} <= statuses
    vehicle = VehiclePass.objects.filter(organization=factory).first()
    assert vehicle.disinfected and vehicle.disinfected_by and vehicle.disinfected_at


def test_measures_decided_by_the_policy_through_their_lifecycle(demo):
    assert RiskArea.objects.filter(level="medium", effective_until__isnull=True, region_id="410522").exists()
    assert Arrival.objects.count() >= 8
    measures = Measure.objects.filter(rule_key__in=("s003_medium_area", "s003_city_of_area"))
    statuses = set(measures.values_list("status", flat=True))
    assert {"proposed", "in_progress", "ready_for_release", "released"} <= statuses
    running = measures.filter(status="in_progress")
    for m in running:
        assert set(m.custodians.values_list("role", flat=True)) == {"police", "health_worker", "grid_worker",
                                                                     "volunteer"}
        assert all(c.name and c.phone_masked for c in m.custodians.all())
        assert m.person.measure_kind == "home_quarantine"
        assert Checkin.objects.filter(person=m.person, date__gte=m.start_date, slot="afternoon").exists()
    released = measures.get(status="released")
    assert released.person.measure_kind == "" and released.released_by is not None


def test_testing_programme_pools_positive_and_vaccination(demo):
    assert TestProgram.objects.filter(kind="every_n_days", post_categories__contains=["fever_clinic"]).exists()
    assert Sample.objects.filter(pooled=True).annotate(n=Count("members")).filter(n=10).exists()
    assert Sample.objects.filter(pooled=False, result__result="negative").exists()
    assert Sample.objects.filter(pooled=True, result__isnull=True).exists()  # this morning's tubes, at the lab
    finding = PositiveFinding.objects.get()
    assert Result.objects.get(sample=finding.sample).result == "positive"
    fulfilled = Obligation.objects.filter(kind="test_nat", status="fulfilled", evidence_type="sample")
    assert fulfilled.count() > 50
    people = Person.objects.exclude(kind="visitor").count()
    vaccinated = VaccinationState.objects.filter(doses__gt=0).count()
    assert 0.70 <= vaccinated / people <= 0.95
    assert set(VaccinationState.objects.values_list("doses", flat=True)) >= {1, 2, 3}
    assert Contraindication.objects.count() >= 1
    assert not VaccinationState.objects.filter(person__post_category="fever_clinic", doses__lt=2).exists()


def test_a_case_with_close_and_secondary_contacts(demo):
    case = Case.objects.get()
    assert case.status == "confirmed" and case.positive_finding is not None
    contacts = Contact.objects.filter(case=case)
    close, secondary = contacts.filter(degree=1), contacts.filter(degree=2)
    assert close.count() >= 5 and secondary.count() >= 3
    assert all(c.evidence for c in contacts)
    assert {e["kind"] for c in close for e in c.evidence} >= {"co_presence"}
    assert all(c.via_person_id for c in secondary)
    assert Measure.objects.filter(person_id__in=close.values("person_id"), kind="centralized_quarantine").exists()
    tasks = InvestigationTask.objects.filter(investigation__case=case)
    overdue = tasks.filter(status="open", due_at__lt=timezone.now())
    assert tasks.filter(status="done").exists() and overdue.exists()
    assist = AssistList.objects.get(case=case, direction="out")
    assert assist.rows and assist.rows[0]["organization"] == _org("school").name


def test_seeding_again_changes_nothing(demo):
    counts = (Checkin.objects.count(), Scan.objects.count(), Measure.objects.count(), Case.objects.count())
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "已存在" in out.getvalue()
    assert (Checkin.objects.count(), Scan.objects.count(), Measure.objects.count(), Case.objects.count()) == counts
