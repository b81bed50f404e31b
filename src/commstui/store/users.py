"""Users, their roles and group roles, and login bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from ..domain import Role, User
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


# -- the Users screen: accounts with their access and login state ----------------------
@dataclass(frozen=True)
class UserAccount:
    """One user as administrators manage them: access, portal link and login state."""

    id: int
    username: str
    display_name: str
    email: str | None
    roles: tuple[str, ...]
    group_roles: tuple[str, ...]
    effective_roles: frozenset[str]
    companies: tuple[str, ...]          # company codes assigned (what the crm roles see)
    customer_id: int | None
    portal_account: str | None          # the account number of customer_id
    active: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime | None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    @property
    def is_admin(self) -> bool:
        return bool(_ADMIN_ROLES & self.effective_roles)


_ADMIN_ROLES = frozenset({Role.ADMINISTRATOR.value, Role.SUPERUSER.value})
_ACCOUNT_SQL = (
    "select u.id, u.username, u.display_name, u.email, u.roles, u.group_roles, "
    "list_sort(coalesce((select list(co.code) from companies co where list_contains(u.company_ids, co.id)), [])), "
    "u.customer_id, (select c.account_no from customers c where c.id = u.customer_id), "
    "u.active, u.failed_logins, u.locked_until, u.created_at from users u ")


def _account(con, row) -> UserAccount:
    (uid, username, display, email, roles, groups, codes, customer_id, account_no, active, failures,
     locked_until, created_at) = row
    return UserAccount(uid, username, display, email, tuple(roles), tuple(groups), _expand(con, roles, groups),
                       tuple(codes), customer_id, account_no, active, failures, locked_until, created_at)


def accounts(con, text: str = "") -> list[UserAccount]:
    """Every user by username, or those whose username or name contains the text (any case).
    There are few users, so no paging."""
    query = " ".join((text or "").split()).lower()
    if query:
        rows = con.execute(_ACCOUNT_SQL + "where contains(lower(u.username), ?) or contains(lower(u.display_name), ?) "
                           "order by u.username", [query, query]).fetchall()
    else:
        rows = con.execute(_ACCOUNT_SQL + "order by u.username").fetchall()
    return [_account(con, r) for r in rows]


def account(con, username: str) -> UserAccount:
    row = con.execute(_ACCOUNT_SQL + "where u.username = ?", [username]).fetchone()
    if row is None:
        raise NotFound(f"No user {username!r}.")
    return _account(con, row)


def set_profile(con, username: str, display_name: str, email: str | None) -> None:
    con.execute("update users set display_name = ?, email = ? where username = ?", [display_name, email, username])


def set_roles(con, username: str, roles) -> None:
    con.execute("update users set roles = ? where username = ?", [list(roles), username])


def set_group_roles(con, username: str, group_roles) -> None:
    con.execute("update users set group_roles = ? where username = ?", [list(group_roles), username])


def set_company_ids(con, username: str, company_ids) -> None:
    con.execute("update users set company_ids = ? where username = ?", [list(company_ids), username])


def set_customer(con, username: str, customer_id: int | None) -> None:
    con.execute("update users set customer_id = ? where username = ?", [customer_id, username])


def set_password_hash(con, username: str, password_hash: str) -> None:
    con.execute("update users set password_hash = ? where username = ?", [password_hash, username])


def unlock(con, username: str) -> None:
    con.execute("update users set failed_logins = 0, locked_until = null where username = ?", [username])


def set_active(con, username: str, active: bool) -> None:
    con.execute("update users set active = ? where username = ?", [active, username])


def active_admins(con) -> list[str]:
    """Usernames of active users who are administrators or superusers (directly or by a group role)."""
    rows = con.execute("select username, roles, group_roles from users where active order by username").fetchall()
    return [name for name, roles, groups in rows
            if _ADMIN_ROLES & _expand(con, roles, groups)]


def group_role_names(con) -> list[str]:
    return [r[0] for r in con.execute("select name from group_roles order by name").fetchall()]
