from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema

from fangkong.core.access import api_permission
from fangkong.tenancy.models import Organization, Unit

router = Router(tags=["organizations"])


class OrganizationOut(Schema):
    id: int
    name: str
    kind: str
    industry: str
    region_code: str
    address: str
    jurisdiction_id: int
    authority_id: int | None


class UnitOut(Schema):
    id: int
    name: str
    kind: str
    parent_id: int | None
    path: str


@router.get("/organizations", response=list[OrganizationOut], summary="Organisations in the caller's scope")
@api_permission("org.view")
def organizations(request: HttpRequest) -> list[dict]:
    return [
        {
            "id": o.pk, "name": o.name, "kind": o.kind, "industry": o.industry, "region_code": o.region_id,
            "address": o.address, "jurisdiction_id": o.jurisdiction_id, "authority_id": o.authority_id,
        }
        for o in Organization.objects.visible_to(request.user).order_by("name")
    ]


@router.get("/organizations/{org_id}/units", response=list[UnitOut], summary="The unit tree of an organisation")
@api_permission("org.view")
def organization_units(request: HttpRequest, org_id: int) -> list[Unit]:
    org = get_object_or_404(Organization.objects.visible_to(request.user), pk=org_id)
    return list(Unit.objects.visible_to(request.user).filter(organization=org).order_by("path"))
