"""Schedule send, driven like an operator at 80x24: Compose, Ctrl+T, the calendar and the
time by keys, a repeat, the preview, and what lands in the database. Real DuckDB; the
office is in Australia/Sydney so the zone is never the test machine's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from textual.app import App
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from commstui.app import CommsApp
from commstui.domain import MessageStatus, OfficeSettings, Repeat, ScheduleRequest
from commstui.screens.compose import ComposeScreen
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.schedule import ScheduleScreen
from commstui.services import customers, email, schedule
from commstui.widgets.date_picker import DatePicker, add_months
from commstui.widgets.time_picker import TimeInput

from tui_helpers import notifications, screen_text, static_text, until

SIZE = (80, 24)
MALLORY = "A1000003"
ZONE = "Australia/Sydney"
SYDNEY = ZoneInfo(ZONE)


@pytest.fixture
def sydney_office(ctx, admin):
    schedule.save_office_settings(ctx, admin, OfficeSettings(timezone=ZONE))


@pytest.fixture
def mallory(ctx, admin):
    return customers.get_by_account(ctx, admin, MALLORY)


def logged(ctx, user, subject: str):
    return [m for m in email.log(ctx, user, MALLORY) if m.subject == subject]


async def compose_for(pilot, customer) -> ComposeScreen:
    """Open the customer's details and press e, as an operator does."""
    app = pilot.app
    details = CustomerDetailsScreen(customer.id)
    await app.push_screen(details)
    await until(pilot, lambda: details.customer is not None, what="the customer")
    await pilot.press("e")
    await until(pilot, lambda: isinstance(app.screen, ComposeScreen), what="compose")
    screen = app.screen
    await until(pilot, lambda: screen.server_ready is not None, what="the mail server check")
    return screen


async def schedule_dialog(pilot) -> ScheduleScreen:
    await pilot.press("ctrl+t")
    await until(pilot, lambda: isinstance(pilot.app.screen, ScheduleScreen), what="the schedule dialog")
    return pilot.app.screen


async def type_on(pilot, text: str) -> None:
    """Type into the focused Input; all but the last key are put in at once (every key
    press costs the suite a repaint), the last one really typed."""
    field = pilot.app.focused
    field.insert_text_at_cursor(text[:-1])
    await pilot.press(text[-1])


def shown(screen, widget_id: str) -> str:
    widget = screen.query_one(f"#{widget_id}", Static)
    return static_text(widget) if widget.display else ""


async def test_schedule_a_weekly_email_from_compose_by_keys(ctx, operator, mail_server, mallory,
                                                             sydney_office):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        compose = await compose_for(pilot, mallory)
        await pilot.press(*"Bins", "tab", *"Bin day moves.")
        dialog = await schedule_dialog(pilot)
        assert dialog.zone_name == ZONE
        assert isinstance(app.focused, DatePicker)
        chosen = add_months(dialog.query_one(DatePicker).value, 1) + timedelta(days=1)
        await pilot.press("pagedown", "right", "enter")  # next month, a day on, pick
        assert dialog.query_one(DatePicker).value == chosen
        assert isinstance(app.focused, TimeInput)  # Enter moved on to the time
        await pilot.press(*"14:30", "tab")
        assert isinstance(app.focused, RadioSet)
        await pilot.press("down", "down", "enter")  # Weekly on <the chosen weekday>
        weekday = schedule.WEEKDAYS[chosen.weekday()]
        assert dialog.repeat is Repeat.WEEKLY
        on_screen = screen_text(app)
        assert f"Weekly on {weekday}" in on_screen
        assert "Australia/Sydney (AE" in on_screen  # AEDT or AEST, by the date
        first = datetime.combine(chosen, time(14, 30), tzinfo=SYDNEY)
        sends = [first + timedelta(weeks=n) for n in range(5)]
        for at in sends:  # the five sends, in the office zone, on screen
            assert f"{at:%a %d %b %Y} 14:30 {at.tzname()}" in on_screen
        assert f"every {weekday} at 14:30" in on_screen
        await pilot.press("ctrl+s")
        await until(pilot, lambda: compose.is_attached is False, what="compose to close")
        assert any(n.startswith("Email scheduled: Scheduled for "
                                f"{first:%a %d %b %Y} 14:30 {first.tzname()}") for n in notifications(app))
    [message] = logged(ctx, operator, "Bins")
    assert message.status == MessageStatus.QUEUED and message.body == "Bin day moves."
    assert message.scheduled_at == first and message.is_scheduled
    assert message.series_id is not None
    assert message.series_rule == f"30 14 * * {(chosen.weekday() + 1) % 7}"


async def test_a_time_in_the_past_is_refused_and_nothing_is_queued(ctx, operator, mail_server, mallory,
                                                                    sydney_office):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        compose = await compose_for(pilot, mallory)
        await pilot.press(*"Too late")
        dialog = await schedule_dialog(pilot)
        await pilot.press("home", "enter", *"00:00")  # today at midnight has always gone
        error = shown(dialog, "time-error")
        assert "is in the past: choose a later time." in error
        assert "is in the past" in screen_text(app)
        assert dialog.query_one("#time", Input).has_class("-invalid")
        assert dialog.query_one("#schedule", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog
        assert any(n.startswith("Not scheduled:") for n in notifications(app))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is compose, what="back to compose")
        assert compose.query_one("#subject", Input).value == "Too late"  # the draft is kept
    assert logged(ctx, operator, "Too late") == []


async def test_a_bad_cron_expression_shows_its_error(ctx, operator, mail_server, mallory, sydney_office):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await compose_for(pilot, mallory)
        await pilot.press(*"Cron")
        dialog = await schedule_dialog(pilot)
        assert not dialog.query_one("#cron-row").display  # only for a custom rule
        dialog.query_one(RadioSet).focus()
        await pilot.press("up", "enter")  # up from the first option: Custom cron…
        assert dialog.repeat is Repeat.CRON
        assert dialog.query_one("#cron-row").display and app.focused.id == "cron"
        assert "Type a cron expression" in shown(dialog, "cron-error")
        await type_on(pilot, "61 * * * *")
        assert "Not a valid cron expression" in shown(dialog, "cron-error")
        assert "Not a valid cron expression" in screen_text(app)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog
        await pilot.press("ctrl+u")  # clear the field
        await type_on(pilot, "0 9 * * 1-5")
        assert shown(dialog, "cron-error") == ""
        assert "cron '0 9 * * 1-5'" in screen_text(app)
        assert len(dialog.preview.upcoming) == 5
        assert all(at.weekday() < 5 and at.hour == 9 for at in dialog.preview.upcoming)
    assert logged(ctx, operator, "Cron") == []


async def test_a_bad_draft_is_pointed_at_before_asking_when(ctx, operator, mail_server, mallory,
                                                              sydney_office):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        compose = await compose_for(pilot, mallory)
        compose.query_one("#to", Input).value = "bob@"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen is compose and compose.query_one("#to-error").display
        assert any(n.startswith("Not scheduled: please check the form") for n in notifications(app))


# -- editing a scheduled email --------------------------------------------------------------
class Host(App):
    """The least an app must offer ComposeScreen."""
    show_error = CommsApp.show_error

    def __init__(self, ctx, user, screen) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher, self.demo_outbox = ctx, user, None, None
        self.first = screen
        self.results: list = []

    def on_mount(self) -> None:
        self.push_screen(self.first, self.results.append)


def scheduled(ctx, user, customer, subject: str, request: ScheduleRequest):
    return schedule.schedule_email(ctx, user, customer.id, email.EmailDraft(
        to=customer.email, subject=subject, body="First words."), request)


def next_week() -> date:
    return datetime.now(SYDNEY).date() + timedelta(days=7)


async def test_edit_then_save_a_scheduled_email(ctx, operator, mail_server, mallory, sydney_office):
    message = scheduled(ctx, operator, mallory, "Meeting", ScheduleRequest(next_week(), time(9, 0)))
    app = Host(ctx, operator, ComposeScreen(mallory, editing=message))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.first
        await until(pilot, lambda: screen.office_zone is not None, what="the office zone")
        assert screen.heading.startswith("Edit scheduled email")
        assert screen.query_one("#subject", Input).value == "Meeting"
        info = static_text(screen.query_one("#schedule-info"))
        assert f"Scheduled for {next_week():%a %d %b %Y} 09:00 AE" in info
        assert str(screen.query_one("#send", Button).label) == "Save  ^S"
        footer = {b.binding.action for b in screen.active_bindings.values()}
        assert {"save", "reschedule"} <= footer and not {"send", "schedule"} & footer
        await pilot.press(*" moved")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.results, what="the dialog to close")
    [saved] = logged(ctx, operator, "Meeting moved")
    assert app.results == [saved] and saved.id == message.id
    assert saved.scheduled_at == message.scheduled_at and saved.body == "First words."


async def test_reschedule_starts_from_the_messages_own_time_and_rule(ctx, operator, mail_server, mallory,
                                                                      sydney_office):
    on = next_week()
    message = scheduled(ctx, operator, mallory, "Weekly", ScheduleRequest(on, time(9, 0), Repeat.WEEKLY))
    app = Host(ctx, operator, ComposeScreen(mallory, editing=message))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.first.office_zone is not None, what="the office zone")
        dialog = await schedule_dialog(pilot)
        assert dialog.title_text == "Reschedule"
        assert dialog.request() == ScheduleRequest(on, time(9, 0), Repeat.WEEKLY)
        dialog.query_one(TimeInput).focus()
        await pilot.press("up", "up")  # 09:30
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.results, what="the dialog to close")
        assert any(n.startswith("Email rescheduled: Rescheduled for ") for n in notifications(app))
    [moved] = logged(ctx, operator, "Weekly")
    assert moved.scheduled_at == datetime.combine(on, time(9, 30), tzinfo=SYDNEY)
    assert moved.series_rule == f"30 9 * * {(on.weekday() + 1) % 7}"


# -- the dialog on its own, with a fixed clock ------------------------------------------------
class DialogHost(App):
    def __init__(self, dialog: ScheduleScreen) -> None:
        super().__init__()
        self.dialog = dialog
        self.results: list = []

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.results.append)


NOW = datetime(2027, 3, 29, 22, 0, tzinfo=UTC)  # Tue 30 Mar 2027 09:00 in Sydney (AEDT)


async def test_the_dialog_starts_an_hour_ahead_and_shows_the_zone_change():
    dialog = ScheduleScreen(ZONE, now=NOW)
    app = DialogHost(dialog)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert dialog.request() == ScheduleRequest(date(2027, 3, 30), time(10, 0))
        assert "Tue 30 Mar 2027 10:00 AEDT — in 1 h" in screen_text(app)
        assert "Australia/Sydney (AEDT)" in screen_text(app)
        dialog.query_one(RadioSet).focus()
        await pilot.press("down", "down", "enter")  # weekly: summer time ends on 4 April
        text = screen_text(app)
        assert "Tue 30 Mar 2027 10:00 AEDT" in text and "Tue 06 Apr 2027 10:00 AEST" in text
        dialog.query_one(DatePicker).focus()
        await pilot.press("down", "enter")  # a week on: past the change
        assert "Australia/Sydney (AEST)" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: app.results, what="the dialog to close")
    assert app.results == [None]


async def test_schedule_send_returns_the_request():
    dialog = ScheduleScreen(ZONE, ScheduleRequest(date(2027, 4, 2), time(8, 15), Repeat.MONTHLY), now=NOW)
    app = DialogHost(dialog)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "Monthly on day 2" in screen_text(app)
        await pilot.click("#schedule")
        await until(pilot, lambda: app.results, what="the dialog to close")
    assert app.results == [ScheduleRequest(date(2027, 4, 2), time(8, 15), Repeat.MONTHLY)]


def assert_on_screen(dialog, *widget_ids: str) -> None:
    for widget_id in widget_ids:
        region = dialog.query_one(f"#{widget_id}").region
        assert region.height and region.bottom <= SIZE[1] - 1, widget_id  # above the footer


async def test_everything_fits_at_80x24_errors_and_five_sends_included():
    dialog = ScheduleScreen(ZONE, ScheduleRequest(date(2027, 3, 30), time(8, 0), Repeat.CRON, "bad"),
                            now=NOW)
    app = DialogHost(dialog)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert dialog.query_one("#cron-error").display
        assert_on_screen(dialog, "date", "time", "zone", "repeat", "cron", "cron-error", "schedule", "cancel")
        dialog.query_one("#repeat-none", RadioButton).value = True
        await pilot.pause()
        assert dialog.query_one("#time-error").display  # 30 Mar 08:00 is gone by 09:00
        assert_on_screen(dialog, "date", "time", "time-error", "repeat", "schedule", "cancel")
        dialog.query_one("#repeat-weekly", RadioButton).value = True
        dialog.query_one(DatePicker).value = date(2027, 3, 31)
        await pilot.pause()
        assert len(dialog.preview.upcoming) == 5
        preview = dialog.query_one("#preview-box")
        assert preview.region.bottom <= dialog.query_one("#schedule").region.y
        assert preview.max_scroll_y == 0  # all of it in view
        assert "Wed 28 Apr 2027 08:00 AEST" in screen_text(app)
