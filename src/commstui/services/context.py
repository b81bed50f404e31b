"""What every service call needs: the database, the settings and who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings, get_settings
from ..domain import LOCAL_ADMIN, Permission, User  # noqa: F401  (LOCAL_ADMIN: for services' callers)
from ..store.db import Database
from .errors import PermissionDenied

_WORDS = {
    Permission.CUSTOMER_VIEW: "view customers (role customerView)",
    Permission.CUSTOMER_EDIT: "change or email customers (role customerEdit)",
    Permission.MAIL_SETTINGS: "change mail server settings (administrator)",
    Permission.USERS_MANAGE: "manage users (administrator)",
    Permission.BULK_SEND: "send bulk correspondence (role bulkSend)",
    Permission.BULK_APPROVE: "approve bulk sends (role bulkApprove)",
    Permission.TEMPLATES: "edit templates (role templates)",
    Permission.COMPANY_VIEW: "view companies (role companyView)",
    Permission.COMPANY_EDIT: "change companies (role companyEdit)",
    Permission.COMPANY_VIEW_ASSIGNED: "view the companies assigned to them (role crmCompanyView)",
    Permission.COMPANY_EDIT_ASSIGNED: "change the companies assigned to them (role crmCompanyEdit)",
    Permission.OWN_ACCOUNT: "use the customer portal (role customer)",
}


def require(user: User | None, *permissions: Permission) -> User:
    """The one permission gate: every service action calls it before touching data."""
    if user is None or not user.active:
        raise PermissionDenied("You are not logged in.")
    missing = [p for p in permissions if not user.can(p)]
    if missing:
        raise PermissionDenied(
            f"{user.username} is not allowed to " + " and ".join(_WORDS.get(p, p.value) for p in missing) + "."
        )
    return user


def require_any(user: User | None, *permissions: Permission) -> User:
    """Allowed with any one of the permissions (e.g. a dashboard for senders and approvers)."""
    if user is None or not user.active:
        raise PermissionDenied("You are not logged in.")
    if not any(user.can(p) for p in permissions):
        raise PermissionDenied(
            f"{user.username} is not allowed to " + " or ".join(_WORDS.get(p, p.value) for p in permissions) + "."
        )
    return user


@dataclass
class Context:
    db: Database
    settings: Settings

    @classmethod
    def open(cls, db_path=None, settings: Settings | None = None, on_busy=None) -> "Context":
        settings = settings or get_settings()
        db = Database(db_path or settings.db, busy_timeout=settings.busy_timeout, on_busy=on_busy)
        return cls(db=db, settings=settings)
