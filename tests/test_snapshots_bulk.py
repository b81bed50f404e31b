"""Snapshots at 80x24 of the Bulk Send wizard: Who (a building ticked, the live count, the
missing SMS provider said at the start), Review (a row that cannot be reached, at the
cursor) and Compose (a template mistake pointed at its line).

Deterministic: fixed sample data, no dispatcher figures, no blinking cursors.
Update after a deliberate change with: pytest tests/test_snapshots_bulk.py --snapshot-update
"""

from __future__ import annotations

import time

from textual.app import App
from textual.widgets import Input, Select, TextArea

from commstui.app import CommsApp
from commstui.screens.bulk_wizard import BulkWizardScreen

SIZE = (80, 24)
HARB = 1


class Host(App):
    show_error = CommsApp.show_error

    def __init__(self, ctx, user, screen) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher, self.demo_outbox = ctx, user, None, None
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


async def until(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def still_cursors(app: App) -> None:
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


async def at_step(pilot, screen, step: str) -> None:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: screen.step == step and not screen.busy)
    await pilot.pause()


async def harb_by(pilot, screen, mode_index: int) -> None:
    """HARB ticked, then How = the mode at that index, then the Review step."""
    await until(pilot, lambda: screen.who.count is not None)
    await pilot.press("space")
    await until(pilot, lambda: screen.who.count is not None and screen.who.count.customers == 17)
    await at_step(pilot, screen, "how")
    screen.query_one("#how-mode").focus()
    await pilot.press(*["down"] * mode_index, "enter")
    await at_step(pilot, screen, "review")


def test_who_with_a_building_ticked(snap_compare, ctx, admin, mail_server):
    screen = BulkWizardScreen()

    async def run_before(pilot) -> None:
        await until(pilot, lambda: screen.who.count is not None)
        await pilot.press("space")
        await until(pilot, lambda: screen.who.count is not None and screen.who.count.customers == 17)
        await pilot.pause()

    assert snap_compare(Host(ctx, admin, screen), terminal_size=SIZE, run_before=run_before)


def test_review_with_a_recipient_who_cannot_be_reached(snap_compare, ctx, admin, mail_server):
    screen = BulkWizardScreen()

    async def run_before(pilot) -> None:
        await harb_by(pilot, screen, 1)   # Email
        await pilot.press("p")            # the first who has no email address
        await pilot.pause()

    assert snap_compare(Host(ctx, admin, screen), terminal_size=SIZE, run_before=run_before)


def test_compose_with_a_template_mistake(snap_compare, ctx, admin, mail_server):
    screen = BulkWizardScreen()

    async def run_before(pilot) -> None:
        await harb_by(pilot, screen, 1)
        await at_step(pilot, screen, "compose")
        await until(pilot, lambda: len(screen.query_one("#template", Select)._options) > 1)
        screen.query_one("#subject", Input).value = "Water shut-off at {{ building.name }}"
        screen.query_one("#text-body", TextArea).text = ("Dear {{ customer.first_name }},\n\n"
                                                         "The water is off {% if %} from 9 to 11am.")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: screen.query_one("#text-body").has_class("-invalid"))
        await pilot.pause()
        still_cursors(pilot.app)

    assert snap_compare(Host(ctx, admin, screen), terminal_size=SIZE, run_before=run_before)
