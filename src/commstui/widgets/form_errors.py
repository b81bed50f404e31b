"""How a form shows a failed save, the same in every dialog."""

from __future__ import annotations

from collections.abc import Callable

from ..services.errors import ServiceError, ValidationError


def explain_failure(app, error: BaseException | None, show: Callable[[str | None, str], None]) -> None:
    """What the service said goes to the form: a ValidationError with the field it names
    (show focuses it), a refusal or not-found without one. Anything else is a bug: the
    form's problem line is cleared and the app's error modal tells the operator."""
    if isinstance(error, ServiceError) or getattr(error, "title", None):
        show(error.field if isinstance(error, ValidationError) else None, str(error))
    else:
        show(None, "")
        app.show_error(error)
