"""Companies (CRM): a search box matching company code or name, and a paged list.

Works like Customers: the search runs DEBOUNCE_SECONDS after the last key, each search
carries a generation number so a stale answer never replaces a newer one, pages are
fetched by code (keyset) as the cursor nears the end, and the count follows the rows.
A crmCompanyView user only ever gets their assigned companies from the service.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from ..domain import Page
from ..services import companies
from ..services.errors import PermissionDenied
from ..widgets.format import literal, plural
from ..widgets.paged_table import PagedTable
from ..widgets.status_line import StatusLine

PAGE_SIZE = 100
PREFETCH_ROWS = 30
DEBOUNCE_SECONDS = 0.15
COLUMNS = (("Code", 10), ("Name", 48), ("Customers", 9))


class CompanyTable(PagedTable):
    BINDINGS = [
        Binding("enter", "select_cursor", "More details", tooltip="Open the highlighted company"),
        Binding("d", "select_cursor", "More details", show=False),
    ]

    COLUMNS = COLUMNS

    def add_companies(self, rows) -> None:
        for r in rows:
            self.add_row(literal(r.code), literal(r.name), literal(f"{r.customers:>9,}"), key=str(r.id))


class CompanySearchBox(Input):
    BINDINGS = [Binding("down", "screen.focus_results", "Results", tooltip="Move into the list")]


class CompaniesFound(Message):
    def __init__(self, generation: int, page: Page, append: bool) -> None:
        super().__init__()
        self.generation, self.page, self.append = generation, page, append


class CompaniesCounted(Message):
    def __init__(self, generation: int, count: int) -> None:
        super().__init__()
        self.generation, self.count = generation, count


class CompaniesScreen(Screen):
    CSS_PATH = "companies.tcss"
    AUTO_FOCUS = "#company-search"

    BINDINGS = [
        Binding("slash", "focus_search", "Search", tooltip="Type a company code or name"),
        Binding("escape", "clear_or_back", "Clear/Back", tooltip="Clear the search; pressed again, go back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._generation = 0
        self._text: str | None = None
        self._last_code: str | None = None
        self._has_more = False
        self._loading_page = False
        self._debounce: Timer | None = None
        self.settled = False  # the rows and the count answer the current search (tests wait on it)

    def compose(self) -> ComposeResult:
        yield StatusLine("Companies")
        with Vertical(id="company-query"):
            search = CompanySearchBox(id="company-search", placeholder="company code or name — results as you type")
            search.border_title = "Search"
            yield search
        yield Static("Loading companies…", id="company-count", markup=False)
        yield CompanyTable(id="company-results")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._start_search(force=True)

    # -- actions -------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_one("#company-search", Input).focus()

    def action_focus_results(self) -> None:
        self.query_one(CompanyTable).focus()

    def action_clear_or_back(self) -> None:
        search = self.query_one("#company-search", Input)
        if search.value:
            search.value = ""
            search.focus()
        elif len(self.app.screen_stack) > 2:  # never back onto the blank default screen
            self.app.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_search":
            return not isinstance(self.focused, Input)
        return True

    @on(Input.Submitted, "#company-search")
    def _submitted(self) -> None:
        table = self.query_one(CompanyTable)
        if table.row_count == 1 and not self._has_more and self.settled:
            self._open_row(table.coordinate_to_cell_key((0, 0)).row_key.value)
        else:
            table.focus()

    # -- search --------------------------------------------------------------
    @on(Input.Changed, "#company-search")
    def _typed(self) -> None:
        self.settled = False
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, self._start_search)

    def _start_search(self, force: bool = False) -> None:
        text = self.query_one("#company-search", Input).value
        if not force and text == self._text:
            self.settled = True
            return
        self._text = text
        self._generation += 1
        self._has_more = False
        self._loading_page = True
        self._last_code = None
        self.settled = False
        self.query_one("#company-count", Static).update("Searching…")
        self._search(self._generation, text, None)

    def _load_next_page(self) -> None:
        if self._has_more and not self._loading_page and self._text is not None:
            self._loading_page = True
            self._search(self._generation, self._text, self._last_code)

    @work(thread=True, exclusive=True, exit_on_error=False, group="company-search")
    def _search(self, generation: int, text: str, after: str | None) -> None:
        page = companies.search(self.app.ctx, self.app.user, text, after_code=after, limit=PAGE_SIZE)
        self.post_message(CompaniesFound(generation, page, append=after is not None))

    @work(thread=True, exclusive=True, exit_on_error=False, group="company-count")
    def _count(self, generation: int, text: str) -> None:
        self.post_message(CompaniesCounted(generation, companies.count(self.app.ctx, self.app.user, text)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "company-search":
            self._loading_page = False
        error = event.worker.error
        if isinstance(error, PermissionDenied):
            self.query_one("#company-count", Static).update(
                f"{error} Ask an administrator for the role, then log in again.")
        self.app.show_error(error)

    @on(CompaniesFound)
    def _found(self, message: CompaniesFound) -> None:
        if message.generation != self._generation:
            return
        table = self.query_one(CompanyTable)
        if not message.append:
            table.clear()
            self.query_one("#company-count", Static).update("Counting…")
            self._count(message.generation, self._text or "")
        table.add_companies(message.page.rows)
        if message.page.rows:
            self._last_code = message.page.rows[-1].code
        self._has_more = message.page.has_more
        self._loading_page = False
        if table.row_count - table.cursor_row <= PREFETCH_ROWS:
            self._load_next_page()

    @on(CompaniesCounted)
    def _counted(self, message: CompaniesCounted) -> None:
        if message.generation != self._generation:
            return
        if not (self._text or "").strip():
            text = plural(message.count, "company", "companies") if message.count else (
                "No companies to show: none exist, or none is assigned to you.")
        elif message.count:
            text = plural(message.count, "match", "matches")
        else:
            text = "No company matches. Check the code or name (Esc clears the search)."
        self.query_one("#company-count", Static).update(text)
        self.settled = True

    # -- paging and opening --------------------------------------------------
    @on(DataTable.RowHighlighted, "#company-results")
    def _highlighted(self) -> None:
        table = self.query_one(CompanyTable)
        if table.row_count - table.cursor_row <= PREFETCH_ROWS:
            self._load_next_page()

    @on(CompanyTable.NearEnd)
    def _near_end(self) -> None:
        self._load_next_page()

    @on(DataTable.RowSelected, "#company-results")
    def _open(self, event: DataTable.RowSelected) -> None:
        self._open_row(event.row_key.value)

    def _open_row(self, key: str | None) -> None:
        from .company_details import CompanyDetailsScreen

        if key is not None:
            self.app.push_screen(CompanyDetailsScreen(int(key)))
