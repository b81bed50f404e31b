"""Snapshots at 80x24 of Companies: the list as an administrator sees it with the search
narrowed, and a crm user's company details (with the reason customers do not open).

Deterministic: the curated sample data in tmp_path (always commstui.duckdb), no dispatcher,
no clock-dependent text, no blinking cursors.
Update after a deliberate change with: pytest tests/test_snapshots_companies.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

import commstui.app as app_module
from commstui.app import CommsApp
from commstui.screens.companies import CompaniesScreen, CompanyTable
from commstui.screens.company_details import CompanyDetailsScreen
from commstui.store import companies as companies_store
from commstui.store import users as users_store

from tui_helpers import until

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _no_periodic_refresh(monkeypatch):
    monkeypatch.setattr(app_module, "STATUS_EVERY", 600.0)


def still_cursors(app) -> None:
    for widget in app.screen.query(Input):
        widget.cursor_blink = False


async def _list(pilot) -> CompaniesScreen:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    app.push_screen(CompaniesScreen())
    await until(pilot, lambda: isinstance(app.screen, CompaniesScreen) and app.screen.settled, "the list")
    return app.screen


def test_companies_list(snap_compare, ctx, admin):
    async def run_before(pilot) -> None:
        screen = await _list(pilot)
        await pilot.press(*"st")
        await until(pilot, lambda: screen.query_one(CompanyTable).row_count == 2 and screen.settled, "two matches")
        still_cursors(pilot.app)
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)


def test_company_details_for_a_crm_user(snap_compare, ctx):
    def assign(con):
        con.execute("update users set company_ids = [] where username = 'crm-viewer'")
        companies_store.assign(con, "crm-viewer", "WATT")

    ctx.db.run(assign)
    with ctx.db.connect() as con:
        crm = users_store.get_by_username(con, "crm-viewer")

    async def run_before(pilot) -> None:
        screen = await _list(pilot)
        screen.query_one(CompanyTable).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, CompanyDetailsScreen) and pilot.app.screen.loaded,
                    "the company")
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, crm, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)
