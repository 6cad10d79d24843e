"""Benchmark: generating a day's check-in obligations for 1,000,000 people (goal ≤ 30 s, set-based).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_health FANGKONG_VAR_DIR=/tmp/fkbench \\
        .venv/bin/python bench/obligations_generate.py [--people 1000000] [--reuse]

One organisation, 1,000 units, one daily check-in setting; every 50th person is under a measure and so gets the
two twice-daily obligations (seed 002). The measured step is `obligations_generate_for_day` — one
INSERT … SELECT … ON CONFLICT DO NOTHING per slot group — then the same call again (must create nothing).
People are synthetic rows (see bench/checkin_common.py): placeholder ID numbers, no checksum.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from checkin_common import insert_people, organization, prepare_database, say
from django.db import connection

from fangkong.health.models import CheckinSetting
from fangkong.health.services import obligations_generate_for_day
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person

DAY = date(2021, 11, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the people when they are there")
    args = parser.parse_args()
    prepare_database()
    org, units = organization("基准义务单位", 1000)
    CheckinSetting.objects.get_or_create(organization=org, defaults={"name": "bench"})
    have = Person.objects.filter(organization=org).count()
    if not (args.reuse and have >= args.people):
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {Obligation._meta.db_table} WHERE organization_id = %s", [org.pk])
            cur.execute(f"DELETE FROM {Person._meta.db_table} WHERE organization_id = %s", [org.pk])
        say(f"inserting {args.people:,} people …")
        say(f"  {insert_people(org, units, args.people, measure_every=50):.1f} s")
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {Obligation._meta.db_table} WHERE organization_id = %s AND day = %s", [org.pk, DAY])
        cur.execute(f"ANALYZE {Obligation._meta.db_table}")
    people = Person.objects.filter(organization=org).count()
    t = time.perf_counter()
    created = obligations_generate_for_day(day=DAY, organization=org)
    first = time.perf_counter() - t
    t = time.perf_counter()
    again = obligations_generate_for_day(day=DAY, organization=org)
    second = time.perf_counter() - t
    say(f"people: {people:,}; obligations created: {created:,} in {first:.1f} s "
        f"({created / first:,.0f} rows/s); second run created {again} in {second:.1f} s")
    say("goal ≤ 30 s: " + ("met" if first <= 30 else "NOT met"))


if __name__ == "__main__":
    main()
