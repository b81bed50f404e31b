"""Snapshots at 80x24 of Templates: the list of the sample templates, and the editor with an
unknown field pointed at its line as it was typed.

Deterministic: the curated sample data in tmp_path (always commstui.duckdb), no dispatcher on
these screens' status line, no clock-dependent text, no blinking cursors.
Update after a deliberate change with: pytest tests/test_snapshots_templates.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, TextArea

import commstui.app as app_module
from commstui.app import CommsApp
from commstui.screens.template_editor import TemplateEditorScreen
from commstui.screens.templates import TemplatesScreen
from commstui.store import templates as templates_store

from tui_helpers import screen_text, until

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _no_periodic_refresh(monkeypatch):
    monkeypatch.setattr(app_module, "STATUS_EVERY", 600.0)


@pytest.fixture
def samples(ctx):
    ctx.db.run(lambda con: templates_store.load_samples(con, "test"))


def still_cursors(app) -> None:
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


async def _list(pilot) -> TemplatesScreen:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    app.push_screen(TemplatesScreen())
    await until(pilot, lambda: isinstance(app.screen, TemplatesScreen) and app.screen.loaded, "the list")
    await until(pilot, lambda: "n New" in screen_text(app), "the footer")
    return app.screen


def test_templates_list(snap_compare, ctx, admin, samples):
    async def run_before(pilot) -> None:
        screen = await _list(pilot)
        screen.query_one("#templates-table", DataTable).move_cursor(row=1)
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)


def test_template_editor_with_an_unknown_field(snap_compare, ctx, admin, samples):
    async def run_before(pilot) -> None:
        screen = await _list(pilot)
        screen.query_one("#templates-table", DataTable).move_cursor(
            row=[t.name for t in screen.found].index("Statement reminder"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, TemplateEditorScreen), "the editor")
        editor = pilot.app.screen
        body = editor.query_one("#text_body", TextArea)
        body.focus()
        body.move_cursor((2, 0))
        await pilot.press(*"Balance: {{ customer.balance }}", "enter")
        await until(pilot, lambda: "line 3" in screen_text(pilot.app), "the problem at its line")
        still_cursors(pilot.app)
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)
