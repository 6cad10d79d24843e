"""Template helpers of entry control."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def visit_window(visit: Any, within_day: str = "") -> str:
    """'12-09 09:00–10:00' for a visit within one day; '12-09 20:00–12-10 08:00' when it ends on another day, so the
    end's date is never left out (with the year when that differs too). `within_day` ("today", the gate's list of
    today's visits) leaves the date out of a visit that starts and ends on the same day."""
    start, end = timezone.localtime(visit.starts_at), timezone.localtime(visit.ends_at)
    if start.date() == end.date():
        return f"{start:%H:%M}–{end:%H:%M}" if within_day else f"{start:%m-%d %H:%M}–{end:%H:%M}"
    day = "%Y-%m-%d" if start.year != end.year else "%m-%d"
    return f"{start.strftime(day)} {start:%H:%M}–{end.strftime(day)} {end:%H:%M}"
