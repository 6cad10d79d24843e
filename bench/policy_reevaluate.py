"""Benchmark: a new high-risk county → the affected people found and decided (goal ≤ 10 s).

1,000,000 people with 5,000,000 stays over the whole country on PostgreSQL, generated with INSERT … SELECT
generate_series (minutes, once; `--reuse` skips it when the data is there). Then one county is announced high risk
and the re-evaluation runs synchronously: the one prefix query on Stay(region, to_date), the bulk fact loading,
the engine with the seed 003 pack, and the bulk writes of measures, their tests and test obligations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_policy FANGKONG_VAR_DIR=/tmp/fkbench \\
        .venv/bin/python bench/policy_reevaluate.py [--people 1000000] [--stays 5000000] [--reuse]

The people are synthetic rows written straight into the table: their ID numbers are placeholders (not encrypted,
no checksum computed, never read by the benchmark), their hashes are md5 of the row number.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Q  # noqa: E402

from fangkong.geo.models import Region  # noqa: E402
from fangkong.people.models import Person  # noqa: E402
from fangkong.policy import selectors, services  # noqa: E402
from fangkong.policy.demo import SEED003  # noqa: E402
from fangkong.policy.models import ReevaluationRun, RiskArea, Stay  # noqa: E402
from fangkong.tenancy import services as tenancy  # noqa: E402
from fangkong.tenancy.models import Jurisdiction, Organization  # noqa: E402

TODAY = date(2021, 9, 20)
STAY_SPAN_DAYS = 60  # stays end within the 60 days before TODAY; the look-back is 21
ORGS = 50
TARGET = "130109"  # 石家庄市藁城区, announced high on TODAY


def say(msg: str) -> None:
    print(msg, flush=True)


def setup_tenancy() -> tuple[Jurisdiction, list[Organization]]:
    city = Jurisdiction.objects.filter(region_id="1404", parent__isnull=True).first()
    if city is None:
        city = tenancy.jurisdiction_create(name="长治市疫情防控指挥部", region_code="1404", actor="bench")
        county = tenancy.jurisdiction_create(name="长子县疫情防控指挥部", region_code="140428", parent=city,
                                             actor="bench")
        for i in range(ORGS):
            tenancy.organization_create(name=f"基准单位{i:02d}", kind="enterprise", region_code="140428",
                                        jurisdiction=county, actor="bench")
    policy = services.policy_pack_install(pack_key=SEED003, jurisdiction=city, actor="bench")
    services.policy_activation_set(jurisdiction=city, policy=policy, enabled=True, actor="bench")
    return city, list(Organization.objects.filter(jurisdiction__path__startswith=city.path).order_by("id"))


def _person_select(orgs: list[int], n: int) -> tuple[str, list]:
    """SELECT list for people_person: every NOT NULL column gets a value (Django sets no database defaults)."""
    exprs = {
        "organization_id": "(%s::bigint[])[1 + (i %% %s)]",
        "name": "'人员' || i", "name_sort": "'ry' || i", "gender": "'unknown'", "id_type": "'resident_id'",
        "id_number": "'synthetic'", "id_number_hash": "md5(i::text)", "id_number_masked": "'**************' || i",
        "kind": "'employee'", "is_active": "true", "created_at": "now()", "updated_at": "now()",
    }
    params: list = [orgs, len(orgs)]
    cols, sel = [], []
    for f in Person._meta.concrete_fields:
        if f.primary_key:
            continue
        cols.append(f.column)
        if f.column in exprs:
            sel.append(exprs[f.column])
        elif f.null:
            sel.append("NULL")
        elif f.get_internal_type() == "BooleanField":
            sel.append("false")
        else:
            sel.append("''")
    sql = (f"INSERT INTO {Person._meta.db_table} ({', '.join(cols)}) "
           f"SELECT {', '.join(sel)} FROM generate_series(1, %s) AS i")
    return sql, [*params, n]


def generate(people: int, stays: int, orgs: list[Organization]) -> None:
    counties = list(Region.objects.filter(level="county").values_list("code", flat=True))
    say(f"generating {people:,} people and {stays:,} stays over {len(counties):,} counties …")
    t = time.perf_counter()
    sql, params = _person_select([o.pk for o in orgs], people)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        cur.execute(f"SELECT min(id), max(id) FROM {Person._meta.db_table}")
        lo, hi = cur.fetchone()
    say(f"  people: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    # Each stay: a person (spread over all), a county (hash of the row number), 1–5 days ending within 60 days.
    with connection.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {Stay._meta.db_table} (person_id, region_id, locality, from_date, to_date, source,
                    arrival_id, created_by_id, created_at)
                SELECT %s + (i %% %s), (%s::varchar[])[1 + (abs(hashint4(i)) %% %s)], '',
                       d - (abs(hashint4(i + 7)) %% 5), d, 'declared', NULL, NULL, now()
                FROM (SELECT i, (%s::date - (abs(hashint4(i + 3)) %% %s)) AS d
                      FROM generate_series(1, %s) AS i) s""",
            [lo, hi - lo + 1, counties, len(counties), TODAY, STAY_SPAN_DAYS, stays],
        )
        cur.execute(f"ANALYZE {Person._meta.db_table}")
        cur.execute(f"ANALYZE {Stay._meta.db_table}")
    say(f"  stays: {time.perf_counter() - t:.1f} s (indexes maintained during the insert)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--stays", type=int, default=5_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep existing people and stays")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: set DATABASE_URL")
    call_command("migrate", verbosity=0)
    if not Region.objects.filter(code=TARGET).exists():
        from fangkong.geo.loader import load_regions

        load_regions()
    city, orgs = setup_tenancy()
    if not (args.reuse and Stay.objects.exists()):
        with transaction.atomic():
            with connection.cursor() as cur:  # a benchmark database: everything hanging off people goes too
                cur.execute(f"TRUNCATE {Person._meta.db_table} CASCADE")
            generate(args.people, args.stays, orgs)
    # A fresh start for the measured step: no earlier announcement of the target, no earlier measures.
    from fangkong.measures.models import Measure

    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {Measure._meta.db_table} CASCADE")
        cur.execute("DELETE FROM obligations_obligation WHERE source LIKE 'measure:%%'")
    ReevaluationRun.objects.filter(risk_area__region_id=TARGET).delete()
    RiskArea.objects.filter(region_id=TARGET).delete()
    say(f"people {Person.objects.count():,}, stays {Stay.objects.count():,}; load average {os.getloadavg()}")

    area = services.risk_area_announce(jurisdiction=city, region_code=TARGET, level="high", effective_from=TODAY,
                                       source="bench", actor="bench", reevaluate=False)
    start = TODAY - timedelta(days=selectors.MAX_LOOKBACK_DAYS)
    with connection.cursor() as cur:
        qs = Stay.objects.filter(Q(region__code__startswith=selectors.affected_prefix(area)), to_date__gte=start,
                                 from_date__lte=TODAY).order_by().values("person_id").distinct()
        sql, params = qs.query.sql_with_params()
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
    say("plan of the stay lookup:\n" + plan)

    run = ReevaluationRun.objects.create(risk_area=area, evaluation_date=TODAY)
    t = time.perf_counter()
    run = services.reevaluate_run(run.pk, actor=None)
    elapsed = time.perf_counter() - t
    kinds = dict(Measure.objects.values_list("kind").annotate(n=django.db.models.Count("id")).order_by())
    say(f"RESULT: new high-risk county {TARGET}: {run.total:,} people with a stay in its city within "
        f"{selectors.MAX_LOOKBACK_DAYS} days found and decided, {run.created:,} measures proposed {kinds}, "
        f"in {elapsed:.2f} s (goal ≤ 10 s)")
    t = time.perf_counter()
    run2 = services.reevaluate_run(ReevaluationRun.objects.create(risk_area=area, evaluation_date=TODAY).pk)
    say(f"re-run (idempotent): {run2.created} new measures, {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
