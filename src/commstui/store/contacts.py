"""Contacts of a customer: people who may receive notices about the account.
Contacts have no account number of their own."""

from __future__ import annotations

from ..domain import Contact

_COLS = "id, customer_id, name, email, phone, mobile, receives_notices, sms_opt_in, active"


def insert(con, *, customer_id: int, name: str, email: str | None = None, phone: str | None = None,
           mobile: str | None = None, receives_notices: bool = False, sms_opt_in: bool = False) -> int:
    return con.execute(
        "insert into contacts (customer_id, name, email, phone, mobile, receives_notices, sms_opt_in) "
        "values (?, ?, ?, ?, ?, ?, ?) returning id",
        [customer_id, name, email, phone, mobile, receives_notices, sms_opt_in]).fetchone()[0]


def for_customer(con, customer_id: int) -> list[Contact]:
    rows = con.execute(f"select {_COLS} from contacts where customer_id = ? order by id", [customer_id]).fetchall()
    return [Contact(*r) for r in rows]
