"""What the UI is looking at: the organisation (or jurisdiction) of the active membership."""

from __future__ import annotations

from django.http import HttpRequest

from fangkong.tenancy.models import Jurisdiction, Organization


def active_organization(request: HttpRequest) -> Organization | None:
    m = getattr(request, "membership", None)
    return m.organization if m else None


def active_jurisdiction(request: HttpRequest) -> Jurisdiction | None:
    m = getattr(request, "membership", None)
    if not m:
        return None
    if m.jurisdiction_id:
        return m.jurisdiction
    if m.authority_id:
        return m.authority.jurisdiction
    if m.organization_id:
        return m.organization.jurisdiction
    return None
