"""Benchmark: the compliance page for an organisation of 10,000 people with 30 days of check-ins (goal p95 ≤ 300 ms).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench_health FANGKONG_VAR_DIR=/tmp/fkbench \\
        .venv/bin/python bench/compliance_page.py [--people 10000] [--days 30] [--runs 50] [--reuse]

Data: 50 units; the obligations of 30 days come from the real generator (`obligations_generate_for_day`); the
check-ins are written set-based from them (95 % of obligations fulfilled, 1 % of those abnormal), and the
obligations updated to point at them, as the check-in service would have. The page is timed through Django's test
client (whole request: middleware, session, view, template) as the organisation admin and as a unit leader, each
day of the 30 in turn. People are synthetic rows (see bench/checkin_common.py).
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from checkin_common import insert_people, organization, percentile, prepare_database, say
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from fangkong.health.models import Checkin, CheckinSetting
from fangkong.health.services import obligations_generate_for_day
from fangkong.obligations.models import Obligation
from fangkong.people.models import Person
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.models import Membership
from fangkong.tenancy.roles import Role

LAST_DAY = date(2021, 11, 30)


def build(org, units, people: int, days: int) -> None:
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {Obligation._meta.db_table} WHERE organization_id = %s", [org.pk])
        cur.execute(f"DELETE FROM {Checkin._meta.db_table} WHERE organization_id = %s", [org.pk])
        cur.execute(f"DELETE FROM {Person._meta.db_table} WHERE organization_id = %s", [org.pk])
    say(f"people: {insert_people(org, units, people):.1f} s")
    t = time.perf_counter()
    for d in range(days):
        obligations_generate_for_day(day=LAST_DAY - timedelta(days=d), organization=org)
    say(f"obligations for {days} days: {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    ob, ci = Obligation._meta.db_table, Checkin._meta.db_table
    with connection.cursor() as cur:
        # One check-in per obligation for 95 % of them (by a hash of the id), 1 % of those with fever.
        cur.execute(
            f"""INSERT INTO {ci} (person_id, organization_id, unit_id, date, slot, temperature, symptoms, note,
                    abnormal, proxy, submitted_at, client_key, device_id, ip, region_id, submitted_by_id)
                SELECT person_id, organization_id, unit_id, day, 'day',
                       CASE WHEN abs(hashint8(id)) %% 100 = 0 THEN 38.1 ELSE 36.3 + (abs(hashint8(id)) %% 6) / 10.0 END,
                       '[]'::jsonb, '', abs(hashint8(id)) %% 100 = 0, false,
                       due_from + interval '7 hours' + (abs(hashint8(id + 1)) %% 7200) * interval '1 second',
                       'bench-' || id, '', NULL, NULL, NULL
                FROM {ob} WHERE organization_id = %s AND abs(hashint8(id)) %% 20 <> 0""",
            [org.pk],
        )
        cur.execute(
            f"""UPDATE {ob} o SET status = 'fulfilled', evidence_type = 'health.checkin', evidence_id = c.id,
                    abnormal = c.abnormal, fulfilled_at = c.submitted_at
                FROM {ci} c WHERE c.client_key = 'bench-' || o.id AND o.organization_id = %s""",
            [org.pk],
        )
        cur.execute(f"UPDATE {ob} SET status = 'overdue' WHERE organization_id = %s AND status = 'due'", [org.pk])
        cur.execute(f"ANALYZE {ob}")
        cur.execute(f"ANALYZE {ci}")
    say(f"check-ins and fulfilment: {time.perf_counter() - t:.1f} s")


def user_with(username: str, role: str, **node) -> object:
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model.objects.create_user(username=username, password="bench")
    if not Membership.objects.filter(user=user).exists():
        tenancy.membership_grant(user=user, role=role, actor="bench", **node)
    return user


def timed(client: Client, url: str, runs: int) -> list[float]:
    out = []
    for i in range(runs):
        t = time.perf_counter()
        r = client.get(url.format(day=LAST_DAY - timedelta(days=i % 30)))
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.status_code
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    prepare_database()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    org, units = organization("基准打卡单位", 50)
    CheckinSetting.objects.get_or_create(organization=org, defaults={"name": "bench"})
    if not (args.reuse and Obligation.objects.filter(organization=org).exists()):
        build(org, units, args.people, args.days)
    n_ob = Obligation.objects.filter(organization=org).count()
    n_ci = Checkin.objects.filter(organization=org).count()
    say(f"data: {Person.objects.filter(organization=org).count():,} people, {n_ob:,} obligations, "
        f"{n_ci:,} check-ins")
    admin = user_with("bench_admin", Role.ORG_ADMIN, organization=org)
    leader = user_with("bench_leader", Role.UNIT_LEADER, unit=units[0])
    for label, user, url in (
        ("org admin, page", admin, "/health/compliance/?date={day}"),
        ("unit leader, page", leader, "/health/compliance/?date={day}"),
        ("org admin, API", admin, "/api/v1/compliance?date={day}"),
        ("org admin, .xlsx export", admin, "/health/compliance/?date={day}&export=xlsx"),
    ):
        client = Client()
        client.force_login(user)
        timed(client, url, 3)  # warm-up: connections, templates, caches
        ms = timed(client, url, args.runs if "xlsx" not in label else max(10, args.runs // 5))
        say(f"{label:28s} p50 {percentile(ms, 50):6.1f} ms  p95 {percentile(ms, 95):6.1f} ms  "
            f"max {max(ms):6.1f} ms  ({len(ms)} requests)")


if __name__ == "__main__":
    main()
