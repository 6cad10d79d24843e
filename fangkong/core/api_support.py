"""Shared API parts: bearer-token auth, the one error shape, pagination."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from fangkong.core.errors import ServiceError
from fangkong.core.tokens import token_user
from fangkong.core.validation_messages import pydantic_message


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_user(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(NinjaSessionAuth):
    """The browser's signed-in session, CSRF-checked; no session at all is not authenticated (401), not a CSRF failure.

    Ninja's `django_auth` runs the CSRF check before it looks at the session, so an anonymous write (or one with a
    bearer token that is not valid) was answered 403 "CSRF check Failed" while the same GET was a 401. The check
    protects a signed-in cookie session from cross-site requests; without one there is nothing to protect, and the
    caller must be told to authenticate. A signed-in session that sends no valid CSRF token is still refused (403).
    The class keeps Ninja's name, so the OpenAPI security scheme stays "SessionAuth".
    """

    def __call__(self, request: HttpRequest) -> Any:
        if not getattr(getattr(request, "user", None), "is_authenticated", False):
            return None  # the next scheme, or AuthenticationError → 401
        return super().__call__(request)  # the cookie key, after the CSRF check (HttpError 403 when it fails)


API_AUTH = [BearerToken(), SessionAuth()]


class ErrorOut(Schema):
    message: str
    errors: dict[str, list[str]] = {}


def error_response(api: NinjaAPI, request: HttpRequest, status: int, message: str,
                   errors: dict[str, list[str]] | None = None) -> HttpResponse:
    return api.create_response(request, {"message": message, "errors": errors or {}}, status=status)


def _loc_to_field(loc: list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "form", "file")]
    # Ninja nests the body under the parameter name; drop it when it is the schema wrapper.
    return ".".join(parts[1:] if len(parts) > 1 and parts[0] in ("data", "payload", "body_") else parts) or "body"


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(ServiceError)
    def service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
        return error_response(api, request, exc.status, exc.message, exc.field_errors)

    @api.exception_handler(NinjaValidationError)
    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors: dict[str, list[str]] = {}
        for err in exc.errors:
            errors.setdefault(_loc_to_field(list(err.get("loc", []))), []).append(pydantic_message(err))
        first = next(iter(errors.items()), ("body", ["invalid"]))
        return error_response(api, request, 422, _("输入有误：%(field)s：%(message)s") % {
            "field": first[0], "message": first[1][0]}, errors)

    @api.exception_handler(DjangoValidationError)
    def django_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        errors = {k: [str(m) for m in v] for k, v in exc.message_dict.items()} if hasattr(exc, "error_dict") else {}
        return error_response(api, request, 400, "; ".join(str(m) for m in exc.messages), errors)

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(api, request, 404, _("未找到或无权访问"))

    @api.exception_handler(PermissionDenied)
    def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return error_response(api, request, 403, _("没有权限：%(detail)s") % {"detail": exc} if str(exc) else _("没有权限"))

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(api, request, 401, _("未登录或令牌无效"))

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        message = str(exc)
        if message.startswith("Cannot parse request body"):  # Ninja's own words for a body that is not JSON
            message = _("请求体无法解析：应为 JSON") + message[len("Cannot parse request body"):]
        return error_response(api, request, exc.status_code, message)


class Page(Schema):
    count: int
    limit: int
    offset: int


MAX_OFFSET = 2**31 - 1


def paginate(qs: Any, limit: int, offset: int, max_limit: int = 500) -> tuple[list[Any], dict[str, int]]:
    limit = max(1, min(limit, max_limit))
    # Past the last row anyway; a larger number does not fit the database's integer (a 500 before).
    offset = max(0, min(offset, MAX_OFFSET))
    return list(qs[offset : offset + limit]), {"count": qs.count(), "limit": limit, "offset": offset}
