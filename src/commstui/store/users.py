"""Users, their roles and group roles, and login bookkeeping."""

from __future__ import annotations

from datetime import datetime

import duckdb

from ..domain import User
from .db import NotFound

_COLS = "id, username, display_name, roles, group_roles, email, active, customer_id"


def _expand(con: duckdb.DuckDBPyConnection, roles, group_roles) -> frozenset[str]:
    effective = set(roles or ())
    if group_roles:
        rows = con.execute(
            "select roles from group_roles where list_contains(?, name)", [list(group_roles)]
        ).fetchall()
        for (granted,) in rows:
            effective.update(granted)
    return frozenset(effective)


def _user(con, row) -> User:
    uid, username, display, roles, groups, email, active, customer_id = row
    return User(id=uid, username=username, display_name=display, roles=tuple(roles),
                group_roles=tuple(groups), email=email, active=active,
                effective_roles=_expand(con, roles, groups), customer_id=customer_id)


def get_by_username(con: duckdb.DuckDBPyConnection, username: str) -> User:
    row = con.execute(f"select {_COLS} from users where username = ?", [username]).fetchone()
    if row is None:
        raise NotFound(f"No user {username!r}")
    return _user(con, row)


def login_record(con: duckdb.DuckDBPyConnection, username: str):
    """(password_hash, failed_logins, locked_until, active) or None."""
    return con.execute(
        "select password_hash, failed_logins, locked_until, active from users where username = ?",
        [username],
    ).fetchone()


def record_login_failure(con, username: str, max_failures: int, lock_until: datetime) -> int:
    failures = con.execute(
        "update users set failed_logins = failed_logins + 1 where username = ? returning failed_logins",
        [username],
    ).fetchone()[0]
    if failures >= max_failures:
        con.execute("update users set locked_until = ?, failed_logins = 0 where username = ?",
                    [lock_until, username])
    return failures


def record_login_success(con, username: str, new_hash: str | None = None) -> None:
    con.execute("update users set failed_logins = 0, locked_until = null where username = ?", [username])
    if new_hash:
        con.execute("update users set password_hash = ? where username = ?", [new_hash, username])


def insert(con, username: str, display_name: str, password_hash: str, roles=(), group_roles=(),
           email: str | None = None, customer_id: int | None = None) -> int:
    return con.execute(
        "insert into users (username, display_name, password_hash, roles, group_roles, email, customer_id) "
        "values (?, ?, ?, ?, ?, ?, ?) returning id",
        [username, display_name, password_hash, list(roles), list(group_roles), email, customer_id],
    ).fetchone()[0]


def exists(con, username: str) -> bool:
    return con.execute("select count(*) from users where username = ?", [username]).fetchone()[0] > 0


def upsert_group_role(con, name: str, roles, description: str | None = None) -> None:
    con.execute(
        "insert or replace into group_roles (name, roles, description) values (?, ?, ?)",
        [name, list(roles), description],
    )


def count(con) -> int:
    return con.execute("select count(*) from users").fetchone()[0]


def group_roles(con) -> list[tuple[str, tuple[str, ...], str]]:
    """(name, roles, description) of every group role, by name."""
    rows = con.execute("select name, roles, coalesce(description, '') from group_roles order by name").fetchall()
    return [(name, tuple(roles), description) for name, roles, description in rows]


def username_like(con, username: str) -> str | None:
    """The existing username equal to this one ignoring case, if any."""
    row = con.execute("select username from users where lower(username) = lower(?) limit 1", [username]).fetchone()
    return row[0] if row else None
