from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from fangkong.core.context import client_ip


def request_ip(request: HttpRequest) -> str | None:
    # Behind a reverse proxy the deployment sets X-Forwarded-For; we take the nearest client it reports.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = client_ip.set(request_ip(request))
        try:
            return self.get_response(request)
        finally:
            client_ip.reset(token)
