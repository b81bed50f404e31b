"""Customer portal mode, driven like a customer: their name and account number, their
addresses with the additional contacts, "Update address" with the same editor, and
nothing else (Escape leads nowhere, only log out is offered).

The real app routes a portal user's login to PortalScreen; one test pushes a PortalScreen
for another account on purpose, as if the id had been tampered with."""

from __future__ import annotations

from textual.widgets import Input

from commstui.app import CommsApp, CommsCommands
from commstui.screens.address_editor import AddressEditorScreen, ContactRow
from commstui.screens.login import LoginScreen
from commstui.screens.portal import PortalScreen
from commstui.services import addresses, auth, customers
from tui_helpers import screen_text, until

SIZE = (80, 24)


def portal_user(ctx):
    return auth.login(ctx, "portal", "portal-demo-1")


async def open_portal(pilot, customer_id: int | None = None) -> PortalScreen:
    """The portal the app opened for the user; or, given an id, one pushed for that account."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, PortalScreen), "the portal as the home screen")
    screen = app.screen
    if customer_id is not None:
        screen = PortalScreen(customer_id)
        await app.push_screen(screen)
    await until(pilot, lambda: "Account" in screen_text(app) or "No customer" in screen_text(app), "the account")
    return screen


async def test_the_portal_shows_the_customers_own_addresses_and_contacts(ctx):
    portal = portal_user(ctx)
    app = CommsApp(ctx, portal, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_portal(pilot)
        await until(pilot, lambda: "Update address" in screen_text(app).splitlines()[-1], "the footer")
        text = screen_text(app)
        assert "Olivia Bennett" in text and "Account A1000001" in text
        assert "Service address" in text and "Holiday unit" in text and "Hannah Bennett" in text
        assert "Additional communication: on" in text
        footer = text.splitlines()[-1]
        assert "Update address" in footer and "Log out" in footer
        assert "Email" not in footer and "Back" not in footer

        await pilot.press("escape", "escape")
        await pilot.pause()
        assert app.screen is screen   # nowhere to go back to
        names = [name for name, _, _ in CommsCommands(screen, None).commands()]
        assert names == ["Session: Log out"]


async def test_update_address_changes_a_contact_and_the_toggle(ctx):
    portal = portal_user(ctx)
    app = CommsApp(ctx, portal, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_portal(pilot)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, AddressEditorScreen), "the editor")
        editor = app.screen
        assert "Update address" in screen_text(app)
        [row] = editor.query(ContactRow)
        email = row.query_one(".contact-email", Input)
        email.value = "hannah@bennett.example.org"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PortalScreen), "back on the portal")
        await until(pilot, lambda: "hannah@bennett.example.org" in screen_text(app), "the new email shown")
        await pilot.press("t")
        await until(pilot, lambda: "Additional communication: off" in screen_text(app), "switched off")

    home = addresses.address_book(ctx, portal, portal.customer_id).addresses[0]
    assert [(c.name, c.email) for c in home.contacts] == [("Hannah Bennett", "hannah@bennett.example.org")]
    assert not home.additional_comms


async def test_another_customers_id_shows_nothing_of_theirs(ctx, admin):
    portal = portal_user(ctx)
    other = customers.get_by_account(ctx, admin, "A1000030")
    app = CommsApp(ctx, portal, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_portal(pilot, other.id)
        await until(pilot, lambda: f"No customer with id {other.id}" in screen_text(app), "the refusal")
        text = screen_text(app)
        assert "Parkside" not in text and "A1000030" not in text and "Account" not in text


async def test_log_out_leaves_the_portal_for_the_login(ctx):
    portal = portal_user(ctx)
    app = CommsApp(ctx, portal, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_portal(pilot)
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        assert app.user is None
