"""The audit log, read by administrators (users.manage): who changed which user or group
role, how, and when; newest first, optionally for one user."""

from __future__ import annotations

from ..domain import AuditEntry, Permission, User
from ..store import audit as audit_store
from .context import Context, require

PAGE_SIZE = 200


def recent(ctx: Context, actor: User, *, target: str | None = None, before_id: int | None = None,
           limit: int = PAGE_SIZE) -> list[AuditEntry]:
    """Newest first; before_id continues after the last entry of the previous page.
    target: only what was done to this username (or group role); empty means everything."""
    require(actor, Permission.USERS_MANAGE)
    target = (target or "").strip() or None
    with ctx.db.connect() as con:
        return audit_store.recent(con, before_id=before_id, limit=max(1, min(limit, 1000)), target=target)
