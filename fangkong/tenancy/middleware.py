"""The membership a user is acting through (chosen in the header's organisation switcher, kept in the session)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from fangkong.tenancy.models import Membership
from fangkong.tenancy.scope import memberships_of

SESSION_KEY = "fangkong_membership_id"


def active_membership(request: HttpRequest) -> Membership | None:
    memberships = memberships_of(request.user)
    if not memberships:
        return None
    wanted = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    for m in memberships:
        if m.pk == wanted:
            return m
    return memberships[0]


class ActiveMembershipMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = SimpleLazyObject(lambda: active_membership(request))  # type: ignore[attr-defined]
        return self.get_response(request)
