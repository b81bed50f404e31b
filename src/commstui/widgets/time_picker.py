"""A time of day, typed ("14:30", "1430", "9.05", "9") or stepped with the keys:
up/down by 15 minutes, PgUp/PgDn (or shift+up/down) by an hour. Shown as HH:MM.
"""

from __future__ import annotations

import re
from datetime import time
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.validation import ValidationResult, Validator
from textual.widgets import Input

_TIME = re.compile(r"^(\d{1,2})(?:[:.hH ]?(\d{2}))?$")
STEP_MINUTES = 15
DAY_MINUTES = 24 * 60


def parse_time(text: str) -> time:
    """Read a typed time; ValueError says what is wrong, in words for the operator."""
    text = (text or "").strip()
    if not text:
        raise ValueError("Type a time, e.g. 14:30.")
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time: type hours and minutes, e.g. 14:30.")
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 23:
        raise ValueError("Hours go from 00 to 23 (24-hour clock).")
    if minutes > 59:
        raise ValueError("Minutes go from 00 to 59.")
    return time(hours, minutes)


def format_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def step_time(value: time, minutes: int) -> time:
    """Move by `minutes` around the clock. A 15-minute step lands on the quarter hours
    (14:37 up is 14:45, down is 14:30); an hour keeps the minutes."""
    now = value.hour * 60 + value.minute
    if abs(minutes) == STEP_MINUTES and now % STEP_MINUTES:
        now = now - now % STEP_MINUTES + (STEP_MINUTES if minutes > 0 else 0)
    else:
        now += minutes
    now %= DAY_MINUTES
    return time(now // 60, now % 60)


class TimeValidator(Validator):
    def validate(self, value: str) -> ValidationResult:
        try:
            parse_time(value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


class TimeInput(Input):
    """An Input for HH:MM. `time` is what it holds (None while what is typed is not a time);
    `error` says why not. It tidies "930" into "09:30" when it loses focus."""

    DEFAULT_CSS = """
    TimeInput {
        width: 7;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "step(15)", "+15 min", tooltip="15 minutes later"),
        Binding("down", "step(-15)", "−15 min", tooltip="15 minutes earlier"),
        Binding("pageup,shift+up", "step(60)", "+1 h", tooltip="An hour later"),
        Binding("pagedown,shift+down", "step(-60)", "−1 h", tooltip="An hour earlier"),
    ]

    def __init__(self, value: time | None = None, *, default: time = time(9, 0),
                 name: str | None = None, id: str | None = None, classes: str | None = None,
                 disabled: bool = False, compact: bool = True, tooltip: str | None = None) -> None:
        super().__init__(format_time(value) if value is not None else "", placeholder="HH:MM",
                         restrict=r"[0-9:.hH ]*", max_length=5, validators=[TimeValidator()],
                         validate_on=["changed", "blur", "submitted"], name=name, id=id,
                         classes=classes, disabled=disabled, compact=compact, tooltip=tooltip)
        self.default = default  # where the keys start from when nothing valid is typed

    @property
    def time(self) -> time | None:
        try:
            return parse_time(self.value)
        except ValueError:
            return None

    @time.setter
    def time(self, value: time) -> None:
        self.value = format_time(value)
        self.cursor_position = len(self.value)

    @property
    def error(self) -> str | None:
        try:
            parse_time(self.value)
        except ValueError as exc:
            return str(exc)
        return None

    def action_step(self, minutes: int) -> None:
        self.time = step_time(self.time or self.default, minutes)

    def _on_blur(self, event: events.Blur) -> None:
        value = self.time
        if value is not None and self.value != format_time(value):
            self.time = value
        super()._on_blur(event)
