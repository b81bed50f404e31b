"""Snapshot at 80x24 of Set my password, step 2 (code and new password), as it looks
after asking for a code and then typing a wrong code and a short password: the neutral
answer, and each problem under its field. Deterministic: the curated sample in tmp_path,
no dispatcher, no mail server (asking queues nothing), no blinking cursors.
Update after a deliberate change with: pytest tests/test_snapshots_activation.py --snapshot-update
"""

from __future__ import annotations

from textual.widgets import Input

from commstui.app import CommsApp
from commstui.screens.login import LoginScreen
from commstui.screens.set_password import SetPasswordScreen

from tui_helpers import until

SIZE = (80, 24)


def still_cursors(app) -> None:
    for widget in app.screen.query(Input):
        widget.cursor_blink = False


def test_set_password_code_step_with_problems(snap_compare, ctx):
    async def run_before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: isinstance(app.screen, LoginScreen) and app.focused is not None, "the login form")
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, SetPasswordScreen), "Set my password")
        screen = app.screen
        await pilot.press(*"nina.novak@example.com", "enter")
        await until(pilot, lambda: screen.step == 2 and not screen.busy, "the code step")
        await pilot.press(*"ABCD-EFGH", "tab", *"short", "tab", *"short", "ctrl+s")
        await until(pilot, lambda: screen.query_one("#sp-code-problem").display and not screen.busy,
                    "the problems")
        still_cursors(app)
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)
