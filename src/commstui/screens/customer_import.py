"""Customers: Import from CSV (check first, then import in a worker with progress),
and Customers: Export to CSV (a small modal that writes the current Customers filter)."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, ProgressBar, Static, Switch
from textual.worker import Worker, WorkerState

from ..services import customer_import
from ..services.customer_import import ImportMode, ImportReport
from ..services.customers import CustomerFilter
from ..widgets.status_line import StatusLine
from .bulk_compose import PathSuggester

MAX_SHOWN = 2_000  # problems listed in the table; the summary counts all of them


class ImportProgress(Message):
    def __init__(self, phase: str, done: int, total: int) -> None:
        super().__init__()
        self.phase, self.done, self.total = phase, done, total


class ImportChecked(Message):
    def __init__(self, report: ImportReport) -> None:
        super().__init__()
        self.report = report


class CustomerImportScreen(Screen):
    CSS_PATH = "customer_import.tcss"
    AUTO_FOCUS = "#import-path"

    BINDINGS = [
        Binding("ctrl+t", "check", "Check", tooltip="Dry run: list every bad row, change nothing"),
        Binding("ctrl+s", "run_import", "Import", tooltip="Import the good rows (none if Strict and any is bad)"),
        Binding("escape", "back", "Back", tooltip="Back to where you were"),
    ]

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self._path = path
        self.report: ImportReport | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        yield StatusLine("Customers: Import from CSV")
        with Vertical(id="import-form"):
            path = Input(self._path, id="import-path", placeholder="path to a .csv file (Right arrow completes)",
                         suggester=PathSuggester(), select_on_focus=False, compact=True)
            yield path
            with Horizontal(id="import-options"):
                yield Switch(id="strict", tooltip="Import nothing if any row is bad")
                yield Label("Strict", classes="switch-label")
                yield Switch(id="update", tooltip="Overwrite customers whose account is already there")
                yield Label("Update existing", classes="switch-label")
                yield Button("Check", id="check", compact=True)
                yield Button("Import", id="import", variant="primary", compact=True)
        yield Static("Columns as in sample_data/customers.csv. Check lists every bad row; nothing changes "
                     "until you Import.", id="import-summary", markup=False)
        yield ProgressBar(id="import-progress", show_eta=False)
        table = DataTable(id="import-problems", cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#import-problems", DataTable)
        table.add_column("Line", key="line", width=6)
        table.add_column("Column", key="column", width=14)
        table.add_column("Value", key="value", width=16)
        table.add_column("Reason", key="reason")
        self.query_one(ProgressBar).display = False

    # -- actions -------------------------------------------------------------
    def action_back(self) -> None:
        if not self.running:
            self.app.pop_screen()

    def action_check(self) -> None:
        self._start(dry_run=True)

    def action_run_import(self) -> None:
        self._start(dry_run=False)

    @on(Button.Pressed, "#check")
    def _check_pressed(self) -> None:
        self.action_check()

    @on(Button.Pressed, "#import")
    def _import_pressed(self) -> None:
        self.action_run_import()

    @on(Input.Submitted, "#import-path")
    def _path_entered(self) -> None:
        self.action_check()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("check", "run_import"):
            return not self.running
        return True

    def _start(self, dry_run: bool) -> None:
        if self.running:
            return
        path = self.query_one("#import-path", Input).value.strip()
        if not path:
            self.notify("Type the path of the CSV file to import.", title="No file", severity="warning")
            self.query_one("#import-path", Input).focus()
            return
        self.running = True
        self.refresh_bindings()
        bar = self.query_one(ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.query_one("#import-summary", Static).update("Checking…" if dry_run else "Importing…")
        mode = ImportMode.UPDATE if self.query_one("#update", Switch).value else ImportMode.ADD
        self._run(Path(path).expanduser(), dry_run, self.query_one("#strict", Switch).value, mode)

    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-import")
    def _run(self, path: Path, dry_run: bool, strict: bool, mode: ImportMode) -> None:
        def progress(phase: str, done: int, total: int) -> None:
            self.post_message(ImportProgress(phase, done, total))

        if dry_run:
            report = customer_import.check_file(self.app.ctx, self.app.user, path, mode, progress=progress)
        else:
            report = customer_import.import_file(self.app.ctx, self.app.user, path, strict=strict, mode=mode,
                                                 progress=progress)
        self.post_message(ImportChecked(report))

    @on(ImportProgress)
    def _progress(self, event: ImportProgress) -> None:
        self.query_one(ProgressBar).update(total=max(event.total, 1), progress=event.done)
        self.query_one("#import-summary", Static).update(
            f"{event.phase.capitalize()}… {event.done:,} of about {event.total:,} rows")

    @on(ImportChecked)
    def _checked(self, event: ImportChecked) -> None:
        self.running = False
        self.refresh_bindings()
        self.query_one(ProgressBar).display = False
        report = self.report = event.report
        table = self.query_one("#import-problems", DataTable)
        table.clear()
        for p in report.problems[:MAX_SHOWN]:
            table.add_row(str(p.line), p.column or "(row)", _printable(p.value), p.reason)
        text = report.summary()
        if len(report.problems) > MAX_SHOWN:
            text += f" The first {MAX_SHOWN:,} problems are listed; `commstui import customers --dry-run` lists all."
        elif report.problems:
            text += " Fix the rows below in the file and check again."
        self.query_one("#import-summary", Static).update(text)
        severity = "warning" if report.problems else "information"
        if not report.dry_run:
            self.notify(text, title="Import finished", severity=severity, timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "customer-import" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.running = False
            self.refresh_bindings()
            self.query_one(ProgressBar).display = False
            self.query_one("#import-summary", Static).update("Nothing was imported. Check the file and try again.")
            if event.state == WorkerState.ERROR:
                self.app.show_error(event.worker.error)


def _printable(value: str) -> str:
    # a control character in the file shows as \x07, never reaches the terminal
    shown = repr(value)[1:-1] if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value) else value
    return shown if len(shown) <= 40 else shown[:39] + "…"


class ExportDone(Message):
    def __init__(self, count: int, path: Path) -> None:
        super().__init__()
        self.count, self.path = count, path


class CustomerExportScreen(ModalScreen[Path | None]):
    """Customers: Export to CSV — the customers the given filter finds, to a file."""

    CSS_PATH = "customer_import.tcss"
    AUTO_FOCUS = "#export-path"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", tooltip="Close without exporting"),
        Binding("ctrl+s", "export", "Export", tooltip="Write the CSV file"),
    ]

    def __init__(self, flt: CustomerFilter | None = None, path: str = "customers.csv") -> None:
        super().__init__()
        self.flt = flt or CustomerFilter()
        self._path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog") as dialog:
            dialog.border_title = "Export customers to CSV"
            which = "the customers the current search and filters find" if self.flt.narrowed else "every customer"
            yield Static(f"Writes {which} (UTF-8, opens in Excel; formula-like cells are made safe).",
                         id="export-text", markup=False)
            yield Input(self._path, id="export-path", suggester=PathSuggester(), select_on_focus=False,
                        compact=True, placeholder="file to write, e.g. ~/customers.csv")
            with Horizontal(id="export-buttons"):
                yield Button("Export", id="export", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#export")
    @on(Input.Submitted, "#export-path")
    def _export_pressed(self) -> None:
        self.action_export()

    def action_export(self) -> None:
        path = self.query_one("#export-path", Input).value.strip()
        if not path:
            self.notify("Type the file to write.", title="No file", severity="warning")
            return
        self.query_one("#export-text", Static).update("Exporting…")
        self._export(Path(path).expanduser())

    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-export")
    def _export(self, path: Path) -> None:
        count = customer_import.export_customers(self.app.ctx, self.app.user, self.flt, path)
        self.post_message(ExportDone(count, path))

    @on(ExportDone)
    def _done(self, event: ExportDone) -> None:
        self.app.notify(f"Exported {event.count:,} customers to {event.path}.", title="Exported", timeout=6)
        self.dismiss(event.path)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "customer-export" and event.state == WorkerState.ERROR:
            self.query_one("#export-text", Static).update("Not exported. Check the path and try again.")
            self.app.show_error(event.worker.error)
