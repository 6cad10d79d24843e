"""Benchmarks for testing and vaccination (issue 6), PostgreSQL only:

    createdb -h 127.0.0.1 -U postgres fangkong_bench_testing
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_testing FANGKONG_VAR_DIR=/tmp/fkbench \\
        .venv/bin/python bench/testing_scale.py [generate|coverage|import|all] [--people 1000000] [--results 100000]
        [--reuse]

- generate: one every-3-days programme over four post categories that cover all 1,000,000 people → the day's test
  obligations with ONE INSERT … SELECT (goal ≤ 30 s); then the same call again (must create nothing).
- coverage: a vaccination summary row for every person (0–3 doses, a quarter each), coverage by unit (1,000 units),
  by organisation and by jurisdiction, each one aggregate query (goal ≤ 1 s).
- import: 100,000 single tubes registered for 100,000 of those people (their programme obligation open), then a
  CSV of 100,000 results (0.05 % positive, 0.05 % invalid, the rest negative) read, matched by tube code and
  applied with `testing.importing.import_results` — parse, validate, results, one fulfilment UPDATE, re-tests,
  findings, alerts (goal ≥ 5,000 rows/s end to end).
Data are generated with INSERT … SELECT generate_series (bench/checkin_common.py): synthetic people, no real IDs.
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import date, datetime, timedelta, timezone

from checkin_common import insert_people, organization, prepare_database, say
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from fangkong.obligations.models import Obligation
from fangkong.people.models import Person
from fangkong.testing import importing, selectors, services
from fangkong.testing.models import PositiveFinding, Result, Sample, SampleMember, TestProgram, VaccinationState

DAY = date(2021, 11, 10)
CST = timezone(timedelta(hours=8))
ORG = "基准检测单位"


def setup_people(n: int, reuse: bool) -> tuple:
    org, units = organization(ORG, 1000)
    have = Person.objects.filter(organization=org).count()
    if not (reuse and have >= n):
        with connection.cursor() as cur:
            for model in (Result, PositiveFinding, SampleMember, Sample, VaccinationState):
                cur.execute(f"TRUNCATE {model._meta.db_table} CASCADE")
            cur.execute(f"DELETE FROM {Obligation._meta.db_table} WHERE organization_id = %s", [org.pk])
            cur.execute(f"DELETE FROM {Person._meta.db_table} WHERE organization_id = %s", [org.pk])
        say(f"inserting {n:,} people …")
        say(f"  {insert_people(org, units, n):.1f} s")
        t = time.perf_counter()
        with connection.cursor() as cur:
            # Everyone in one of the four high-risk post categories, a quarter each (seed 003).
            cur.execute(
                f"UPDATE {Person._meta.db_table} SET post_category = (ARRAY['fever_clinic','isolation_hotel',"
                f"'cold_chain','other_high_risk'])[1 + (id %% 4)] WHERE organization_id = %s", [org.pk])
            cur.execute(f"VACUUM ANALYZE {Person._meta.db_table}")
        say(f"  post categories set in {time.perf_counter() - t:.1f} s")
    return org, units


def program_for(org) -> TestProgram:
    program = TestProgram.objects.filter(organization=org, name="基准：高风险岗位每 3 天核酸").first()
    if program is None:
        program = services.program_create(
            organization=org, actor="bench", name="基准：高风险岗位每 3 天核酸", kind="every_n_days", test_kind="nat",
            post_categories=["fever_clinic", "isolation_hotel", "cold_chain", "other_high_risk"], interval_days=3,
            start_date=DAY, source_note="003：发热门诊、隔离酒店、进口冷链等每 3 天一次核酸",
        )
    return program


def bench_generate(org) -> None:
    program = program_for(org)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {Obligation._meta.db_table} WHERE organization_id = %s AND day = %s", [org.pk, DAY])
        cur.execute(f"VACUUM ANALYZE {Obligation._meta.db_table}")
    t = time.perf_counter()
    created = services.programs_generate(day=DAY, organization=org)
    first = time.perf_counter() - t
    t = time.perf_counter()
    again = services.programs_generate(day=DAY, organization=org)
    second = time.perf_counter() - t
    say(f"[generate] programme {program.pk}: {created:,} test obligations in {first:.1f} s "
        f"({created / max(first, 1e-9):,.0f} rows/s); second run created {again} in {second:.1f} s")
    say("[generate] goal ≤ 30 s: " + ("met" if first <= 30 else "NOT met"))


def bench_coverage(org, people: int) -> None:
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {VaccinationState._meta.db_table}")
        t = time.perf_counter()
        cur.execute(
            f"INSERT INTO {VaccinationState._meta.db_table} (person_id, doses, last_on) "
            f"SELECT id, (id %% 4), DATE '2021-06-01' FROM {Person._meta.db_table} WHERE organization_id = %s "
            f"AND (id %% 4) > 0", [org.pk])
        cur.execute(f"VACUUM ANALYZE {VaccinationState._meta.db_table}")
        say(f"[coverage] {VaccinationState.objects.count():,} vaccination summaries in {time.perf_counter() - t:.1f} s")
    root = get_user_model().objects.filter(username="bench-root").first() or \
        get_user_model().objects.create_superuser("bench-root", password="x")
    for by in ("unit", "organization", "jurisdiction"):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            rows = selectors.coverage(user=root, by=by)
            times.append(time.perf_counter() - t)
        total = selectors.coverage_total(rows)
        say(f"[coverage] by {by}: {len(rows):,} groups, {total.people:,} people, vaccinated {total.vaccinated_rate}%, "
            f"complete {total.complete_rate}%; best {min(times):.2f} s, worst {max(times):.2f} s "
            f"— goal ≤ 1 s: {'met' if min(times) <= 1 else 'NOT met'}")
    t = time.perf_counter()
    n = selectors.unvaccinated(user=root).count()
    say(f"[coverage] unvaccinated count {n:,} in {time.perf_counter() - t:.2f} s")


def bench_import(org, results: int) -> None:
    program_for(org)
    services.programs_generate(day=DAY, organization=org)
    s, m, r, f = (Sample._meta.db_table, SampleMember._meta.db_table, Result._meta.db_table,
                  PositiveFinding._meta.db_table)
    with connection.cursor() as cur:
        for table in (r, f, m, s):
            cur.execute(f"TRUNCATE {table} CASCADE")
        cur.execute(f"UPDATE {Obligation._meta.db_table} SET status = 'due', evidence_type = '', evidence_id = NULL, "
                    f"fulfilled_at = NULL WHERE organization_id = %s AND day = %s AND status <> 'due'", [org.pk, DAY])
        cur.execute(f"DELETE FROM {Obligation._meta.db_table} WHERE organization_id = %s AND source LIKE 'retest:%%'",
                    [org.pk])
        t = time.perf_counter()
        sampled = datetime(2021, 11, 10, 8, 0, tzinfo=CST)
        cur.execute(
            f"INSERT INTO {s} (organization_id, tube_code, kind, pooled, sampled_at, sampled_on, site, created_at) "
            f"SELECT %s, 'B' || lpad(i::text, 7, '0'), 'nat', false, %s, %s, '', now() "
            f"FROM generate_series(1, %s) AS i", [org.pk, sampled, DAY, results])
        cur.execute(
            f"INSERT INTO {m} (sample_id, person_id) SELECT s.id, p.id FROM "
            f"(SELECT id, row_number() OVER (ORDER BY id) AS rn FROM {s}) s JOIN "
            f"(SELECT id, row_number() OVER (ORDER BY id) AS rn FROM {Person._meta.db_table} "
            f" WHERE organization_id = %s ORDER BY id LIMIT %s) p ON p.rn = s.rn", [org.pk, results])
        for table in (s, m, Obligation._meta.db_table):
            cur.execute(f"VACUUM ANALYZE {table}")
    say(f"[import] {results:,} tubes registered in {time.perf_counter() - t:.1f} s")
    buf = io.StringIO()
    buf.write("管码,结果,采样时间,报告时间,检测机构\n")
    for i in range(1, results + 1):
        value = "阳性" if i % 2000 == 0 else "无效" if i % 2000 == 1000 else "阴性"
        buf.write(f"B{i:07d},{value},2021-11-10 08:00,2021-11-10 20:00,长子县人民医院\n")
    data = buf.getvalue().encode("utf-8")
    # Tracing proposes a case for each positive finding after the commit (tracing/signals.py); the synthetic
    # people have placeholder, unencrypted personal data it cannot read, and its cost is tracing's benchmark.
    from django.db.models.signals import post_save

    from fangkong.core.models import AuditEvent
    post_save.disconnect(sender=PositiveFinding, dispatch_uid="tracing.finding_saved")
    post_save.disconnect(sender=AuditEvent, dispatch_uid="tracing.audit_result_saved")
    # A server process has its URLconf loaded; the first alert's link would otherwise import every view (≈ 3 s).
    from django.urls import reverse
    reverse("testing:findings")
    spent: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):  # where the time goes: each statement's wall time
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent.append((time.perf_counter() - t0, t0 - t, " ".join(sql.split())[:80]))

    t = time.perf_counter()
    # An outer transaction, so that the commit (deferred foreign-key checks, on-commit hooks) is timed apart.
    with connection.execute_wrapper(timed), transaction.atomic():
        report = importing.import_results(organization=org, name="results.csv", data=data, actor="bench")
        before_commit = time.perf_counter() - t
    took = time.perf_counter() - t
    say(f"[import] SQL {sum(s[0] for s in spent):.1f} s in {len(spent)} statements, commit {took - before_commit:.1f} s; "
        f"the slowest (started at):")
    for secs, at, sql in sorted(spent, reverse=True)[:4]:
        say(f"           {secs:5.1f} s (at {at:5.1f} s)  {sql}")
    say(f"[import] {report.applied:,} of {report.total:,} rows in {took:.1f} s ({report.applied / took:,.0f} rows/s): "
        f"{report.counts}, fulfilled {report.fulfilled:,}, re-tests {report.retests}, findings {len(report.findings)}")
    say("[import] goal ≥ 5,000 rows/s: " + ("met" if report.applied / took >= 5000 else "NOT met"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", default="all", choices=["generate", "coverage", "import", "all"])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the people when they are there")
    args = parser.parse_args()
    prepare_database()
    org, _units = setup_people(args.people, args.reuse)
    if args.what in ("generate", "all"):
        bench_generate(org)
    if args.what in ("coverage", "all"):
        bench_coverage(org, args.people)
    if args.what in ("import", "all"):
        bench_import(org, args.results)


if __name__ == "__main__":
    main()
