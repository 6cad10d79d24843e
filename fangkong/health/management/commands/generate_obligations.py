from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext

from fangkong.health.services import obligations_generate_for_day
from fangkong.tenancy.models import Organization


class Command(BaseCommand):
    help = "Generate the check-in obligations of a day (idempotent: a second run creates nothing)."

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
        created = obligations_generate_for_day(day=day, organization=org)
        self.stdout.write(f"{day}: {created} new obligations")
