"""Logging in through the TUI: success, wrong passwords, lockout, no-access users,
the command palette per role, logging out. Driven with Pilot at 80x24."""

from __future__ import annotations


from textual.widgets import Input

from commstui.app import CommsApp, CommsCommands
from commstui.screens.customers import CustomersScreen, NoCustomersAccessScreen
from commstui.screens.login import LoginScreen
from commstui.services import auth
from commstui.services.context import LOCAL_ADMIN

from conftest import PASSWORDS
from tui_helpers import screen_text, text_of, until

SIZE = (80, 24)


# -- helpers shared by the test_tui_* files ------------------------------------


async def log_in(pilot, username: str, password: str) -> None:
    screen = pilot.app.screen
    screen.query_one("#username", Input).value = username
    screen.query_one("#password", Input).focus()
    await pilot.pause()
    await pilot.press(*password, "enter")


def error_text(app) -> str:
    return str(app.screen.query_one("#login-error").content)


async def test_the_right_password_opens_customers(ctx):
    app = CommsApp(ctx, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LoginScreen)
        assert app.screen.query_one("#username", Input).has_focus
        await pilot.press(*"admin", "enter")  # Enter in the username field moves on
        assert app.screen.query_one("#password", Input).has_focus
        await pilot.press(*PASSWORDS["admin"], "enter")
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "the Customers screen")
        assert app.user.username == "admin"
        await until(pilot, lambda: "admin (Demo Administrator)" in text_of(app.screen.query_one("StatusLine")),
                    "who is logged in")


async def test_password_is_masked_and_username_prefilled(ctx):
    app = CommsApp(ctx, run_dispatcher=False, login_name="viewer")
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.query_one("#username", Input).value == "viewer"
        password = app.screen.query_one("#password", Input)
        assert password.has_focus and password.password
        await pilot.press(*"secret")
        assert "secret" not in text_of(password)


async def test_a_wrong_password_is_explained_under_the_form(ctx):
    app = CommsApp(ctx, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "admin", "not-the-password")
        await until(pilot, lambda: error_text(app), "the login error")
        assert error_text(app) == "Wrong username or password."
        assert isinstance(app.screen, LoginScreen) and app.user is None
        password = app.screen.query_one("#password", Input)
        assert password.value == "" and password.has_focus  # ready for another try


async def test_five_wrong_passwords_lock_the_account(ctx):
    app = CommsApp(ctx, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        seen = []
        for attempt in range(5):
            await log_in(pilot, "operator", f"wrong-{attempt}")
            await until(pilot, lambda: error_text(app) and not app.screen._busy, f"answer {attempt + 1}")
            seen.append(error_text(app))
            app.screen.query_one("#login-error").update("")
        assert "2 attempts left" in seen[2] and "1 attempt left" in seen[3]
        assert "locked for 15 min" in seen[4]
        await log_in(pilot, "operator", PASSWORDS["operator"])  # even the right one now
        await until(pilot, lambda: error_text(app) and not app.screen._busy, "the lockout answer")
        assert "locked" in error_text(app)
        assert app.user is None


async def test_a_user_without_customer_access_gets_a_clear_screen(ctx):
    auth.add_user(ctx, LOCAL_ADMIN, "newbie", "newbie-pass-1", roles=["templates"])
    app = CommsApp(ctx, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "newbie", "newbie-pass-1")
        await until(pilot, lambda: isinstance(app.screen, NoCustomersAccessScreen), "the no-access screen")
        await until(pilot, lambda: "newbie has no access to Customers" in text_of(app.screen.query_one("#no-access")),
                    "the explanation")
        assert "Ask an administrator" in text_of(app.screen.query_one("#no-access"))
        names = [name for name, _run, _help in CommsCommands(app.screen).commands()]
        assert names == ["Templates: Manage", "Session: Log out"]  # what the role does give
        app.action_open_customers()  # e.g. a stale palette entry: refused, not opened
        await pilot.pause()
        assert isinstance(app.screen, NoCustomersAccessScreen)
        assert any("no access to Customers" in n.message for n in app._notifications)


async def test_palette_entries_depend_on_the_user(ctx, admin, viewer, tmp_path):
    app = CommsApp(ctx, admin, run_dispatcher=False, demo_outbox=tmp_path / "outbox")
    async with app.run_test(size=SIZE) as pilot:
        names = [name for name, _run, _help in CommsCommands(app.screen).commands()]
        assert names == ["Customers: Search", "Customers: Import from CSV", "Customers: Add customer",
                         "Customers: Export to CSV", "Companies: Search", "Delivery: Needs attention", "Bulk: Send wizard",
                         "Bulk: Batches and approval", "Bulk: Undelivered emails", "Bulk: Undelivered posted mail",
                         "Templates: Manage", "Delivery: Pause dispatching", "Mail: Settings", "SMS: Settings",
                         "Settings: Office (time zone, missed runs, letterhead)", "Users: Manage", "Users: Audit log",
                         "Demo: Outbox", "Session: Log out"]
        await until(pilot, lambda: "DEMO" in text_of(app.screen.query_one("StatusLine")), "the DEMO mark")
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        names = [name for name, _run, _help in CommsCommands(app.screen).commands()]
        assert names == ["Customers: Search", "Customers: Export to CSV", "Delivery: Needs attention",
                         "Session: Log out"]
        app.action_open_mail_settings()
        await pilot.pause()
        assert any("administrators" in n.message for n in app._notifications)


async def test_palette_searches_our_commands(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", "the palette")
        await pilot.press(*"log out")
        await until(pilot, lambda: "Session: Log out" in screen_text(app), "the Log out command")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        assert app.user is None


async def test_logging_out_returns_to_login_and_stops_the_dispatcher(ctx, admin, mail_server):
    app = CommsApp(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers")
        task = app._dispatch_task
        assert app.dispatcher is not None and task is not None and not task.done()
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        assert app.user is None and app.dispatcher is None and task.done()
        assert app.screen.query_one("#username", Input).value == "admin"
        # and logging in again starts a fresh dispatcher
        await log_in(pilot, "admin", PASSWORDS["admin"])
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers again")
        task = app._dispatch_task
        assert task is not None and not task.done()
    assert task.done()  # stopped cleanly on exit


async def test_a_burst_of_keys_over_a_slow_link_lands_in_the_right_fields(ctx):
    """A slow SSH link delivers "viewer<Tab>wrong" as one burst: every key is queued
    before the first is handled, and Tab must still split them between the fields."""
    from textual import events

    app = CommsApp(ctx, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen) and app.focused is not None,
                    what="the login form")
        for key in [*"viewer", "tab", *"wrong"]:
            app.post_message(events.Key(key, None if key == "tab" else key))
        await until(pilot, lambda: app.screen.query_one("#password", Input).value == "wrong",
                    what="the password field to get what followed Tab", timeout=5)
        assert app.screen.query_one("#username", Input).value == "viewer"


async def test_bulk_roles_get_their_own_palette_entries(ctx):
    auth.add_user(ctx, LOCAL_ADMIN, "sender-only", "sender-pass-1", roles=["bulkSend"])
    auth.add_user(ctx, LOCAL_ADMIN, "approver-only", "approver-pass-1", roles=["bulkApprove"])
    for name, password, expected in (
            ("sender-only", "sender-pass-1", ["Bulk: Send wizard", "Bulk: Batches and approval",
                                              "Bulk: Undelivered emails", "Bulk: Undelivered posted mail",
                                              "Templates: Manage", "Session: Log out"]),
            ("approver-only", "approver-pass-1", ["Bulk: Batches and approval", "Session: Log out"])):
        app = CommsApp(ctx, auth.login(ctx, name, password), run_dispatcher=False)
        async with app.run_test(size=SIZE) as pilot:
            assert [n for n, _run, _help in CommsCommands(app.screen).commands()] == expected
            app.action_open_bulk_wizard()  # refused for the approver, opened for the sender
            await pilot.pause()
            opened = app.screen.__class__.__name__ == "BulkWizardScreen"
            assert opened == (name == "sender-only")
