"""Recurring series: the rule and the content; each occurrence is its own message row."""

from __future__ import annotations

from datetime import datetime

from ..domain import Series

_COLS = "id, customer_id, cron, timezone, active, next_at, skipped"


def insert(con, *, customer_id: int | None, to_addrs, cc_addrs, bcc_addrs, subject: str, body: str,
           is_html: bool, cron: str, timezone: str, next_at: datetime | None, created_by: str) -> int:
    return con.execute(
        "insert into series (customer_id, to_addrs, cc_addrs, bcc_addrs, subject, body, is_html, cron, "
        "timezone, next_at, created_by) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning id",
        [customer_id, list(to_addrs), list(cc_addrs), list(bcc_addrs), subject, body, is_html, cron,
         timezone, next_at, created_by]).fetchone()[0]


def get(con, id: int) -> Series | None:
    row = con.execute(f"select {_COLS} from series where id = ?", [id]).fetchone()
    return Series(*row) if row else None


def content(con, id: int) -> tuple:
    """(customer_id, to, cc, bcc, subject, body, is_html, created_by) for the next occurrence."""
    return con.execute("select customer_id, to_addrs, cc_addrs, bcc_addrs, subject, body, is_html, created_by "
                       "from series where id = ?", [id]).fetchone()


def update_content(con, id: int, *, to_addrs, cc_addrs, bcc_addrs, subject: str, body: str,
                   is_html: bool) -> None:
    con.execute("update series set to_addrs = ?, cc_addrs = ?, bcc_addrs = ?, subject = ?, body = ?, "
                "is_html = ? where id = ?",
                [list(to_addrs), list(cc_addrs), list(bcc_addrs), subject, body, is_html, id])


def set_rule(con, id: int, cron: str, timezone: str, next_at: datetime | None) -> None:
    con.execute("update series set cron = ?, timezone = ?, next_at = ? where id = ?",
                [cron, timezone, next_at, id])


def advance(con, id: int, next_at: datetime | None, skipped: int = 0) -> None:
    con.execute("update series set next_at = ?, skipped = skipped + ? where id = ?", [next_at, skipped, id])


def stop(con, id: int, by: str, at: datetime) -> None:
    con.execute("update series set active = false, cancelled_by = ?, cancelled_at = ? where id = ?",
                [by, at, id])


def needing_occurrence(con) -> list[Series]:
    """Active series with no occurrence waiting to go: their next one must be queued."""
    rows = con.execute(
        f"""select {_COLS} from series s where active and next_at is not null and not exists (
                select 1 from messages m where m.series_id = s.id and m.status = 'queued' and m.attempts = 0)"""
    ).fetchall()
    return [Series(*r) for r in rows]
