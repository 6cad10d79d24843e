from __future__ import annotations

from fangkong.geo.models import Region


def region_get(code: str) -> Region | None:
    return Region.objects.filter(code=code).first()


def region_by_name(name: str) -> Region | None:
    """'长治市长子县' or '山西省长治市长子县' or '长子县' → the region; the most specific full-name match wins."""
    name = "".join(name.split())
    if not name:
        return None
    exact = Region.objects.filter(full_name=name).first()
    if exact:
        return exact
    # A partial name ('长治市长子县', '朝阳区') counts only when it names one region: 朝阳区 is in 北京 and in 长春.
    matches = list(Region.objects.filter(full_name__endswith=name)[:2])
    return matches[0] if len(matches) == 1 else None


def region_search(q: str, limit: int = 20) -> list[Region]:
    return list(Region.objects.search(q).order_by("code")[:limit])
