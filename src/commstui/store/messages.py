"""Messages: a durable row first, then a send. Claims use a lease so several
dispatchers can share one file and a crashed one's work is taken over."""

from __future__ import annotations

from datetime import datetime

from ..domain import Message, MessageStatus
from .db import NotFound

_COLS = (
    "m.id, m.message_id, m.customer_id, m.channel, m.to_addrs, m.cc_addrs, m.bcc_addrs, m.subject, "
    "m.body, m.is_html, m.status, m.due_at, m.attempts, m.created_by, m.created_at, m.last_error, "
    "m.server_reply, m.sent_at, c.account_no"
)
_FROM = " from messages m left join customers c on c.id = m.customer_id "


def _message(row) -> Message:
    row = list(row)
    for i in (4, 5, 6):
        row[i] = tuple(row[i] or ())
    return Message(*row)


def insert(con, *, message_id: str, customer_id: int | None, to_addrs, cc_addrs=(), bcc_addrs=(),
           subject: str = "", body: str = "", is_html: bool = False, created_by: str,
           due_at: datetime | None = None, channel: str = "email") -> int:
    return con.execute(
        "insert into messages (message_id, customer_id, channel, to_addrs, cc_addrs, bcc_addrs, subject, "
        "body, is_html, created_by, due_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "coalesce(?, current_timestamp)) returning id",
        [message_id, customer_id, channel, list(to_addrs), list(cc_addrs), list(bcc_addrs), subject,
         body, is_html, created_by, due_at],
    ).fetchone()[0]


def get(con, id: int) -> Message:
    row = con.execute(f"select {_COLS} {_FROM} where m.id = ?", [id]).fetchone()
    if row is None:
        raise NotFound(f"No message {id}")
    return _message(row)


def for_customer(con, customer_id: int, limit: int = 200) -> list[Message]:
    rows = con.execute(
        f"select {_COLS} {_FROM} where m.customer_id = ? order by m.created_at desc, m.id desc limit ?",
        [customer_id, limit],
    ).fetchall()
    return [_message(r) for r in rows]


def recent(con, limit: int = 200, account_no: str | None = None) -> list[Message]:
    where, params = "", []
    if account_no:
        where, params = "where c.account_no = ?", [account_no]
    rows = con.execute(
        f"select {_COLS} {_FROM} {where} order by m.created_at desc, m.id desc limit ?", [*params, limit]
    ).fetchall()
    return [_message(r) for r in rows]


def claim(con, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[Message]:
    """Take up to `limit` due emails (or ones whose sender's lease ran out) in one statement."""
    ids = con.execute(
        """
        update messages set status = 'sending', lease_owner = ?, lease_expires_at = ?,
               attempts = attempts + 1
        where id in (
            select id from messages
            where channel = 'email'
              and ((status = 'queued' and due_at <= ?)
                   or (status = 'sending' and lease_expires_at < ?))
            order by due_at, id limit ?)
        returning id
        """,
        [owner, lease_until, now, now, limit],
    ).fetchall()
    if not ids:
        return []
    rows = con.execute(
        f"select {_COLS} {_FROM} where list_contains(?, m.id) order by m.due_at, m.id",
        [[i for (i,) in ids]],
    ).fetchall()
    return [_message(r) for r in rows]


def mark_sent(con, id: int, owner: str, reply: str, sent_at: datetime) -> bool:
    """Record acceptance; False if our lease was lost to another dispatcher meanwhile."""
    row = con.execute(
        "update messages set status = 'sent', server_reply = ?, sent_at = ?, last_error = null, "
        "lease_owner = null, lease_expires_at = null where id = ? and lease_owner = ? returning id",
        [reply, sent_at, id, owner],
    ).fetchone()
    return row is not None


def mark_retry(con, id: int, owner: str, error: str, retry_at: datetime) -> bool:
    row = con.execute(
        "update messages set status = 'queued', last_error = ?, due_at = ?, lease_owner = null, "
        "lease_expires_at = null where id = ? and lease_owner = ? returning id",
        [error, retry_at, id, owner],
    ).fetchone()
    return row is not None


def mark_failed(con, id: int, owner: str, error: str, reply: str | None = None) -> bool:
    row = con.execute(
        "update messages set status = 'failed', last_error = ?, server_reply = coalesce(?, server_reply), "
        "lease_owner = null, lease_expires_at = null where id = ? and lease_owner = ? returning id",
        [error, reply, id, owner],
    ).fetchone()
    return row is not None


def release(con, owner: str) -> int:
    """Give back everything this owner holds (graceful shutdown)."""
    rows = con.execute(
        "update messages set status = 'queued', lease_owner = null, lease_expires_at = null, "
        "attempts = greatest(attempts - 1, 0) where status = 'sending' and lease_owner = ? returning id",
        [owner],
    ).fetchall()
    return len(rows)


def add_attempt(con, id: int, attempt: int, dispatcher: str, finished_at: datetime, outcome: str,
                reply: str | None, refused: dict[str, str]) -> None:
    con.execute(
        "insert into message_attempts (message_id, attempt, dispatcher, finished_at, outcome, reply, refused) "
        "values (?, ?, ?, ?, ?, ?, ?)",
        [id, attempt, dispatcher, finished_at, outcome, reply, [f"{k}: {v}" for k, v in refused.items()]],
    )


def attempts(con, id: int) -> list[tuple]:
    """(attempt, dispatcher, finished_at, outcome, reply, refused) oldest first."""
    return con.execute(
        "select attempt, dispatcher, finished_at, outcome, reply, refused from message_attempts "
        "where message_id = ? order by finished_at, id", [id]).fetchall()


def next_due(con) -> datetime | None:
    return con.execute(
        "select min(due_at) from messages where channel = 'email' and status = 'queued'"
    ).fetchone()[0]


def counts_by_status(con) -> dict[str, int]:
    return dict(con.execute("select status, count(*) from messages group by status").fetchall())


FINAL = tuple(s.value for s in MessageStatus if s.is_final)
