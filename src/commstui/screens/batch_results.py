"""Bulk: Results of a batch — how many succeeded, how many wait, how many failed,
and for each failure who it was and why; p prints the error report (a PDF).

"Succeeded" means the mail server accepted the email (not that it reached the
inbox: it may still bounce further on), the letter was marked posted, or the SMS
provider took the text. The counts follow the sending: the screen reloads when this
app's dispatcher reports progress, and every few seconds while anything still waits
(another operator's process may be the one sending).
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static
from textual.worker import WorkerState, get_current_worker

from ..config import data_dir
from ..domain import BatchFailure, BatchResults, BatchStatus, Permission, RecipientKind
from ..services import batches
from ..widgets.format import literal, plural
from ..widgets.status_line import StatusLine
from .batch_text import STATUS_STYLE, status_label
from .customer_details import MessagesChanged
from .undelivered_emails import UndeliveredEmailsScreen
from .unposted_letters import UnpostedLettersScreen

POLL_SECONDS = 3.0        # while messages of the batch still wait
CHANGE_DELAY = 0.5        # after the dispatcher reports sends: one reload for a burst
COLUMNS = (("Account No", 10), ("Linked Account No", 17), ("Type", 8), ("Name", 18), ("Channel", 8),
           ("Destination", 24))
SENT_MEANS = ("Succeeded: accepted by the mail server (it may still bounce later), posted, or taken by "
              "the SMS provider.")
CHANNEL_NAMES = {"email": "Email", "letter": "Letter", "sms": "SMS", "robocall": "RoboCall"}


def report_path(batch_id: int) -> Path:
    return data_dir() / "reports" / f"batch-{batch_id}-errors.pdf"


class ResultsLoaded(TextualMessage):
    def __init__(self, results: BatchResults) -> None:
        super().__init__()
        self.results = results


class ReportPrinted(TextualMessage):
    def __init__(self, path: Path, failures: int) -> None:
        super().__init__()
        self.path, self.failures = path, failures


def kind_label(kind: str) -> str:
    try:
        return RecipientKind(kind).label
    except ValueError:
        return kind


def headline(r: BatchResults) -> Text:
    b = r.batch
    text = Text.assemble((f"Batch {b.id} ", "bold"), literal(b.title, style="bold"), " · ",
                         (status_label(b), STATUS_STYLE.get(b.status, "")))
    text.append("\n")
    text.append(f"{r.succeeded:,} succeeded", style="bold green")
    text.append("   ")
    text.append(f"{r.waiting:,} waiting", style="bold yellow" if r.waiting else "dim")
    text.append("   ")
    text.append(f"{r.failed:,} failed", style="bold red" if r.failed else "dim")
    if r.cancelled:
        text.append(f"   {r.cancelled:,} cancelled", style="dim")
    if b.status == BatchStatus.PENDING:
        text.append("  · nothing is sent before approval", style="yellow")
    return text


def failure_detail(f: BatchFailure) -> Table:
    """The highlighted failure in full (the table's Error column is off to the right at 80 columns)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=7)
    grid.add_column()
    who = Text.assemble(literal(f.name), f" ({kind_label(f.kind)}, account ", literal(f.account_no))
    if f.linked_account_no and f.linked_account_no != f.account_no:
        who.append_text(Text.assemble(", linked account ", literal(f.linked_account_no)))
    who.append(")")
    grid.add_row("Who", who)
    channel = CHANNEL_NAMES.get(f.channel, f.channel)
    grid.add_row("By", Text.assemble(channel, " to ", literal(f.destination)) if f.destination
                 else Text(f"{channel}: nothing on file to send it to"))
    grid.add_row("Error", literal(f.reason, style="red", multiline=True))
    return grid


class BatchResultsScreen(Screen):
    CSS_PATH = "batch_results.tcss"
    AUTO_FOCUS = "#failures"

    BINDINGS = [
        Binding("p", "print_report", "Print Error Report", tooltip="Write the failures to a PDF"),
        Binding("e", "emails", "Emails", tooltip="This batch's emails not yet accepted: retry or cancel them"),
        Binding("l", "letters", "Letters", tooltip="This batch's letters not yet posted: print, mark posted"),
        Binding("f5", "reload", "Reload", tooltip="Count again now"),
        Binding("escape", "back", "Back", tooltip="Back to where you were"),
        Binding("ctrl+l", "app.logout", "Log out", show=False),
        Binding("f9", "app.open_outbox", "Demo outbox", show=False),
    ]

    def __init__(self, batch_id: int) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.results: BatchResults | None = None
        self.failures: list[BatchFailure] = []
        self._poll: Timer | None = None
        self._soon: Timer | None = None
        self.printing = False

    def compose(self) -> ComposeResult:
        yield StatusLine(f"Bulk: Results of batch {self.batch_id}")
        yield Static("Loading…", id="results-head")
        yield Static(Text(SENT_MEANS, style="dim"), id="results-note")
        yield DataTable(id="failures", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="failure-detail-scroll"):
            yield Static("", id="failure-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#failures", DataTable)
        for label, width in COLUMNS:
            table.add_column(label, width=width, key=label.lower())
        table.add_column("Error", key="error")
        table.display = False
        self._load()

    # -- loading -------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="results")
    def _load(self) -> None:
        found = batches.results(self.app.ctx, self.app.user, self.batch_id)
        if not get_current_worker().is_cancelled:
            self.post_message(ResultsLoaded(found))

    def on_worker_state_changed(self, event) -> None:
        if event.state != WorkerState.ERROR:   # (a cancelled load is not an error)
            return
        error = event.worker.error
        if event.worker.group == "print":
            self.printing = False
        self.app.show_error(error)
        if self.results is None and event.worker.group == "results":
            self.query_one("#results-head", Static).update(
                Text(f"The results of batch {self.batch_id} could not be loaded: {error}", style="red"))

    @on(ResultsLoaded)
    def _loaded(self, event: ResultsLoaded) -> None:
        r = event.results
        table = self.query_one("#failures", DataTable)
        keep = table.cursor_row if self.results is not None else 0
        self.results, self.failures = r, list(r.failures)
        self.query_one("#results-head", Static).update(headline(r))
        table.clear()
        for f in self.failures:
            table.add_row(literal(f.account_no), literal(f.linked_account_no), kind_label(f.kind),
                          literal(f.name), CHANNEL_NAMES.get(f.channel, f.channel), literal(f.destination),
                          literal(f.reason, style="red"))
        table.display = bool(self.failures)
        detail = self.query_one("#failure-detail", Static)
        if self.failures:
            table.move_cursor(row=min(keep, len(self.failures) - 1))
            self._show_detail()
        else:
            detail.update(Text("No failures: every recipient got (or is getting) the message."
                               if r.batch.status != BatchStatus.PENDING else
                               "No failures so far. The batch waits for approval.", style="green"))
        self.query_one("#failure-detail-scroll").set_class(bool(self.failures), "-for-row")
        # keep looking while something waits to be sent (letters wait for an operator: no hurry)
        sending = r.waiting > 0 and r.batch.status == BatchStatus.APPROVED
        if sending and self._poll is None:
            self._poll = self.set_interval(POLL_SECONDS, self._load)
        elif not sending and self._poll is not None:
            self._poll.stop()
            self._poll = None
        self.refresh_bindings()

    def _show_detail(self) -> None:
        table = self.query_one("#failures", DataTable)
        if self.failures and 0 <= table.cursor_row < len(self.failures):
            self.query_one("#failure-detail", Static).update(failure_detail(self.failures[table.cursor_row]))

    @on(DataTable.RowHighlighted, "#failures")
    def _highlighted(self) -> None:
        self._show_detail()

    @on(MessagesChanged)
    def _messages_changed(self) -> None:
        if self._soon is None:
            self._soon = self.set_timer(CHANGE_DELAY, self._changed_reload)

    def _changed_reload(self) -> None:
        self._soon = None
        self._load()

    # -- the error report ----------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "print_report":
            return self.results is not None and not self.printing
        if action in ("emails", "letters"):
            # the dashboards are for senders (the services say so too)
            user = self.app.user
            return user is not None and user.can(Permission.BULK_SEND)
        return True

    def action_print_report(self) -> None:
        if self.results is None or self.printing:
            return
        self.printing = True
        self.refresh_bindings()
        self.notify("Writing the error report…", timeout=2)
        self._print(report_path(self.batch_id))

    @work(thread=True, exit_on_error=False, group="print")
    def _print(self, out: Path) -> None:
        path = batches.error_report(self.app.ctx, self.app.user, self.batch_id, out)
        self.post_message(ReportPrinted(path, len(self.failures)))

    @on(ReportPrinted)
    def _printed(self, event: ReportPrinted) -> None:
        self.printing = False
        self.refresh_bindings()
        self.notify(f"{plural(event.failures, 'failure')} in {event.path}", title="Error report written",
                    markup=False, timeout=15)

    def action_emails(self) -> None:
        self.app.push_screen(UndeliveredEmailsScreen(batch_id=self.batch_id))

    def action_letters(self) -> None:
        self.app.push_screen(UnpostedLettersScreen(batch_id=self.batch_id))

    def action_reload(self) -> None:
        self._load()

    def action_back(self) -> None:
        self.dismiss()
