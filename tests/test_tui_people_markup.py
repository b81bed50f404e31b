"""A customer named with Rich markup ("[bold]Mallory[/bold] Tables", in the sample on
purpose) shows literally on every tab issue 5 added, and in the quote's email checklist,
for a contact and an address label written with markup too."""

from __future__ import annotations

from test_tui_details import open_details
from tui_helpers import screen_text, until

from commstui.app import CommsApp
from commstui.screens.email_document import EmailDocumentScreen
from commstui.services import addresses, contacts, customers

MARKUP = "[bold]Mallory[/bold] Tables"


async def test_markup_in_names_shows_literally_on_addresses_quotes_and_contacts(ctx, operator, admin):
    mallory = customers.get_by_account(ctx, admin, "A1000003")
    assert mallory.name == MARKUP
    [first] = addresses.address_book(ctx, admin, mallory.id).addresses
    addresses.add_contact(ctx, admin, first.id, addresses.ContactForm(name="[red]Rex[/red]", email="rex@example.com"))
    addresses.set_additional_comms(ctx, admin, first.id, True)
    contacts.add(ctx, admin, mallory.id, contacts.ContactForm(name="[i]Ivy[/i]", emails=("ivy@example.com",)))

    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_details(pilot, mallory.id)
        assert MARKUP in screen_text(app)
        await pilot.press("4")
        await until(pilot, lambda: "[red]Rex[/red]" in screen_text(app), "the address contact, literally")
        await pilot.press("6")
        await until(pilot, lambda: "[i]Ivy[/i]" in screen_text(app), "the contact, literally")
        await pilot.press("e")  # the editor's title carries the name
        await until(pilot, lambda: "Edit contact [i]Ivy[/i]" in screen_text(app), "the editor's title, literally")
        await pilot.press("escape")
        await until(pilot, lambda: "Edit contact" not in screen_text(app), "the editor closed")
        await pilot.press("5")
        await until(pilot, lambda: "Quote" in screen_text(app) or "Invoice" in screen_text(app), "the documents")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, EmailDocumentScreen), "the checklist")
        await until(pilot, lambda: MARKUP in screen_text(app) and "[red]Rex[/red]" in screen_text(app),
                    "names in the checklist, literally")
