"""The audit log: who changed what about users, roles and access, and when."""

from __future__ import annotations

from ..domain import AuditEntry

_COLS = "id, happened_at, actor, action, target, detail"


def record(con, actor: str, action: str, target: str, detail: str = "") -> int:
    """One change, written in the same transaction as the change itself."""
    return con.execute("insert into audit_log (actor, action, target, detail) values (?, ?, ?, ?) returning id",
                       [actor, action, target, detail]).fetchone()[0]


def recent(con, *, before_id: int | None = None, limit: int = 200, target: str | None = None,
           actor: str | None = None) -> list[AuditEntry]:
    """Newest first, keyset paged by id; optionally for one target or one actor."""
    where, args = [], []
    if before_id is not None:
        where.append("id < ?")
        args.append(before_id)
    if target is not None:
        where.append("target = ?")
        args.append(target)
    if actor is not None:
        where.append("actor = ?")
        args.append(actor)
    sql = f"select {_COLS} from audit_log" + (" where " + " and ".join(where) if where else "")
    rows = con.execute(sql + " order by id desc limit ?", [*args, limit]).fetchall()
    return [AuditEntry(*row) for row in rows]
