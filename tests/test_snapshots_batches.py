"""Snapshots (pytest-textual-snapshot) of the bulk batch screens at 80x24: the batches
list, approval of a batch with an attachment, its results with a failure, and the two
dashboards.

Deterministic: the office zone is fixed (Australia/Sydney) and every time the screens
show is set to a fixed instant after generation; the failure comes from a scripted
aiosmtpd; there is no dispatcher (the status line says so once it has read the figures,
which the tests wait for). Update with `pytest --snapshot-update` and look at the SVGs
before committing them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from textual.widgets import Input

from commstui.app import CommsApp
from commstui.delivery.dispatcher import Dispatcher
from commstui.screens.batch_approval import ApprovalScreen
from commstui.screens.batch_results import BatchResultsScreen
from commstui.screens.batches import BatchesScreen
from commstui.screens.undelivered_emails import UndeliveredEmailsScreen
from commstui.screens.unposted_letters import UnpostedLettersScreen
from commstui.services import batches, mail_settings
from commstui.services.mail_settings import MailServerForm

from batch_helpers import SIZE, make_batch, notice_pdf, sample_user, user_with
from emails_helpers import set_office
from smtp_servers import ScriptedHandler, ScriptedServer
from tui_helpers import screen_text, until

AT = datetime(2031, 3, 10, 1, 0, tzinfo=UTC)   # 12:00 in Sydney


def pin_times(ctx) -> None:
    """Every time these screens show, at one fixed instant."""
    def pin(con):
        con.execute("update batches set created_at = ?, generated_at = ?, "
                    "decided_at = case when decided_at is null then null else ? end", [AT, AT, AT])
        con.execute("update messages set created_at = ?, due_at = ?, scheduled_at = ? where batch_id is not null",
                    [AT, AT, AT])
    ctx.db.run(pin)


@pytest.fixture
def three_batches(ctx, admin, settings, tmp_path):
    """1: emails, approved, one refused for good by the server; 2: letters with an
    attachment, approved; 3: emails, pending approval."""
    set_office(ctx, admin)
    sender, approver = sample_user(ctx, "bulk-sender"), sample_user(ctx, "bulk-approver")
    handler = ScriptedHandler(data_replies=["554 5.7.1 Message rejected as spam"])
    with ScriptedServer(handler) as server:
        mail_settings.save_server(ctx, admin, MailServerForm(
            host="127.0.0.1", port=server.port, security="none", from_addr="office@commstui.example",
            concurrency=1))
        emails = make_batch(ctx, sender, subject="Water off Tuesday")
        letters = make_batch(ctx, sender, mode="letter", subject="Lift works",
                             attachment=notice_pdf(tmp_path / "lift-notice.pdf"))
        pending = make_batch(ctx, sender, accounts="A1000001 A1000003 A1000004", subject="Fire drill")
        batches.approve(ctx, approver, emails.id, "Checked with the building manager")
        batches.approve(ctx, approver, letters.id)
        assert asyncio.run(Dispatcher(ctx.db, settings).run_once()) == 2
    pin_times(ctx)
    return emails, letters, pending


def still_cursors(app) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False


def dispatcher_shown(app) -> bool:
    return app.dispatcher_view is not None and "not running" in screen_text(app).splitlines()[0]


def test_batches_list(snap_compare, ctx, admin, three_batches):
    async def loaded(pilot):
        app = pilot.app
        screen = BatchesScreen()
        await app.push_screen(screen)
        await until(pilot, lambda: screen.loaded, "the batches")
        await until(pilot, lambda: dispatcher_shown(app), "the dispatcher on the status line")

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=loaded)


def test_approval_of_a_pending_batch(snap_compare, ctx, admin, three_batches):
    pending = three_batches[2]

    async def loaded(pilot):
        app = pilot.app
        screen = ApprovalScreen(pending.id)
        await app.push_screen(screen)
        await until(pilot, lambda: screen.summary is not None, "the summary")
        await until(pilot, lambda: dispatcher_shown(app), "the dispatcher on the status line")
        still_cursors(app)

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=loaded)


def test_approval_refused_to_a_sender(snap_compare, ctx, admin, three_batches):
    letters = three_batches[1]
    # customerView too, so the office zone (and the times shown) are the office's, not the host's
    checker = user_with(ctx, admin, "checker", "bulkSend", "customerView")

    async def loaded(pilot):
        app = pilot.app
        screen = ApprovalScreen(letters.id)
        await app.push_screen(screen)
        await until(pilot, lambda: screen.summary is not None, "the summary")
        await until(pilot, lambda: app.dispatcher_view is not None, "the status line")
        still_cursors(app)

    assert snap_compare(CommsApp(ctx, checker, run_dispatcher=False), terminal_size=SIZE, run_before=loaded)


def test_results_with_a_failure(snap_compare, ctx, admin, three_batches):
    emails = three_batches[0]

    async def loaded(pilot):
        app = pilot.app
        screen = BatchResultsScreen(emails.id)
        await app.push_screen(screen)
        await until(pilot, lambda: screen.results is not None, "the results")
        await until(pilot, lambda: dispatcher_shown(app), "the dispatcher on the status line")

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=loaded)


def test_undelivered_emails(snap_compare, ctx, admin, three_batches):
    async def loaded(pilot):
        app = pilot.app
        screen = UndeliveredEmailsScreen()
        await app.push_screen(screen)
        await until(pilot, lambda: screen.loaded, "the emails")
        await until(pilot, lambda: dispatcher_shown(app), "the dispatcher on the status line")

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=loaded)


def test_unposted_letters_two_ticked(snap_compare, ctx, admin, three_batches):
    letters = three_batches[1]

    async def loaded(pilot):
        app = pilot.app
        screen = UnpostedLettersScreen(batch_id=letters.id)
        await app.push_screen(screen)
        await until(pilot, lambda: screen.loaded, "the letters")
        await until(pilot, lambda: dispatcher_shown(app), "the dispatcher on the status line")
        await pilot.press("space", "down", "space")

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=loaded)
