"""The audit log (administrators): who changed which user or group role, what, and when,
newest first, in the office time zone. Type a username to see only what was done to that
user; more entries load as the cursor nears the end."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from ..domain import AuditEntry
from ..services import audit
from ..services import schedule as schedules
from ..widgets.format import literal, plural
from ..widgets.message_text import office_zone, short_time
from ..widgets.paged_table import PagedTable
from ..widgets.status_line import StatusLine

PAGE_SIZE = 200
DEBOUNCE_SECONDS = 0.2


class AuditTable(PagedTable):
    COLUMNS = (("When", 12), ("Who", 10), ("What", 18), ("User", 12), ("Detail", 200))


class AuditPage(Message):
    def __init__(self, generation: int, entries: list[AuditEntry], zone: str, append: bool) -> None:
        super().__init__()
        self.generation, self.entries, self.zone, self.append = generation, entries, zone, append


class AuditLogScreen(Screen):
    CSS_PATH = "audit_log.tcss"
    AUTO_FOCUS = "#audit-table"
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter by user", tooltip="Only what was done to one user"),
        Binding("escape", "clear_or_back", "Clear/Back", tooltip="Clear the filter; pressed again, go back"),
    ]

    def __init__(self, target: str | None = None) -> None:
        super().__init__()
        self.target = target or ""
        self.loaded = False
        self._generation = 0
        self._last_id: int | None = None
        self._has_more = False
        self._loading = False
        self._zone: str | None = None
        self._debounce: Timer | None = None
        self.entries: dict[str, AuditEntry] = {}

    def compose(self) -> ComposeResult:
        yield StatusLine("Users › Audit log", dispatcher=False)
        box = Input(self.target, id="audit-filter", placeholder="a username (or group role) — empty: everything")
        box.border_title = "Filter by user"
        yield box
        yield Static("Loading…", id="audit-count", markup=False)
        yield AuditTable(id="audit-table")
        yield Static("", id="audit-detail", markup=False)   # the highlighted entry in full
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        self._generation += 1
        self.loaded = False
        self._last_id, self._has_more, self._loading = None, False, True
        self._load(self._generation, self.query_one("#audit-filter", Input).value, None, self._zone)

    @work(thread=True, exclusive=True, exit_on_error=False, group="audit-load")
    def _load(self, generation: int, target: str, before_id: int | None, zone: str | None) -> None:
        ctx, user = self.app.ctx, self.app.user
        entries = audit.recent(ctx, user, target=target, before_id=before_id, limit=PAGE_SIZE + 1)
        self.post_message(AuditPage(generation, entries, zone or schedules.office_zone(ctx, user),
                                    append=before_id is not None))

    @on(AuditPage)
    def _page(self, message: AuditPage) -> None:
        if message.generation != self._generation:
            return
        self._zone = message.zone
        table = self.query_one(AuditTable)
        if not message.append:
            table.clear()
            self.entries.clear()
        zone = office_zone(message.zone)
        shown = message.entries[:PAGE_SIZE]
        for e in shown:
            table.add_row(literal(short_time(e.happened_at, zone)), literal(e.actor), literal(e.action),
                          literal(e.target), literal(e.detail or None), key=str(e.id))
            self.entries[str(e.id)] = e
        if shown:
            self._last_id = shown[-1].id
        self._has_more = len(message.entries) > PAGE_SIZE
        self._loading = False
        filtered = self.query_one("#audit-filter", Input).value.strip()
        count = plural(table.row_count, "entry", "entries") + (" or more" if self._has_more else "")
        if not table.row_count:
            text = (f"Nothing recorded for {filtered!r}. Check the username (Esc clears the filter)."
                    if filtered else "Nothing recorded yet: changes to users and roles appear here.")
        else:
            text = count + (f" for {filtered}" if filtered else "") + f", newest first (times: {message.zone})"
        self.query_one("#audit-count", Static).update(text)
        self._show_detail()
        self.loaded = True

    def _show_detail(self) -> None:
        table = self.query_one(AuditTable)
        box = self.query_one("#audit-detail", Static)
        if not table.row_count:
            box.update("")
            return
        e = self.entries.get(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value or "")
        box.update(f"{e.actor} · {e.action} · {e.target}: {e.detail or '—'}" if e else "")

    @on(AuditTable.NearEnd)
    @on(DataTable.RowHighlighted, "#audit-table")
    def _near_end(self) -> None:
        self._show_detail()
        table = self.query_one(AuditTable)
        if self._has_more and not self._loading and table.row_count - table.cursor_row <= 30:
            self._loading = True
            self._load(self._generation, self.query_one("#audit-filter", Input).value, self._last_id, self._zone)

    @on(Input.Changed, "#audit-filter")
    def _typed(self) -> None:
        self.loaded = False
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, self.reload)

    @on(Input.Submitted, "#audit-filter")
    def _submitted(self) -> None:
        self.query_one(AuditTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_filter":
            return not isinstance(self.focused, Input)
        return True

    def action_focus_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def action_clear_or_back(self) -> None:
        box = self.query_one("#audit-filter", Input)
        if box.value:
            box.value = ""
            box.focus()
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self._loading = False
        error = event.worker.error
        self.query_one("#audit-count", Static).update(str(error))
        self.loaded = True
        self.app.show_error(error)
