"""Undelivered Emails and Undelivered Posted Mail, driven like an operator at 80x24:
failures and retries from a scripted SMTP server on 127.0.0.1, retry and cancel (asked
first), filtering by batch, a merged print PDF read back with pypdf, and letters marked
posted leaving a note on the account."""

from __future__ import annotations

import asyncio

import pytest
from pypdf import PdfReader
from textual.widgets import DataTable, Select

from commstui.delivery.dispatcher import Dispatcher
from commstui.screens.confirm import ConfirmScreen
from commstui.screens.undelivered_emails import UndeliveredEmailsScreen
from commstui.screens.unposted_letters import UnpostedLettersScreen
from commstui.services import batches, customers, mail_settings
from commstui.services.mail_settings import MailServerForm

from batch_helpers import SIZE, app_for, make_batch, notice_pdf, opened, sample_user
from smtp_servers import ScriptedHandler, ScriptedServer
from tui_helpers import notifications, screen_text, static_text, until

SPAM = "554 5.7.1 Message rejected as spam"
LATER = "451 4.3.0 Try again later"


@pytest.fixture
def sender(ctx):
    return sample_user(ctx, "bulk-sender")


@pytest.fixture
def approver(ctx):
    return sample_user(ctx, "bulk-approver")


@pytest.fixture
def scripted(ctx, admin):
    """The active mail server: the first email is refused for good, the second for now."""
    handler = ScriptedHandler(data_replies=[SPAM, LATER])
    with ScriptedServer(handler) as server:
        mail_settings.save_server(ctx, admin, MailServerForm(
            host="127.0.0.1", port=server.port, security="none", from_addr="office@commstui.example",
            concurrency=1))
        yield server


@pytest.fixture
def one_failed_one_retrying(ctx, settings, sender, approver, scripted):
    """An approved batch of two emails, dispatched once: one failed (554), one retrying (451)."""
    batch = make_batch(ctx, sender, accounts="A1000001 A1000003")
    batches.approve(ctx, approver, batch.id)
    assert asyncio.run(Dispatcher(ctx.db, settings).run_once()) == 2
    return batch


def rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def by_state(ctx, user, batch_id: int) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for e in batches.undelivered_emails(ctx, user, batch_id):
        found.setdefault(e.state, []).append(e.message_id)
    return found


async def open_dashboard(pilot, screen):
    await pilot.app.push_screen(screen)
    shown = await opened(pilot, type(screen))
    await until(pilot, lambda: shown.loaded, what="the list")
    return shown


def highlight(screen, message_id: int) -> None:
    table = screen.query_one("#dash-table", DataTable)
    table.move_cursor(row=table.get_row_index(str(message_id)))


# -- Undelivered Emails ------------------------------------------------------------------------
async def test_failed_and_retrying_emails_show_with_the_servers_reason(ctx, sender, one_failed_one_retrying):
    batch = one_failed_one_retrying
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, UndeliveredEmailsScreen(batch_id=batch.id))
        table = screen.query_one("#dash-table", DataTable)
        found = rows(table)
        assert sorted(r[5] for r in found) == ["failed", "retrying"]
        assert {r[7] for r in found} == {SPAM, LATER}
        assert "2 emails not yet accepted · 1 retrying · 1 failed" in screen_text(app)
        failed = next(r for r in found if r[5] == "failed")
        assert failed[1] == str(batch.id) and failed[6] == "1"
        # the reason in full for the highlighted row
        highlight(screen, int(table.coordinate_to_cell_key((found.index(failed), 0)).row_key.value))
        await pilot.pause()
        assert SPAM in static_text(screen.query_one("#dash-detail"))
        assert screen.query_one("#dash-batch", Select).value == batch.id


async def test_retry_makes_the_ticked_email_due_now_and_wakes_the_dispatcher(
        ctx, admin, settings, sender, scripted, one_failed_one_retrying):
    batch = one_failed_one_retrying
    [failed] = by_state(ctx, admin, batch.id)["failed"]
    [refused_id] = [r.message_id for r in scripted.handler.received if r.reply == SPAM]
    app = app_for(ctx, sender)
    app.dispatcher = Dispatcher(ctx.db, settings)  # not running: we look at its wake-up call
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, UndeliveredEmailsScreen(batch_id=batch.id))
        highlight(screen, failed)
        await pilot.press("space")
        assert screen.ticked == {failed} and "1 ticked" in screen_text(app)
        await pilot.press("R")
        await until(pilot, lambda: any("1 email due again now" in n for n in notifications(app)), what="retry")
        assert app.dispatcher._wake.is_set()
        assert failed not in by_state(ctx, admin, batch.id).get("failed", [])
        await until(pilot, lambda: not screen.ticked, what="the ticks to clear")
        # the server takes it this time
        assert await app.dispatcher.run_once() >= 1
        await pilot.press("f5")
        await until(pilot, lambda: all(e.message_id != failed for e in screen.rows), what="the list to follow")
    # refused for good the first time, accepted after the retry: the same message
    first, *_, last = [r for r in scripted.handler.received if r.message_id == refused_id]
    assert first.reply == SPAM and last.accepted


async def test_cancel_asks_first_and_no_keeps_them(ctx, admin, sender, one_failed_one_retrying):
    batch = one_failed_one_retrying
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, UndeliveredEmailsScreen(batch_id=batch.id))
        await pilot.press("a")          # tick both
        assert len(screen.ticked) == 2
        await pilot.press("C")
        question = await opened(pilot, ConfirmScreen, what="the question")
        text = static_text(question.query_one("#confirm-text"))
        assert "2 emails will not be sent" in text and "[bold]Mallory[/bold] Tables <mallory@example.com>" in text
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, what="back")
        assert len(batches.undelivered_emails(ctx, admin, batch.id)) == 2
        await pilot.press("C")
        await opened(pilot, ConfirmScreen, what="the question again")
        await pilot.press("y")
        await until(pilot, lambda: any("2 emails cancelled" in n for n in notifications(app)), what="cancel")
        await until(pilot, lambda: screen.rows == [], what="the list to empty")
        assert "No bulk emails are waiting" in static_text(screen.query_one("#dash-detail"))
    assert batches.undelivered_emails(ctx, admin, batch.id) == []
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    assert [m.status for m in customers.messages(ctx, admin, olivia.id) if m.subject == "Lift works"] == [
        "cancelled"]


async def test_the_list_filters_by_batch(ctx, admin, sender, approver, mail_server):
    first = make_batch(ctx, sender, accounts="A1000001", subject="First")
    second = make_batch(ctx, sender, accounts="A1000003 A1000004", subject="Second")
    for b in (first, second):
        batches.approve(ctx, approver, b.id)
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, UndeliveredEmailsScreen())
        table = screen.query_one("#dash-table", DataTable)
        assert sorted(r[1] for r in rows(table)) == [str(first.id), str(second.id), str(second.id)]
        select = screen.query_one("#dash-batch", Select)
        await pilot.press("f")
        assert app.focused is select
        select.value = first.id
        await until(pilot, lambda: screen.batch_id == first.id and table.row_count == 1, what="the filter")
        assert rows(table)[0][2] == "A1000001"
        select.value = 0
        await until(pilot, lambda: screen.batch_id is None and table.row_count == 3, what="all again")


async def test_an_approver_without_bulk_send_is_told_why(ctx, approver):
    app = app_for(ctx, approver)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(UndeliveredEmailsScreen())
        screen = await opened(pilot, UndeliveredEmailsScreen)
        await until(pilot, lambda: any("bulkSend" in n for n in notifications(app)), what="the refusal")
        assert "Could not load the list" in static_text(screen.query_one("#dash-count"))


# -- Undelivered Posted Mail ----------------------------------------------------------------------
@pytest.fixture
def letters(ctx, sender, approver):
    batch = make_batch(ctx, sender, mode="letter", subject="Lift works")
    batches.approve(ctx, approver, batch.id)
    return batch


async def test_letters_wait_only_after_approval(ctx, admin, sender):
    pending = make_batch(ctx, sender, mode="letter")
    assert batches.unposted_letters(ctx, admin, pending.id) == []
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, UnpostedLettersScreen(batch_id=pending.id))
        assert screen.rows == [] and not screen.query_one("#dash-table").display
        assert "No letters are waiting to be posted" in static_text(screen.query_one("#dash-detail"))


async def test_print_ticked_letters_into_one_pdf(ctx, sender, letters):
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, UnpostedLettersScreen(batch_id=letters.id))
        table = screen.query_one("#dash-table", DataTable)
        assert [r[3] for r in rows(table)] == ["Olivia Bennett", "Rajesh Kumar", "[bold]Mallory[/bold] Tables"]
        assert "3 letters to post (3 pages)" in screen_text(app)
        await pilot.press("a")
        assert "3 ticked" in screen_text(app)
        await pilot.press("P")
        await until(pilot, lambda: screen.last_print is not None, what="the print PDF")
        assert any(str(screen.last_print) in n for n in notifications(app))
        path = screen.last_print
    assert path.name.startswith(f"batch-{letters.id}-letters-")
    reader = PdfReader(path)
    assert len(reader.pages) == 3
    pages = [p.extract_text() for p in reader.pages]
    assert "Olivia Bennett" in pages[0] and "Rajesh Kumar" in pages[1]
    assert "[bold]Mallory[/bold] Tables" in pages[2] and "lifts at Parkside Gardens" in pages[2]


async def test_mark_posted_asks_then_leaves_a_note_on_the_account(ctx, admin, sender, letters):
    rajesh = customers.get_by_account(ctx, admin, "A1000002")
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, UnpostedLettersScreen(batch_id=letters.id))
        await pilot.press("down", "space")      # Rajesh Kumar
        assert [r.name for r in screen.targets()] == ["Rajesh Kumar"]
        await pilot.press("M")
        question = await opened(pilot, ConfirmScreen, what="the question")
        assert "Rajesh Kumar (A1000002)" in static_text(question.query_one("#confirm-text"))
        await pilot.press("y")
        await until(pilot, lambda: any("1 letter marked posted" in n for n in notifications(app)), what="posted")
        await until(pilot, lambda: len(screen.rows) == 2, what="the list to follow")
        assert "Rajesh Kumar" not in [r.name for r in screen.rows]
    assert any(n.text == "Letter posted: Lift works" and n.author == "bulk-sender"
               for n in customers.notes(ctx, admin, rajesh.id))
    outcome = batches.results(ctx, admin, letters.id)
    assert (outcome.succeeded, outcome.waiting) == (1, 2)


async def test_each_printed_letter_is_followed_by_the_attachment(ctx, tmp_path, sender, approver):
    batch = make_batch(ctx, sender, accounts="A1000001 A1000002", mode="letter",
                       attachment=notice_pdf(tmp_path / "notice.pdf", pages=2))
    batches.approve(ctx, approver, batch.id)
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dashboard(pilot, UnpostedLettersScreen(batch_id=batch.id))
        await pilot.press("a", "P")
        await until(pilot, lambda: screen.last_print is not None, what="the print PDF")
        path = screen.last_print
    pages = [p.extract_text() for p in PdfReader(path).pages]
    assert len(pages) == 6
    assert "Olivia Bennett" in pages[0] and "Rajesh Kumar" in pages[3]
    assert [("Building notice page 1" in p, "Building notice page 2" in p) for p in (pages[1], pages[2])] == [
        (True, False), (False, True)]
    assert "Building notice page 2" in pages[5]
