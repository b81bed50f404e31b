"""Contacts of a customer (people who may receive notices about the account) and the
location owner link (customers.owner_id: the owner is another customer).

Contacts have no account number of their own. Removing a contact only marks it
inactive: messages already sent to it keep pointing at it, and bulk sends and the
lists here skip it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import Contact
from .db import NotFound

_COLS = "id, customer_id, name, email, phone, mobile, receives_notices, sms_opt_in, active, other_emails"
_FIELDS = ("name", "email", "other_emails", "phone", "mobile", "receives_notices", "sms_opt_in")


@dataclass(frozen=True)
class LocationOwner:
    """The customer who owns a customer's location, as the contacts tab shows them."""

    id: int
    account_no: str
    name: str


def _contact(row) -> Contact:
    *head, other = row
    return Contact(*head, other_emails=tuple(other or ()))


def insert(con, *, customer_id: int, name: str, email: str | None = None, phone: str | None = None,
           mobile: str | None = None, receives_notices: bool = False, sms_opt_in: bool = False,
           other_emails: tuple[str, ...] | list[str] = ()) -> int:
    return con.execute(
        "insert into contacts (customer_id, name, email, other_emails, phone, mobile, receives_notices, sms_opt_in) "
        "values (?, ?, ?, ?::varchar[], ?, ?, ?, ?) returning id",
        [customer_id, name, email, list(other_emails), phone, mobile, receives_notices, sms_opt_in]).fetchone()[0]


def update(con, contact_id: int, **fields) -> None:
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown contact fields: {sorted(unknown)}")
    if "other_emails" in fields:
        fields["other_emails"] = list(fields["other_emails"])
    sets = ", ".join(f"{name} = ?" for name in fields)
    con.execute(f"update contacts set {sets} where id = ? and active", [*fields.values(), contact_id])


def deactivate(con, contact_id: int) -> None:
    con.execute("update contacts set active = false where id = ?", [contact_id])


def get(con, contact_id: int) -> Contact:
    """An active contact; a removed one is not found."""
    row = con.execute(f"select {_COLS} from contacts where id = ? and active", [contact_id]).fetchone()
    if row is None:
        raise NotFound(f"No contact with id {contact_id} (it may have been removed meanwhile).")
    return _contact(row)


def for_customer(con, customer_id: int) -> list[Contact]:
    """The customer's active contacts, oldest first."""
    rows = con.execute(f"select {_COLS} from contacts where customer_id = ? and active order by id",
                       [customer_id]).fetchall()
    return [_contact(r) for r in rows]


# -- the location owner --------------------------------------------------------------------
def owner_of(con, customer_id: int) -> LocationOwner | None:
    row = con.execute("select o.id, o.account_no, o.name from customers c join customers o on o.id = c.owner_id "
                      "where c.id = ?", [customer_id]).fetchone()
    return LocationOwner(*row) if row else None


def set_owner(con, customer_id: int, owner_id: int | None) -> None:
    con.execute("update customers set owner_id = ? where id = ?", [owner_id, customer_id])
