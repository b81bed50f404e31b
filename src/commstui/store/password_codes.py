"""One-time codes that let a user set their own password (services/activation.py).

Only a hash of each code is kept here. A user has at most one live code: asking for a
new one voids the old, and so do too many wrong tries. Times are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LiveCode:
    id: int
    username: str
    code_hash: str
    expires_at: datetime
    failed_attempts: int
    email_id: int | None


_LIVE = "used_at is null and voided_at is null and expires_at > ?"


def insert(con, username: str, code_hash: str, created_at: datetime, expires_at: datetime,
           email_id: int | None) -> int:
    return con.execute(
        "insert into password_codes (username, code_hash, created_at, expires_at, email_id) "
        "values (?, ?, ?, ?, ?) returning id",
        [username, code_hash, created_at, expires_at, email_id]).fetchone()[0]


def live(con, username: str, now: datetime) -> LiveCode | None:
    """The user's newest code that is neither used, voided nor expired."""
    row = con.execute(
        f"select id, username, code_hash, expires_at, failed_attempts, email_id from password_codes "
        f"where username = ? and {_LIVE} order by created_at desc, id desc limit 1", [username, now]).fetchone()
    return LiveCode(*row) if row else None


def count_since(con, username: str, since: datetime) -> int:
    """How many codes were made for this user since then (used, voided or not): the rate limit."""
    return con.execute("select count(*) from password_codes where username = ? and created_at >= ?",
                       [username, since]).fetchone()[0]


def void_unused(con, username: str, now: datetime) -> list[int]:
    """Void every unused, unexpired code of the user; the emails that carried them."""
    rows = con.execute(
        f"update password_codes set voided_at = ? where username = ? and {_LIVE} returning email_id",
        [now, username, now]).fetchall()
    return [email_id for (email_id,) in rows if email_id is not None]


def record_failure(con, code_id: int) -> int:
    """One more wrong try at this code; the count so far."""
    return con.execute("update password_codes set failed_attempts = failed_attempts + 1 where id = ? "
                       "returning failed_attempts", [code_id]).fetchone()[0]


def void(con, code_id: int, now: datetime) -> None:
    con.execute("update password_codes set voided_at = ? where id = ? and voided_at is null", [now, code_id])


def mark_used(con, code_id: int, now: datetime) -> bool:
    """Mark a live code used; False if it was used, voided or expired meanwhile."""
    row = con.execute(f"update password_codes set used_at = ? where id = ? and {_LIVE} returning id",
                      [now, code_id, now]).fetchone()
    return row is not None


def blank_code_in_email(con, email_id: int, pattern: str, replacement: str) -> None:
    """Replace the code in the body of the email that carried it (a messages row), once the
    code is used or void: whoever reads the sent email later sees no code that works."""
    con.execute("update messages set body = regexp_replace(body, ?, ?) where id = ?",
                [pattern, replacement, email_id])
