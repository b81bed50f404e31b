"""Errors a person can cause or must read. Each has a short title for a toast
or modal and a message that says what to do."""

from __future__ import annotations


class ServiceError(Exception):
    title = "Cannot do that"


class PermissionDenied(ServiceError):
    title = "Not allowed"


class ValidationError(ServiceError):
    """Bad input; `field` names the form field to point at."""

    title = "Please check the form"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LoginFailed(ServiceError):
    title = "Login failed"


class NoMailServer(ServiceError):
    title = "No mail server"
