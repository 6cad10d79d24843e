"""Per-request context that services may read without being handed the request (the client's IP for audit)."""

from __future__ import annotations

from contextvars import ContextVar

client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)
