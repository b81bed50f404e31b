"""Snapshot at 80x24 of Schedule send: a weekly email across the end of summer time
(AEDT to AEST on 4 April 2027), the calendar showing today, the chosen day, the cursor
and the past days dimmed.

Deterministic: a fixed clock (`now`), the office zone given, no blinking cursor.
Update after a deliberate change with: pytest tests/test_snapshots_schedule.py --snapshot-update
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from textual.app import App
from textual.widgets import Input

from commstui.domain import Repeat, ScheduleRequest
from commstui.screens.schedule import ScheduleScreen

SIZE = (80, 24)
NOW = datetime(2027, 3, 22, 22, 0, tzinfo=UTC)  # Tue 23 Mar 2027 09:00 in Sydney


class Host(App):
    def on_mount(self) -> None:
        self.push_screen(ScheduleScreen(
            "Australia/Sydney", ScheduleRequest(date(2027, 3, 31), time(14, 30), Repeat.WEEKLY), now=NOW))


def test_schedule_weekly_across_the_end_of_summer_time(snap_compare):
    async def run_before(pilot) -> None:
        await pilot.pause()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.press("left")  # the cursor on Tue 30; Wed 31 stays chosen; today is Tue 23

    assert snap_compare(Host(), terminal_size=SIZE, run_before=run_before)
