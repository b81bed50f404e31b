"""A month calendar to pick a day by keyboard: arrows move, PgUp/PgDn turn the month,
Home goes to today, Enter picks. Days before `min_date` (today, by default) are dimmed
and cannot be picked, so a date in the past is never offered.

Eight lines by 21 columns, always (six week rows, blank ones included), so a dialog
around it does not jump as months change.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

WEEKDAY_HEADER = " Mo Tu We Th Fr Sa Su"
WIDTH = len(WEEKDAY_HEADER)  # 21: seven cells of three columns
HEIGHT = 8                   # month line, weekday line, six weeks
_CALENDAR = calendar.Calendar(firstweekday=calendar.MONDAY)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), kept inside shorter months (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    if not date.min.year <= year <= date.max.year:
        raise OverflowError("date out of range")
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_weeks(year: int, month: int) -> list[list[int]]:
    """Six weeks of day numbers, Monday first; 0 where the day belongs to another month."""
    weeks = _CALENDAR.monthdayscalendar(year, month)
    while len(weeks) < 6:
        weeks.append([0] * 7)
    return weeks


def _foreground(style: Style) -> Style:
    """A component style without its background (which is the widget's, and changes on focus)."""
    return Style(color=style.color, bold=style.bold, dim=style.dim, italic=style.italic,
                 underline=style.underline)


class DatePicker(Widget, can_focus=True):
    """Pick a day on a month grid. `value` is the chosen day; `cursor` the one under the keys."""

    DEFAULT_CSS = """
    DatePicker {
        width: 21;
        height: 8;
        background: $panel;

        & > .date-picker--month { text-style: bold; }
        & > .date-picker--weekday { color: $foreground-muted; }
        & > .date-picker--past { color: $foreground 35%; }
        & > .date-picker--today { color: $accent; text-style: bold underline; }
        & > .date-picker--chosen { background: $primary; color: $text; text-style: bold; }
        & > .date-picker--cursor { background: $accent; color: $text; text-style: bold; }

        &:focus {
            background: $panel-lighten-1;
        }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "date-picker--month",
        "date-picker--weekday",
        "date-picker--past",
        "date-picker--today",
        "date-picker--chosen",
        "date-picker--cursor",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Day before", show=False),
        Binding("right", "move(1)", "Day after", show=False),
        Binding("up", "move(-7)", "Week before", show=False),
        Binding("down", "move(7)", "Week after", show=False),
        Binding("pageup", "turn(-1)", "Month before", show=False),
        Binding("pagedown", "turn(1)", "Month after", show=False),
        Binding("home", "today", "Today", tooltip="Move to today"),
        Binding("enter", "pick", "Pick day", tooltip="Choose the day under the cursor"),
    ]

    value: reactive[date] = reactive(date.today, init=False)
    """The chosen day."""
    cursor: reactive[date] = reactive(date.today, init=False)
    """The day the keys are on; Enter makes it the chosen day."""
    today: reactive[date] = reactive(date.today, init=False)
    """Today where the dates are meant (the office's zone), highlighted on the grid."""

    class Changed(Message):
        """The chosen day changed (by the operator or by the program)."""

        def __init__(self, picker: DatePicker, value: date) -> None:
            super().__init__()
            self.picker = picker
            self.value = value

        @property
        def control(self) -> DatePicker:
            return self.picker

    class Picked(Message):
        """The operator picked a day (Enter or a click)."""

        def __init__(self, picker: DatePicker, value: date) -> None:
            super().__init__()
            self.picker = picker
            self.value = value

        @property
        def control(self) -> DatePicker:
            return self.picker

    def __init__(self, value: date | None = None, *, today: date | None = None,
                 min_date: date | None = None, allow_past: bool = False,
                 name: str | None = None, id: str | None = None, classes: str | None = None,
                 disabled: bool = False, tooltip: str | None = None) -> None:
        """`today` defaults to the machine's date: pass the office's. Days before `min_date`
        (default: today, unless `allow_past`) cannot be picked."""
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        today = today or date.today()
        self.set_reactive(DatePicker.today, today)
        self._min_date = min_date
        self.allow_past = allow_past
        value = value or today
        self.set_reactive(DatePicker.value, value)
        self.set_reactive(DatePicker.cursor, max(value, self.min_date) if self.min_date else value)
        if tooltip is not None:
            self.tooltip = tooltip

    # -- limits ------------------------------------------------------------------
    @property
    def min_date(self) -> date | None:
        if self._min_date is not None:
            return self._min_date
        return None if self.allow_past else self.today

    @min_date.setter
    def min_date(self, value: date | None) -> None:
        self._min_date = value
        self.refresh()

    def is_pickable(self, day: date) -> bool:
        return self.min_date is None or day >= self.min_date

    def _clamped(self, day: date) -> date:
        return max(day, self.min_date) if self.min_date else day

    # -- reactives -----------------------------------------------------------------
    def watch_value(self, value: date) -> None:
        self.cursor = value
        self.post_message(self.Changed(self, value))
        self.refresh()

    def watch_cursor(self) -> None:
        self.refresh()

    def watch_today(self) -> None:
        self.refresh()

    # -- actions ---------------------------------------------------------------------
    def action_move(self, days: int) -> None:
        try:
            self.cursor = self._clamped(self.cursor + timedelta(days=days))
        except OverflowError:
            self.app.bell()

    def action_turn(self, months: int) -> None:
        try:
            self.cursor = self._clamped(add_months(self.cursor, months))
        except OverflowError:
            self.app.bell()

    def action_today(self) -> None:
        self.cursor = self._clamped(self.today)

    def action_pick(self) -> None:
        self.pick(self.cursor)

    def pick(self, day: date) -> bool:
        """Choose a day as the operator does; False (and a bell) for a day before min_date."""
        if not self.is_pickable(day):
            self.app.bell()
            return False
        if day == self.value:
            self.cursor = day
        else:
            self.value = day
        self.post_message(self.Picked(self, day))
        return True

    # -- the mouse ---------------------------------------------------------------------
    def day_at(self, x: int, y: int) -> date | None:
        """The day drawn at a content offset (None: no day there)."""
        if y < 2 or not 0 <= x < WIDTH:
            return None
        weeks = month_weeks(self.cursor.year, self.cursor.month)
        day = weeks[y - 2][min(x // 3, 6)] if y - 2 < len(weeks) else 0
        return self.cursor.replace(day=day) if day else None

    async def _on_click(self, event: events.Click) -> None:
        x, y = event.x, event.y
        if y == 0:
            if x <= 2:
                self.action_turn(-1)
            elif x >= WIDTH - 3:
                self.action_turn(1)
            return
        day = self.day_at(x, y)
        if day is not None:
            self.pick(day)

    # -- drawing -----------------------------------------------------------------------
    def get_content_width(self, container: Size, viewport: Size) -> int:
        return WIDTH

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return HEIGHT

    def render(self) -> Text:
        style = self.get_component_rich_style
        month_style = style("date-picker--month")
        past = _foreground(style("date-picker--past"))
        today_style = _foreground(style("date-picker--today"))
        chosen = style("date-picker--chosen")
        cursor = style("date-picker--cursor")
        shown = self.cursor
        text = Text(no_wrap=True, overflow="crop", end="")
        title = f"{calendar.month_name[shown.month]} {shown.year}"
        text.append("‹", month_style)
        text.append(title.center(WIDTH - 2), month_style)
        text.append("›\n", month_style)
        text.append(WEEKDAY_HEADER + "\n", style("date-picker--weekday"))
        for row, week in enumerate(month_weeks(shown.year, shown.month)):
            for number in week:
                if not number:
                    text.append("   ")
                    continue
                day = shown.replace(day=number)
                cell = Style()
                if not self.is_pickable(day):
                    cell += past
                if day == self.today:
                    cell += today_style
                if day == self.value:
                    cell += chosen
                if day == self.cursor and self.has_focus:
                    cell += cursor
                text.append(" ")
                text.append(f"{number:2d}", cell)
            if row < 5:
                text.append("\n")
        return text

    def _on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self.refresh()
