"""Issue 2's whole walk, as an operator does it, with keys only: log in, search,
open the customer, write an email, send; the app's own dispatcher delivers it to a
real SMTP server on 127.0.0.1; the Emails tab shows the outcome and the Notes tab
the note."""

from __future__ import annotations

from textual.widgets import Input, TextArea

from commstui.app import CommsApp
from commstui.delivery.capture import read_outbox
from commstui.screens.compose import ComposeScreen
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.customers import CustomersScreen

from conftest import PASSWORDS
from tui_helpers import screen_text, until


async def test_operator_finds_a_customer_emails_them_and_sees_the_outcome(ctx, capture, mail_server):
    app = CommsApp(ctx, None, run_dispatcher=True, login_name="operator")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.focused, Input) and app.focused.id == "password",
                    what="the password field (username pre-filled)")
        await pilot.press(*PASSWORDS["operator"], "enter")
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), what="the Customers screen")

        await pilot.press(*"bennett")
        await until(pilot, lambda: "1 match" in screen_text(app), what="the search to narrow")
        assert "Olivia Bennett" in screen_text(app)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, CustomerDetailsScreen)
                    and app.screen.customer is not None, what="the details")
        details = app.screen
        assert "A1000001" in screen_text(app) and "Harbourview Towers" in screen_text(app)

        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="compose")
        assert app.screen.query_one("#to", Input).value == "olivia.bennett@example.com"
        await pilot.press(*"Lift service on Monday", "tab")
        assert isinstance(app.focused, TextArea)
        await pilot.press(*"Dear Olivia, the lift is off 9-11am.")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is details, what="back on the details")

        # queued -> sending -> accepted, by the dispatcher inside this app
        await until(pilot, lambda: details.messages and details.messages[0].status == "sent",
                    what="the Emails tab to show it sent", timeout=20)
        await until(pilot, lambda: "accepted by mail server" in screen_text(app), what="the status shown")
        await pilot.press("3")
        await until(pilot, lambda: "Lift service on Monday" in screen_text(app)
                    and "sent to" in screen_text(app), what="the note")

    [got] = read_outbox(capture.outbox)
    mime = got.parse()
    assert mime["Subject"] == "Lift service on Monday"
    assert mime["From"] == "office@commstui.example"
    assert mime["To"] == "olivia.bennett@example.com"
    assert mime["Message-ID"] == details.messages[0].message_id
    assert mime["Date"]
    assert mime.get_body(("plain",)).get_content().strip() == "Dear Olivia, the lift is off 9-11am."
    assert details.messages[0].server_reply.startswith("2.0.0")
