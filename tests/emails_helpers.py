"""Shared by the Emails tab, Needs attention and delivery record tests: a fixed office
clock and zone, emails scheduled through the services, and what a table shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from textual.widgets import DataTable

from commstui.delivery.dispatcher import Dispatcher
from commstui.domain import MissedPolicy, OfficeSettings, Repeat, ScheduleRequest
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.customers import CustomersScreen
from commstui.services import schedule
from commstui.services.context import Context
from commstui.services.email import EmailDraft

from tui_helpers import screen_text, until

SIZE = (80, 24)
ZONE = "Australia/Sydney"
# Mon 10 Mar 2031 12:00 AEDT (UTC+11): in the future, so the database's own clock
# (created_at) is always before it and "scheduled" means scheduled
NOW = datetime(2031, 3, 10, 1, 0, tzinfo=UTC)
DAY = date(2031, 3, 10)


def fixed(at: datetime):
    return lambda: at


def set_office(ctx, admin, policy: MissedPolicy = MissedPolicy.HOLD, grace: int = 60) -> None:
    schedule.save_office_settings(ctx, admin, OfficeSettings(ZONE, missed_policy=policy, grace_minutes=grace))


def scheduled(ctx, user, customer, subject: str, at: time = time(15, 20), on: date = DAY,
              repeat: Repeat = Repeat.NONE, now: datetime = NOW, to: str | None = None):
    """An email scheduled through the service, as the Schedule dialog would (office zone)."""
    return schedule.schedule_email(ctx, user, customer.id, EmailDraft(
        to=to or customer.email, subject=subject, body="Hello from the office."),
        ScheduleRequest(on, at, repeat), now=now)


async def dispatch_at(ctx, settings, at: datetime) -> int:
    """A dispatcher (its own Database handle, as another process would have) at a fixed time."""
    other = Context.open(ctx.db.path, settings)
    return await Dispatcher(other.db, settings, clock=fixed(at)).run_once()


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(ZONE)).astimezone(UTC)


def rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def open_emails(pilot, customer_id: int, now: datetime = NOW) -> CustomerDetailsScreen:
    """The customer's Emails tab, with the screen's clock fixed at `now`."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers")
    screen = CustomerDetailsScreen(customer_id, now=fixed(now))
    await app.push_screen(screen)
    await until(pilot, lambda: screen.customer is not None
                and screen.customer.account_no in screen_text(app), "the account on screen")
    await pilot.press("2")
    await until(pilot, lambda: screen.zone_name == ZONE, "the office zone")
    return screen

