"""python manage.py seed_demo: the demo jurisdiction, organisations, people and sign-ins (see fangkong/tenancy/demo.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fangkong.tenancy.demo import DEFAULT_SEED, PASSWORD, DemoRefused, run_demo


class Command(BaseCommand):
    help = "生成演示数据（长治市/长子县、工厂、医院、学校及各角色演示账号）；已存在时不做任何事，生产环境拒绝运行。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="随机数种子（同一种子生成相同数据）")

    def handle(self, *args: Any, seed: int, **options: Any) -> None:
        try:
            ctx = run_demo(seed=seed)
        except DemoRefused as e:
            raise CommandError(str(e)) from None
        if ctx is None:
            self.stdout.write("演示数据已存在，未做任何修改。")
            return
        figures = "，".join(f"{k} {v}" for k, v in sorted(ctx.counts.items()))
        self.stdout.write(self.style.SUCCESS(f"演示数据已生成：{figures}"))
        if options.get("verbosity", 1) > 1:
            for step, seconds in ctx.timings.items():
                self.stdout.write(f"  {step}: {seconds} s")
        self.stdout.write(f"演示账号（密码均为 {PASSWORD}）：")
        width = max(len(u) for u, _ in ctx.logins)
        for username, what in ctx.logins:
            self.stdout.write(f"  {username.ljust(width)}  {what}")
