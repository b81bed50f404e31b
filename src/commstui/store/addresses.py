"""Service addresses of a customer and the additional contacts on each (seed 002).

The "additional communication" toggle lives on the address: off keeps its contacts'
data but they receive nothing; on restores them. ACTIVE_CONTACT is the one
definition of "receives now" (toggle on and an email set) that compose and bulk read.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from ..domain import AddressContact, ServiceAddress
from .db import NotFound

ADDRESS_FIELDS = ("label", "address_line1", "address_line2", "city", "state", "postcode")
_ADDRESS_COLS = ("a.id, a.customer_id, a.label, a.address_line1, a.address_line2, a.city, a.state, "
                 "a.postcode, a.additional_comms")
_CONTACT_COLS = "k.id, k.address_id, k.name, k.email, k.phone"

# An address contact who receives now: the address's toggle is on and they have an email.
# Over aliases k (address_contacts) and a (service_addresses, joined on a.id = k.address_id).
ACTIVE_CONTACT = "a.additional_comms and k.email is not null"


def _contacts(con, address_ids: Sequence[int]) -> dict[int, list[AddressContact]]:
    found: dict[int, list[AddressContact]] = {i: [] for i in address_ids}
    if not address_ids:
        return found
    rows = con.execute(f"select {_CONTACT_COLS} from address_contacts k "
                       "where k.address_id in (select unnest(?::bigint[])) order by k.id",
                       [list(address_ids)]).fetchall()
    for row in rows:
        found[row[1]].append(AddressContact(*row))
    return found


def _with_contacts(con, rows) -> list[ServiceAddress]:
    contacts = _contacts(con, [r[0] for r in rows])
    return [ServiceAddress(*r, contacts=tuple(contacts[r[0]])) for r in rows]


def for_customer(con: duckdb.DuckDBPyConnection, customer_id: int) -> list[ServiceAddress]:
    rows = con.execute(f"select {_ADDRESS_COLS} from service_addresses a where a.customer_id = ? "
                       "order by a.id", [customer_id]).fetchall()
    return _with_contacts(con, rows)


def get(con: duckdb.DuckDBPyConnection, address_id: int) -> ServiceAddress:
    row = con.execute(f"select {_ADDRESS_COLS} from service_addresses a where a.id = ?", [address_id]).fetchone()
    if row is None:
        raise NotFound(f"No service address {address_id}")
    return _with_contacts(con, [row])[0]


def insert(con: duckdb.DuckDBPyConnection, customer_id: int, *, address_line1: str, label: str = "",
           address_line2: str | None = None, city: str | None = None, state: str | None = None,
           postcode: str | None = None, additional_comms: bool = False, updated_by: str = "system") -> int:
    return con.execute(
        "insert into service_addresses (customer_id, label, address_line1, address_line2, city, state, "
        "postcode, additional_comms, updated_by) values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning id",
        [customer_id, label, address_line1, address_line2, city, state, postcode, additional_comms,
         updated_by]).fetchone()[0]


def update(con: duckdb.DuckDBPyConnection, address_id: int, updated_by: str, **fields) -> None:
    unknown = set(fields) - {*ADDRESS_FIELDS, "additional_comms"}
    if unknown:
        raise ValueError(f"unknown address fields: {sorted(unknown)}")
    if not fields:
        return
    sets = ", ".join(f"{name} = ?" for name in fields)
    con.execute(f"update service_addresses set {sets}, updated_by = ?, updated_at = current_timestamp "
                "where id = ?", [*fields.values(), updated_by, address_id])


def add_contact(con: duckdb.DuckDBPyConnection, address_id: int, *, name: str, email: str | None,
                phone: str | None, updated_by: str = "system") -> int:
    return con.execute(
        "insert into address_contacts (address_id, name, email, phone, updated_by) values (?, ?, ?, ?, ?) "
        "returning id", [address_id, name, email, phone, updated_by]).fetchone()[0]


def update_contact(con: duckdb.DuckDBPyConnection, contact_id: int, *, name: str, email: str | None,
                   phone: str | None, updated_by: str) -> None:
    con.execute("update address_contacts set name = ?, email = ?, phone = ?, updated_by = ?, "
                "updated_at = current_timestamp where id = ?", [name, email, phone, updated_by, contact_id])


def remove_contact(con: duckdb.DuckDBPyConnection, contact_id: int) -> None:
    con.execute("delete from address_contacts where id = ?", [contact_id])


def contact_owner(con: duckdb.DuckDBPyConnection, contact_id: int) -> tuple[int, int] | None:
    """(address id, customer id) of an address contact, or None."""
    row = con.execute("select a.id, a.customer_id from address_contacts k "
                      "join service_addresses a on a.id = k.address_id where k.id = ?", [contact_id]).fetchone()
    return (row[0], row[1]) if row else None


def active_recipients(con: duckdb.DuckDBPyConnection, customer_id: int,
                      address_id: int | None = None) -> list[AddressContact]:
    """The address contacts who receive now (toggle on, email set), of one address or all of them."""
    sql = (f"select {_CONTACT_COLS} from address_contacts k join service_addresses a on a.id = k.address_id "
           f"where {ACTIVE_CONTACT} and a.customer_id = ?"
           + (" and a.id = ?" if address_id is not None else "") + " order by a.id, k.id")
    params = [customer_id] + ([address_id] if address_id is not None else [])
    return [AddressContact(*r) for r in con.execute(sql, params).fetchall()]


# Every new customer with an address gets it as their first service address.
_FIRST_ADDRESSES = """
insert into service_addresses (customer_id, label, address_line1, address_line2, city, state, postcode)
select c.id, 'Service address', c.address_line1, c.address_line2, c.city, c.state, c.postcode
from customers c
where c.id > ? and c.address_line1 is not null
  and not exists (select 1 from service_addresses s where s.customer_id = c.id)
"""


def highest_customer_id(con: duckdb.DuckDBPyConnection) -> int:
    """Taken before a set-based insert of customers; add_first_addresses(since) follows it."""
    return con.execute("select coalesce(max(id), 0) from customers").fetchone()[0]


def add_first_addresses(con: duckdb.DuckDBPyConnection, since_customer_id: int) -> None:
    """One statement: a first service address for every customer after since_customer_id that has none."""
    con.execute(_FIRST_ADDRESSES, [since_customer_id])
