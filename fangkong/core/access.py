"""Deny by default: every view and API operation declares the permission it needs.

`requires("people.view")` wraps a view: anonymous users go to sign-in, users whose roles grant nothing of the kind
get 403. Row-level scope is the QuerySets' job (`visible_to`), so an object outside the user's scope is a 404.
A test walks the URLconf and the API and fails on any view without a declaration.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

PUBLIC = "public"
AUTHENTICATED = "authenticated"
ATTR = "fangkong_permission"

_checker: Callable[[Any, str], bool] | None = None


def register_permission_checker(checker: Callable[[Any, str], bool]) -> None:
    """Tenancy registers the role table here at start-up (core must not import tenancy)."""
    global _checker
    _checker = checker


def user_has_perm(user: Any, perm: str) -> bool:
    if perm == PUBLIC:
        return True
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if perm == AUTHENTICATED:
        return True
    if _checker is None:
        raise RuntimeError("no permission checker registered")
    return _checker(user, perm)


def requires(perm: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if perm != PUBLIC and not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not user_has_perm(request.user, perm):
                raise PermissionDenied(perm)
            return view(request, *args, **kwargs)

        setattr(wrapped, ATTR, perm)
        return wrapped

    return decorate


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    setattr(view, ATTR, PUBLIC)
    return view


def api_permission(perm: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The same declaration for Ninja operations; authentication itself is the API's `auth`."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not user_has_perm(request.user, perm):
                raise PermissionDenied(perm)
            return handler(request, *args, **kwargs)

        # Ninja reads the signature to build the schema; string annotations (PEP 563) must be resolved against the
        # handler's module, not this one, so hand Ninja the evaluated signature.
        signature = inspect.signature(handler, eval_str=True)
        wrapped.__signature__ = signature  # type: ignore[attr-defined]
        wrapped.__annotations__ = {
            name: p.annotation for name, p in signature.parameters.items() if p.annotation is not p.empty
        }
        if signature.return_annotation is not signature.empty:
            wrapped.__annotations__["return"] = signature.return_annotation
        setattr(wrapped, ATTR, perm)
        return wrapped

    return decorate
