"""A message's delivery record at 80x24: who got it, who did not and why, at a glance;
every recipient and every attempt. Outcomes come from a real aiosmtpd (scripted
replies) and a dispatcher with a fixed clock, so times are known."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import DataTable

from commstui.app import CommsApp
from commstui.screens.customers import CustomersScreen
from commstui.screens.delivery_record import DeliveryRecordScreen
from commstui.services import customers, mail_settings
from commstui.services.mail_settings import MailServerForm

from emails_helpers import NOW, SIZE, dispatch_at, fixed, local, rows, scheduled, set_office
from smtp_servers import ScriptedHandler, ScriptedServer
from tui_helpers import screen_text, static_text, until

GONE = "gone@example.org"
BUSY = "busy@example.org"
REFUSED = "550 5.1.1 <gone@example.org>: Recipient address rejected"
DEFERRED = "452 4.5.3 Too many recipients, try later"


@pytest.fixture
def olivia(ctx, admin):
    set_office(ctx, admin)
    return customers.get_by_account(ctx, admin, "A1000001")


@pytest.fixture
def server(ctx, admin):
    handler = ScriptedHandler(refuse={GONE: REFUSED, BUSY: [DEFERRED]})
    with ScriptedServer(handler) as srv:
        mail_settings.save_server(ctx, admin, MailServerForm(
            host="127.0.0.1", port=srv.port, security="none", from_addr="office@commstui.example",
            concurrency=1))
        yield srv


async def open_record(pilot, message_id: int, now=NOW) -> DeliveryRecordScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers")
    screen = DeliveryRecordScreen(message_id, now=fixed(now))
    await app.push_screen(screen)
    await until(pilot, lambda: screen.record is not None, "the record")
    await pilot.pause()
    return screen


def header(screen) -> str:
    return static_text(screen.query_one("#record-header"))


def recipients(screen) -> list[list[str]]:
    return rows(screen.query_one("#recipients-table", DataTable))


def attempts(screen) -> list[list[str]]:
    return rows(screen.query_one("#attempts-table", DataTable))


async def test_who_did_not_get_it_and_why_is_at_the_top(ctx, operator, olivia, server, settings):
    message = scheduled(ctx, operator, olivia, "Meter reading", to=f"{olivia.email}, {GONE}")
    assert await dispatch_at(ctx, settings, local(15, 20) + timedelta(seconds=5)) == 1
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_record(pilot, message.id, now=local(16))
        top = header(screen)
        assert "Meter reading" in top and message.message_id in top
        assert "accepted by mail server" in top
        assert "Scheduled  Mon 10 Mar 2031 15:20 AEDT (UTC+11:00)" in top
        shown = screen_text(app)
        assert "Outcome    2 recipients: 1 refused, 1 accepted · did not get it:" in shown
        # on screen at once, with the server's words (cut to the width; the table has them whole)
        assert f"{GONE} refused 550 5.1.1 <gone@example.org>: Recipient" in shown
        # problems first in the table, with the server's words
        listed = recipients(screen)
        assert [r[:2] for r in listed] == [["refused", GONE], ["accepted", olivia.email]]
        assert listed[0][3] == REFUSED and listed[0][2] == "10 Mar 15:20"
        [attempt] = attempts(screen)
        assert attempt[:3] == ["1", "10 Mar 15:20", "accepted"]
        assert GONE in attempt[4]
        assert all(len(line) <= 80 for line in shown.splitlines())


async def test_a_deferred_recipient_is_pending_then_gets_it(ctx, operator, olivia, server, settings):
    message = scheduled(ctx, operator, olivia, "Meter reading", to=f"{olivia.email}, {BUSY}")
    assert await dispatch_at(ctx, settings, local(15, 20) + timedelta(seconds=5)) == 1
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_record(pilot, message.id, now=local(15, 21))
        top = header(screen)
        assert "retrying" in top and "Next try" in top
        shown = screen_text(app)
        assert "2 recipients: 1 pending, 1 accepted · not got it yet:" in shown
        assert f"{BUSY} pending {DEFERRED}" in shown
        assert recipients(screen)[0][:2] == ["pending", BUSY]
        # the retry goes out (the same Message-ID, to the one still owed it); r reloads
        assert await dispatch_at(ctx, settings, local(15, 30)) == 1
        await pilot.press("r")
        await until(pilot, lambda: "everyone's server accepted it" in header(screen), "delivered")
        assert [a[2] for a in attempts(screen)] == ["temporary", "accepted"] or \
            [a[2] for a in attempts(screen)][-1] == "accepted"
        assert {r[0] for r in recipients(screen)} == {"accepted"}


async def test_failed_with_the_servers_words(ctx, operator, olivia, settings, admin):
    handler = ScriptedHandler(data_replies=["554 5.7.1 Message rejected as spam"])
    with ScriptedServer(handler) as srv:
        mail_settings.save_server(ctx, admin, MailServerForm(
            host="127.0.0.1", port=srv.port, security="none", from_addr="office@commstui.example"))
        message = scheduled(ctx, operator, olivia, "Meter reading")
        assert await dispatch_at(ctx, settings, local(15, 20) + timedelta(seconds=5)) == 1
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_record(pilot, message.id, now=local(16))
        top = header(screen)
        assert "failed" in top and "554 5.7.1 Message rejected as spam" in top
        shown = screen_text(app)
        assert "1 recipient: 1 failed · did not get it:" in shown
        assert f"{olivia.email} failed 554 5.7.1 Message rejected" in shown
        assert recipients(screen)[0][0] == "failed"
        assert attempts(screen)[0][2] == "permanent"


async def test_not_tried_yet_and_escape_goes_back(ctx, operator, olivia, mail_server):
    message = scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_record(pilot, message.id)
        assert "Scheduled  Mon 10 Mar 2031 15:20 AEDT (UTC+11:00) · in 3 h 20 min" in header(screen)
        assert "Outcome    1 recipient · not tried yet" in screen_text(app)
        assert "Not tried yet." in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "back")
