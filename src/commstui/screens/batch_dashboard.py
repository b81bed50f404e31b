"""What the two bulk dashboards (Undelivered Emails, Undelivered Posted Mail) share:
a batch filter, a list of messages where Space ticks rows (a ticks all), the
highlighted row in full underneath, and reloading as the dispatcher works.

An action (retry, cancel, print, mark posted) applies to the ticked rows, or to the
highlighted row when none is ticked.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Label, Select, Static
from textual.worker import WorkerState, get_current_worker

from ..domain import Batch
from ..services import batches
from ..widgets.format import clean, plural
from ..widgets.status_line import StatusLine
from .batch_text import office_zone_name
from .customer_details import MessagesChanged

ALL = 0                   # the batch filter's "All batches"
BATCHES_OFFERED = 100     # newest batches in the filter (and the one asked for)
REFRESH_SECONDS = 10.0
CHANGE_DELAY = 0.5        # after the dispatcher reports sends: one reload for a burst
TICK = "●"


COMMON_BINDINGS = [
    Binding("space", "tick", "Tick", tooltip="Tick or untick the highlighted row"),
    Binding("a", "tick_all", "All", tooltip="Tick every row (again: untick them all)"),
    Binding("f", "focus_filter", "Batch", tooltip="Show one batch, or all"),
    Binding("escape", "back", "Back", tooltip="Back to where you were"),
    Binding("f5", "reload", "Reload", show=False, tooltip="Look again now"),
    Binding("ctrl+l", "app.logout", "Log out", show=False),
    Binding("f9", "app.open_outbox", "Demo outbox", show=False),
]


class RowsLoaded(TextualMessage):
    def __init__(self, rows: list, batch_id: int | None, offered: list[Batch] | None, zone: str | None) -> None:
        super().__init__()
        self.rows, self.batch_id, self.offered, self.zone = rows, batch_id, offered, zone


class BatchDashboard(Screen):
    CSS_PATH = "batch_dashboard.tcss"
    AUTO_FOCUS = "#dash-table"

    PLACE = ""                       # on the status line
    NOUN = ("message", "messages")
    COLUMNS: tuple[tuple[str, int], ...] = ()
    EMPTY = ""

    BINDINGS: list = []    # each dashboard lists its own actions first, then COMMON_BINDINGS

    def __init__(self, batch_id: int | None = None) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.rows: list = []
        self.ticked: set[int] = set()
        self.zone: str | None = None
        self.loaded = False
        self._offered = False
        self._soon: Timer | None = None

    # -- what a subclass says ---------------------------------------------------
    def fetch(self, ctx, user, batch_id: int | None) -> list:
        raise NotImplementedError

    def cells(self, row, zone: str | None) -> tuple:
        raise NotImplementedError

    def detail(self, row, zone: str | None):
        raise NotImplementedError

    def summary(self, rows: list) -> Text:
        return Text(plural(len(rows), *self.NOUN))

    @staticmethod
    def row_id(row) -> int:
        return row.message_id

    # -- the screen ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(self.PLACE)
        with Horizontal(id="dash-filter"):
            yield Label("Batch", id="dash-filter-label")
            yield Select([(Text("All batches"), ALL)], value=ALL, allow_blank=False, compact=True,
                         id="dash-batch")
        yield Static("Loading…", id="dash-count")
        yield DataTable(id="dash-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="dash-detail-scroll"):
            yield Static("", id="dash-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#dash-table", DataTable)
        table.add_column(" ", width=1, key="tick")
        for label, width in self.COLUMNS:
            table.add_column(label, width=width or None, key=label.lower())
        table.display = False
        self.set_interval(REFRESH_SECONDS, self._load)
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="dashboard")
    def _load(self) -> None:
        ctx, user, batch_id = self.app.ctx, self.app.user, self.batch_id
        rows = self.fetch(ctx, user, batch_id)
        offered = None
        if not self._offered:
            offered = batches.list_batches(ctx, user, limit=BATCHES_OFFERED)
            if batch_id is not None and all(b.id != batch_id for b in offered):
                offered.append(batches.get_batch(ctx, user, batch_id))
        zone = office_zone_name(ctx, user)
        if not get_current_worker().is_cancelled:
            self.post_message(RowsLoaded(rows, batch_id, offered, zone))

    def on_worker_state_changed(self, event) -> None:
        if event.state != WorkerState.ERROR:   # (a cancelled load is not an error)
            return
        error = event.worker.error
        self.app.show_error(error)
        if event.worker.group == "dashboard" and not self.loaded:
            self.query_one("#dash-count", Static).update(Text("Could not load the list (see the message).",
                                                              style="red"))
        elif event.worker.group == "dashboard-change":
            self._load()   # show what is true now

    @on(RowsLoaded)
    def _loaded(self, event: RowsLoaded) -> None:
        if event.offered is not None:
            self._offer(event.offered)
        if event.batch_id != self.batch_id:
            return   # the filter changed meanwhile; its own load follows
        table = self.query_one("#dash-table", DataTable)
        current = self.highlighted
        keep_id = self.row_id(current) if current is not None else None
        self.loaded = True
        self.rows, self.zone = event.rows, event.zone
        ids = {self.row_id(r) for r in self.rows}
        self.ticked &= ids      # sent, cancelled or posted meanwhile: no longer ticked
        table.clear()
        for r in self.rows:
            rid = self.row_id(r)
            table.add_row(TICK if rid in self.ticked else " ", *self.cells(r, event.zone), key=str(rid))
        table.display = bool(self.rows)
        if self.rows:
            at = next((i for i, r in enumerate(self.rows) if self.row_id(r) == keep_id), 0)
            table.move_cursor(row=at)
            self._show_detail()
        else:
            self.query_one("#dash-detail", Static).update(Text(self.EMPTY))
        self.query_one("#dash-detail-scroll").set_class(bool(self.rows), "-for-row")
        self._show_count()
        self.refresh_bindings()

    def _offer(self, offered: list[Batch]) -> None:
        self._offered = True
        options = [(Text("All batches"), ALL)]
        for b in offered:
            options.append((Text(f"{b.id} · {clean(b.title)}"[:40]), b.id))
        select = self.query_one("#dash-batch", Select)
        with select.prevent(Select.Changed):
            select.set_options(options)
            select.value = self.batch_id if self.batch_id is not None else ALL

    def _show_count(self) -> None:
        text = self.summary(self.rows)
        if self.ticked:
            text.append(f" · {len(self.ticked):,} ticked", style="bold")
        self.query_one("#dash-count", Static).update(text)

    def _show_detail(self) -> None:
        row = self.highlighted
        if row is not None:
            self.query_one("#dash-detail", Static).update(self.detail(row, self.zone))

    @property
    def highlighted(self):
        if not self.is_mounted:
            return None
        table = self.query_one("#dash-table", DataTable)
        if table.row_count and 0 <= table.cursor_row < len(self.rows):
            return self.rows[table.cursor_row]
        return None

    def targets(self) -> list:
        """The ticked rows (in list order), or the highlighted one when none is ticked."""
        if self.ticked:
            return [r for r in self.rows if self.row_id(r) in self.ticked]
        row = self.highlighted
        return [row] if row is not None else []

    @on(DataTable.RowHighlighted, "#dash-table")
    def _highlighted(self) -> None:
        self._show_detail()

    @on(Select.Changed, "#dash-batch")
    def _batch_changed(self, event: Select.Changed) -> None:
        if not self._offered:
            return   # the Select announcing its first value, before the batches are offered
        batch_id = None if event.value in (ALL, Select.BLANK) else int(event.value)
        if batch_id != self.batch_id:
            self.batch_id = batch_id
            self.ticked.clear()
            self.query_one("#dash-count", Static).update("Loading…")
            self._load()

    @on(MessagesChanged)
    def _messages_changed(self) -> None:
        if self._soon is None:
            self._soon = self.set_timer(CHANGE_DELAY, self._changed_reload)

    def _changed_reload(self) -> None:
        self._soon = None
        self._load()

    # -- ticking ----------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("tick", "tick_all") and not self.rows:
            return None
        return True

    def action_tick(self) -> None:
        row = self.highlighted
        if row is None:
            return
        rid = self.row_id(row)
        self.ticked ^= {rid}
        table = self.query_one("#dash-table", DataTable)
        table.update_cell(str(rid), "tick", TICK if rid in self.ticked else " ")
        table.action_cursor_down()
        self._show_count()

    def action_tick_all(self) -> None:
        ids = {self.row_id(r) for r in self.rows}
        self.ticked = set() if ids <= self.ticked else ids
        table = self.query_one("#dash-table", DataTable)
        for rid in ids:
            table.update_cell(str(rid), "tick", TICK if rid in self.ticked else " ")
        self._show_count()

    def action_focus_filter(self) -> None:
        self.query_one("#dash-batch", Select).focus()

    def action_reload(self) -> None:
        self._load()

    def action_back(self) -> None:
        self.dismiss()
