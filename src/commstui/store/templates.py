"""Templates (jinja2 sources for each channel's part) and the one query that gathers a
customer's merge values for a preview."""

from __future__ import annotations

import json
from importlib import resources

from ..domain import Template
from .db import NotFound

_COLS = ("id, name, description, subject, text_body, html_body, letter_body, sms_body, updated_by, "
         "updated_at")
TEXT_COLUMNS = ("description", "subject", "text_body", "html_body", "letter_body", "sms_body")


def _template(row) -> Template:
    return Template(*row)


def list_all(con) -> list[Template]:
    rows = con.execute(f"select {_COLS} from templates order by lower(name), id").fetchall()
    return [_template(r) for r in rows]


def get(con, template_id: int) -> Template:
    row = con.execute(f"select {_COLS} from templates where id = ?", [template_id]).fetchone()
    if row is None:
        raise NotFound(f"No template with id {template_id}; it may have been deleted.")
    return _template(row)


def find_by_name(con, name: str) -> Template | None:
    row = con.execute(f"select {_COLS} from templates where lower(name) = lower(?)", [name.strip()]).fetchone()
    return _template(row) if row else None


def get_by_name(con, name: str) -> Template:
    found = find_by_name(con, name)
    if found is None:
        raise NotFound(f"No template named {name.strip()!r}.")
    return found


def insert(con, name: str, by: str, **parts: str) -> int:
    """A new template; the name must be free (names are unique, any letter case)."""
    _only_parts(parts)
    cols = ["name", "updated_by", *parts]
    return con.execute(
        f"insert into templates ({', '.join(cols)}) values ({', '.join('?' for _ in cols)}) returning id",
        [name, by, *parts.values()]).fetchone()[0]


def update(con, template_id: int, name: str, by: str, **parts: str) -> None:
    _only_parts(parts)
    sets = ", ".join(f"{c} = ?" for c in ("name", *parts))
    changed = con.execute(
        f"update templates set {sets}, updated_by = ?, updated_at = current_timestamp where id = ? returning id",
        [name, *parts.values(), by, template_id]).fetchall()
    if not changed:
        raise NotFound(f"No template with id {template_id}; it may have been deleted.")


def upsert(con, name: str, by: str, **parts: str) -> int:
    """Insert, or update the template of that name."""
    found = find_by_name(con, name)
    if found is None:
        return insert(con, name, by, **parts)
    update(con, found.id, found.name, by, **parts)
    return found.id


def delete(con, template_id: int) -> bool:
    return bool(con.execute("delete from templates where id = ? returning id", [template_id]).fetchall())


def _only_parts(parts: dict) -> None:
    unknown = set(parts) - set(TEXT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown template fields: {sorted(unknown)}")


def sample_templates() -> list[dict]:
    text = resources.files("commstui.sample_data").joinpath("templates.json").read_text("utf-8")
    return json.loads(text)["templates"]


def load_samples(con, by: str) -> int:
    """Add the sample templates that are not there yet (by name); how many were added.
    A template someone has changed or renamed is left alone."""
    added = 0
    for sample in sample_templates():
        if find_by_name(con, sample["name"]) is None:
            insert(con, sample["name"], by, **{c: sample.get(c, "") for c in TEXT_COLUMNS})
            added += 1
    return added


# The merge values of one customer, keyed as rendering.context_for expects.
_MERGE_SQL = """
select c.id, c.account_no, c.name, c.customer_type, c.status, c.email, c.mobile, c.preferred_delivery,
       b.code as building_code, b.name as building_name, br.name as brand, b.address as building_address,
       c.address_line1, c.address_line2, c.city, c.state, c.postcode,
       co.code as company_code, co.name as company_name
from customers c
left join buildings b on b.id = c.building_id
left join brands br on br.id = b.brand_id
left join companies co on co.id = c.company_id
"""


def merge_row(con, *, customer_id: int | None = None, account_no: str | None = None) -> dict:
    """One customer's merge values (by id, by account number, or else the first account)."""
    if customer_id is not None:
        cursor = con.execute(_MERGE_SQL + " where c.id = ?", [customer_id])
    elif account_no is not None:
        cursor = con.execute(_MERGE_SQL + " where c.account_no = ?", [account_no.strip()])
    else:
        cursor = con.execute(_MERGE_SQL + " order by c.account_no limit 1")
    row = cursor.fetchone()
    if row is None:
        if customer_id is not None:
            raise NotFound(f"No customer with id {customer_id}.")
        if account_no is not None:
            raise NotFound(f"No customer with account number {account_no.strip()!r}.")
        raise NotFound("There are no customers yet to preview a template with.")
    return dict(zip([d[0] for d in cursor.description], row, strict=True))
