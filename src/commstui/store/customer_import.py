"""Customers in and out in bulk: look-ups for checking a CSV, chunked inserts and
updates from column lists (one statement per chunk, like seed_customers), and
pages of the export."""

from __future__ import annotations

import duckdb

from . import addresses
from .customers import SEARCH_TEXT_SQL, filters

# the columns an import writes, in the order the service hands them over
WRITE_COLUMNS = (
    "account_no", "name", "customer_type", "status", "company_id", "building_id",
    "preferred_delivery", "email", "mobile", "sms_opt_in",
    "address_line1", "address_line2", "city", "state", "postcode",
)
_TYPES = {"company_id": "integer[]", "building_id": "integer[]", "sms_opt_in": "boolean[]"}


def lookups(con: duckdb.DuckDBPyConnection) -> dict:
    """Codes and known values a row is checked against."""
    return {
        "buildings": dict(con.execute("select upper(code), id from buildings").fetchall()),
        "companies": dict(con.execute("select upper(code), id from companies").fetchall()),
        "customer_types": {r[0] for r in con.execute("select distinct lower(customer_type) from customers")
                           .fetchall()},
        "statuses": {r[0] for r in con.execute("select distinct lower(status) from customers").fetchall()},
    }


def existing_accounts(con: duckdb.DuckDBPyConnection, accounts: list[str]) -> set[str]:
    if not accounts:
        return set()
    rows = con.execute("select c.account_no from customers c join (select unnest(?::varchar[]) as a) x "
                       "on c.account_no = x.a", [accounts]).fetchall()
    return {r[0] for r in rows}


def _unnest(columns) -> str:
    return ", ".join(f"unnest(?::{_TYPES.get(c, 'varchar[]')}) as {c}" for c in columns)


def insert_many(con: duckdb.DuckDBPyConnection, values: dict[str, list]) -> int:
    """Insert one chunk given as {column: [values...]} (every WRITE_COLUMNS key)."""
    n = len(values["account_no"])
    if not n:
        return 0
    cols = ", ".join(WRITE_COLUMNS)
    since = addresses.highest_customer_id(con)
    con.execute(f"insert into customers ({cols}, search_text) select {cols}, {SEARCH_TEXT_SQL} "
                f"from (select {_unnest(WRITE_COLUMNS)})", [values[c] for c in WRITE_COLUMNS])
    addresses.add_first_addresses(con, since)  # each new customer's address is their first service address
    return n


def update_many(con: duckdb.DuckDBPyConnection, values: dict[str, list], columns: list[str]) -> int:
    """Overwrite `columns` of the accounts in values["account_no"]; other columns stay."""
    accounts = values["account_no"]
    if not accounts:
        return 0
    changed = [c for c in columns if c != "account_no"]
    if changed:
        sets = ", ".join(f"{c} = u.{c}" for c in changed)
        con.execute(f"update customers set {sets} from (select {_unnest(['account_no', *changed])}) u "
                    "where customers.account_no = u.account_no",
                    [accounts, *(values[c] for c in changed)])
    con.execute(f"update customers set search_text = {SEARCH_TEXT_SQL} "
                "where account_no in (select unnest(?::varchar[]))", [accounts])
    return len(accounts)


_EXPORT_SQL = """
select c.account_no, c.name, c.customer_type, c.status, co.code, b.code, c.preferred_delivery,
       c.email, c.mobile, c.sms_opt_in, c.address_line1, c.address_line2, c.city, c.state, c.postcode
from customers c
left join buildings b on b.id = c.building_id
left join companies co on co.id = c.company_id
"""


def export_page(con: duckdb.DuckDBPyConnection, text: str = "", *, building_id: int | None = None,
                customer_type: str | None = None, status: str | None = None,
                after_account: str | None = None, limit: int = 20_000) -> list[tuple]:
    """One page of the export in account order (keyset), with codes instead of ids."""
    where, params = filters(text, building_id, customer_type, status)
    if after_account is not None:
        where.append("c.account_no > ?")
        params.append(after_account)
    sql = _EXPORT_SQL + (("where " + " and ".join(where)) if where else "") + " order by c.account_no limit ?"
    return con.execute(sql, [*params, limit]).fetchall()
