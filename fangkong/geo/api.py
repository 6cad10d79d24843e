from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from fangkong.core.access import AUTHENTICATED, api_permission
from fangkong.geo.selectors import region_search

router = Router(tags=["regions"])


class RegionOut(Schema):
    code: str
    name: str
    full_name: str
    level: str
    parent_code: str | None


@router.get("/regions", response=list[RegionOut], summary="Search administrative divisions by code prefix or name")
@api_permission(AUTHENTICATED)
def regions(request: HttpRequest, q: str = "", limit: int = 20) -> list[dict]:
    return [
        {"code": r.code, "name": r.name, "full_name": r.full_name, "level": r.level, "parent_code": r.parent_id}
        for r in region_search(q, limit=max(1, min(limit, 200)))
    ]
