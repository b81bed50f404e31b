"""Companies (the CRM accounts customers belong to): search, one company, its customers,
renaming, and which companies are assigned to which user.

Scoping lives in the SQL itself: a query given ``assigned_to`` (a user id) only ever
sees the companies in that user's ``company_ids``, so a company outside them behaves
exactly like one that does not exist — in lists, counts and lookups by id or code.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ..domain import Page
from .db import NotFound


@dataclass(frozen=True)
class CompanyRow:
    """One line of the Companies list."""

    id: int
    code: str
    name: str
    customers: int


@dataclass(frozen=True)
class Company:
    id: int
    code: str
    name: str
    customers: int


@dataclass(frozen=True)
class CompanyCustomer:
    """One customer of a company, as the company's details list it."""

    id: int
    account_no: str
    name: str
    email: str | None
    status: str


# the user's assigned companies, read at query time (a change of assignment applies at once)
_ASSIGNED = "co.id in (select unnest(company_ids) from users where id = ?)"
_COUNTED = ("select co.id, co.code, co.name, "
            "(select count(*) from customers c where c.company_id = co.id) from companies co ")


def normalise_query(text: str) -> str:
    return " ".join((text or "").split()).lower()


def filters(text: str, assigned_to: int | None) -> tuple[list[str], list]:
    where, params = [], []
    query = normalise_query(text)
    if query:
        # code or name, case-insensitive, anywhere in either
        where.append("(contains(lower(co.code), ?) or contains(lower(co.name), ?))")
        params += [query, query]
    if assigned_to is not None:
        where.append(_ASSIGNED)
        params.append(assigned_to)
    return where, params


def _where(where: list[str]) -> str:
    return ("where " + " and ".join(where) + " ") if where else ""


def search(con: duckdb.DuckDBPyConnection, text: str = "", *, assigned_to: int | None = None,
           after_code: str | None = None, limit: int = 100) -> Page:
    """One page of companies ordered by code, starting after after_code (keyset)."""
    where, params = filters(text, assigned_to)
    if after_code is not None:
        where.append("co.code > ?")
        params.append(after_code)
    rows = con.execute(_COUNTED + _where(where) + "order by co.code limit ?", [*params, limit + 1]).fetchall()
    return Page(rows=[CompanyRow(*r) for r in rows[:limit]], has_more=len(rows) > limit)


def count(con: duckdb.DuckDBPyConnection, text: str = "", *, assigned_to: int | None = None) -> int:
    where, params = filters(text, assigned_to)
    return con.execute("select count(*) from companies co " + _where(where), params).fetchone()[0]


def get(con: duckdb.DuckDBPyConnection, company_id: int, *, assigned_to: int | None = None) -> Company:
    where, params = filters("", assigned_to)
    row = con.execute(_COUNTED + _where(["co.id = ?", *where]), [company_id, *params]).fetchone()
    if row is None:
        # the same words whether it does not exist or is not the user's: ids cannot be probed
        raise NotFound(f"No company with id {company_id}.")
    return Company(*row)


def get_by_code(con: duckdb.DuckDBPyConnection, code: str, *, assigned_to: int | None = None) -> Company:
    code = (code or "").strip()
    where, params = filters("", assigned_to)
    row = con.execute(_COUNTED + _where(["upper(co.code) = upper(?)", *where]), [code, *params]).fetchone()
    if row is None:
        raise NotFound(f"No company with code {code!r}.")
    return Company(*row)


def customers_of(con: duckdb.DuckDBPyConnection, company_id: int, *, after_account: str | None = None,
                 limit: int = 100) -> Page:
    """One page of the company's customers by account number (keyset)."""
    where, params = ["company_id = ?"], [company_id]
    if after_account is not None:
        where.append("account_no > ?")
        params.append(after_account)
    rows = con.execute(
        "select id, account_no, name, email, status from customers " + _where(where)
        + "order by account_no limit ?", [*params, limit + 1]).fetchall()
    return Page(rows=[CompanyCustomer(*r) for r in rows[:limit]], has_more=len(rows) > limit)


def rename(con: duckdb.DuckDBPyConnection, company_id: int, name: str) -> None:
    con.execute("update companies set name = ? where id = ?", [name, company_id])


def is_assigned(con: duckdb.DuckDBPyConnection, company_id: int, user_id: int) -> bool:
    return con.execute("select count(*) from users where id = ? and list_contains(company_ids, ?)",
                       [user_id, company_id]).fetchone()[0] > 0


def assigned_codes(con: duckdb.DuckDBPyConnection, username: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select co.code from companies co, users u where u.username = ? and list_contains(u.company_ids, co.id) "
        "order by co.code", [username]).fetchall()]


def assign(con: duckdb.DuckDBPyConnection, username: str, company_code: str) -> None:
    """Give a user one more company (idempotent). Unknown user or code: NotFound."""
    company = get_by_code(con, company_code)
    found = con.execute(
        "update users set company_ids = list_distinct(list_append(company_ids, ?)) where username = ? "
        "returning id", [company.id, username]).fetchone()
    if found is None:
        raise NotFound(f"No user {username!r}")


def unassign(con: duckdb.DuckDBPyConnection, username: str, company_code: str) -> None:
    company = get_by_code(con, company_code)
    row = con.execute("select company_ids from users where username = ?", [username]).fetchone()
    if row is None:
        raise NotFound(f"No user {username!r}")
    con.execute("update users set company_ids = ? where username = ?",
                [[i for i in row[0] if i != company.id], username])
