"""The Addresses tab driven like an operator: t switches an address's additional
communication off (Compose's Cc and a bulk send lose its contacts, whose data stays) and
on again (both get them back); the editor reveals the contacts with its switch, points
at a bad email at its field, saves with Ctrl+S and asks before discarding on Escape.

CustomerAddresses is the tab's self-contained widget; here it sits on a bare screen over
the real app (the lead mounts it in the customer details as "4 Addresses")."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Switch

from commstui.app import CommsApp
from commstui.screens.address_editor import AddressEditorScreen, ContactRow
from commstui.screens.compose import ComposeScreen
from commstui.screens.confirm import ConfirmScreen
from commstui.screens.customer_addresses import CustomerAddresses
from commstui.services import addresses, auth, bulk, customers
from tui_helpers import notifications, screen_text, static_text, until

SIZE = (80, 24)
HANNAH = "hannah.bennett@example.com"


class AddressesHost(Screen):
    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id

    def compose(self) -> ComposeResult:
        yield CustomerAddresses(self.customer_id)
        yield Footer(compact=True)


async def open_addresses(pilot, customer_id: int) -> CustomerAddresses:
    app = pilot.app
    await until(pilot, lambda: app.screen.__class__.__name__ == "CustomersScreen", "Customers")
    await app.push_screen(AddressesHost(customer_id))
    widget = app.screen.query_one(CustomerAddresses)
    await until(pilot, lambda: widget.book is not None, "the addresses")
    widget.query_one(DataTable).focus()
    await pilot.pause()
    return widget


async def compose_cc(pilot, customer) -> tuple[str, str]:
    """Open Compose for the customer; (Cc as pre-filled, the hint under it); then close it."""
    app = pilot.app
    screen = ComposeScreen(customer)
    await app.push_screen(screen)
    await until(pilot, lambda: screen.cc_suggestion is not None, "the Cc suggestion")
    await pilot.pause()
    hint = screen.query_one("#cc-hint")
    found = screen.query_one("#cc", Input).value, (static_text(hint) if hint.display else "")
    await pilot.press("escape")   # nothing typed: closes without asking
    await until(pilot, lambda: app.screen is not screen, "Compose closed")
    return found


def bulk_contacts(ctx, sender, account: str) -> list[str]:
    """Generate a bulk email with contacts for the account; who the batch's contact messages went to."""
    selection = bulk.Selection(mode="accounts", accounts_text=account, include_contacts=True)
    found = bulk.recipients(ctx, sender, selection, "email")
    batch = bulk.generate(ctx, sender, selection, "email", bulk.BulkCompose(subject="Notice", text_body="Hi"),
                          found.recipients).batch
    with ctx.db.connect() as con:
        rows = con.execute("select to_addrs[1] from messages where batch_id = ? and recipient_kind = 'contact' "
                           "order by id", [batch.id]).fetchall()
    return [r[0] for r in rows]


async def test_address_toggle_off_keeps_data_and_stops_delivery_on_restores(ctx, operator, mail_server):
    sender = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    olivia = customers.get_by_account(ctx, operator, "A1000001")
    before = addresses.address_book(ctx, operator, olivia.id).addresses
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        widget = await open_addresses(pilot, olivia.id)
        assert "Service address" in screen_text(app) and "Hannah Bennett" in screen_text(app)
        assert "Additional communication: on" in screen_text(app)
        cc, hint = await compose_cc(pilot, olivia)
        assert cc == HANNAH and "Hannah Bennett" in hint and "additional communication on" in hint
        assert HANNAH in bulk_contacts(ctx, sender, "A1000001")

        await pilot.press("t")
        await until(pilot, lambda: not widget.book.addresses[0].additional_comms, "switched off")
        assert any("kept but receive nothing" in n for n in notifications(app))
        await until(pilot, lambda: "Additional communication: off" in screen_text(app), "off on screen")
        assert "Hannah Bennett" in screen_text(app)   # still listed: the data stays
        assert await compose_cc(pilot, olivia) == ("", "")
        assert bulk_contacts(ctx, sender, "A1000001") == ["daniel.bennett@example.com"]
        assert addresses.address_book(ctx, operator, olivia.id).addresses[0].contacts == before[0].contacts

        await pilot.press("t")
        await until(pilot, lambda: widget.book.addresses[0].additional_comms, "switched on")
        assert any("receive emails again" in n for n in notifications(app))
        cc, hint = await compose_cc(pilot, olivia)
        assert cc == HANNAH and hint
        assert bulk_contacts(ctx, sender, "A1000001") == ["daniel.bennett@example.com", HANNAH]
    assert addresses.address_book(ctx, operator, olivia.id).addresses == before


async def test_compose_keeps_a_cc_the_operator_typed(ctx, operator, mail_server):
    olivia = customers.get_by_account(ctx, operator, "A1000001")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.__class__.__name__ == "CustomersScreen", "Customers")
        screen = ComposeScreen(olivia)
        await app.push_screen(screen)
        screen.query_one("#cc", Input).value = "me@example.org"   # before the suggestion arrives
        await until(pilot, lambda: screen.cc_suggestion is not None, "the Cc suggestion")
        assert screen.query_one("#cc", Input).value == "me@example.org"
        assert not screen.query_one("#cc-hint").display


async def test_the_editor_reveals_contacts_points_at_a_bad_email_and_saves(ctx, operator):
    olivia = customers.get_by_account(ctx, operator, "A1000001")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        widget = await open_addresses(pilot, olivia.id)
        await pilot.press("down", "enter")   # the Holiday unit: switched off, two contacts kept
        await until(pilot, lambda: isinstance(app.screen, AddressEditorScreen), "the editor")
        editor = app.screen
        assert not editor.query_one("#contacts").display
        assert "Additional communication: off" in screen_text(app)

        editor.query_one("#additional-comms", Switch).focus()
        await pilot.press("space")
        await until(pilot, lambda: editor.query_one("#contacts").display, "the contacts shown")
        assert "Tom Reid" in [r.form().name for r in editor.query(ContactRow)]
        await pilot.press("ctrl+n")
        await until(pilot, lambda: len(editor.query(ContactRow)) == 3, "a new contact row")
        await until(pilot, lambda: app.focused is not None and "contact-name" in app.focused.classes, "its name")
        await pilot.press(*"Kim Lee", "tab", *"kim@", "ctrl+s")
        row = editor.query(ContactRow)[2]
        await until(pilot, lambda: row.query_one(".contact-error").display, "the error at the row")
        assert "Contact 3 email: 'kim@'" in static_text(row.query_one(".contact-error"))
        assert app.focused is row.query_one(".contact-email", Input)
        assert isinstance(app.screen, AddressEditorScreen)   # not saved

        await pilot.press(*"example.com")
        await until(pilot, lambda: not row.query_one(".contact-error").display, "the error cleared as fixed")
        # remove Tom Reid with his row's button
        tom = next(r for r in editor.query(ContactRow) if r.form().name == "Tom Reid")
        tom.query_one(".contact-remove", Button).press()
        await until(pilot, lambda: len(editor.query(ContactRow)) == 2, "Tom removed from the form")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not editor, "saved and closed")
        await until(pilot, lambda: widget.book.addresses[1].additional_comms, "reloaded")

    holiday = addresses.address_book(ctx, operator, olivia.id).addresses[1]
    assert holiday.additional_comms
    assert [(c.name, c.email) for c in holiday.contacts] == [
        ("Bondi Rentals Office", "office@bondirentals.example.com"), ("Kim Lee", "kim@example.com")]


async def test_escape_asks_before_discarding_changes(ctx, operator):
    olivia = customers.get_by_account(ctx, operator, "A1000001")
    before = addresses.address_book(ctx, operator, olivia.id).addresses
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_addresses(pilot, olivia.id)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, AddressEditorScreen), "the editor")
        editor = app.screen
        await pilot.press("escape")     # nothing changed: just closes
        await until(pilot, lambda: app.screen is not editor, "closed without a question")

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AddressEditorScreen), "a new address")
        editor = app.screen
        await pilot.press(*"9 Rose St", "escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        await until(pilot, lambda: app.screen is editor, "back to editing")
        assert editor.query_one("#address_line1", Input).value == "9 Rose St"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked again")
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, (ConfirmScreen, AddressEditorScreen)), "discarded")
    assert addresses.address_book(ctx, operator, olivia.id).addresses == before


async def test_a_viewer_sees_addresses_but_gets_no_change_keys(ctx, viewer):
    olivia = customers.get_by_account(ctx, viewer, "A1000001")
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        widget = await open_addresses(pilot, olivia.id)
        assert "Holiday unit" in screen_text(app)
        await pilot.press("t", "a", "e")
        await pilot.pause()
        assert isinstance(app.screen, AddressesHost)
        assert "Comms on/off" not in screen_text(app) and "Add address" not in screen_text(app)
        assert widget.book.addresses[0].additional_comms
