"""Mail server settings. The password is a reference (env:/secret:), never the secret."""

from __future__ import annotations

from ..domain import MailServer

_COLS = ("id, name, host, port, security, username, password_ref, from_addr, active, verify_tls, "
         "concurrency, rate_per_minute")


def active(con) -> MailServer | None:
    row = con.execute(f"select {_COLS} from mail_servers where active order by id limit 1").fetchone()
    return MailServer(*row) if row else None


def get(con, name: str) -> MailServer | None:
    row = con.execute(f"select {_COLS} from mail_servers where name = ?", [name]).fetchone()
    return MailServer(*row) if row else None


def save(con, *, name: str, host: str, port: int, security: str, username: str | None,
         password_ref: str | None, from_addr: str, active: bool, verify_tls: bool = True,
         concurrency: int = 4, rate_per_minute: int = 0) -> int:
    """Insert or update by name; an active server makes every other one inactive."""
    if active:
        con.execute("update mail_servers set active = false where name <> ?", [name])
    existing = con.execute("select id from mail_servers where name = ?", [name]).fetchone()
    values = [host, port, security, username, password_ref, from_addr, active, verify_tls, concurrency,
              rate_per_minute]
    if existing:
        con.execute(
            "update mail_servers set host = ?, port = ?, security = ?, username = ?, password_ref = ?, "
            "from_addr = ?, active = ?, verify_tls = ?, concurrency = ?, rate_per_minute = ?, "
            "updated_at = current_timestamp where id = ?",
            [*values, existing[0]],
        )
        return existing[0]
    return con.execute(
        "insert into mail_servers (host, port, security, username, password_ref, from_addr, active, "
        "verify_tls, concurrency, rate_per_minute, name) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning id",
        [*values, name],
    ).fetchone()[0]
