"""Bulk: Batches — every generated bulk send, newest first, and where to go from each.

A batch waits as "pending approval" until an approver releases it (Enter or a: the
approval review). r shows its results (who got it, who did not and why), e its emails
not yet accepted by the mail server, l its letters not yet posted. The list follows
the dispatcher: it reloads when this screen comes back and every few seconds.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Select, Static
from textual.worker import WorkerState, get_current_worker

from ..domain import Batch, Permission
from ..services import batches
from ..widgets.format import literal, plural
from ..widgets.status_line import StatusLine
from .batch_approval import ApprovalScreen
from .batch_results import BatchResultsScreen
from .batch_text import (STATUS_STYLE, counts_text, mode_label, office_zone_name, status_label,
                         when)
from .undelivered_emails import UndeliveredEmailsScreen
from .unposted_letters import UnpostedLettersScreen

REFRESH_SECONDS = 10.0   # generation and approvals by other operators show up
ALL = "all"
STATUSES = [("All batches", ALL), ("Pending approval", "pending"), ("Approved", "approved"),
            ("Rejected", "rejected"), ("Cancelled", "cancelled"), ("Failed", "failed"),
            ("Generating", "generating")]
# No, Title, Status, Created by and Created fit 80 columns; the counts scroll in sideways
# (and the highlighted batch's counts are always shown underneath)
COLUMNS = (("No", 4), ("Title", 16), ("Status", 16), ("Created by", 11), ("Created", 12),
           ("Emails", 6), ("Letters", 7), ("SMS", 5), ("Calls", 5), ("Not generated", 13))

EMPTY = ("No bulk sends yet.\n\nA bulk send made with the Bulk Send wizard appears here as "
         "pending approval; an approver reviews it here (Enter) before anything is sent.")


class BatchesLoaded(TextualMessage):
    def __init__(self, found: list[Batch], zone: str | None, status: str | None) -> None:
        super().__init__()
        self.found, self.zone, self.status = found, zone, status


def batch_detail(b: Batch, zone: str | None) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=8)
    grid.add_column()
    head = Text.assemble((f"{b.id} ", "bold"), literal(b.title, style="bold"))
    grid.add_row("Batch", head)
    state = Text(status_label(b), style=STATUS_STYLE.get(b.status, ""))
    state.append(f" · {mode_label(b)}", style="")
    grid.add_row("Status", state)
    grid.add_row("Made", Text(counts_text(b)))
    made_by = Text.assemble(literal(b.created_by), f" · {when(b.generated_at or b.created_at, zone)}")
    if b.decided_by:
        made_by.append(f" · {status_label(b)} by ")
        made_by.append_text(literal(b.decided_by))
        made_by.append(f" · {when(b.decided_at, zone)}")
    grid.add_row("By", made_by)
    if b.decision_comment:
        grid.add_row("Comment", literal(b.decision_comment, multiline=True))
    if b.error:
        grid.add_row("Problem", literal(b.error, style="red", multiline=True))
    return grid


class BatchesScreen(Screen):
    CSS_PATH = "batches.tcss"
    AUTO_FOCUS = "#batches-table"

    BINDINGS = [
        # Enter reaches the table first (RowSelected); the footer shows both keys on one entry
        Binding("a", "review", "Review", key_display="⏎/a", tooltip="Review the highlighted batch for approval"),
        Binding("r", "results", "Results", tooltip="Who got the highlighted batch, who did not and why"),
        Binding("e", "emails", "Emails", tooltip="The batch's emails not yet accepted by the mail server"),
        Binding("l", "letters", "Letters", tooltip="The batch's letters not yet posted"),
        Binding("f", "focus_filter", "Filter", tooltip="Show only batches in one state"),
        Binding("escape", "back", "Back", tooltip="Back to where you were"),
        Binding("f5", "reload", "Reload", show=False, tooltip="Look for batches again"),
        Binding("ctrl+l", "app.logout", "Log out", show=False),
        Binding("f9", "app.open_outbox", "Demo outbox", show=False),
    ]

    def __init__(self, batch_id: int | None = None, status: str | None = None) -> None:
        super().__init__()
        self.start_at = batch_id          # highlight this batch once loaded
        self.status: str | None = status
        self.found: list[Batch] = []
        self.zone: str | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield StatusLine("Bulk: Batches")
        with Horizontal(id="batches-filter"):
            yield Label("Status", id="batches-filter-label")
            yield Select(STATUSES, value=self.status or ALL, allow_blank=False, compact=True,
                         id="batches-status")
        yield Static("Loading…", id="batches-count")
        yield DataTable(id="batches-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="batch-detail-scroll"):
            yield Static("", id="batch-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#batches-table", DataTable)
        for label, width in COLUMNS:
            table.add_column(label, width=width, key=label.lower())
        self.set_interval(REFRESH_SECONDS, self._load)
        self._load()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self._load()   # back from approval or results: show what changed

    # -- loading -------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="batches")
    def _load(self) -> None:
        ctx, user, status = self.app.ctx, self.app.user, self.status
        found = batches.list_batches(ctx, user, status)
        zone = office_zone_name(ctx, user)
        if not get_current_worker().is_cancelled:
            self.post_message(BatchesLoaded(found, zone, status))

    def on_worker_state_changed(self, event) -> None:
        if event.state == WorkerState.ERROR:
            self.app.show_error(event.worker.error)
            if not self.loaded:
                self.query_one("#batches-count", Static).update(
                    Text("Could not load the batches (see the message).", style="red"))

    @on(BatchesLoaded)
    def _loaded(self, event: BatchesLoaded) -> None:
        if event.status != self.status:
            return   # the filter changed meanwhile; its own load follows
        table = self.query_one("#batches-table", DataTable)
        current = self.selected
        keep_id = self.start_at if self.start_at is not None else (current.id if current else None)
        self.start_at = None
        self.loaded = True
        self.found, self.zone = event.found, event.zone
        table.clear()
        for b in event.found:
            table.add_row(str(b.id), literal(b.title), Text(status_label(b), style=STATUS_STYLE.get(b.status, "")),
                          literal(b.created_by), when(b.created_at, event.zone), f"{b.emails:,}",
                          f"{b.letters:,}", f"{b.sms:,}", f"{b.robocalls:,}", f"{b.not_generated:,}",
                          key=str(b.id))
        pending = sum(1 for b in event.found if b.status == "pending")
        count = plural(len(event.found), "batch", "batches")
        if pending and self.status is None:
            count += f" · {pending:,} pending approval"
        self.query_one("#batches-count", Static).update(count)
        table.display = bool(event.found)
        if event.found:
            row = next((i for i, b in enumerate(event.found) if b.id == keep_id), 0)
            table.move_cursor(row=row)
            self._show_detail()
        else:
            self.query_one("#batch-detail", Static).update(
                Text(EMPTY) if self.status is None else Text("No batch is in that state.", style="dim"))
        self.query_one("#batch-detail-scroll").set_class(bool(event.found), "-for-row")
        self.refresh_bindings()

    def _show_detail(self) -> None:
        b = self.selected
        if b is not None:
            self.query_one("#batch-detail", Static).update(batch_detail(b, self.zone))

    @property
    def selected(self) -> Batch | None:
        if not self.is_mounted:
            return None
        table = self.query_one("#batches-table", DataTable)
        if table.row_count and 0 <= table.cursor_row < len(self.found):
            return self.found[table.cursor_row]
        return None

    @on(DataTable.RowHighlighted, "#batches-table")
    def _highlighted(self) -> None:
        self._show_detail()
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#batches-table")
    def _selected(self) -> None:
        self.action_review()

    @on(Select.Changed, "#batches-status")
    def _status_changed(self, event: Select.Changed) -> None:
        status = None if event.value in (ALL, Select.BLANK) else str(event.value)
        if status != self.status:
            self.status = status
            self.query_one("#batches-count", Static).update("Loading…")
            self._load()

    # -- actions -------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("review", "results", "emails", "letters"):
            if self.selected is None:
                return None
            # the dashboards are for senders; approvers only review (the services say so too)
            if action in ("emails", "letters"):
                user = self.app.user
                return user is not None and user.can(Permission.BULK_SEND)
        return True

    def action_review(self) -> None:
        b = self.selected
        if b is not None:
            self.app.push_screen(ApprovalScreen(b.id))

    def action_results(self) -> None:
        b = self.selected
        if b is not None:
            self.app.push_screen(BatchResultsScreen(b.id))

    def action_emails(self) -> None:
        b = self.selected
        if b is not None:
            self.app.push_screen(UndeliveredEmailsScreen(batch_id=b.id))

    def action_letters(self) -> None:
        b = self.selected
        if b is not None:
            self.app.push_screen(UnpostedLettersScreen(batch_id=b.id))

    def action_focus_filter(self) -> None:
        self.query_one("#batches-status", Select).focus()

    def action_reload(self) -> None:
        self._load()

    def action_back(self) -> None:
        self.dismiss()

