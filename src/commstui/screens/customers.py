"""Customers: one search box, three filters, and a paged grid over (up to) millions of rows.

The grid never holds more than what the operator has scrolled through: pages of
PAGE_SIZE rows are fetched by account number (keyset) as the cursor nears the end.
Each search carries a generation number so a slow, stale answer never replaces a
newer one; the match count runs in its own worker once the first page is shown,
so the rows are never held up by it.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Select, Static
from textual.worker import Worker, WorkerState

from ..domain import Page
from ..services import customers
from ..services.customers import CustomerFilter, FilterOptions
from ..widgets.customer_table import CustomerTable
from ..widgets.format import literal, plural
from ..widgets.status_line import StatusLine

PAGE_SIZE = 100
PREFETCH_ROWS = 30  # fetch the next page when the cursor is this close to the last loaded row
DEBOUNCE_SECONDS = 0.15


class SearchBox(Input):
    BINDINGS = [
        # shown only when exactly one customer matches (see check_action); else Enter goes to the results
        Binding("enter", "screen.open_single", "Open", tooltip="Open the one matching customer"),
        Binding("down", "screen.focus_results", "Results", tooltip="Move into the results grid"),
    ]


class CustomersFound(Message):
    def __init__(self, generation: int, page: Page, append: bool) -> None:
        super().__init__()
        self.generation, self.page, self.append = generation, page, append


class CustomersCounted(Message):
    def __init__(self, generation: int, count: int) -> None:
        super().__init__()
        self.generation, self.count = generation, count


class FiltersLoaded(Message):
    def __init__(self, options: FilterOptions) -> None:
        super().__init__()
        self.options = options


class CustomersScreen(Screen):
    CSS_PATH = "customers.tcss"
    AUTO_FOCUS = "#search"

    BINDINGS = [
        Binding("slash", "focus_search", "Search", tooltip="Type to search account no, name, email or phone"),
        Binding("f", "focus_filters", "Filters", tooltip="Filter by building, type and status"),
        # always offered: whether this user may add to a company is the service's answer, shown in the form
        Binding("a", "add_customer", "Add customer",
                tooltip="Add a customer to a company: their email is the username; optionally send the welcome"),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._generation = 0
        self._filter: CustomerFilter | None = None
        self._last_account: str | None = None
        self._has_more = False
        self._loading_page = False
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine("Customers")
        with Vertical(id="query"):
            search = SearchBox(id="search", placeholder="account no, name, email or phone — results as you type")
            search.border_title = "Search"
            yield search
            with Horizontal(id="filters"):
                yield Select([], prompt="All buildings", id="building", compact=True)
                yield Select([], prompt="All types", id="customer-type", compact=True)
                yield Select([], prompt="All statuses", id="status", compact=True)
        yield Static("Loading customers…", id="count", markup=False)
        yield CustomerTable(id="results")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._load_filters()
        self._start_search(force=True)

    # -- actions -------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_filters(self) -> None:
        self.query_one("#building", Select).focus()

    def action_clear_search(self) -> None:
        """Esc: clear the search text; pressed again, clear the filters too."""
        search = self.query_one("#search", Input)
        if search.value:
            search.value = ""
        else:
            for select in self.query(Select):
                select.clear()
        search.focus()

    def action_add_customer(self) -> None:
        from .add_customer import AddCustomerScreen

        self.app.push_screen(AddCustomerScreen(), self._customer_added)

    def _customer_added(self, customer) -> None:
        if customer is None:
            return
        self._start_search(force=True)  # the new account is in the list when they come back
        self._open_row(str(customer.id))

    def action_focus_results(self) -> None:
        self.query_one(CustomerTable).focus()

    def _single_match(self) -> bool:
        """The search has settled on exactly one customer (not a stale or partial answer)."""
        settled = not self._loading_page and self.current_filter() == self._filter
        return settled and self.query_one(CustomerTable).row_count == 1 and not self._has_more

    def action_open_single(self) -> None:
        table = self.query_one(CustomerTable)
        if self._single_match():
            self._open_row(table.coordinate_to_cell_key((0, 0)).row_key.value)
        else:
            table.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.action_focus_results()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_single":
            return self._single_match()
        if action in ("focus_search", "add_customer"):  # hidden while typing in the search box
            return not isinstance(self.focused, Input)
        return True

    # -- search --------------------------------------------------------------
    def current_filter(self) -> CustomerFilter:
        def value(select_id: str):
            v = self.query_one(select_id, Select).value
            return None if v is Select.NULL else v

        return CustomerFilter(
            text=self.query_one("#search", Input).value,
            building_id=value("#building"),
            customer_type=value("#customer-type"),
            status=value("#status"),
        )

    @on(Input.Changed, "#search")
    def _typed(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, self._start_search)

    @on(Select.Changed)
    def _filtered(self) -> None:
        self._start_search()

    def _start_search(self, force: bool = False) -> None:
        flt = self.current_filter()
        if not force and flt == self._filter:
            return
        self._filter = flt
        self._generation += 1
        self._has_more = False
        self._loading_page = True
        self._last_account = None
        self.query_one("#count", Static).update("Searching…")
        self._search(self._generation, flt, None)
        self.refresh_bindings()

    def _load_next_page(self) -> None:
        if self._has_more and not self._loading_page and self._filter is not None:
            self._loading_page = True
            self._search(self._generation, self._filter, self._last_account)

    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-search")
    def _search(self, generation: int, flt: CustomerFilter, after: str | None) -> None:
        page = customers.search(self.app.ctx, self.app.user, flt, after_account=after, limit=PAGE_SIZE)
        self.post_message(CustomersFound(generation, page, append=after is not None))

    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-count")
    def _count(self, generation: int, flt: CustomerFilter) -> None:
        self.post_message(CustomersCounted(generation, customers.count(self.app.ctx, self.app.user, flt)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-filters")
    def _load_filters(self) -> None:
        self.post_message(FiltersLoaded(customers.filter_options(self.app.ctx, self.app.user)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return  # cancelled workers are superseded searches: nothing to report
        if event.worker.group == "customer-search":
            self._loading_page = False
        self.app.show_error(event.worker.error)

    # -- results -------------------------------------------------------------
    @on(CustomersFound)
    def _found(self, message: CustomersFound) -> None:
        if message.generation != self._generation:
            return  # an answer to an older search
        table = self.query_one(CustomerTable)
        if not message.append:
            table.clear()
            # counted only now, so the count does not compete with the rows for the CPU
            self.query_one("#count", Static).update("Counting…")
            self._count(message.generation, self._filter)
        table.add_customers(message.page.rows)
        if message.page.rows:
            self._last_account = message.page.rows[-1].account_no
        self._has_more = message.page.has_more
        self._loading_page = False
        self.refresh_bindings()
        if self._near_end(table):
            self._load_next_page()

    @on(CustomersCounted)
    def _counted(self, message: CustomersCounted) -> None:
        if message.generation != self._generation:
            return
        if not (self._filter or CustomerFilter()).narrowed:
            text = plural(message.count, "customer")
        elif message.count:
            text = plural(message.count, "match", "matches")
        else:
            text = "No customer matches. Check the spelling or the filters (Esc clears them)."
        self.query_one("#count", Static).update(text)

    @on(FiltersLoaded)
    def _filters_loaded(self, message: FiltersLoaded) -> None:
        opts = message.options
        # buildings grouped by brand (the service orders them brand, name)
        self.query_one("#building", Select).set_options(
            (literal(f"{b.brand} · {b.name}"), b.id) for b in opts.buildings)
        self.query_one("#customer-type", Select).set_options(
            (literal(t.capitalize()), t) for t in opts.customer_types)
        self.query_one("#status", Select).set_options(
            (literal(s.capitalize()), s) for s in opts.statuses)

    # -- paging and opening --------------------------------------------------
    def _near_end(self, table: CustomerTable) -> bool:
        return table.row_count - table.cursor_row <= PREFETCH_ROWS

    @on(DataTable.RowHighlighted, "#results")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self._near_end(self.query_one(CustomerTable)):
            self._load_next_page()

    @on(CustomerTable.NearEnd)
    def _scrolled_near_end(self) -> None:
        self._load_next_page()

    @on(DataTable.RowSelected, "#results")
    def _open(self, event: DataTable.RowSelected) -> None:
        self._open_row(event.row_key.value)

    def _open_row(self, key: str | None) -> None:
        from .customer_details import CustomerDetailsScreen

        if key is not None:
            self.app.push_screen(CustomerDetailsScreen(int(key)))


class NoCustomersAccessScreen(Screen):
    """What a logged-in user without customer access sees, instead of an empty app."""

    CSS_PATH = "customers.tcss"

    def compose(self) -> ComposeResult:
        yield StatusLine("No access")
        user = self.app.user
        who = user.username if user else "You"
        with Vertical(id="no-access"):
            yield Static(
                f"{who} has no access to Customers.\n\n"
                "Finding and emailing customers needs the role customerView (and customerEdit "
                "to send), or administrator.\n\n"
                "Ask an administrator to give you the role, then log in again.\n\n"
                "Ctrl+L logs out · Ctrl+P lists what you can do · Ctrl+Q quits",
                markup=False,
            )
        yield Footer(compact=True)
