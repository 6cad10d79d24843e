from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.tenancy.models import Organization
from fangkong.testing.services import programs_generate


class Command(BaseCommand):
    help = "Generate the test obligations of every active testing programme for a day (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", help="YYYY-MM-DD (default: today in Asia/Shanghai)")
        parser.add_argument("--organization", type=int, help="only this organisation id")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            day = date.fromisoformat(opts["date"]) if opts.get("date") else timezone.localdate()
        except ValueError:
            raise CommandError(gettext("日期格式应为 YYYY-MM-DD：%(value)s") % {"value": opts["date"]}) from None
        org = None
        if opts.get("organization"):
            org = Organization.objects.filter(pk=opts["organization"]).first()
            if org is None:
                raise CommandError(gettext("单位 %(id)s 不存在") % {"id": opts["organization"]})
        started = time.perf_counter()
        created = programs_generate(day=day, organization=org)
        self.stdout.write(f"{day}: {created} new test obligations in {time.perf_counter() - started:.2f} s")
