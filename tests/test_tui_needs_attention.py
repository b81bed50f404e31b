"""Needs attention, driven like an operator at 80x24: emails held because they missed
their time while no dispatcher ran (a dispatcher with a fixed clock holds them), across
customers, with the office-zone due time and how late; send now, cancel, the delivery
record and the customer; a viewer may look but not act."""

from __future__ import annotations

import asyncio
from datetime import time

import pytest
from textual.widgets import DataTable

from commstui.app import CommsApp
from commstui.domain import MessageStatus
from commstui.screens.cancel_email import CancelEmailScreen
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.customers import CustomersScreen
from commstui.screens.delivery_record import DeliveryRecordScreen
from commstui.screens.needs_attention import NeedsAttentionScreen
from commstui.services import customers, schedule

from emails_helpers import SIZE, dispatch_at, fixed, local, rows, scheduled, set_office
from tui_helpers import notifications, screen_text, static_text, until

LATER = local(13, 0)  # three hours after 10:00: past the hour of grace


@pytest.fixture
def held(ctx, admin, operator, mail_server, settings):
    """Two customers' emails due at 10:00 and 10:30 that nobody sent until 13:00: held."""
    set_office(ctx, admin)
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    mallory = customers.get_by_account(ctx, admin, "A1000003")
    first = scheduled(ctx, operator, olivia, "Meter reading", at=time(10, 0), now=local(9))
    second = scheduled(ctx, operator, mallory, "Rent reminder", at=time(10, 30), now=local(9))
    assert asyncio.run(dispatch_at(ctx, settings, LATER)) == 0  # nothing sent: both held
    assert [m.id for m in schedule.needs_attention(ctx, admin)] == [first.id, second.id]
    return first, second


async def open_list(pilot) -> NeedsAttentionScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers")
    screen = NeedsAttentionScreen(now=fixed(LATER))
    await app.push_screen(screen)
    await until(pilot, lambda: screen.loaded, "the held emails")
    return screen


def table(screen) -> DataTable:
    return screen.query_one("#held-table", DataTable)


async def test_held_emails_across_customers_say_when_and_why(ctx, operator, held):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_list(pilot)
        listed = rows(table(screen))
        assert [r[0] for r in listed] == ["A1000001", "A1000003"]
        assert listed[0][1].startswith("Olivia")
        assert listed[1][1] == "[bold]Mallory[/bold] Tables"  # literally
        assert [r[2] for r in listed] == ["Meter reading", "Rent reminder"]
        assert [r[3] for r in listed] == ["10 Mar 10:00", "10 Mar 10:30"]
        assert [r[4] for r in listed] == ["3 h ago", "2 h 30 min ago"]
        assert listed[0][5].startswith("Missed its time while no dispatcher was running")
        shown = screen_text(app)
        assert "2 emails held" in shown and "Australia/Sydney" in shown
        details = static_text(screen.query_one("#held-detail"))
        assert "Mon 10 Mar 2031 10:00 AEDT (UTC+11:00) · 3 h ago" in details
        assert all(len(line) <= 80 for line in shown.splitlines())
        await until(pilot, lambda: all(words in screen_text(app).splitlines()[-1]
                                       for words in ("Send now", "Cancel", "Record", "Customer")),
                    "the actions in the footer")


async def test_send_now_queues_it_and_it_leaves_the_list(ctx, operator, held):
    first, second = held
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_list(pilot)
        await pilot.press("s")
        await until(pilot, lambda: [r[2] for r in rows(table(screen))] == ["Rent reminder"], "one left")
        assert any("Queued to send now" in n for n in notifications(app))
    again = schedule.delivery_record(ctx, operator, first.id).message
    assert again.status == MessageStatus.QUEUED  # due now: the next dispatcher look sends it
    assert [m.id for m in schedule.needs_attention(ctx, operator)] == [second.id]


async def test_cancel_asks_then_cancels_and_the_empty_list_explains_itself(ctx, operator, held):
    first, second = held
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_list(pilot)
        for _ in range(2):
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, CancelEmailScreen), "the question")
            await pilot.press("y")
            await until(pilot, lambda: app.screen is screen, "back")
        await until(pilot, lambda: table(screen).row_count == 0, "nothing left")
        await until(pilot, lambda: "Messages that missed their time while no dispatcher was running"
                    in static_text(screen.query_one("#held-detail")), "the empty state")
        assert screen.check_action("send_now", ()) is None
    for message in (first, second):
        assert schedule.delivery_record(ctx, operator, message.id).message.status == MessageStatus.CANCELLED


async def test_enter_shows_the_record_and_o_opens_the_customer(ctx, operator, held):
    first, _ = held
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_list(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DeliveryRecordScreen), "the record")
        assert app.screen.message_id == first.id
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, CustomerDetailsScreen), "the customer")
        assert app.screen.customer_id == first.customer_id


async def test_a_viewer_may_look_but_not_send_or_cancel(ctx, viewer, held):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_list(pilot)
        assert table(screen).row_count == 2
        for key in ("s", "c"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen
        refusals = [n for n in app._notifications if n.title == "Not allowed"]
        assert len(refusals) == 2 and all("customerEdit" in n.message for n in refusals)
    assert len(schedule.needs_attention(ctx, viewer)) == 2


async def test_nothing_held(ctx, operator, mail_server, admin):
    set_office(ctx, admin)
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_list(pilot)
        assert not table(screen).display
        assert "Nothing needs attention." in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "back")
