"""Customers: the grid's search and paging, one customer's details, inserts."""

from __future__ import annotations

import re

import duckdb

from ..domain import Building, Customer, CustomerRow, Page
from . import addresses
from .db import NotFound

# Kept in SQL so inserts, imports and seeding all fill it the same way.
SEARCH_TEXT_SQL = (
    "lower(concat_ws(' ', account_no, name, email, mobile, "
    "regexp_replace(coalesce(mobile, ''), '[^0-9]', '', 'g')))"
)

_PHONEISH = re.compile(r"^[\d\s()+.-]+$")

CUSTOMER_COLUMNS = (
    "account_no", "name", "customer_type", "status", "company_id", "building_id",
    "preferred_delivery", "email", "mobile", "sms_opt_in",
    "address_line1", "address_line2", "city", "state", "postcode",
)


def normalise_query(text: str) -> str:
    """What the search box means: lower-case, and a phone number without its spaces."""
    text = text.strip().lower()
    if _PHONEISH.match(text) and sum(ch.isdigit() for ch in text) >= 3:
        digits = re.sub(r"\D", "", text)
        # "0499 888 777" is how a caller reads out +61 499 888 777: without the trunk 0
        # both forms match (dropping a leading character only ever widens a substring match)
        return digits[1:] if digits.startswith("0") and len(digits) >= 4 else digits
    return text


def filters(text: str, building_id: int | None, customer_type: str | None,
             status: str | None) -> tuple[list[str], list]:
    where, params = [], []
    query = normalise_query(text or "")
    if query:
        where.append("contains(c.search_text, ?)")
        params.append(query)
    if building_id is not None:
        where.append("c.building_id = ?")
        params.append(building_id)
    if customer_type:
        where.append("c.customer_type = ?")
        params.append(customer_type)
    if status:
        where.append("c.status = ?")
        params.append(status)
    return where, params


def search(con: duckdb.DuckDBPyConnection, text: str = "", *, building_id: int | None = None,
           customer_type: str | None = None, status: str | None = None,
           after_account: str | None = None, limit: int = 100) -> Page:
    """One page of the grid, ordered by account number, starting after after_account."""
    where, params = filters(text, building_id, customer_type, status)
    if after_account is not None:
        where.append("c.account_no > ?")
        params.append(after_account)
    sql = (
        "select c.id, c.account_no, c.name, c.email, c.mobile, b.name, c.customer_type, c.status "
        "from customers c left join buildings b on b.id = c.building_id "
        + (("where " + " and ".join(where)) if where else "")
        + " order by c.account_no limit ?"
    )
    rows = con.execute(sql, [*params, limit + 1]).fetchall()
    return Page(rows=[CustomerRow(*r) for r in rows[:limit]], has_more=len(rows) > limit)


def count(con: duckdb.DuckDBPyConnection, text: str = "", *, building_id: int | None = None,
          customer_type: str | None = None, status: str | None = None) -> int:
    where, params = filters(text, building_id, customer_type, status)
    sql = "select count(*) from customers c " + (("where " + " and ".join(where)) if where else "")
    return con.execute(sql, params).fetchone()[0]


_DETAIL_SQL = """
select c.id, c.account_no, c.name, c.customer_type, c.status, c.preferred_delivery,
       c.email, c.mobile, c.sms_opt_in,
       c.address_line1, c.address_line2, c.city, c.state, c.postcode,
       c.building_id, b.name, br.name, co.name, c.created_at
from customers c
left join buildings b on b.id = c.building_id
left join brands br on br.id = b.brand_id
left join companies co on co.id = c.company_id
"""


def _customer(row) -> Customer:
    (cid, acc, name, ctype, status, pref, email, mobile, opt_in,
     l1, l2, city, state, postcode, building_id, building, brand, company, created) = row
    city_line = " ".join(p for p in (city, state, postcode) if p)
    return Customer(
        id=cid, account_no=acc, name=name, customer_type=ctype, status=status,
        preferred_delivery=pref, email=email, mobile=mobile, sms_opt_in=opt_in,
        address_lines=tuple(p for p in (l1, l2, city_line) if p),
        building_id=building_id, building=building, brand=brand, company=company,
        created_at=created,
    )


def get(con: duckdb.DuckDBPyConnection, customer_id: int) -> Customer:
    row = con.execute(_DETAIL_SQL + " where c.id = ?", [customer_id]).fetchone()
    if row is None:
        raise NotFound(f"No customer with id {customer_id}")
    return _customer(row)


def get_by_account(con: duckdb.DuckDBPyConnection, account_no: str) -> Customer:
    row = con.execute(_DETAIL_SQL + " where c.account_no = ?", [account_no.strip()]).fetchone()
    if row is None:
        raise NotFound(f"No customer with account number {account_no.strip()!r}")
    return _customer(row)


def insert(con: duckdb.DuckDBPyConnection, **fields) -> int:
    unknown = set(fields) - set(CUSTOMER_COLUMNS)
    if unknown:
        raise ValueError(f"unknown customer fields: {sorted(unknown)}")
    cols = list(fields)
    placeholders = ", ".join("?" for _ in cols)
    row = con.execute(
        f"insert into customers ({', '.join(cols)}) values ({placeholders}) returning id",
        [fields[c] for c in cols],
    ).fetchone()
    con.execute(f"update customers set search_text = {SEARCH_TEXT_SQL} where id = ?", [row[0]])
    if fields.get("address_line1"):  # their own address is their first service address
        addresses.insert(con, row[0], label="Service address", address_line1=fields["address_line1"],
                         **{k: fields.get(k) for k in ("address_line2", "city", "state", "postcode")})
    return row[0]


def refresh_search_text(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute search_text for every row (after a bulk load)."""
    con.execute(f"update customers set search_text = {SEARCH_TEXT_SQL}")


def buildings(con: duckdb.DuckDBPyConnection) -> list[Building]:
    rows = con.execute(
        "select b.id, b.code, b.name, br.name from buildings b join brands br on br.id = b.brand_id "
        "order by br.name, b.name"
    ).fetchall()
    return [Building(*r) for r in rows]


def distinct_values(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    if column not in ("customer_type", "status"):
        raise ValueError(column)
    return [r[0] for r in con.execute(f"select distinct {column} from customers order by 1").fetchall()]


def account_with_email(con, email: str) -> str | None:
    """The first account whose email is this one ignoring case, if any."""
    row = con.execute("select account_no from customers where lower(email) = lower(?) order by account_no limit 1",
                      [email]).fetchone()
    return row[0] if row else None


def highest_account_number(con, prefix: str, digits: int) -> int | None:
    """The largest N among account numbers of the form prefix + N (exactly `digits` digits)."""
    return con.execute(
        "select max(cast(substr(account_no, ?) as bigint)) from customers where regexp_matches(account_no, ?)",
        [len(prefix) + 1, f"^{re.escape(prefix)}[0-9]{{{digits}}}$"]).fetchone()[0]
