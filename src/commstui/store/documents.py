"""Quotes and invoices: a numbered document for a customer (and one of their service
addresses) with priced lines, plus the contacts of that address who currently receive
email, and the sample documents `init --sample` adds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from ..domain import Document, DocumentKind, DocumentLine
from .db import NotFound

PREFIX = {DocumentKind.QUOTE: "Q-", DocumentKind.INVOICE: "INV-"}

_COLS = "id, customer_id, address_id, kind, number, issued_on, due_on, status, notes"


def _documents(con, where: str, params: list) -> list[Document]:
    rows = con.execute(f"select {_COLS} from documents where {where} order by issued_on desc, id desc",
                       params).fetchall()
    if not rows:
        return []
    lines: dict[int, list[DocumentLine]] = {}
    for doc_id, line_no, description, quantity, price in con.execute(
            "select document_id, line_no, description, quantity, unit_price from document_lines "
            "where document_id in (select unnest(?::bigint[])) order by document_id, line_no",
            [[r[0] for r in rows]]).fetchall():
        lines.setdefault(doc_id, []).append(DocumentLine(line_no, description, Decimal(quantity), Decimal(price)))
    return [Document(r[0], r[1], r[2], DocumentKind(r[3]), r[4], r[5], r[6], r[7], r[8],
                     tuple(lines.get(r[0], ()))) for r in rows]


def for_customer(con, customer_id: int) -> list[Document]:
    """The customer's quotes and invoices, newest first, each with its lines."""
    return _documents(con, "customer_id = ?", [customer_id])


def get(con, document_id: int) -> Document:
    found = _documents(con, "id = ?", [document_id])
    if not found:
        raise NotFound(f"No quote or invoice with id {document_id}.")
    return found[0]


def next_number(con, kind: DocumentKind) -> str:
    """The next free number of that kind: Q-000001, INV-000001, ..."""
    prefix = PREFIX[DocumentKind(kind)]
    top = con.execute("select max(try_cast(substr(number, ?) as bigint)) from documents where number like ?",
                      [len(prefix) + 1, prefix + "%"]).fetchone()[0]
    return f"{prefix}{(top or 0) + 1:06d}"


def insert(con, *, customer_id: int, address_id: int | None, kind: DocumentKind | str, issued_on: date,
           due_on: date | None, lines: Sequence[tuple[str, Decimal | int | str, Decimal | int | str]],
           status: str = "open", notes: str = "", number: str | None = None) -> int:
    """Add a document with its lines (description, quantity, unit price); returns its id."""
    kind = DocumentKind(kind)
    number = number or next_number(con, kind)
    doc_id = con.execute(
        "insert into documents (customer_id, address_id, kind, number, issued_on, due_on, status, notes) "
        "values (?, ?, ?, ?, ?, ?, ?, ?) returning id",
        [customer_id, address_id, kind.value, number, issued_on, due_on, status, notes]).fetchone()[0]
    if lines:
        con.execute(
            "insert into document_lines (document_id, line_no, description, quantity, unit_price) "
            "select ?, unnest(?::integer[]), unnest(?::varchar[]), unnest(?::decimal(12,2)[]), "
            "unnest(?::decimal(12,2)[])",
            [doc_id, list(range(1, len(lines) + 1)), [d for d, _, _ in lines],
             [str(Decimal(q)) for _, q, _ in lines], [str(Decimal(p)) for _, _, p in lines]])
    return doc_id


def receiving_contacts(con, address_id: int) -> list[tuple[str, str, str]]:
    """(name, email, address label) of the address's contacts who receive email now: the
    address's additional-communication toggle is on and the contact has an email."""
    return [tuple(r) for r in con.execute(
        "select c.name, c.email, a.address_line1 from address_contacts c "
        "join service_addresses a on a.id = c.address_id "
        "where c.address_id = ? and a.additional_comms and c.email is not null and trim(c.email) <> '' "
        "order by c.id", [address_id]).fetchall()]


def address_line(con, address_id: int | None) -> str | None:
    """The service address as one line (for the PDF), or None."""
    if address_id is None:
        return None
    row = con.execute("select address_line1, address_line2, city, state, postcode from service_addresses "
                      "where id = ?", [address_id]).fetchone()
    if row is None:
        return None
    line1, line2, city, state, postcode = row
    tail = " ".join(p for p in (state, postcode) if p)
    return ", ".join(p for p in (line1, line2, city, tail) if p)


# -- sample data ------------------------------------------------------------------------

# (description, unit price in dollars) of the work a strata office quotes and invoices
_CATALOGUE: tuple[tuple[str, str], ...] = (
    ("Call-out fee", "95.00"),
    ("Plumbing labour (per hour)", "120.00"),
    ("Replace tap washer and cartridge", "48.50"),
    ("Electrical safety inspection", "180.00"),
    ("Smoke alarm replacement (240 V)", "135.00"),
    ("Window cleaning, per window", "22.00"),
    ("Carpet steam clean, per room", "65.00"),
    ("Door closer adjustment", "75.00"),
    ("Garage remote, programmed", "89.90"),
    ("Pest treatment, interior", "210.00"),
    ("Gutter clean", "160.00"),
    ("Air-conditioner service", "145.00"),
)
SAMPLE_BASE_DAY = date(2026, 10, 1)  # fixed, so the sample set is the same on every machine


def _sample_documents(index: int) -> list[dict]:
    """1-3 documents of 1-4 lines for the customer at this position (deterministic)."""
    docs = []
    for n in range(1 + index % 3):
        kind = DocumentKind.QUOTE if (index + n) % 2 == 0 else DocumentKind.INVOICE
        issued = SAMPLE_BASE_DAY - timedelta(days=(index * 7 + n * 11) % 90)
        lines = []
        for k in range(1 + (index + 2 * n) % 4):
            description, price = _CATALOGUE[(index * 5 + n * 3 + k * 7) % len(_CATALOGUE)]
            quantity = 1 + (index + k) % 3 if "per " in description else 1
            lines.append((description, quantity, price))
        if kind is DocumentKind.QUOTE:
            due, status, notes = issued + timedelta(days=30), ("open", "accepted")[(index + n) % 4 == 3], \
                "This quote is valid for 30 days. Prices include GST."
        else:
            due, status, notes = issued + timedelta(days=14), ("open", "paid")[(index + n) % 3 == 0], \
                "Payment due within 14 days. Please quote the invoice number as the reference."
        docs.append(dict(kind=kind, issued_on=issued, due_on=due, status=status, notes=notes, lines=lines))
    return docs


def load_samples(con) -> int:
    """Add 1-3 sample quotes/invoices to every customer that has none yet, each for the
    customer's first service address (none if they have no address). Returns how many."""
    customers = con.execute(
        "select c.id, (select min(a.id) from service_addresses a where a.customer_id = c.id) "
        "from customers c where not exists (select 1 from documents d where d.customer_id = c.id) "
        "order by c.account_no").fetchall()
    added = 0
    for index, (customer_id, address_id) in enumerate(customers):
        for doc in _sample_documents(index):
            insert(con, customer_id=customer_id, address_id=address_id, **doc)
            added += 1
    return added
