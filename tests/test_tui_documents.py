"""The Quotes & invoices tab and the email checklist, driven with Pilot at 80x24: email a
quote with one address contact unticked and a one-off address added; a real dispatcher
delivers it to aiosmtpd on 127.0.0.1, and the one-off address is saved nowhere on the
account."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, SelectionList, Static, TabbedContent, TabPane

from commstui.app import CommsApp
from commstui.delivery.dispatcher import Dispatcher
from commstui.screens.customer_documents import CustomerDocuments
from commstui.screens.email_document import EmailDocumentScreen
from commstui.services import mail_settings
from commstui.services.mail_settings import MailServerForm
from commstui.store import documents as documents_store

from smtp_servers import ScriptedHandler, ScriptedServer
from tui_helpers import notifications, static_text, until

SIZE = (80, 24)
PRIMARY = "olivia.bennett@example.com"
EXTRA = "site.manager@builder.example"
# where an address someone typed for one email may be kept: that email and its delivery history
HISTORY = {("messages", "to_addrs"), ("notes", "text")}


def olivia_id(con) -> int:
    return con.execute("select id from customers where account_no = 'A1000001'").fetchone()[0]


@pytest.fixture
def quote(ctx) -> int:
    """Q-900001 for Olivia's "12 Harbour St", whose two contacts receive email."""
    def make(con):
        cid = olivia_id(con)
        address = con.execute(
            "insert into service_addresses (customer_id, label, address_line1, city, state, postcode, "
            "additional_comms) values (?, 'Holiday unit', '12 Harbour St', 'Pyrmont', 'NSW', '2009', true) "
            "returning id", [cid]).fetchone()[0]
        for name, email in (("Daniel", "daniel.b@example.com"), ("Kim", "kim.lee@example.com")):
            con.execute("insert into address_contacts (address_id, name, email) values (?, ?, ?)",
                        [address, name, email])
        return documents_store.insert(con, customer_id=cid, address_id=address, kind="quote", number="Q-900001",
                                      issued_on=date(2026, 11, 2), due_on=date(2026, 12, 2),
                                      lines=[("Replace hot water system", 1, "1890.00"),
                                             ("Plumbing labour (per hour)", 2, "120.00")])
    return ctx.db.run(make)


@pytest.fixture
def smtp(ctx, admin):
    with ScriptedServer(ScriptedHandler()) as server:
        mail_settings.save_server(ctx, admin, MailServerForm(
            host="127.0.0.1", port=server.port, security="none", from_addr="office@commstui.example"))
        yield server


class DocumentsHost(Screen):
    """The tab as the customer details screen mounts it."""

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id

    def compose(self):
        with TabbedContent():
            with TabPane("5 Quotes & invoices", id="documents"):
                yield CustomerDocuments(self.customer_id, id="customer-documents")
        yield Footer(compact=True)



async def open_tab(pilot, ctx) -> CustomerDocuments:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    with ctx.db.connect() as con:
        app.push_screen(DocumentsHost(olivia_id(con)))
    await until(pilot, lambda: isinstance(app.screen, DocumentsHost) and app.screen.query(CustomerDocuments),
                "the host screen")
    tab = app.screen.query_one(CustomerDocuments)
    await until(pilot, lambda: tab.loaded, "the documents")
    tab.focus()
    await pilot.pause()
    return tab


async def open_checklist(pilot, tab: CustomerDocuments, number: str) -> EmailDocumentScreen:
    table = tab.query_one(DataTable)
    table.move_cursor(row=next(i for i, d in enumerate(tab.documents) if d.number == number))
    await pilot.press("m")
    await until(pilot, lambda: isinstance(pilot.app.screen, EmailDocumentScreen) and pilot.app.screen.ready,
                "the checklist")
    return pilot.app.screen


def options(checklist: SelectionList) -> list[tuple[str, str]]:
    found = []
    for i in range(checklist.option_count):
        option = checklist.get_option_at_index(i)
        found.append((str(option.prompt), option.value))
    return found


def where_is(con, needle: str) -> set[tuple[str, str]]:
    """Every (table, column) of the database holding the text, in any text or list column."""
    found = set()
    columns = con.execute("select table_name, column_name, data_type from information_schema.columns "
                          "where table_schema = 'main' and (data_type like 'VARCHAR%')").fetchall()
    for table, column, kind in columns:
        value = f'array_to_string("{column}", \',\')' if kind.endswith("[]") else f'"{column}"'
        if con.execute(f'select count(*) from "{table}" where {value} ilike ?', [f"%{needle}%"]).fetchone()[0]:
            found.add((table, column))
    return found


async def test_email_a_quote_with_a_contact_unticked_and_a_one_off_address(ctx, admin, quote, smtp):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        tab = await open_tab(pilot, ctx)
        row = tab.documents.index(next(d for d in tab.documents if d.number == "Q-900001"))
        assert [str(cell) for cell in tab.query_one(DataTable).get_row_at(row)] == [
            "Q-900001", "Quote", "02 Nov 2026", "02 Dec 2026", "open", "$2,130.00"]
        dialog = await open_checklist(pilot, tab, "Q-900001")
        checklist = dialog.query_one("#email-doc-recipients", SelectionList)
        assert [value for _, value in options(checklist)] == [
            f"to:{PRIMARY}", "to:daniel.b@example.com", "to:kim.lee@example.com"]
        assert "Primary email — Olivia Bennett" in options(checklist)[0][0]
        assert "Address contact — Daniel (12 Harbour St)" in options(checklist)[1][0]
        assert len(checklist.selected) == 3                        # all ticked
        assert "add it as a contact on the service address (Addresses tab)" in \
            static_text(dialog.query_one("#email-doc-hint", Static))

        assert checklist.has_focus
        await pilot.press("down", "space")                          # untick Daniel
        assert sorted(checklist.selected) == sorted([f"to:{PRIMARY}", "to:kim.lee@example.com"])
        await pilot.press("a")                                      # Add email
        extra = dialog.query_one("#email-doc-extra", Input)
        assert extra.has_focus
        await pilot.press(*EXTRA, "enter")
        assert options(checklist)[-1] == (f"{EXTRA}  (this email only — not saved)", f"extra:{EXTRA}")
        assert f"extra:{EXTRA}" in checklist.selected and extra.value == ""

        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DocumentsHost), "the checklist closed")
        assert any("Queued to 3 recipients" in n for n in notifications(app))

    dispatcher = Dispatcher(ctx.db, ctx.settings)
    sent = 0
    for _ in range(5):
        sent += await dispatcher.run_once()
        if sent:
            break
    assert sent == 1
    [received] = smtp.handler.accepted
    assert sorted(received.rcpt_tos) == sorted([PRIMARY, "kim.lee@example.com", EXTRA])
    email = received.parse()
    assert email["Subject"] == "Quote Q-900001 from Harbour & Mill Strata Services"
    [attachment] = list(email.iter_attachments())
    assert attachment.get_filename() == "Q-900001.pdf" and attachment.get_content_type() == "application/pdf"
    text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert "Q-900001" in text and "$2,130.00" in text and "Replace hot water system" in text

    with ctx.db.connect() as con:
        places = where_is(con, EXTRA)
        to_addrs = con.execute("select to_addrs from messages").fetchall()
        note = con.execute("select text from notes where text like 'Quote Q-900001 emailed%'").fetchone()[0]
    # the one-off address is on the message and in its history, nowhere on the account
    assert places == HISTORY, places
    assert to_addrs == [([PRIMARY, "kim.lee@example.com", EXTRA],)]
    assert note.endswith(f"to {PRIMARY}, kim.lee@example.com; and one-off (not saved): {EXTRA}.")


async def test_a_bad_address_is_shown_at_the_field_and_nothing_is_lost(ctx, admin, quote, smtp):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        tab = await open_tab(pilot, ctx)
        dialog = await open_checklist(pilot, tab, "Q-900001")
        checklist = dialog.query_one("#email-doc-recipients", SelectionList)
        await pilot.press("space")                                  # untick the primary email
        await pilot.press("a", *"pm@builder", "enter")
        problem = dialog.query_one("#email-doc-problem", Static)
        assert "'pm@builder' is not a valid email address" in static_text(problem) and problem.display
        extra = dialog.query_one("#email-doc-extra", Input)
        assert extra.value == "pm@builder" and extra.has_focus     # kept, to be corrected
        assert checklist.option_count == 3 and len(checklist.selected) == 2   # the ticks are as they were
        await pilot.press("ctrl+s")                                 # typed but not added: not sent
        await until(pilot, lambda: "is typed but not added" in static_text(problem), "the reminder")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DocumentsHost), "the checklist cancelled")
    with ctx.db.connect() as con:
        assert con.execute("select count(*) from messages").fetchone()[0] == 0


async def test_v_writes_the_pdf_and_shows_where(ctx, viewer, quote):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        tab = await open_tab(pilot, ctx)
        tab.query_one(DataTable).move_cursor(row=next(i for i, d in enumerate(tab.documents)
                                                      if d.number == "Q-900001"))
        await pilot.press("v")
        status = tab.query_one("#documents-status", Static)
        await until(pilot, lambda: "PDF written to:" in static_text(status), "the path")
        path = static_text(status).split("PDF written to:", 1)[1].strip()
        assert path.endswith("Q-900001.pdf")
        assert "Q-900001" in PdfReader(path).pages[0].extract_text()
        await pilot.press("m")                                      # a viewer may not email it
        await pilot.pause()
        assert not isinstance(app.screen, EmailDocumentScreen)
        assert any("not email them: that needs the customerEdit role" in n for n in notifications(app))
