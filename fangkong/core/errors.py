from __future__ import annotations


class ServiceError(Exception):
    """A write was refused. `field_errors` say where (a form field, an API field, or 'row 17, 身份证号')."""

    def __init__(self, message: str, field_errors: dict[str, list[str]] | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}
        self.status = status


class NotFound(ServiceError):
    """The object does not exist or is outside the caller's scope: both look the same to the caller."""

    def __init__(self, message: str = "Not found"):
        super().__init__(message, status=404)
