"""Snapshots at 80x24 of Users: the list as an administrator sees it, and the editor of
one user (roles, group roles, companies). Deterministic: the curated sample data in
tmp_path, no dispatcher, no clock-dependent text, no blinking cursors.
Update after a deliberate change with: pytest tests/test_snapshots_users.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

import commstui.app as app_module
from commstui.app import CommsApp
from commstui.screens.user_editor import UserEditorScreen
from commstui.screens.users import UsersScreen

from tui_helpers import until

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _no_periodic_refresh(monkeypatch):
    monkeypatch.setattr(app_module, "STATUS_EVERY", 600.0)


def still_cursors(app) -> None:
    for widget in app.screen.query(Input):
        widget.cursor_blink = False


async def _list(pilot) -> UsersScreen:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    app.push_screen(UsersScreen())
    await until(pilot, lambda: isinstance(app.screen, UsersScreen) and app.screen.loaded, "the users")
    return app.screen


def test_users_list(snap_compare, ctx, admin):
    async def run_before(pilot) -> None:
        screen = await _list(pilot)
        screen.query_one("#users-table").move_cursor(row=8)   # operator: roles from a group role
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)


def test_user_editor(snap_compare, ctx, admin):
    async def run_before(pilot) -> None:
        screen = await _list(pilot)
        screen.query_one("#users-table").move_cursor(row=5)   # crm-editor: two companies
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, UserEditorScreen) and pilot.app.screen.ready,
                    "the editor")
        still_cursors(pilot.app)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)
