"""A contact's evidence in words, one line per piece, in the active language: the stored evidence is codes, ids and
times (it stays as it is); it is worded when shown. The spreadsheets kept in Chinese call this under
`translation.override("zh-hans")`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.utils.translation import gettext


def _span(start: datetime | None, end: datetime | None) -> str:
    """'09-20 08:00–08:40' within a day, '09-20 00:00–24:00' for the whole day, '09-20 00:00–09-22 18:00' across
    days, '09-20 08:00' for an instant."""
    if start is None:
        return ""
    if end is None or end == start:
        return f"{start:%m-%d %H:%M}"
    if end.date() == start.date():
        return f"{start:%m-%d %H:%M}–{end:%H:%M}"
    if end.date() == start.date() + timedelta(days=1) and (end.hour, end.minute) == (0, 0):
        return f"{start:%m-%d %H:%M}–24:00"
    return f"{start:%m-%d %H:%M}–{end:%m-%d %H:%M}"


def evidence_line(e: Mapping[str, Any], venue_names: Mapping[int, str], tz: tzinfo) -> str:
    """One piece of evidence as shown on the case's page (and in the outgoing assist list, in Chinese). The venue's
    name, the room, the meeting's title and the reason an investigator typed are data and stay as they are."""
    kind = str(e.get("kind") or "")
    start = datetime.fromisoformat(e["from"]).astimezone(tz) if e.get("from") else None
    end = datetime.fromisoformat(e["to"]).astimezone(tz) if e.get("to") else None
    span = _span(start, end)
    venue_id = e.get("venue_id")
    venue = venue_names.get(int(venue_id), f"#{venue_id}") if venue_id else ""
    minutes = int(e.get("minutes") or 0)
    if kind == "co_presence":
        line = gettext("同场所停留 %(venue)s %(span)s %(minutes)s 分钟") % {
            "venue": venue, "span": span, "minutes": minutes}
    elif kind == "same_unit_shift":
        line = gettext("同班组同日出勤 %(span)s") % {"span": span}
    elif kind == "same_dormitory":
        line = gettext("同宿舍 %(room)s %(span)s") % {"room": e.get("room", ""), "span": span}
    elif kind == "household":
        line = gettext("同住家庭成员 %(span)s") % {"span": span}
    elif kind == "meeting" and venue:
        line = gettext("同一会议 “%(title)s” %(venue)s %(span)s %(minutes)s 分钟") % {
            "title": e.get("title", ""), "venue": venue, "span": span, "minutes": minutes}
    elif kind == "meeting":
        line = gettext("同一会议 “%(title)s” %(span)s %(minutes)s 分钟") % {
            "title": e.get("title", ""), "span": span, "minutes": minutes}
    elif kind == "manual" and e.get("reason"):
        line = gettext("人工判定：%(reason)s %(span)s") % {"reason": e["reason"], "span": span}
    elif kind == "manual":
        line = gettext("人工判定 %(span)s") % {"span": span}
    else:  # a kind this version does not know: its code, as stored
        line = f"{kind} {span}"
    return line.strip()
