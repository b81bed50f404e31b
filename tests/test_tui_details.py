"""A customer's details screen driven with Pilot at 80x24: the header, literal
customer text, tabs, the Emails tab following delivery, and who may email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from textual.widgets import DataTable, TabbedContent

from commstui.app import CommsApp
from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.customers import CustomersScreen
from commstui.services import customers, email
from commstui.services.context import Context

from tui_helpers import screen_text, until

SIZE = (80, 24)


async def open_details(pilot, customer_id: int) -> CustomerDetailsScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers")
    screen = CustomerDetailsScreen(customer_id)
    await app.push_screen(screen)
    # the whole header, not just its first line: the summary is laid out again once loaded
    await until(pilot, lambda: screen.customer is not None
                and screen.customer.account_no in screen_text(app)
                and " Address " in screen_text(app), "the account's header on screen")
    return screen


def email_statuses(screen) -> list[str]:
    table = screen.query_one("#emails-table", DataTable)
    return [str(table.get_row_at(i)[3]) for i in range(table.row_count)]


def queue(ctx, user, customer, subject: str, due_at=None):
    return email.send_email(ctx, user, customer.id, email.EmailDraft(
        to=customer.email, subject=subject, body="Hello from the office."), due_at=due_at)


async def test_header_shows_the_account_and_the_name_literally(ctx, viewer):
    mallory = customers.get_by_account(ctx, viewer, "A1000003")
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_details(pilot, mallory.id)
        shown = screen_text(app)
        header = "\n".join(shown.splitlines()[1:5])
        assert "[bold]Mallory[/bold] Tables" in header  # markup shown, not applied
        for value in ("A1000003", mallory.customer_type, mallory.status, mallory.building, mallory.brand,
                      mallory.preferred_delivery, mallory.email, mallory.address_lines[0]):
            assert value in header, value
        assert "Mobile  —" in header  # no mobile: a dash, not a blank
        # the Details tab has the full record, the postal address on its lines
        for line in mallory.address_lines:
            assert line in shown


async def test_tabs_by_number_and_escape_goes_back(ctx, viewer):
    olivia = customers.get_by_account(ctx, viewer, "A1000001")
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_details(pilot, olivia.id)
        tabs = screen.query_one(TabbedContent)
        await pilot.press("2")
        assert tabs.active == "emails"
        await until(pilot, lambda: "No emails yet. Press e to write one." in screen_text(app), "Emails tab")
        await pilot.press("3")
        assert tabs.active == "notes"
        await until(pilot, lambda: "No notes yet" in screen_text(app), "Notes tab")
        for key, tab in (("4", "addresses"), ("5", "documents"), ("6", "contacts"), ("1", "details")):
            await pilot.press(key)
            assert tabs.active == tab
        shown = screen_text(app)
        # the tab labels teach the number keys; the footer keeps its room for actions
        assert "1 Details  2 Emails  3 Notes  4 Addresses  5 Quotes & invoices  6 Contacts" in shown
        footer = shown.splitlines()[-1]
        assert "Email" in footer and "Back" in footer
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "back to Customers")


async def test_a_viewer_may_look_but_the_email_action_is_refused(ctx, viewer):
    olivia = customers.get_by_account(ctx, viewer, "A1000001")
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_details(pilot, olivia.id)
        await pilot.press("e")
        await pilot.pause()
        assert app.screen is screen  # no compose window
        [refusal] = [n for n in app._notifications if n.title == "Not allowed"]
        assert "customerEdit" in refusal.message and "administrator" in refusal.message
        await until(pilot, lambda: "Not allowed" in screen_text(app), "the refusal on screen")


async def test_an_operator_gets_the_compose_window(ctx, operator, mail_server):
    compose = pytest.importorskip("commstui.screens.compose")
    olivia = customers.get_by_account(ctx, operator, "A1000001")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_details(pilot, olivia.id)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, compose.ComposeScreen), "the compose window")


async def test_emails_tab_follows_the_apps_dispatcher(ctx, admin, operator, capture, mail_server):
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    app = CommsApp(ctx, operator)  # with its in-process dispatcher
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_details(pilot, olivia.id)
        await pilot.press("2")
        # queued while the screen is open (the compose window does this), then the dispatcher woken
        queued = queue(ctx, operator, olivia, "Water shut-off [Tuesday]")
        screen._composed(queued)
        await until(pilot, lambda: email_statuses(screen) == ["accepted by mail server"], "sent")
        await until(pilot, lambda: "Water shut-off [Tuesday]" in screen_text(app)
                    and "2.0.0" in screen_text(app), "the subject and the server's reply on screen")
        [got] = read_outbox(capture.outbox)
        assert got.message_id == queued.message_id
        await pilot.press("3")
        await until(pilot, lambda: "Water shut-off [Tuesday]" in screen_text(app), "the note")


async def test_emails_tab_polls_while_another_process_sends(ctx, admin, operator, capture, mail_server, settings):
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    later = datetime.now(UTC) + timedelta(days=2)
    queue(ctx, operator, olivia, "Scheduled for later", due_at=later)
    queued = queue(ctx, operator, olivia, "Due now")
    app = CommsApp(ctx, operator, run_dispatcher=False)  # nobody in this app sends
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_details(pilot, olivia.id)
        await pilot.press("2")
        # newest first: the one due now is queued; the one in two days says when it goes
        assert email_statuses(screen)[0] == "queued"
        assert email_statuses(screen)[1].startswith("scheduled in 1 day 23 h")
        table = screen.query_one("#emails-table", DataTable)
        subjects = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert sorted(subjects) == ["Due now", "Scheduled for later"]
        # the highlighted one is shown in full under the list
        await until(pilot, lambda: f"Subject      {subjects[0]}" in screen_text(app), "the message in full")
        # a headless dispatcher elsewhere (its own Database handle) sends what is due
        other = Context.open(ctx.db.path, settings)
        assert await Dispatcher(other.db, settings).run_once() == 1
        await until(pilot, lambda: email_statuses(screen)[0] == "accepted by mail server",
                    "the poll to show the send")
        assert email_statuses(screen)[1].startswith("scheduled in")
        assert read_outbox(capture.outbox)[0].message_id == queued.message_id
