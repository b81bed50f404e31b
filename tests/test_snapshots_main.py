"""Snapshots (pytest-textual-snapshot) of the main screens at 80x24.

Deterministic: the database is the curated sample in tmp_path (always named
commstui.duckdb), no dispatcher (the status line says so once it has read the
figures, which the tests wait for), no clock-dependent text on these screens, and
the text cursor does not blink. Update with `pytest --snapshot-update` and look
at the SVGs before committing them.
"""

from __future__ import annotations

from textual.widgets import Input

from commstui.app import CommsApp
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.customers import CustomersScreen
from commstui.services import customers

from tui_helpers import screen_text, until

SIZE = (80, 24)


def still_cursors(app) -> None:
    for field in app.screen.query(Input):
        field.cursor_blink = False


def dispatcher_shown(app) -> bool:
    return app.dispatcher_view is not None and "not running" in screen_text(app).splitlines()[0]


def test_login_screen(snap_compare, ctx):
    async def ready(pilot):
        await until(pilot, lambda: pilot.app.screen.query_one("#password", Input).has_focus, "the form")
        still_cursors(pilot.app)

    app = CommsApp(ctx, run_dispatcher=False, login_name="operator")
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_login_screen_after_a_wrong_password(snap_compare, ctx):
    async def wrong(pilot):
        await until(pilot, lambda: pilot.app.screen.query_one("#password", Input).has_focus, "the form")
        still_cursors(pilot.app)
        await pilot.press(*"not-it", "enter")
        await until(pilot, lambda: "Wrong username or password." in screen_text(pilot.app), "the message")

    app = CommsApp(ctx, run_dispatcher=False, login_name="operator")
    assert snap_compare(app, terminal_size=SIZE, run_before=wrong)


def test_customers_screen(snap_compare, ctx, operator):
    async def loaded(pilot):
        app = pilot.app
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen)
                    and app.screen.query_one("#results").row_count
                    and "customers" in screen_text(app), "the first page and the count")
        await until(pilot, lambda: len(app.screen.query_one("#building")._options) > 1, "the filters")
        await until(pilot, lambda: dispatcher_shown(app), "the dispatcher on the status line")
        still_cursors(app)

    app = CommsApp(ctx, operator, run_dispatcher=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=loaded)


def test_customers_screen_searching(snap_compare, ctx, operator):
    async def searched(pilot):
        app = pilot.app
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers")
        still_cursors(app)
        await pilot.press(*"mallory")
        await until(pilot, lambda: "1 match" in screen_text(app)
                    and app.screen.query_one("#results").row_count == 1, "one match")
        await until(pilot, lambda: dispatcher_shown(app), "the dispatcher on the status line")

    app = CommsApp(ctx, operator, run_dispatcher=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=searched)


def test_customer_details_screen(snap_compare, ctx, operator):
    mallory = customers.get_by_account(ctx, operator, "A1000003")

    async def opened(pilot):
        app = pilot.app
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "Customers")
        screen = CustomerDetailsScreen(mallory.id)
        await app.push_screen(screen)
        await until(pilot, lambda: screen.customer is not None and "A1000003" in screen_text(app), "the account")
        await until(pilot, lambda: dispatcher_shown(app), "the dispatcher on the status line")

    app = CommsApp(ctx, operator, run_dispatcher=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened)
