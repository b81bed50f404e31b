"""The batches list, approval and results, driven like an operator at 80x24: real DuckDB,
batches generated through the services, approval rules per role, a bulk email batch
delivered to the capture SMTP server once approved, and the error report read back."""

from __future__ import annotations

import pytest
from pypdf import PdfReader
from textual.widgets import Button, DataTable, Input, Select, Static

from commstui.config import data_dir
from commstui.delivery.capture import read_outbox
from commstui.screens.batch_approval import ApprovalScreen
from commstui.screens.batch_results import BatchResultsScreen
from commstui.screens.batches import BatchesScreen
from commstui.screens.undelivered_emails import UndeliveredEmailsScreen
from commstui.screens.unposted_letters import UnpostedLettersScreen
from commstui.services import batches
from commstui.services.errors import PermissionDenied, ValidationError

from batch_helpers import SIZE, app_for, make_batch, notice_pdf, opened, sample_user, user_with
from tui_helpers import notifications, screen_text, static_text, until


@pytest.fixture
def sender(ctx):
    return sample_user(ctx, "bulk-sender")


@pytest.fixture
def approver(ctx):
    return sample_user(ctx, "bulk-approver")


@pytest.fixture
def both(ctx, admin):
    """May send and approve, but not approve what they generated themselves."""
    return user_with(ctx, admin, "both", "bulkSend", "bulkApprove")


def table_rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def open_approval(pilot, batch_id: int) -> ApprovalScreen:
    await pilot.app.push_screen(ApprovalScreen(batch_id))
    screen = await opened(pilot, ApprovalScreen)
    await until(pilot, lambda: screen.summary is not None, what="the summary")
    return screen


def status_of(ctx, admin, batch_id: int) -> str:
    return batches.get_batch(ctx, admin, batch_id).status


# -- the list ------------------------------------------------------------------------------
async def test_batches_newest_first_with_counts_and_a_status_filter(ctx, admin, sender, approver, mail_server):
    first = make_batch(ctx, sender, subject="Water off")
    second = make_batch(ctx, sender, accounts="A1000001 A1000003", mode="letter", subject="Lift works")
    batches.approve(ctx, approver, first.id)
    app = app_for(ctx, approver)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(BatchesScreen())
        screen = await opened(pilot, BatchesScreen)
        await until(pilot, lambda: screen.loaded, what="the batches")
        table = screen.query_one("#batches-table", DataTable)
        rows = table_rows(table)
        assert [r[0] for r in rows] == [str(second.id), str(first.id)]
        # No, Title, Status, Created by, Created, Emails, Letters, SMS, Calls, Not generated
        assert rows[0][1:4] == ["Lift works", "pending approval", "bulk-sender"]
        assert rows[0][5:] == ["0", "2", "0", "0", "0"]
        assert rows[1][1:3] == ["Water off", "approved"] and rows[1][5:] == ["2", "0", "0", "0", "1"]
        text = screen_text(app)
        assert "2 batches · 1 pending approval" in text
        # the highlighted batch's counts, underneath
        assert "2 letters" in static_text(screen.query_one("#batch-detail"))
        screen.query_one("#batches-status", Select).value = "approved"
        await until(pilot, lambda: table.row_count == 1 and screen.status == "approved", what="the filter")
        assert table_rows(table)[0][0] == str(first.id)
        assert "approved by bulk-approver" in static_text(screen.query_one("#batch-detail"))


async def test_keys_open_review_results_and_the_dashboards_of_the_highlighted_batch(ctx, sender, mail_server):
    batch = make_batch(ctx, sender)
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(BatchesScreen())
        screen = await opened(pilot, BatchesScreen)
        await until(pilot, lambda: screen.loaded, what="the batches")
        for key, kind in (("enter", ApprovalScreen), ("a", ApprovalScreen), ("r", BatchResultsScreen),
                          ("e", UndeliveredEmailsScreen), ("l", UnpostedLettersScreen)):
            await pilot.press(key)
            shown = await opened(pilot, kind, what=f"{key} -> {kind.__name__}")
            assert getattr(shown, "batch_id") == batch.id
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is screen, what="back to the list")


async def test_an_approver_is_not_offered_the_senders_dashboards(ctx, sender, approver, mail_server):
    make_batch(ctx, sender)
    app = app_for(ctx, approver)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(BatchesScreen())
        screen = await opened(pilot, BatchesScreen)
        await until(pilot, lambda: screen.loaded, what="the batches")
        await pilot.press("e", "l")
        assert app.screen is screen
        footer = screen_text(app).splitlines()[-1]
        assert "Results" in footer and "Emails" not in footer and "Letters" not in footer


async def test_no_batches_yet_says_where_they_come_from(ctx, approver):
    app = app_for(ctx, approver)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(BatchesScreen())
        screen = await opened(pilot, BatchesScreen)
        await until(pilot, lambda: screen.loaded, what="the batches")
        assert not screen.query_one("#batches-table").display
        assert "A bulk send made with the Bulk Send wizard appears here" in static_text(
            screen.query_one("#batch-detail"))
        assert "0 batches" in screen_text(app)


# -- approval rules per role -------------------------------------------------------------------
async def test_an_approver_approves_another_users_batch(ctx, admin, sender, approver, mail_server):
    batch = make_batch(ctx, sender)
    app = app_for(ctx, approver)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(BatchesScreen())
        listed = await opened(pilot, BatchesScreen)
        await until(pilot, lambda: listed.loaded, what="the batches")
        await pilot.press("enter")
        screen = await opened(pilot, ApprovalScreen)
        await until(pilot, lambda: screen.summary is not None, what="the summary")
        summary = static_text(screen.query_one("#approval-summary"))
        assert "3 chosen: 2 emails · 1 not generated" in summary
        assert "1 recipient will get nothing" in summary
        assert "Email (post)" not in summary and "Email" in summary and "adhoc message" in summary
        assert "by bulk-sender" in summary and "Attachment  none" in summary
        samples = static_text(screen.query_one("#approval-samples"))
        assert "Email 1 of 2" in samples and "Email 2 of 2" in samples
        # the customer's name as it is, never read as markup
        assert "Dear [bold]Mallory[/bold] Tables," in samples
        assert not screen.query_one("#approval-why").display
        assert not screen.query_one("#approve", Button).disabled
        await pilot.press("a")
        await until(pilot, lambda: status_of(ctx, admin, batch.id) == "approved", what="the approval")
        await until(pilot, lambda: screen.summary.batch.status == "approved", what="the screen to follow")
        assert any("Batch" in n and "approved" in n for n in notifications(app))
        assert screen.query_one("#approve", Button).disabled
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is listed, what="back to the list")
        await until(pilot, lambda: "approved" in table_rows(listed.query_one("#batches-table"))[0][2],
                    what="the list to show it")
    decided = batches.get_batch(ctx, admin, batch.id)
    assert decided.decided_by == "bulk-approver" and decided.decided_at is not None
    assert {e.state for e in batches.undelivered_emails(ctx, admin, batch.id)} == {"queued"}


async def test_the_creator_with_send_and_approve_cannot_approve_their_own(ctx, admin, both, mail_server):
    batch = make_batch(ctx, both)
    app = app_for(ctx, both)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_approval(pilot, batch.id)
        why = screen.query_one("#approval-why", Static)
        assert why.display and "You generated this batch" in static_text(why)
        assert screen.query_one("#approve", Button).disabled and screen.query_one("#reject", Button).disabled
        await pilot.press("a", "x")
        await pilot.pause()
        assert status_of(ctx, admin, batch.id) == "pending"
    # the service is the judge, whatever a screen offers
    with pytest.raises(PermissionDenied, match="You generated this batch"):
        batches.approve(ctx, both, batch.id)
    with pytest.raises(PermissionDenied):
        batches.reject(ctx, both, batch.id, "no")
    assert status_of(ctx, admin, batch.id) == "pending"


async def test_send_only_users_cannot_approve(ctx, admin, both, sender, mail_server):
    batch = make_batch(ctx, both)
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_approval(pilot, batch.id)
        assert "not allowed to approve bulk sends (role bulkApprove)" in static_text(
            screen.query_one("#approval-why"))
        assert screen.query_one("#approve", Button).disabled
        assert screen.query_one("#comment", Input).disabled
    with pytest.raises(PermissionDenied, match="bulkApprove"):
        batches.approve(ctx, sender, batch.id)
    assert status_of(ctx, admin, batch.id) == "pending"


async def test_another_user_with_both_roles_may_approve(ctx, admin, both, sender, mail_server):
    batch = make_batch(ctx, sender)
    app = app_for(ctx, both)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_approval(pilot, batch.id)
        assert screen.summary.may_decide
        await pilot.press("a")
        await until(pilot, lambda: status_of(ctx, admin, batch.id) == "approved", what="the approval")


async def test_an_administrator_may_approve_their_own_batch(ctx, admin, mail_server):
    batch = make_batch(ctx, admin)
    app = app_for(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_approval(pilot, batch.id)
        assert screen.summary.may_decide and not screen.query_one("#approval-why").display
        screen.query_one("#comment", Input).focus()
        await pilot.press(*"Checked", "enter")   # Enter in the comment moves to Approve
        assert app.focused is screen.query_one("#approve", Button)
        await pilot.press("enter")
        await until(pilot, lambda: status_of(ctx, admin, batch.id) == "approved", what="the approval")
    assert batches.get_batch(ctx, admin, batch.id).decision_comment == "Checked"


async def test_reject_needs_a_comment_then_nothing_is_sent(ctx, admin, sender, approver, mail_server):
    batch = make_batch(ctx, sender)
    app = app_for(ctx, approver)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_approval(pilot, batch.id)
        await pilot.press("x")
        error = screen.query_one("#comment-error", Static)
        await until(pilot, lambda: error.display, what="the comment error")
        assert "Say why the batch is rejected" in static_text(error)
        assert app.focused is screen.query_one("#comment", Input)
        assert status_of(ctx, admin, batch.id) == "pending"
        await pilot.press(*"Wrong building")
        assert not error.display   # typing clears it
        await pilot.press("tab", "tab")
        assert app.focused is screen.query_one("#reject", Button)
        await pilot.press("enter")
        await until(pilot, lambda: status_of(ctx, admin, batch.id) == "rejected", what="the rejection")
        await until(pilot, lambda: screen.summary.batch.status == "rejected", what="the screen to follow")
        assert "Wrong building" in static_text(screen.query_one("#approval-summary"))
    with pytest.raises(ValidationError) as refused:
        batches.reject(ctx, approver, make_batch(ctx, sender).id, "   ")
    assert refused.value.field == "comment"
    assert batches.undelivered_emails(ctx, admin, batch.id) == []   # cancelled, not waiting
    assert batches.get_batch(ctx, admin, batch.id).decision_comment == "Wrong building"


# -- approved, then delivered; the results follow -------------------------------------------
async def test_an_approved_email_batch_reaches_the_mail_server_and_the_results_follow(
        ctx, admin, sender, approver, capture, mail_server):
    batch = make_batch(ctx, sender)
    app = app_for(ctx, approver, dispatcher=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.dispatcher is not None, what="the dispatcher")
        screen = await open_approval(pilot, batch.id)
        assert read_outbox(capture.outbox) == []   # nothing before approval
        await pilot.press("r")
        results = await opened(pilot, BatchResultsScreen)
        await until(pilot, lambda: results.results is not None, what="the results")
        assert "0 succeeded   2 waiting   1 failed" in static_text(results.query_one("#results-head"))
        assert "nothing is sent before approval" in static_text(results.query_one("#results-head"))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="back to approval")
        await pilot.press("a")
        await until(pilot, lambda: len(read_outbox(capture.outbox)) == 2, timeout=15, what="delivery")
        await pilot.press("r")
        results = await opened(pilot, BatchResultsScreen)
        await until(pilot, lambda: results.results is not None and results.results.succeeded == 2,
                    timeout=15, what="the results to follow the sends")
        assert "2 succeeded   0 waiting   1 failed" in static_text(results.query_one("#results-head"))
    received = read_outbox(capture.outbox)
    assert sorted(r.rcpt_tos for r in received) == [("mallory@example.com",), ("olivia.bennett@example.com",)]
    assert {r.subject for r in received} == {"Lift works"}
    bodies = {r.parse().get_body(("plain",)).get_content() for r in received}
    assert any("Dear [bold]Mallory[/bold] Tables," in b for b in bodies)


async def test_results_list_the_failures_and_print_the_error_report(ctx, admin, sender, approver, mail_server):
    batch = make_batch(ctx, sender)
    batches.approve(ctx, approver, batch.id)
    app = app_for(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(BatchResultsScreen(batch.id))
        screen = await opened(pilot, BatchResultsScreen)
        await until(pilot, lambda: screen.results is not None, what="the results")
        table = screen.query_one("#failures", DataTable)
        assert [str(c.label) for c in table.columns.values()] == [
            "Account No", "Linked Account No", "Type", "Name", "Channel", "Destination", "Error"]
        assert table_rows(table) == [["A1000002", "A1000002", "Customer", "Rajesh Kumar", "Email", "—",
                                      "no email address"]]
        detail = static_text(screen.query_one("#failure-detail"))
        assert "Rajesh Kumar (Customer, account A1000002)" in detail and "no email address" in detail
        assert "accepted by the mail server (it may still bounce later)" in screen_text(app)
        await pilot.press("p")
        report = data_dir() / "reports" / f"batch-{batch.id}-errors.pdf"
        await until(pilot, lambda: any(str(report) in n for n in notifications(app)), what="the report")
        # from the results to the batch's waiting emails (to retry or cancel them)
        await pilot.press("e")
        emails = await opened(pilot, UndeliveredEmailsScreen, what="the emails dashboard")
        assert emails.batch_id == batch.id
    text = "\n".join(page.extract_text() for page in PdfReader(report).pages)
    for expected in ("Bulk send error report", f"Batch {batch.id}: Lift works", "Rajesh Kumar", "A1000002",
                     "no email address", "Linked Account No"):
        assert expected in text, expected


async def test_the_approver_sees_the_attachment_name_size_and_pages(ctx, tmp_path, sender, approver, mail_server):
    notice = notice_pdf(tmp_path / "lift-notice.pdf", pages=2)
    batch = make_batch(ctx, sender, mode="letter", attachment=notice)
    app = app_for(ctx, approver)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_approval(pilot, batch.id)
        summary = static_text(screen.query_one("#approval-summary"))
        size = notice.stat().st_size
        shown = f"{size} bytes" if size < 1024 else f"{size / 1024:.0f} KB"
        assert f"Attachment  lift-notice.pdf · {shown} · 2 pages" in summary
        assert "3 chosen: 3 letters" in summary and "Letter (post)" in summary
        samples = static_text(screen.query_one("#approval-samples"))
        assert "Letter 1 of 3" in samples and "Address" in samples and "Olivia Bennett" in samples
