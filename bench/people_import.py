"""Benchmark of the ledger import: parse + validate, then commit, timed separately, on a realistic generated .xlsx.

Point it at a throwaway database (it migrates, loads the regions if missing, and creates its own jurisdiction and organisation there):

    createdb -h 127.0.0.1 -U postgres fangkong_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/fangkong_bench
    .venv/bin/python bench/people_import.py --rows 100000 [--reimport] [--profile]

The goal is ≥ 5,000 rows/s for the whole import (parse + validate + commit). Figures go to bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰志强文博宇浩然子涵欣怡梓轩雨泽思远晓东海燕春生金凤"
KINDS = ["职工"] * 14 + ["外包人员"] * 3 + ["访客", "其他"]
WORKSHOPS = ["一车间", "二车间", "三车间", "装配车间", "质检部", "仓储物流部", "行政部", "后勤保障部"]
TEAMS = ["一班", "二班", "三班", "四班"]
REGIONS = ["140428", "140406", "140403", "140404", "140425", "山西省长治市长子县", "长治市潞州区", "140105", ""]
BAD_ROWS = 0.005
STREETS = ["丹朱镇", "紫云街", "英雄路", "太行西街", "解放东路", "城北路"]


def generate(path: Path, rows: int, seed: int, *, changed: bool = False) -> None:
    """A file as a clerk would upload it: Chinese labels, unit paths, mixed region codes and names."""
    from openpyxl import Workbook

    from fangkong.people.idgen import synthetic_id_number, synthetic_mobile
    from fangkong.people.importing import HEADERS

    rng = random.Random(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("人员台账")
    sheet.append(HEADERS)
    seen: set[str] = set()
    for i in range(rows):
        while True:
            number = synthetic_id_number(rng, rng.choice(["140428", "140402", "140105", "110105"]))
            if number not in seen:
                seen.add(number)
                break
        if rng.random() < BAD_ROWS:
            # A mistyped digit: the checksum catches it, as it would in a real file.
            number = number[:10] + str((int(number[10]) + 1) % 10) + number[11:]
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        unit = rng.choice(WORKSHOPS) + ("/" + rng.choice(TEAMS) if rng.random() < 0.6 else "")
        address = f"{rng.choice(STREETS)}{rng.randrange(1, 300)}号" if rng.random() < 0.7 else ""
        dormitory = f"{rng.randrange(1, 9)}-{rng.randrange(101, 699)}" if rng.random() < 0.3 else ""
        if changed:
            # The same people (same random sequence) with one changed cell each: every row is an update.
            dormitory = f"新{i % 9 + 1}-{i % 600 + 101}"
        sheet.append([name, "", "居民身份证", number, synthetic_mobile(rng), rng.choice(KINDS), unit,
                      rng.choice(REGIONS), address, dormitory])
    book.save(path)


def setup_organization(seed: int):
    from fangkong.tenancy import services as tenancy
    from fangkong.tenancy.models import Jurisdiction

    stamp = f"{int(time.time())}-{seed}"
    county = Jurisdiction.objects.filter(name="基准测试防控办").first() or tenancy.jurisdiction_create(
        name="基准测试防控办", region_code="140428", actor=None)
    org = tenancy.organization_create(name=f"基准测试机械厂 {stamp}", kind="enterprise", region_code="140428",
                                      jurisdiction=county, actor=None)
    for ws_name in WORKSHOPS:
        ws = tenancy.unit_create(organization=org, name=ws_name, kind="workshop", actor=None)
        for team in TEAMS:
            tenancy.unit_create(organization=org, name=team, kind="team", parent=ws, actor=None)
    return org


def run(path: Path, org, label: str) -> dict[str, float]:
    from fangkong.people import importing

    clock = [(time.perf_counter(), time.process_time())]
    sheet = importing.parse_workbook(path)
    clock.append((time.perf_counter(), time.process_time()))
    validation = importing.validate_rows(org, sheet)
    clock.append((time.perf_counter(), time.process_time()))
    counts = importing.import_commit(organization=org, validation=validation, actor=None)
    clock.append((time.perf_counter(), time.process_time()))
    n = validation.total
    steps = {"parse": (0, 1), "validate": (1, 2), "commit": (2, 3), "total": (0, 3)}
    print(f"\n[{label}] {n} rows, {len(validation.errors)} problems, written: {counts}")
    print(f"  load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    figures = {}
    for step, (a, b) in steps.items():
        wall, cpu = clock[b][0] - clock[a][0], clock[b][1] - clock[a][1]
        figures[step] = wall
        print(f"  {step:<9} {wall:7.2f} s wall {n / wall:9,.0f} rows/s   (this process's CPU {cpu:6.2f} s)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--reimport", action="store_true",
                        help="then import the same file again (all unchanged) and a changed copy (all updates)")
    parser.add_argument("--profile", action="store_true", help="profile the first import with pyinstrument")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from fangkong.geo.models import Region
    from fangkong.people.models import Person

    call_command("migrate", verbosity=0)
    if not Region.objects.exists():
        call_command("load_regions")
    print(f"database: {connection.vendor} {settings.DATABASES['default'].get('NAME')}, cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "people.xlsx"
        t = time.perf_counter()
        generate(path, args.rows, args.seed)
        print(f"generated {args.rows} rows in {time.perf_counter() - t:.1f} s ({path.stat().st_size / 1e6:.1f} MB)")
        org = setup_organization(args.seed)
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
            run(path, org, "first import (new people), profiled")
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        else:
            run(path, org, "first import (new people)")
        if args.reimport:
            run(path, org, "re-import of the same file (unchanged)")
            changed = Path(tmp) / "people-changed.xlsx"
            generate(changed, args.rows, args.seed, changed=True)
            run(changed, org, "import of a changed copy (updates)")
        print(f"\npeople in the organisation: {Person.objects.filter(organization=org).count()}")


if __name__ == "__main__":
    main()
