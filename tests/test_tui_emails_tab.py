"""The Emails tab with scheduled email, driven like an operator at 80x24: due times in
the office zone and "in 3 h 20 min" (a fixed clock, no sleeping), the status words,
series marked ↻, and changing one's mind — cancel (one, or the whole series),
reschedule, edit — which needs customerEdit. Data comes through the services and a
dispatcher with a fixed clock, against a real DuckDB file and a real SMTP server."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from textual.widgets import DataTable

from commstui.app import CommsApp
from commstui.domain import MessageStatus, Repeat, ScheduleRequest
from commstui.screens.cancel_email import CancelEmailScreen
from commstui.screens.compose import ComposeScreen
from commstui.screens.customer_details import FAST_POLL, SLOW_POLL, MessagesChanged
from commstui.screens.delivery_record import DeliveryRecordScreen
from commstui.screens.schedule import ScheduleScreen
from commstui.services import customers, schedule
from commstui.store import series as series_store

from emails_helpers import SIZE, ZONE, dispatch_at, local, open_emails, rows, scheduled, set_office
from tui_helpers import notifications, screen_text, static_text, until


@pytest.fixture
def olivia(ctx, admin, mail_server):
    set_office(ctx, admin)
    return customers.get_by_account(ctx, admin, "A1000001")


def table(screen) -> DataTable:
    return screen.query_one("#emails-table", DataTable)


def statuses(screen) -> list[str]:
    return [row[3] for row in rows(table(screen))]


def detail(screen) -> str:
    return static_text(screen.query_one("#email-detail"))


async def test_a_scheduled_email_shows_its_office_time_and_how_long_until_it_goes(ctx, operator, olivia):
    scheduled(ctx, operator, olivia, "Meter reading")  # 15:20 Sydney; the clock says 12:00
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emails(pilot, olivia.id)
        [row] = rows(table(screen))
        assert row[0] == "10 Mar 15:20"
        assert row[3] == "scheduled in 3 h 20 min"
        shown = screen_text(app)
        assert "When (Sydney)" in shown  # whose clock the times are on
        assert "scheduled in 3 h 20 min" in shown
        assert "Mon 10 Mar 2031 15:20 AEDT (UTC+11:00) · in 3 h 20 min" in detail(screen)
        # hours away: the tab looks again every 30 s (so the countdown stays true), not every second
        assert screen.poll_seconds == SLOW_POLL
        assert all(len(line) <= 80 for line in shown.splitlines())
        # the footer offers the changes, enabled for a scheduled email
        footer = shown.splitlines()[-1]
        for words in ("Cancel", "Reschedule", "Edit", "Record"):
            assert words in footer
        for action in ("cancel_email", "reschedule", "edit_email", "delivery_record"):
            assert screen.check_action(action, ()) is True


async def test_polls_every_second_only_once_a_send_is_near(ctx, operator, olivia):
    scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emails(pilot, olivia.id, now=local(15, 19) + timedelta(seconds=30))
        assert statuses(screen) == ["scheduled"]  # under a minute: no countdown, it is going
        assert screen.poll_seconds == FAST_POLL
        screen.now = lambda: local(9)
        assert screen.poll_seconds == SLOW_POLL
        # long overdue with nobody sending: not worth a look every second either
        screen.now = lambda: local(16, 0)
        assert screen.poll_seconds == SLOW_POLL


async def test_statuses_say_what_became_of_each_email(ctx, operator, olivia, settings):
    scheduled(ctx, operator, olivia, "Goes at ten", at=time(10, 0), now=local(9))
    scheduled(ctx, operator, olivia, "Weekly reminder", at=time(15, 20), repeat=Repeat.WEEKLY)
    assert await dispatch_at(ctx, settings, local(10, 0) + timedelta(seconds=5)) == 1
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emails(pilot, olivia.id)
        by_subject = {row[2]: row for row in rows(table(screen))}
        assert by_subject["Goes at ten"][3] == "accepted by mail server"
        assert by_subject["Weekly reminder"][0] == "10 Mar 15:20 ↻"  # an occurrence of a series
        assert by_subject["Weekly reminder"][3] == "scheduled in 3 h 20 min"
        table(screen).move_cursor(row=list(by_subject).index("Weekly reminder"))
        await until(pilot, lambda: "every Monday at 15:20" in detail(screen), "the repeat rule")
        table(screen).move_cursor(row=list(by_subject).index("Goes at ten"))
        await until(pilot, lambda: "Sent" in detail(screen) and "Mon 10 Mar 2031 10:00 AEDT" in detail(screen),
                    "when it was sent")
        # sent: nothing left to change; the record is still there to read
        assert screen.check_action("cancel_email", ()) is None
        assert screen.check_action("reschedule", ()) is None
        assert screen.check_action("delivery_record", ()) is True


async def test_cancel_keeps_the_email_in_the_log_as_cancelled(ctx, operator, olivia):
    message = scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_emails(pilot, olivia.id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CancelEmailScreen), "the question")
        assert "Cancel this email?" in screen_text(app)
        await pilot.press("n")  # changed my mind about changing my mind
        await until(pilot, lambda: app.screen is screen, "back, nothing done")
        assert customers.messages(ctx, operator, olivia.id)[0].status == MessageStatus.QUEUED
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CancelEmailScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: statuses(screen) == ["cancelled"], "cancelled in the log")
        assert any("Email cancelled" in n for n in notifications(app))
        assert "cancelled by operator" in detail(screen)
        assert screen.check_action("cancel_email", ()) is None  # greyed now
        [still] = customers.messages(ctx, operator, olivia.id)
        assert still.id == message.id and still.status == MessageStatus.CANCELLED


async def test_cancelling_the_whole_series_stops_it(ctx, operator, olivia):
    first = scheduled(ctx, operator, olivia, "Weekly reminder", repeat=Repeat.WEEKLY)
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emails(pilot, olivia.id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CancelEmailScreen), "the question")
        await until(pilot, lambda: "The whole series (s)" in screen_text(app), "the choice")
        assert "This email only (o)" in screen_text(app) and "Keep it (n)" in screen_text(app)
        await pilot.press("s")
        await until(pilot, lambda: statuses(screen) == ["cancelled"], "cancelled")
    series = ctx.db.run(lambda con: series_store.get(con, first.series_id))
    assert not series.active


async def test_cancelling_one_occurrence_lets_the_series_go_on(ctx, operator, olivia):
    first = scheduled(ctx, operator, olivia, "Weekly reminder", repeat=Repeat.WEEKLY)
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emails(pilot, olivia.id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CancelEmailScreen), "the question")
        await pilot.press("o")
        await until(pilot, lambda: statuses(screen) == ["cancelled"], "cancelled")
    assert ctx.db.run(lambda con: series_store.get(con, first.series_id)).active


async def test_a_viewer_cannot_cancel(ctx, operator, viewer, olivia):
    scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_emails(pilot, olivia.id)
        for key in ("c", "t", "E"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen  # no question, no dialog
        refusals = [n for n in app._notifications if n.title == "Not allowed"]
        assert len(refusals) == 3 and all("customerEdit" in n.message for n in refusals)
        assert statuses(screen) == ["scheduled in 3 h 20 min"]
    assert customers.messages(ctx, operator, olivia.id)[0].status == MessageStatus.QUEUED


async def test_too_late_the_services_refusal_is_shown(ctx, operator, olivia, settings, capture):
    """Another process sent it while the tab still showed it scheduled: the service says no."""
    scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_emails(pilot, olivia.id)
        assert await dispatch_at(ctx, settings, local(15, 20) + timedelta(seconds=5)) == 1
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CancelEmailScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: any("can no longer be changed" in n for n in notifications(app)),
                    "the refusal")
        await until(pilot, lambda: statuses(screen) == ["accepted by mail server"], "the truth, reloaded")


async def test_reschedule_opens_the_dialog_at_the_emails_time(ctx, operator, olivia):
    scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_emails(pilot, olivia.id)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ScheduleScreen), "the Schedule dialog")
        dialog = app.screen
        assert dialog.zone_name == ZONE
        assert dialog.initial == ScheduleRequest(date(2031, 3, 10), time(15, 20))
        await pilot.press("right", "enter")  # on the calendar: pick the next day, same time
        await until(pilot, lambda: "Tue 11 Mar 2031 15:20" in screen_text(app), "the new day picked")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: statuses(screen) == ["scheduled in 1 day 3 h"], "moved a day on")
        assert rows(table(screen))[0][0] == "11 Mar 15:20"
        assert any("Rescheduled for Tue 11 Mar 2031 15:20 AEDT" in n for n in notifications(app))


async def test_reschedule_a_series_starts_from_its_rule(ctx, operator, olivia):
    message = scheduled(ctx, operator, olivia, "Weekly reminder", repeat=Repeat.WEEKLY)
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_emails(pilot, olivia.id)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ScheduleScreen), "the Schedule dialog")
        assert app.screen.initial == ScheduleRequest(date(2031, 3, 10), time(15, 20), Repeat.WEEKLY)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ScheduleScreen), "closed")
    assert schedule.delivery_record(ctx, operator, message.id).message.scheduled_at == local(15, 20)


async def test_edit_opens_compose_on_the_email(ctx, operator, olivia):
    message = scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_emails(pilot, olivia.id)
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, ComposeScreen), "Compose")
        assert app.screen.editing.id == message.id


async def test_enter_opens_the_delivery_record(ctx, operator, olivia):
    message = scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emails(pilot, olivia.id)
        table(screen).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DeliveryRecordScreen), "the record")
        assert app.screen.message_id == message.id
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DeliveryRecordScreen), "the record again")


async def test_changes_are_offered_only_on_the_emails_tab(ctx, operator, olivia):
    scheduled(ctx, operator, olivia, "Meter reading")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emails(pilot, olivia.id)
        await pilot.press("1")
        await pilot.pause()
        assert screen.check_action("cancel_email", ()) is False
        footer = screen_text(app).splitlines()[-1]
        assert "Reschedule" not in footer
        await pilot.press("c")
        await pilot.pause()
        assert app.screen is screen



async def test_an_email_queued_elsewhere_shows_up_when_the_dispatcher_reports(ctx, operator, olivia):
    """The app's dispatcher reports ids this tab has never seen: it looks once, shortly."""
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emails(pilot, olivia.id)
        assert screen.poll_seconds is None  # nothing waiting: no polling at all
        other = scheduled(ctx, operator, olivia, "From the command line")
        screen.post_message(MessagesChanged([other.id]))
        await until(pilot, lambda: statuses(screen) == ["scheduled in 3 h 20 min"], "the new email")
