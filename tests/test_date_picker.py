"""The calendar and the time field on their own: keys, limits, parsing, drawing."""

from __future__ import annotations

from datetime import date, time

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.widgets import Input

from commstui.widgets.date_picker import DatePicker, add_months, month_weeks
from commstui.widgets.time_picker import TimeInput, parse_time, step_time

TODAY = date(2026, 11, 23)  # a Monday


# -- pure helpers ------------------------------------------------------------------------
def test_add_months_keeps_the_day_inside_shorter_months():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)
    with pytest.raises(OverflowError):
        add_months(date(9999, 12, 1), 1)


def test_month_weeks_are_six_rows_monday_first():
    weeks = month_weeks(2026, 11)
    assert len(weeks) == 6 and all(len(w) == 7 for w in weeks)
    assert weeks[0] == [0, 0, 0, 0, 0, 0, 1]  # 1 Nov 2026 is a Sunday
    assert weeks[4][0] == 23
    assert month_weeks(2021, 2)[4] == [0] * 7  # four-week February padded


@pytest.mark.parametrize("typed, expected", [
    ("14:30", time(14, 30)), ("1430", time(14, 30)), ("9.05", time(9, 5)), ("930", time(9, 30)),
    ("9", time(9, 0)), (" 07:00 ", time(7, 0)), ("0:00", time(0, 0)), ("23:59", time(23, 59)),
    ("14h30", time(14, 30)),
])
def test_parse_time_accepts_what_people_type(typed, expected):
    assert parse_time(typed) == expected


@pytest.mark.parametrize("typed, says", [
    ("", "Type a time"), ("24:00", "Hours go from 00 to 23"), ("12:60", "Minutes go from 00 to 59"),
    ("noon", "is not a time"), ("1:2:3", "is not a time"),
])
def test_parse_time_says_what_is_wrong(typed, says):
    with pytest.raises(ValueError, match=says):
        parse_time(typed)


def test_steps_land_on_quarter_hours_and_wrap_around_midnight():
    assert step_time(time(14, 30), 15) == time(14, 45)
    assert step_time(time(14, 37), 15) == time(14, 45)
    assert step_time(time(14, 37), -15) == time(14, 30)
    assert step_time(time(14, 37), 60) == time(15, 37)
    assert step_time(time(23, 45), 15) == time(0, 0)
    assert step_time(time(0, 0), -15) == time(23, 45)
    assert step_time(time(0, 20), -60) == time(23, 20)


# -- the widgets, driven by keys -------------------------------------------------------------
class Host(App):
    def __init__(self, picker_value: date | None = TODAY) -> None:
        super().__init__()
        self.picker_value = picker_value
        self.changed: list[date] = []
        self.picked: list[date] = []

    def compose(self) -> ComposeResult:
        yield DatePicker(self.picker_value, today=TODAY, id="date")
        yield TimeInput(time(14, 30), id="time")

    def on_date_picker_changed(self, event: DatePicker.Changed) -> None:
        self.changed.append(event.value)

    def on_date_picker_picked(self, event: DatePicker.Picked) -> None:
        self.picked.append(event.value)


async def test_arrows_move_the_cursor_and_enter_picks():
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        picker = app.query_one(DatePicker)
        assert app.focused is picker
        await pilot.press("right", "down")  # +1 day, +1 week
        assert picker.cursor == date(2026, 12, 1) and picker.value == TODAY
        await pilot.press("enter")
        assert picker.value == date(2026, 12, 1)
        assert app.picked == [date(2026, 12, 1)] and app.changed[-1] == date(2026, 12, 1)
        await pilot.press("pagedown")
        assert picker.cursor == date(2027, 1, 1)
        await pilot.press("pageup", "pageup")
        assert picker.cursor == TODAY  # 1 Nov is in the past: clamped to today
        await pilot.press("pagedown", "pagedown", "home")
        assert picker.cursor == TODAY
        await pilot.press("left", "up")
        assert picker.cursor == TODAY  # never onto a past day
        assert picker.value == date(2026, 12, 1)


async def test_a_past_day_cannot_be_picked():
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        picker = app.query_one(DatePicker)
        assert not picker.pick(date(2026, 11, 22))
        assert picker.value == TODAY and app.picked == []
        assert picker.pick(TODAY)
        await pilot.pause()
        assert app.picked == [TODAY]


async def test_a_click_picks_the_day_under_it_and_the_arrows_turn_the_month():
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        picker = app.query_one(DatePicker)
        # row 2 + week index 4 (23..29); Wednesday 25 is the third cell: columns 6..8
        await pilot.click(DatePicker, offset=(7, 6))
        assert picker.value == date(2026, 11, 25)
        await pilot.click(DatePicker, offset=(20, 0))
        assert picker.cursor.month == 12
        await pilot.click(DatePicker, offset=(0, 0))
        assert picker.cursor.month == 11


async def test_the_grid_shows_the_month_weekdays_and_days():
    app = Host(date(2026, 12, 24))
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        picker = app.query_one(DatePicker)
        lines = picker.render().plain.splitlines()
        assert len(lines) == 8 and all(len(line) <= 21 for line in lines)
        assert "December 2026" in lines[0]
        assert lines[1] == " Mo Tu We Th Fr Sa Su"
        assert lines[2] == "     1  2  3  4  5  6"
        # the chosen day, today and the past have their own looks
        assert day_style(picker, "24") != day_style(picker, "23")  # chosen vs an ordinary day
        picker.cursor = date(2026, 11, 23)
        today, ordinary, past = (day_style(picker, d) for d in ("23", "24", "22"))
        assert len({today, ordinary, past}) == 3
        assert past.color is not None and ordinary == Style()


def day_style(picker: DatePicker, day: str) -> Style:
    text = picker.render()
    styles = {text.plain[s.start:s.end]: s.style for s in text.spans}
    return styles.get(day, Style())


async def test_time_input_steps_and_tidies():
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        field = app.query_one(TimeInput)
        field.focus()
        await pilot.press("up")
        assert field.value == "14:45" and field.time == time(14, 45)
        await pilot.press("pageup")
        assert field.time == time(15, 45)
        await pilot.press("shift+down", "down", "down")
        assert field.time == time(14, 15)
        field.value = ""
        await pilot.press(*"930")
        assert field.time == time(9, 30) and field.error is None
        app.query_one(DatePicker).focus()
        await pilot.pause()
        assert field.value == "09:30"  # tidied on leaving
        field.value = "25:00"
        await pilot.pause()
        assert field.time is None and "Hours go from 00 to 23" in field.error
        assert field.has_class("-invalid")
        field.focus()
        await pilot.press("x")  # not a time character: refused
        assert field.value == "25:00"
        assert isinstance(field, Input)
