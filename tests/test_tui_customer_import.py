"""Customers: Import from CSV and Export to CSV, driven with Pilot at 80x24 on real DuckDB files."""

from __future__ import annotations

import csv
from pathlib import Path

from textual.widgets import DataTable, Input, Switch

from commstui.app import CommsApp
from commstui.screens.customer_import import CustomerExportScreen, CustomerImportScreen
from commstui.services import customers
from commstui.services.customers import CustomerFilter

from tui_helpers import notifications, screen_text, until

SIZE = (80, 24)
CORPUS = Path(__file__).parent / "data" / "import_bad_rows.csv"


def problems(app) -> list[tuple[str, str]]:
    t = app.screen.query_one("#import-problems", DataTable)
    return [(str(t.get_row_at(i)[0]), str(t.get_row_at(i)[1])) for i in range(t.row_count)]


def summary(app) -> str:
    return str(app.screen.query_one("#import-summary").content)


async def open_import(pilot, path: str = "") -> CustomerImportScreen:
    screen = CustomerImportScreen(path)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: pilot.app.screen is screen, "the import screen")
    return screen


async def test_check_lists_the_bad_rows_then_import_adds_the_good(ctx, operator):
    before = customers.count(ctx, operator, CustomerFilter())
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot, str(CORPUS))
        await pilot.press("ctrl+t")  # Check
        await until(pilot, lambda: summary(app).startswith("Checked"), "the dry run")
        rows = problems(app)
        assert len(rows) == 16
        assert ("7", "email") in rows and ("17", "(row)") in rows and ("15", "name") in rows
        assert "3 would be added" in summary(app) and "16 refused" in summary(app)
        text = screen_text(app)
        assert "Customers: Import from CSV" in text and "Check" in text and "Import" in text
        assert "\\x07" in text  # the control character is shown escaped
        assert customers.count(ctx, operator, CustomerFilter()) == before
        # strict: nothing goes in
        app.screen.query_one("#strict", Switch).value = True
        await pilot.press("ctrl+s")
        await until(pilot, lambda: summary(app).startswith("Imported nothing"), "the strict import")
        assert "strict: nothing was imported" in summary(app)
        assert customers.count(ctx, operator, CustomerFilter()) == before
        # not strict: the good rows go in
        app.screen.query_one("#strict", Switch).value = False
        await pilot.press("ctrl+s")
        await until(pilot, lambda: summary(app).startswith("Imported import_bad_rows.csv"), "the import")
        assert "3 added" in summary(app)
        assert any(n.startswith("Import finished: Imported") for n in notifications(app))
        assert customers.count(ctx, operator, CustomerFilter()) == before + 3
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CustomerImportScreen), "back")


async def test_a_file_that_is_not_utf8_gets_a_clear_error(ctx, operator, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"account_no,name\nA1,Zo\xeb\n")
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot)
        app.screen.query_one("#import-path", Input).value = str(path)
        await pilot.press("enter")  # Enter in the path field checks
        await until(pilot, lambda: any("not UTF-8" in n for n in notifications(app)), "the error toast")
        assert summary(app).startswith("Nothing was imported")
        assert problems(app) == []


async def test_a_viewer_is_told_import_is_not_allowed(ctx, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_import(pilot, str(CORPUS))
        await pilot.press("ctrl+t")
        await until(pilot, lambda: any(n.startswith("Not allowed") for n in notifications(app)), "refusal")


async def test_export_writes_the_filtered_customers(ctx, operator, tmp_path):
    harb = next(b for b in customers.filter_options(ctx, operator).buildings if b.code == "HARB")
    flt = CustomerFilter(building_id=harb.id)
    out = tmp_path / "harb.csv"
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        results = []
        await app.push_screen(CustomerExportScreen(flt, str(out)), results.append)
        await until(pilot, lambda: isinstance(app.screen, CustomerExportScreen), "the export dialog")
        assert "current search and filters" in screen_text(app)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: results == [out], "the export")
        n = customers.count(ctx, operator, flt)
        assert f"Exported: Exported {n:,} customers to {out}." in notifications(app)
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))
    assert len(rows) == n and {r["building_code"] for r in rows} == {"HARB"}


async def test_export_to_a_missing_folder_stays_open_with_the_error(ctx, operator, tmp_path):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(CustomerExportScreen(None, str(tmp_path / "nope" / "x.csv")))
        await until(pilot, lambda: isinstance(app.screen, CustomerExportScreen), "the export dialog")
        await pilot.press("enter")
        await until(pilot, lambda: any("does not exist" in n for n in notifications(app)), "the error")
        assert isinstance(app.screen, CustomerExportScreen)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CustomerExportScreen), "closed")
