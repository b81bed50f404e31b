"""Schedule send: pick a day on a calendar, a time in the office's zone, and a repeat rule.

services.schedule.preview judges every change as it happens, so the operator sees the
first send ("Mon 23 Nov 2026 14:30 AEDT — in 3 h 20 min") and, for a repeat, the first
five sends before saving; a time in the past or a bad cron expression is pointed at, in
red, under its field. The dialog returns the request only when the preview is ok.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from ..domain import Repeat, ScheduleRequest
from ..services import schedule
from ..widgets.date_picker import DatePicker
from ..widgets.time_picker import TimeInput

REPEATS = (Repeat.NONE, Repeat.DAILY, Repeat.WEEKLY, Repeat.MONTHLY, Repeat.CRON)
FIELDS = ("date", "time", "cron")
PREVIEW_EVERY = 30.0  # seconds: keeps "in 3 h 20 min" true while the dialog stays open


def when_text(at: datetime) -> str:
    """'Mon 23 Nov 2026 14:30 AEDT': how a send time is shown, in the office zone."""
    return f"{at:%a %d %b %Y %H:%M} {at.tzname()}"


def office_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class ScheduleScreen(ModalScreen[ScheduleRequest | None]):
    """Dismisses with a ScheduleRequest the preview accepted, or None (Escape)."""

    CSS_PATH = "schedule.tcss"
    AUTO_FOCUS = "DatePicker"

    BINDINGS = [
        Binding("ctrl+s", "schedule", "Schedule send", priority=True,
                tooltip="Queue it for this time (only when the preview has no error)"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without scheduling"),
    ]

    def __init__(self, zone_name: str, initial: ScheduleRequest | None = None,
                 title: str = "Schedule send", now: datetime | None = None) -> None:
        """`now` fixes the clock (tests, snapshots); None means the real time, kept fresh."""
        super().__init__()
        self.zone_name = zone_name
        self.zone = office_zone(zone_name)
        self.title_text = title
        self._fixed_now = now
        self.initial = initial or self.default_request()
        self.preview: schedule.SchedulePreview | None = None
        self._time_error: str | None = None

    # -- the clock -----------------------------------------------------------------
    def now(self) -> datetime:
        return self._fixed_now or datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.zone).date()

    def default_request(self) -> ScheduleRequest:
        """The next whole hour at least an hour away: a time that is certainly in the future."""
        start = self.now().astimezone(self.zone) + timedelta(hours=1)
        if (start.minute, start.second, start.microsecond) != (0, 0, 0):
            start = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return ScheduleRequest(on=start.date(), at=start.time().replace(tzinfo=None))

    # -- layout ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        initial = self.initial
        with Vertical(id="schedule-dialog") as dialog:
            dialog.border_title = Text(self.title_text)
            with Horizontal(id="schedule-top"):
                with Vertical(id="date-column"):
                    yield Label("", id="date-label", markup=False)
                    yield DatePicker(initial.on, today=self.today(), id="date")
                    yield Static("←→↑↓ day  PgUp/Dn month\nHome today  Enter pick", id="date-hint",
                                 markup=False)
                    yield Static("", id="date-error", classes="schedule-error", markup=False)
                with Vertical(id="when-column"):
                    with Horizontal(id="time-row", classes="schedule-row"):
                        yield Label("Time", classes="schedule-label", id="time-label")
                        yield TimeInput(initial.at, id="time")
                        yield Label("", id="zone", markup=False)
                    yield Static("↑↓ 15 min  PgUp/Dn 1 h  or type 14:30", id="time-hint", markup=False)
                    yield Static("", id="time-error", classes="schedule-error", markup=False)
                    yield Label("Repeat", classes="schedule-label", id="repeat-label")
                    with RadioSet(id="repeat", compact=True):
                        for repeat in REPEATS:
                            yield RadioButton(self.repeat_label(repeat, initial.on), id=f"repeat-{repeat}",
                                              value=repeat is initial.repeat, compact=True)
                    with Horizontal(id="cron-row", classes="schedule-row"):
                        yield Label("Cron", classes="schedule-label", id="cron-label")
                        yield Input(initial.cron, id="cron", compact=True, select_on_focus=False,
                                    placeholder="min hour day month weekday: 0 9 * * 1-5")
                    yield Static("", id="cron-error", classes="schedule-error", markup=False)
            with VerticalScroll(id="preview-box", can_focus=False):
                yield Static("", id="preview", markup=False)
            with Horizontal(id="schedule-buttons"):
                yield Button("Schedule send  ^S", id="schedule", variant="primary", compact=True)
                yield Button("Cancel  Esc", id="cancel", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        radio = self.query_one("#repeat", RadioSet)
        for _ in range(REPEATS.index(self.initial.repeat)):  # the keys start on the chosen one
            radio.action_next_button()
        self._show_cron_row()
        self.update_preview()
        if self._fixed_now is None:
            self.set_interval(PREVIEW_EVERY, self._tick)

    def _tick(self) -> None:
        self.query_one(DatePicker).today = self.today()
        self.update_preview()

    @staticmethod
    def repeat_label(repeat: Repeat, on: date) -> str:
        return {
            Repeat.NONE: "Does not repeat",
            Repeat.DAILY: "Daily",
            Repeat.WEEKLY: f"Weekly on {schedule.WEEKDAYS[on.weekday()]}",
            Repeat.MONTHLY: f"Monthly on day {on.day}",
            Repeat.CRON: "Custom cron…",
        }[repeat]

    # -- what the form says ------------------------------------------------------------
    @property
    def repeat(self) -> Repeat:
        pressed = self.query_one("#repeat", RadioSet).pressed_button
        if pressed is None or pressed.id is None:
            return Repeat.NONE
        return Repeat(pressed.id.removeprefix("repeat-"))

    def request(self) -> ScheduleRequest | None:
        """The request the form describes, or None while the time is not a time."""
        at = self.query_one(TimeInput).time
        if at is None:
            return None
        repeat = self.repeat
        cron = self.query_one("#cron", Input).value.strip() if repeat is Repeat.CRON else ""
        return ScheduleRequest(on=self.query_one(DatePicker).value, at=at, repeat=repeat, cron=cron)

    def update_preview(self) -> schedule.SchedulePreview | None:
        """Ask the service about the form as it stands and show the answer."""
        chosen = self.query_one(DatePicker).value
        self.query_one("#date-label", Label).update(f"Date  {chosen:%a %d %b %Y}")
        for repeat in (Repeat.WEEKLY, Repeat.MONTHLY):
            self.query_one(f"#repeat-{repeat}", RadioButton).label = self.repeat_label(repeat, chosen)
        time_input = self.query_one(TimeInput)
        self._update_zone(chosen, time_input.time)
        request = self.request()
        errors = dict.fromkeys(FIELDS, "")
        if request is None:
            self.preview = None
            errors["time"] = time_input.error or ""
        else:
            self.preview = schedule.preview(request, self.zone_name, now=self.now())
            if self.preview.error:
                errors[self.preview.error_field if self.preview.error_field in FIELDS else "time"] = \
                    self.preview.error
        for name, error in errors.items():
            shown = self.query_one(f"#{name}-error", Static)
            shown.update(error)
            shown.display = bool(error)
            self.query_one(f"#{name}").set_class(bool(error), "-invalid")
        self.query_one("#time-hint").display = not errors["time"]
        self.query_one("#preview", Static).update(self.preview_text())
        self.query_one("#schedule", Button).disabled = not (self.preview and self.preview.ok)
        return self.preview

    def _update_zone(self, on: date, at: time | None) -> None:
        local = datetime.combine(on, at or time(12, 0), tzinfo=self.zone)
        abbreviation = local.tzname() or ""
        zone = self.zone_name if abbreviation in ("", self.zone_name) else \
            f"{self.zone_name} ({abbreviation})"
        self.query_one("#zone", Label).update(zone)

    def preview_text(self) -> Text:
        preview = self.preview
        text = Text(no_wrap=False, end="")
        if preview is None or not preview.ok or preview.first is None:
            text.append("Fix the field marked in red to see when it is sent.", "dim")
            return text
        text.append("First send  ", "bold")
        text.append(f"{when_text(preview.first)} — {schedule.until(preview.first, self.now())}")
        if len(preview.upcoming) > 1:
            text.append("\nRepeats     ", "bold")
            text.append(preview.description)
            text.append("\nSends on    ", "bold")
            text.append("\n            ".join(when_text(at) for at in preview.upcoming))
            text.append(" …", "dim")
        return text

    # -- changes --------------------------------------------------------------------------
    @on(DatePicker.Changed)
    def _date_changed(self) -> None:
        self.update_preview()

    @on(DatePicker.Picked)
    def _date_picked(self) -> None:
        self.query_one(TimeInput).focus()

    @on(Input.Changed)
    def _typed(self) -> None:
        if self.is_mounted:
            self.update_preview()

    @on(Input.Submitted)
    def _enter_in_field(self) -> None:
        self.focus_next()  # like Tab: scheduling is a deliberate Ctrl+S

    @on(RadioSet.Changed, "#repeat")
    def _repeat_changed(self) -> None:
        self._show_cron_row()
        self.update_preview()
        if self.repeat is Repeat.CRON:
            self.query_one("#cron", Input).focus()

    def _show_cron_row(self) -> None:
        custom = self.repeat is Repeat.CRON
        self.query_one("#cron-row").display = custom

    # -- answers ----------------------------------------------------------------------------
    def action_schedule(self) -> None:
        preview = self.update_preview()
        request = self.request()
        if request is None or preview is None or not preview.ok:
            failing = "time" if preview is None else (preview.error_field or "time")
            if failing not in FIELDS:
                failing = "time"
            self.query_one(f"#{failing}").focus()
            message = self.query_one(f"#{failing}-error", Static).content
            self.notify(str(message) or "Check the form.", title="Not scheduled", severity="error",
                        markup=False)
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#schedule")
    def _schedule_pressed(self) -> None:
        self.action_schedule()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
