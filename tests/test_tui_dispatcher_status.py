"""The dispatcher on the status line at 80x24: figures from a real DuckDB file, zero
parts left out, refreshed when the dispatcher reports a change, and pause/resume for
administrators only (the service refuses everyone else)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import commstui.app as app_module
from commstui.app import PAUSED_NOTICE, CommsApp, CommsCommands
from commstui.domain import DispatcherStatus
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.customers import CustomersScreen
from commstui.services import customers, email, schedule
from commstui.services.errors import PermissionDenied
from commstui.store import messages as messages_store
from commstui.store import office as office_store
from commstui.widgets.dispatcher_status import DispatcherView, describe

from tui_helpers import notifications, text_of, until

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _no_periodic_refresh(monkeypatch):
    # only the first read and the ones a change asks for: a test sees what it caused
    monkeypatch.setattr(app_module, "STATUS_EVERY", 600.0)


def queue(ctx, user, customer, subject: str, due_at: datetime | None = None):
    return email.send_email(ctx, user, customer.id, email.EmailDraft(
        to=customer.email, subject=subject, body="Hello from the office."), due_at=due_at)


@pytest.fixture
def busy_queue(ctx, admin, mail_server):
    """3 queued (2 of them due within the hour, 1 of those a retry), 1 failed, 1 held."""
    now = datetime.now(UTC)
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    queue(ctx, admin, olivia, "due now, will be retried")
    queue(ctx, admin, olivia, "due now, will fail")
    queue(ctx, admin, olivia, "in half an hour", now + timedelta(minutes=30))
    queue(ctx, admin, olivia, "this afternoon", now + timedelta(hours=3))
    queue(ctx, admin, olivia, "missed while nobody ran", now - timedelta(hours=3))

    def arrange(con):
        messages_store.apply_missed_policy(con, now, now - timedelta(hours=1), "held", "missed ")
        due = datetime.now(UTC) + timedelta(seconds=1)  # the two queued "now" are due by then
        [retried] = messages_store.claim(con, "test", due, due + timedelta(minutes=5), 1)
        messages_store.mark_retry(con, retried.id, "test", "421 busy", now + timedelta(minutes=10))
        [failed] = messages_store.claim(con, "test", due, due + timedelta(minutes=5), 1)
        messages_store.mark_failed(con, failed.id, "test", "550 no such user", "550 no such user")

    ctx.db.run(arrange)
    return now


def status_line(app) -> str:
    return text_of(app.screen.query_one("StatusLine"))


async def test_the_status_line_counts_what_waits(ctx, operator, busy_queue):
    figures = schedule.dispatcher_status(ctx, operator)
    assert (figures.queued, figures.due_next_hour, figures.retrying, figures.failing,
            figures.needs_attention, figures.paused) == (3, 2, 1, 1, 1, False)
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen)
                    and "queued" in status_line(app), "the dispatcher's figures")
        line = status_line(app)
        # the short form fits 80 columns beside where you are and who you are
        assert "○ off · 3 queued · 2 <1h · 1 retry · 1 failed · 1 held" in line, line
        assert "Customers" in line and "operator" in line
        assert "…" not in line
        # the same line on Customer details
        olivia = customers.get_by_account(ctx, operator, "A1000001")
        await app.push_screen(CustomerDetailsScreen(olivia.id))
        await until(pilot, lambda: "3 queued" in status_line(app), "the figures on Customer details")
        assert "Customer details" in status_line(app)
        # given the room, in words
        await pilot.resize_terminal(180, 24)
        await until(pilot, lambda: "due next hour" in status_line(app), "the long form")
        assert ("Dispatcher: not running · 3 queued · 2 due next hour · 1 retrying · 1 failed in 24 h · "
                "1 needs attention") in status_line(app)


async def test_zero_parts_are_left_out_and_a_running_dispatcher_is_shown(ctx, operator):
    now = datetime.now(UTC)
    ctx.db.run(lambda con: office_store.heartbeat(con, "svc-host:42", "service", now, now))
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.dispatcher_view is not None, "the dispatcher's figures")
        line = status_line(app)
        assert "running" in line and "not running" not in line, line
        for part in ("queued", "<1h", "retry", "failed", "held", "·"):
            assert part not in line, (part, line)


async def test_a_change_from_the_dispatcher_refreshes_the_line_at_once(ctx, operator, mail_server):
    olivia = customers.get_by_account(ctx, operator, "A1000001")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.dispatcher_view is not None, "the first figures")
        assert "queued" not in status_line(app)
        message = queue(ctx, operator, olivia, "hello")
        app._messages_changed([message.id])  # what the in-process dispatcher calls
        await until(pilot, lambda: "1 queued" in status_line(app), "the new figures", timeout=5)


async def test_an_administrator_pauses_and_resumes(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.dispatcher_view is not None, "the first figures")
        names = [name for name, _run, _help in CommsCommands(app.screen).commands()]
        assert "Delivery: Pause dispatching" in names and "Delivery: Resume dispatching" not in names
        assert "Settings: Office (time zone, missed runs, letterhead)" in names
        assert "Delivery: Needs attention" in names
        await pilot.press("f7")
        await until(pilot, lambda: "PAUSED" in status_line(app), "PAUSED on the line")
        assert "PAUSED by admin" in status_line(app)
        assert any(PAUSED_NOTICE in n for n in notifications(app))
        assert schedule.dispatcher_status(ctx, admin).paused
        names = [name for name, _run, _help in CommsCommands(app.screen).commands()]
        assert "Delivery: Resume dispatching" in names and "Delivery: Pause dispatching" not in names
        await pilot.press("f7")  # now it resumes
        await until(pilot, lambda: "PAUSED" not in status_line(app), "PAUSED gone")
        assert not schedule.dispatcher_status(ctx, admin).paused


async def test_an_operator_may_not_pause(ctx, admin, operator):
    schedule.set_paused(ctx, admin, True)
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "PAUSED" in status_line(app), "PAUSED shown to everyone")
        names = [name for name, _run, _help in CommsCommands(app.screen).commands()]
        assert not any("dispatching" in name for name in names), names
        assert "Settings: Office (time zone, missed runs, letterhead)" not in names
        await pilot.press("f7")
        await pilot.pause()
        assert schedule.dispatcher_status(ctx, operator).paused
    with pytest.raises(PermissionDenied):
        schedule.set_paused(ctx, operator, False)
    assert schedule.dispatcher_status(ctx, admin).paused


def test_each_level_of_detail_says_less():
    figures = DispatcherStatus(paused=False, paused_by=None, queued=12, due_next_hour=3, retrying=2,
                               failing=1, needs_attention=1, next_due=None)
    view = DispatcherView(figures, running_here=True)
    assert describe(view, 0).plain == ("Dispatcher: running · 12 queued · 3 due next hour · 2 retrying · "
                                       "1 failed in 24 h · 1 needs attention")
    assert describe(view, 1).plain == "● running · 12 queued · 3 <1h · 2 retrying · 1 failed · 1 held"
    assert describe(view, 2).plain == "● running · 12 queued · 3 <1h · 2 retry · 1 failed · 1 held"
    assert describe(view, 3).plain == "● 12 queued · 3 <1h · 2 retry · 1 failed · 1 held"
    idle = DispatcherView(DispatcherStatus(paused=False, paused_by=None, queued=0, due_next_hour=0,
                                           retrying=0, failing=0, needs_attention=0, next_due=None))
    assert [describe(idle, level).plain for level in range(4)] == [
        "Dispatcher: not running", "○ not running", "○ not running", "○ off"]
    paused = DispatcherStatus(paused=True, paused_by="[red]x[/red]", queued=0, due_next_hour=0, retrying=0,
                              failing=0, needs_attention=0, next_due=None)
    assert describe(DispatcherView(paused), 1).plain == " PAUSED by [red]x[/red] "  # literal, not markup
    assert describe(DispatcherView(None, error="database busy"), 1).plain == "? status unknown"


def test_a_status_answer_arriving_while_the_app_closes_is_dropped(ctx, admin):
    """The status worker can answer after the last screen is gone (the app closing); that
    answer must not try to refresh key bindings on no screen (CI saw ScreenStackError)."""
    from commstui.app import DispatcherStatusLoaded
    from commstui.widgets.dispatcher_status import DispatcherView

    schedule.set_paused(ctx, admin, True)  # paused: the answer changes F7, which refreshes bindings
    app = CommsApp(ctx, admin, run_dispatcher=False)
    assert not app.screen_stack
    view = DispatcherView(schedule.dispatcher_status(ctx, admin))
    app._dispatcher_status_loaded(DispatcherStatusLoaded(admin, view, admin))
    assert app.dispatcher_view is None  # nothing was shown: there is nowhere to show it
