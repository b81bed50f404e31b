"""Set my password driven with Pilot at 80x24, the way a new customer does it: F2 on the
login screen, the username, Enter; the code email goes through a real dispatcher to a
real aiosmtpd; the code from the received email, a new password twice, Ctrl+S; back on
the login screen with the username filled in, log in, and the customer portal opens."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input

from commstui.app import CommsApp
from commstui.delivery.dispatcher import Dispatcher
from commstui.screens.login import LoginScreen
from commstui.screens.portal import PortalScreen
from commstui.screens.set_password import SetPasswordScreen
from commstui.services import activation, company_customers, mail_settings
from commstui.services.company_customers import NewCustomerForm
from commstui.services.mail_settings import MailServerForm

from smtp_servers import ScriptedHandler, ScriptedServer
from tui_helpers import screen_text, text_of, until

SIZE = (80, 24)
EMAIL = "nina.novak@example.com"
NEW_PASSWORD = "garden-gnome-42"


@pytest.fixture
def smtp(ctx, admin):
    """A real aiosmtpd on 127.0.0.1, set up as the office's mail server."""
    with ScriptedServer(ScriptedHandler()) as server:
        mail_settings.save_server(ctx, admin, MailServerForm(
            host="127.0.0.1", port=server.port, security="none", from_addr="office@commstui.example"))
        yield server


@pytest.fixture
def nina(ctx, admin):
    with ctx.db.connect() as con:
        acme = con.execute("select id from companies where code = 'ACME'").fetchone()[0]
    customer, _ = company_customers.add_customer(ctx, admin, acme, NewCustomerForm(email=EMAIL, name="Nina Novak"))
    return customer


def field(app, name: str) -> Input:
    return app.screen.query_one(f"#sp-{name}", Input)


def problem(app, name: str) -> str:
    widget = app.screen.query_one(f"#sp-{name}-problem")
    return str(widget.content) if widget.display else ""


async def open_set_password(pilot) -> SetPasswordScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, LoginScreen) and app.focused is not None, "the login form")
    assert "F2: Set my password" in screen_text(app)
    await pilot.press("f2")
    await until(pilot, lambda: isinstance(app.screen, SetPasswordScreen), "Set my password")
    await until(pilot, lambda: field(app, "username").has_focus, "the username field focused")
    return app.screen


async def test_a_new_customer_sets_a_password_with_the_emailed_code_and_reaches_the_portal(ctx, nina, smtp):
    app = CommsApp(ctx, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_set_password(pilot)
        await pilot.press(*EMAIL, "enter")
        await until(pilot, lambda: screen.step == 2 and not screen.busy, "the code step")
        answer = " ".join(text_of(screen.query_one("#sp-for")).split())
        assert answer == ("If that account exists and has an email address, a code is on its way. "
                          f"It is valid for 7 days. Username: {EMAIL}")
        await until(pilot, lambda: field(app, "code").has_focus, "the code field focused")

        # a real dispatcher sends what the request queued; aiosmtpd receives it
        dispatcher = Dispatcher(ctx.db, ctx.settings)
        sent = 0
        for _ in range(5):
            sent += await dispatcher.run_once()
            if sent:
                break
        assert sent == 1
        [received] = smtp.handler.accepted
        assert received.rcpt_tos == (EMAIL,)
        email = received.parse()
        assert email["Subject"] == "Your code to set your commstui password"
        code = re.search(r"Code: ([A-Z0-9]{4}-[A-Z0-9]{4})", email.get_body(("plain",)).get_content()).group(1)

        # a slip first: the repeat differs; shown at its field, nothing typed is lost
        await pilot.press(*code, "enter", *NEW_PASSWORD, "enter", *"garden-gnome-24", "enter")
        await until(pilot, lambda: problem(app, "repeat"), "the repeat refused")
        assert problem(app, "repeat") == "The two passwords are not the same; type the new password again."
        await until(pilot, lambda: field(app, "repeat").has_focus, "the repeat field focused")
        assert isinstance(app.screen, SetPasswordScreen)
        assert field(app, "code").value == code and field(app, "password").value == NEW_PASSWORD
        field(app, "repeat").value = ""
        await pilot.press(*NEW_PASSWORD, "ctrl+s")

        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "back to the login screen")
        await until(pilot, lambda: "Password set. Log in with it now." in screen_text(app), "the notice")
        assert app.screen.query_one("#username", Input).value == EMAIL
        password = app.screen.query_one("#password", Input)
        await until(pilot, lambda: password.has_focus, "the password field focused")
        assert password.value == ""
        await pilot.press(*NEW_PASSWORD, "enter")
        await until(pilot, lambda: isinstance(app.screen, PortalScreen), "the customer portal")
        assert app.user.username == EMAIL and app.user.customer_id == nina.id
        await until(pilot, lambda: nina.account_no in text_of(app.screen.query_one("#portal-account")),
                    "the customer's own account")


async def test_a_wrong_code_is_shown_at_its_field_and_esc_goes_back_to_login(ctx, smtp):
    app = CommsApp(ctx, run_dispatcher=False, login_name="viewer")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_set_password(pilot)
        assert field(app, "username").value == "viewer"   # what the login form had
        await pilot.press("f3")   # "I have a code": straight to the code step, nothing sent
        await until(pilot, lambda: screen.step == 2 and field(app, "code").has_focus, "the code step")
        assert "a code is on its way" not in screen_text(app)
        await pilot.press(*"ABCD-EFGH", "tab", *"short", "tab", *"short", "ctrl+s")
        await until(pilot, lambda: problem(app, "code"), "the code refused")
        assert problem(app, "code") == activation.WRONG_CODE
        assert problem(app, "password") == "Passwords need at least 8 characters."
        await until(pilot, lambda: field(app, "code").has_focus, "the code field focused")
        shown = screen_text(app)
        assert activation.WRONG_CODE in shown and "Passwords need at least 8 characters." in shown
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        assert app.screen.query_one("#username", Input).value == "viewer"
        assert "Password set" not in screen_text(app)


async def test_asking_without_a_username_is_explained_at_the_field(ctx):
    app = CommsApp(ctx, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_set_password(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: problem(app, "username"), "the refusal")
        assert problem(app, "username").startswith("Enter your username first")
        await pilot.press("f3")
        await until(pilot, lambda: field(app, "username").has_focus, "the username field focused")
        assert screen.step == 1


async def test_the_code_goes_out_from_the_login_screen_with_nobody_logged_in_anywhere(ctx, nina, smtp):
    """No other session and no `commstui dispatch`: asking for a code starts this session's
    own dispatcher, so the code arrives without anyone logging in."""
    app = CommsApp(ctx, run_dispatcher=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_set_password(pilot)
        assert app.dispatcher is None   # nothing runs before it is needed
        await pilot.press(*EMAIL, "enter")
        await until(pilot, lambda: screen.step == 2 and not screen.busy, "the code step")
        await until(pilot, lambda: len(smtp.handler.accepted) == 1, "the code email received", timeout=30)
        [received] = smtp.handler.accepted
        assert received.rcpt_tos == (EMAIL,)
        assert received.parse()["Subject"] == "Your code to set your commstui password"
