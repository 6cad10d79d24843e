"""Capacity warnings (seed 001: meetings of at most 100 people). The gate console shows the count after every
decision; venues scanned only by phones (meeting rooms, canteens) have nobody watching a console, so reaching the
capacity there also tells the organisation's prevention office, once an hour per venue."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from fangkong.access import rules, services
from fangkong.access.models import Scan, Venue


def after_admit(scan: Scan, now: datetime | None = None) -> tuple[int, str]:
    """(people inside, 'ok' | 'near' | 'full') after an admitted entry; alerts when the venue is full."""
    venue: Venue = scan.venue
    if not venue.capacity or scan.direction != "entry" or scan.decision != "admit":
        return 0, "ok"
    now = now or timezone.now()
    inside = services.occupancy(venue, now)
    state = rules.occupancy_state(inside, venue.capacity)
    if state == "full":
        from fangkong.notify.recipients import org_admins
        from fangkong.notify.services import notify_send

        notify_send(
            recipients=org_admins(venue.organization),
            title={"zh-hans": f"{venue.name}已达容量上限（{inside}/{venue.capacity} 人）",
                   "en": f"{venue.name} is at capacity ({inside}/{venue.capacity})"},
            body={"zh-hans": f"{venue.name}在场 {inside} 人，已达容量上限 {venue.capacity} 人。请暂停放行、分批进入，"
                             "避免聚集。",
                  "en": f"{inside} people inside {venue.name}, capacity {venue.capacity}: stop admitting for now."},
            link=reverse("access:venue_detail", args=[venue.pk]), level="warning",
            organization_id=venue.organization_id, event="access.capacity",
            dedupe_key=f"access.capacity.{venue.pk}.{timezone.localtime(now):%Y%m%d%H}",
        )
    return inside, state
