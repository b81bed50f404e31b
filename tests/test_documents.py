"""Quotes and invoices: the sample set, the PDF (read back with pypdf), the email
checklist's order and rules, one-off addresses that are never saved, validation and who
may do what. Real DuckDB files made from sample_data/."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from commstui.delivery.document_pdf import money
from commstui.domain import DocumentKind
from commstui.services import documents
from commstui.services.errors import NoMailServer, PermissionDenied, ValidationError
from commstui.store import batches as batches_store
from commstui.store import documents as documents_store
from commstui.store import users as users_store

PRIMARY = "olivia.bennett@example.com"


def user(ctx, username: str):
    with ctx.db.connect() as con:
        return users_store.get_by_username(con, username)


def olivia_id(ctx) -> int:
    with ctx.db.connect() as con:
        return con.execute("select id from customers where account_no = 'A1000001'").fetchone()[0]


def add_address(con, customer_id: int, line1: str, comms: bool, contacts: list[tuple[str, str | None]]) -> int:
    address_id = con.execute(
        "insert into service_addresses (customer_id, label, address_line1, city, state, postcode, "
        "additional_comms) values (?, 'Test', ?, 'Pyrmont', 'NSW', '2009', ?) returning id",
        [customer_id, line1, comms]).fetchone()[0]
    for name, email in contacts:
        con.execute("insert into address_contacts (address_id, name, email) values (?, ?, ?)",
                    [address_id, name, email])
    return address_id


@pytest.fixture
def quote(ctx) -> int:
    """A quote for Olivia on her "12 Harbour St" address, whose contacts receive email."""
    def make(con):
        cid = olivia_id(ctx)
        address = add_address(con, cid, "12 Harbour St", True, [
            ("Daniel", "daniel.b@example.com"),
            ("Olivia again", "Olivia.Bennett@Example.com"),   # the primary, in other case: listed once
            ("No email", None),
            ("Kim", "kim.lee@example.com"),
        ])
        return documents_store.insert(con, customer_id=cid, address_id=address, kind="quote", number="Q-900001",
                                      issued_on=date(2026, 11, 2), due_on=date(2026, 12, 2),
                                      lines=[("Replace hot water system", 1, "1890.00"),
                                             ("Plumbing labour (per hour)", Decimal("2.5"), "120.00")],
                                      notes="Valid for 30 days.")
    return ctx.db.run(make)


def db_rows(ctx, *tables: str) -> dict[str, list]:
    with ctx.db.connect() as con:
        return {t: sorted(map(repr, con.execute(f"select * from {t}").fetchall())) for t in tables}


ACCOUNT_TABLES = ("customers", "contacts", "service_addresses", "address_contacts", "users", "documents",
                  "document_lines")


# -- sample data ---------------------------------------------------------------------------
def test_sample_documents_are_deterministic_and_linked_to_the_first_service_address(ctx):
    # the sample load (setup.load_sample) has run load_samples already
    with ctx.db.connect() as con:
        customers = con.execute("select count(*) from customers").fetchone()[0]
        per = con.execute("select customer_id, count(*) from documents group by 1").fetchall()
        lines = con.execute("select document_id, count(*) from document_lines group by 1").fetchall()
        numbers = [r[0] for r in con.execute("select number from documents order by id").fetchall()]
        unlinked = con.execute(
            "select count(*) from documents d where d.address_id is distinct from "
            "(select min(a.id) from service_addresses a where a.customer_id = d.customer_id)").fetchone()[0]
        first = con.execute("select number, issued_on, status from documents order by id limit 3").fetchall()
    added = sum(n for _, n in per)
    assert len(per) == customers
    assert {n for _, n in per} == {1, 2, 3}
    assert {n for _, n in lines} <= {1, 2, 3, 4} and len(lines) == added
    assert numbers[0] in ("Q-000001", "INV-000001")
    assert {n.split("-")[0] for n in numbers} == {"Q", "INV"}
    assert unlinked == 0
    assert ctx.db.run(documents_store.load_samples) == 0   # loading again adds nothing
    # the first account (A1000001) gets one quote, the second a quote and an invoice: the same everywhere
    assert first == [("Q-000001", date(2026, 10, 1), "open"), ("INV-000001", date(2026, 9, 24), "open"),
                     ("Q-000002", date(2026, 9, 13), "open")]


def test_numbers_continue_from_the_highest(ctx, quote):
    with ctx.db.connect() as con:
        assert documents_store.next_number(con, DocumentKind.QUOTE) == "Q-900002"
        highest = con.execute("select max(number) from documents where kind = 'invoice'").fetchone()[0]
        assert documents_store.next_number(con, DocumentKind.INVOICE) == f"INV-{int(highest[4:]) + 1:06d}"


# -- listing and the PDF --------------------------------------------------------------------
def test_a_customer_lists_the_quote_with_its_lines_and_total(ctx, viewer, quote):
    [doc] = [d for d in documents.list_documents(ctx, viewer, olivia_id(ctx)) if d.id == quote]
    assert doc.number == "Q-900001" and doc.kind is DocumentKind.QUOTE
    assert [line.description for line in doc.lines] == ["Replace hot water system", "Plumbing labour (per hour)"]
    assert doc.total == Decimal("2190.00")
    view = documents.get_document(ctx, viewer, quote)
    assert view.address == "12 Harbour St, Pyrmont, NSW 2009" and view.account_no == "A1000001"


def test_the_pdf_reads_back_with_number_lines_total_and_letterhead(ctx, viewer, quote, tmp_path):
    path = documents.write_pdf(ctx, viewer, quote, tmp_path)
    assert path.name == "Q-900001.pdf"
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("Quote", "Q-900001", "Olivia Bennett", "A1000001", "12 Harbour St",
                     "Replace hot water system", "$1,890.00", "Plumbing labour (per hour)", "2.5", "$300.00",
                     "Total (incl. GST)", "$2,190.00", "Valid for 30 days.", "2 November 2026",
                     "Harbour & Mill Strata Services", "Valid until", "2 December 2026"):
        assert expected in text, expected
    assert reader.metadata.title == "Quote Q-900001"


def test_a_non_latin_name_prints_as_written(ctx, viewer):
    def make(con):
        cid = con.execute("select id from customers where account_no = 'A1000004'").fetchone()[0]  # Zoë O'Connor
        return documents_store.insert(con, customer_id=cid, address_id=None, kind="invoice",
                                      issued_on=date(2026, 11, 1), due_on=date(2026, 11, 15),
                                      lines=[("Sửa chữa — Łukasz's visit", 1, "99.95")])
    doc_id = ctx.db.run(make)
    path = documents.write_pdf(ctx, viewer, doc_id, ctx.db.path.parent / "pdfs")
    text = PdfReader(path).pages[0].extract_text()
    assert "Zoë O'Connor" in text and "Sửa chữa — Łukasz's visit" in text and "$99.95" in text
    assert "Invoice" in text and "Due" in text


def test_money_is_shown_with_cents_and_thousands():
    assert money(Decimal("1234.5")) == "$1,234.50"
    assert money(Decimal("-12")) == "-$12.00"
    assert money(Decimal("0.005")) == "$0.01"


# -- the checklist ----------------------------------------------------------------------------
def test_recipients_primary_first_then_receiving_contacts_without_repeats(ctx, viewer, quote):
    found = documents.recipients(ctx, viewer, quote)
    assert [(r.email, r.label, r.kind) for r in found] == [
        (PRIMARY, "Primary email — Olivia Bennett", "primary"),
        ("daniel.b@example.com", "Address contact — Daniel (12 Harbour St)", "address_contact"),
        ("kim.lee@example.com", "Address contact — Kim (12 Harbour St)", "address_contact"),
    ]


def test_toggle_off_contacts_are_not_listed_and_on_again_they_are(ctx, viewer, quote):
    address = documents.get_document(ctx, viewer, quote).document.address_id
    ctx.db.run(lambda con: con.execute("update service_addresses set additional_comms = false where id = ?",
                                       [address]))
    assert [r.email for r in documents.recipients(ctx, viewer, quote)] == [PRIMARY]
    ctx.db.run(lambda con: con.execute("update service_addresses set additional_comms = true where id = ?",
                                       [address]))
    assert len(documents.recipients(ctx, viewer, quote)) == 3


def test_a_document_without_an_address_lists_only_the_primary_email(ctx, viewer):
    doc_id = ctx.db.run(lambda con: documents_store.insert(
        con, customer_id=olivia_id(ctx), address_id=None, kind="invoice", issued_on=date(2026, 1, 1),
        due_on=None, lines=[("Call-out fee", 1, "95")]))
    assert [r.kind for r in documents.recipients(ctx, viewer, doc_id)] == ["primary"]


# -- emailing -----------------------------------------------------------------------------------
def test_email_queues_one_message_with_the_pdf_and_notes_it(ctx, operator, quote, mail_server):
    before = db_rows(ctx, *ACCOUNT_TABLES)
    message = documents.email_document(ctx, operator, quote, [PRIMARY, "kim.lee@example.com"],
                                       ["Site.Manager@Builder.example", "site.manager@builder.example"])
    assert message.to_addrs == (PRIMARY, "kim.lee@example.com", "Site.Manager@builder.example")
    assert message.subject == "Quote Q-900001 from Harbour & Mill Strata Services"
    assert "Please find your quote attached." in message.body and "Dear Olivia Bennett" in message.body
    assert message.status == "queued" and message.attachment_id is not None
    with ctx.db.connect() as con:
        name, _kind, pdf = batches_store.attachment_files(con, [message.attachment_id])[message.attachment_id]
        note = con.execute("select text from notes where customer_id = ? order by id desc limit 1",
                           [olivia_id(ctx)]).fetchone()[0]
    assert name == "Q-900001.pdf" and "Q-900001" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert note == ("Quote Q-900001 emailed as Q-900001.pdf by operator to olivia.bennett@example.com, "
                    "kim.lee@example.com; and one-off (not saved): Site.Manager@builder.example.")
    assert db_rows(ctx, *ACCOUNT_TABLES) == before   # the one-off address is saved nowhere on the account


def test_without_the_template_a_plain_default_body_is_used(ctx, operator, quote, mail_server):
    ctx.db.run(lambda con: con.execute("delete from templates where name = 'Quote'"))
    message = documents.email_document(ctx, operator, quote, [PRIMARY])
    assert message.body.startswith("Dear Olivia Bennett,\n\nPlease find attached quote Q-900001 for account "
                                   "A1000001.")


@pytest.mark.parametrize(("to", "extra", "field", "words"), [
    ([], [], "to", "Tick at least one recipient"),
    ([PRIMARY], ["not-an-address"], "extra", "'not-an-address' is not a valid email address"),
    ([PRIMARY], ["bcc@example.com\r\nBcc: evil@example.com"], "extra", "contains a line break"),
    ([PRIMARY], ["a@example.com\nb@example.com"], "extra", "contains a line break"),
    (["stranger@example.com"], [], "to", "stranger@example.com is not on this document's recipient list"),
    ([PRIMARY], [f"x{i}@example.com" for i in range(21)], "extra", "At most 20 one-off addresses"),
])
def test_bad_recipients_are_refused_with_a_clear_message_and_nothing_is_queued(
        ctx, operator, quote, mail_server, to, extra, field, words):
    with pytest.raises(ValidationError) as caught:
        documents.email_document(ctx, operator, quote, to, extra)
    assert caught.value.field == field and words in str(caught.value)
    with ctx.db.connect() as con:
        assert con.execute("select count(*) from messages").fetchone()[0] == 0


def test_only_extra_addresses_are_enough(ctx, operator, quote, mail_server):
    message = documents.email_document(ctx, operator, quote, [], ["pm@example.com"])
    assert message.to_addrs == ("pm@example.com",)


def test_no_mail_server_is_a_clear_refusal(ctx, operator, quote):
    with pytest.raises(NoMailServer, match="No active mail server"):
        documents.email_document(ctx, operator, quote, [PRIMARY])


# -- who may do what ------------------------------------------------------------------------------
@pytest.mark.parametrize(("username", "view", "send"), [
    ("admin", True, True), ("super", True, True), ("operator", True, True),
    ("viewer", True, False), ("editor", False, False), ("portal", False, False),
    ("bulk-sender", False, False), ("company-editor", False, False),
])
def test_permissions(ctx, quote, mail_server, username, view, send):
    who = user(ctx, username)
    calls = {"list": lambda: documents.list_documents(ctx, who, olivia_id(ctx)),
             "get": lambda: documents.get_document(ctx, who, quote),
             "recipients": lambda: documents.recipients(ctx, who, quote),
             "pdf": lambda: documents.write_pdf(ctx, who, quote, ctx.db.path.parent / "out")}
    for name, call in calls.items():
        if view:
            call()
        else:
            with pytest.raises(PermissionDenied):
                call()
    if send:
        assert documents.email_document(ctx, who, quote, [PRIMARY]).to_addrs == (PRIMARY,)
    else:
        with pytest.raises(PermissionDenied):
            documents.email_document(ctx, who, quote, [PRIMARY])
        with ctx.db.connect() as con:
            assert con.execute("select count(*) from messages").fetchone()[0] == 0
