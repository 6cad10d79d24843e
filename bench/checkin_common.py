"""Shared set-up for the check-in, obligation and compliance benchmarks (PostgreSQL only).

People are written straight into people_person with INSERT ... SELECT generate_series: their ID numbers are
placeholders ('synthetic', not encrypted, no checksum), their hashes md5 of the row number. The benchmarks never
read them; only ids, organisation, unit, kind and measure_kind matter here.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from fangkong.people.models import Person  # noqa: E402
from fangkong.tenancy import services as tenancy  # noqa: E402
from fangkong.tenancy.models import Jurisdiction, Organization, Unit  # noqa: E402


def say(msg: str) -> None:
    print(msg, flush=True)


def prepare_database() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    from fangkong.geo.models import Region

    if not Region.objects.filter(code="140428").exists():
        from fangkong.geo.loader import load_regions

        load_regions()


def organization(name: str, units: int) -> tuple[Organization, list[Unit]]:
    """An organisation with `units` workshops (reused when it exists)."""
    org = Organization.objects.filter(name=name).first()
    if org is None:
        county = Jurisdiction.objects.filter(region_id="140428").first()
        if county is None:
            city = tenancy.jurisdiction_create(name="长治市疫情防控指挥部", region_code="1404", actor="bench")
            county = tenancy.jurisdiction_create(name="长子县疫情防控指挥部", region_code="140428", parent=city,
                                                 actor="bench")
        org = tenancy.organization_create(name=name, kind="enterprise", region_code="140428", jurisdiction=county,
                                          actor="bench")
    existing = list(Unit.objects.filter(organization=org).order_by("id"))
    for i in range(len(existing), units):
        existing.append(tenancy.unit_create(organization=org, name=f"车间{i:03d}", kind="workshop", actor="bench"))
    return org, existing[:units]


def insert_people(org: Organization, units: list[Unit], n: int, *, measure_every: int = 0) -> float:
    """n people spread round-robin over the units; every `measure_every`-th under a measure. Returns seconds."""
    exprs = {
        "organization_id": "%s", "unit_id": "(%s::bigint[])[1 + (i %% %s)]",
        "name": "'人员' || i", "name_sort": "'ry' || i", "gender": "'unknown'", "id_type": "'resident_id'",
        "id_number": "'synthetic'", "id_number_hash": "md5(%s || '-' || i)", "id_number_masked": "'****' || i",
        "kind": "'employee'", "is_active": "true", "created_at": "now()", "updated_at": "now()",
        "measure_kind": ("CASE WHEN %s > 0 AND i %% %s = 0 THEN 'home_health_monitoring' ELSE '' END"),
    }
    params_for = {
        "organization_id": [org.pk], "unit_id": [[u.pk for u in units], len(units)], "id_number_hash": [str(org.pk)],
        "measure_kind": [measure_every, max(measure_every, 1)],
    }
    cols, sel, params = [], [], []
    for f in Person._meta.concrete_fields:
        if f.primary_key:
            continue
        cols.append(f.column)
        if f.column in exprs:
            sel.append(exprs[f.column])
            params.extend(params_for.get(f.column, []))
        elif f.null:
            sel.append("NULL")
        elif f.get_internal_type() == "BooleanField":
            sel.append("false")
        else:
            sel.append("''")
    sql = (f"INSERT INTO {Person._meta.db_table} ({', '.join(cols)}) "
           f"SELECT {', '.join(sel)} FROM generate_series(1, %s) AS i")
    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(sql, [*params, n])
        cur.execute(f"ANALYZE {Person._meta.db_table}")
    return time.perf_counter() - t


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
