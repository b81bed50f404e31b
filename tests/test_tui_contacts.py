"""The Contacts tab (CustomerContacts) driven with Pilot at 80x24, mounted in a host
screen as the customer details screen mounts it: add a contact with two emails and
choose the primary, edit it, remove it (asked first), set the location owner by
account number (an unknown one is refused in the dialog), and clear it."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from commstui.app import CommsApp
from commstui.screens.confirm import ConfirmScreen
from commstui.screens.contact_editor import ContactEditor, EmailList
from commstui.screens.customer_contacts import CustomerContacts, OwnerDialog
from commstui.services import contacts
from commstui.store import users as users_store

from tui_helpers import notifications, screen_text, text_of, until

SIZE = (80, 24)


def customer_id(ctx, account_no: str) -> int:
    with ctx.db.connect() as con:
        return con.execute("select id from customers where account_no = ?", [account_no]).fetchone()[0]


class Host(Screen):
    def __init__(self, cid: int) -> None:
        super().__init__()
        self.cid = cid

    def compose(self):
        yield Static("host")
        yield CustomerContacts(self.cid, id="contacts")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(CustomerContacts).focus()


async def tab_shown(pilot, cid: int) -> CustomerContacts:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    app.push_screen(Host(cid))
    await until(pilot, lambda: isinstance(app.screen, Host) and app.screen.query(CustomerContacts)
                and app.screen.query_one(CustomerContacts).loaded,
                "the contacts tab")
    tab = app.screen.query_one(CustomerContacts)
    await until(pilot, lambda: tab.query_one(DataTable).has_focus, "the table focused")
    return tab


def table_rows(tab) -> list[list[str]]:
    table = tab.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def emails_shown(editor) -> list[str]:
    listing = editor.query_one(EmailList)
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


async def test_add_a_contact_with_two_emails_then_edit_and_remove_it(ctx, admin):
    cid = customer_id(ctx, "A1000003")
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        tab = await tab_shown(pilot, cid)
        assert table_rows(tab) == []
        assert "No contacts yet. Press a to add one." in screen_text(app)
        assert "No location owner" in text_of(tab.query_one("#contacts-owner"))

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ContactEditor), "the contact editor")
        editor = app.screen
        await until(pilot, lambda: editor.query_one("#contact-name", Input).has_focus, "the name field focused")
        await pilot.press(*"Sam Carter", "tab")                   # the empty list is hidden: on to the new email
        assert editor.query_one("#contact-new-email", Input).has_focus
        await pilot.press(*"sam@Example.com", "enter", *"sam.work@example.com", "enter")
        assert emails_shown(editor) == ["★ sam@example.com  (primary)", "  sam.work@example.com"]
        editor.query_one(EmailList).focus()
        await pilot.pause()
        editor.query_one(EmailList).highlighted = 1
        await pilot.press("p")                                    # the work address becomes the primary
        assert emails_shown(editor) == ["  sam@example.com", "★ sam.work@example.com  (primary)"]
        editor.query_one("#contact-mobile", Input).focus()
        await pilot.press(*"0412 345 678")
        editor.query_one("#contact-notices").focus()
        await pilot.press("enter")                                # the switch on
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is tab.screen and len(table_rows(tab)) == 1, "the contact listed")
        assert table_rows(tab) == [["Sam Carter", "sam.work@example.com", "1", "—", "+61412345678", "yes"]]
        assert "Saved: Contact Sam Carter added." in notifications(app)
        saved = contacts.people(ctx, admin, cid).contacts[0]
        assert (saved.email, saved.other_emails, saved.receives_notices) == (
            "sam.work@example.com", ("sam@example.com",), True)

        # edit: Enter on the row; remove the other email, keep the rest
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ContactEditor), "the editor again")
        editor = app.screen
        assert emails_shown(editor) == ["★ sam.work@example.com  (primary)", "  sam@example.com"]
        editor.query_one(EmailList).focus()
        await pilot.pause()
        editor.query_one(EmailList).highlighted = 1
        await pilot.press("x")
        assert emails_shown(editor) == ["★ sam.work@example.com  (primary)"]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is tab.screen and table_rows(tab)[0][2] == "—", "the change listed")
        assert contacts.people(ctx, admin, cid).contacts[0].other_emails == ()

        # remove, asked first; "n" keeps it
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "Remove Sam Carter" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: app.screen is tab.screen, "back on the tab")
        assert len(table_rows(tab)) == 1
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await until(pilot, lambda: app.screen is tab.screen and table_rows(tab) == [], "the contact gone")
        assert contacts.people(ctx, admin, cid).contacts == []


async def test_a_bad_email_is_refused_in_the_editor_and_nothing_is_saved(ctx, admin):
    cid = customer_id(ctx, "A1000003")
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await tab_shown(pilot, cid)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ContactEditor), "the contact editor")
        editor = app.screen
        await until(pilot, lambda: editor.query_one("#contact-name", Input).has_focus, "the name field focused")
        await pilot.press(*"Sam", "tab", *"not-an-email", "enter")
        problem = editor.query_one("#contact-problem", Static)
        assert "'not-an-email' is not an email address" in str(problem.content)
        assert emails_shown(editor) == []
        editor.query_one("#contact-sms").focus()
        await pilot.press("enter")                                # SMS opt-in without a mobile
        editor.query_one("#contact-new-email", Input).clear()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "SMS opt-in needs a mobile" in str(problem.content), "the refusal")
        await until(pilot, lambda: editor.query_one("#contact-mobile", Input).has_focus, "the mobile field focused")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ContactEditor), "the editor closed")
    assert contacts.people(ctx, admin, cid).contacts == []


async def test_set_and_clear_the_location_owner(ctx, admin):
    cid = customer_id(ctx, "A1000003")
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        tab = await tab_shown(pilot, cid)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, OwnerDialog), "the owner dialog")
        dialog = app.screen
        await until(pilot, lambda: dialog.query_one("#owner-account", Input).has_focus, "the account field focused")
        await pilot.press(*"A9999999", "enter")
        problem = dialog.query_one("#owner-problem", Static)
        await until(pilot, lambda: "no customer with account number 'A9999999'" in str(problem.content),
                    "the refusal")
        dialog.query_one("#owner-account", Input).clear()
        await pilot.press(*"A1000003", "enter")
        await until(pilot, lambda: "cannot own its own location" in str(problem.content), "the second refusal")
        dialog.query_one("#owner-account", Input).clear()
        await pilot.press(*"a1000025", "enter")
        await until(pilot, lambda: app.screen is tab.screen and tab.people.owner is not None, "the owner shown")
        assert text_of(tab.query_one("#contacts-owner")).strip() == \
            "Location owner: Amelia Hart-Davies (A1000025)"
        assert contacts.people(ctx, admin, cid).owner.account_no == "A1000025"

        await pilot.press("O")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: app.screen is tab.screen and tab.people.owner is None, "the owner cleared")
        assert "No location owner" in text_of(tab.query_one("#contacts-owner"))
    assert contacts.people(ctx, admin, cid).owner is None


async def test_a_viewer_sees_contacts_and_is_told_why_they_cannot_change_them(ctx, viewer):
    cid = customer_id(ctx, "A1000001")
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        tab = await tab_shown(pilot, cid)
        assert table_rows(tab) == [
            ["Daniel Bennett", "daniel.bennett@example.com", "—", "—", "+61412345101", "yes"]]
        assert "No contacts yet" not in screen_text(app)
        for key in ("a", "e", "x", "o"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is tab.screen, key       # no form that would only be refused
        warnings = [n for n in notifications(app) if n.startswith("Not allowed: You can look at these contacts")]
        assert len(warnings) == 4 and "needs the customerEdit role" in warnings[0]
    assert contacts.people(ctx, viewer, cid).owner is None


async def test_a_refusal_from_the_service_is_shown_in_the_owner_dialog(ctx, admin):
    """The service decides: a user whose roles were taken away after the list was read is refused."""
    cid = customer_id(ctx, "A1000001")
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await tab_shown(pilot, cid)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, OwnerDialog), "the owner dialog")
        dialog = app.screen
        await until(pilot, lambda: dialog.query_one("#owner-account", Input).has_focus, "the account field focused")
        app.user = viewer_of(ctx)
        await pilot.press(*"A1000025", "enter")
        problem = dialog.query_one("#owner-problem", Static)
        await until(pilot, lambda: "viewer is not allowed to change or email customers" in str(problem.content),
                    "the refusal")
    assert contacts.people(ctx, admin, cid).owner is None


def viewer_of(ctx):
    with ctx.db.connect() as con:
        return users_store.get_by_username(con, "viewer")
