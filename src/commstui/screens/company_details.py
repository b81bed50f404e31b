"""One company: its code and name, and its customers (account no, name, email, status).

Enter on a customer opens that customer's account for users with customerView; for
others it says why not (the company's list of customers itself needs only the right
to view the company). r renames the company for users allowed to edit it.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from ..domain import Page
from ..services import companies
from ..services.companies import NAME_MAX, Company, CompanyAccount
from ..services.errors import ServiceError, ValidationError
from ..widgets.format import literal, plural
from ..widgets.status_line import StatusLine

PAGE_SIZE = 100
PREFETCH_ROWS = 30
# 80 columns with the cell padding and a scrollbar
COLUMNS = (("Account", 10), ("Name", 24), ("Email", 28), ("Status", 8))
NO_CUSTOMER_ACCESS = ("Opening a customer's account needs the role customerView; "
                      "ask an administrator if you need it.")


class CompanyLoaded(Message):
    def __init__(self, account: CompanyAccount) -> None:
        super().__init__()
        self.account = account


class CompanyCustomersFound(Message):
    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page


def summary(company: Company, may_open_customers: bool) -> Group:
    top = Table.grid(padding=(0, 2), expand=True)
    top.add_column(no_wrap=True)
    top.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    top.add_column(justify="right", no_wrap=True)
    top.add_row(literal(company.code, style="bold"), literal(company.name, style="bold"),
                plural(company.customers, "customer"))
    parts = [top]
    if company.customers and not may_open_customers:
        parts.append(literal("Opening a customer's account needs the role customerView.",
                             style="dim"))
    return Group(*parts)


class CompanyCustomerTable(DataTable):
    BINDINGS = [Binding("enter", "select_cursor", "Open customer", tooltip="Open the highlighted customer's account")]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)


class CompanyDetailsScreen(Screen):
    CSS_PATH = "company_details.tcss"

    BINDINGS = [
        Binding("r", "rename", "Rename", tooltip="Change the company's name"),
        Binding("a", "add_customer", "Add customer", tooltip="Add a customer (and their portal user) to this company"),
        Binding("escape", "back", "Back", tooltip="Back to the company list"),
        Binding("f5", "reload", "Reload", show=False),
    ]

    def __init__(self, company_id: int) -> None:
        super().__init__()
        self.company_id = company_id
        self.account: CompanyAccount | None = None
        self._last_account: str | None = None
        self._has_more = False
        self._loading_page = False

    def compose(self) -> ComposeResult:
        yield StatusLine("Company details")
        yield Static("Loading…", id="company-summary")
        yield CompanyCustomerTable(id="company-customers")
        yield Static("", id="company-empty", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#company-customers", DataTable)
        for label, width in COLUMNS:
            table.add_column(label, width=width)
        self._load()

    @property
    def loaded(self) -> bool:
        return self.account is not None

    # -- loading -------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="company-account")
    def _load(self) -> None:
        self.post_message(CompanyLoaded(companies.account(self.app.ctx, self.app.user, self.company_id,
                                                          limit=PAGE_SIZE)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="company-customers")
    def _more(self, after: str) -> None:
        self.post_message(CompanyCustomersFound(
            companies.customers_of(self.app.ctx, self.app.user, self.company_id, after_account=after,
                                   limit=PAGE_SIZE)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "company-customers":
            self._loading_page = False
        if event.worker.group == "company-account" and self.account is None:
            self.query_one("#company-summary", Static).update(literal(str(event.worker.error), multiline=True))
        self.app.show_error(event.worker.error)

    @on(CompanyLoaded)
    def _loaded(self, message: CompanyLoaded) -> None:
        self.account = message.account
        self.query_one("#company-summary", Static).update(
            summary(message.account.company, message.account.may_open_customers))
        table = self.query_one("#company-customers", DataTable)
        table.clear()
        self._add(message.account.customers)
        empty = self.query_one("#company-empty", Static)
        empty.update("" if table.row_count else "No customers belong to this company yet.")
        empty.display = not table.row_count
        self.refresh_bindings()

    @on(CompanyCustomersFound)
    def _found(self, message: CompanyCustomersFound) -> None:
        self._add(message.page)

    def _add(self, page: Page) -> None:
        table = self.query_one("#company-customers", DataTable)
        for c in page.rows:
            table.add_row(literal(c.account_no), literal(c.name), literal(c.email), literal(c.status), key=str(c.id))
        if page.rows:
            self._last_account = page.rows[-1].account_no
        self._has_more = page.has_more
        self._loading_page = False

    @on(DataTable.RowHighlighted, "#company-customers")
    def _highlighted(self) -> None:
        table = self.query_one("#company-customers", DataTable)
        if (self._has_more and not self._loading_page and self._last_account is not None
                and table.row_count - table.cursor_row <= PREFETCH_ROWS):
            self._loading_page = True
            self._more(self._last_account)

    # -- actions -------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("rename", "add_customer"):  # both need edit on this company
            return self.account is not None and self.account.may_rename
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self._load()

    @on(DataTable.RowSelected, "#company-customers")
    def _open_customer(self, event: DataTable.RowSelected) -> None:
        if self.account is None or event.row_key.value is None:
            return
        if not self.account.may_open_customers:
            self.notify(NO_CUSTOMER_ACCESS, title="Not allowed", severity="warning")
            return
        from .customer_details import CustomerDetailsScreen

        self.app.push_screen(CustomerDetailsScreen(int(event.row_key.value)))

    def action_add_customer(self) -> None:
        if self.account is None or not self.account.may_rename:
            return
        from .add_company_customer import AddCompanyCustomerScreen
        from .customer_details import CustomerDetailsScreen

        def added(customer) -> None:
            if customer is None:
                return
            self._load()
            if self.account.may_open_customers:
                self.app.push_screen(CustomerDetailsScreen(customer.id))

        self.app.push_screen(AddCompanyCustomerScreen(self.company_id, self.account.company.code), added)

    def action_rename(self) -> None:
        if self.account is None or not self.account.may_rename:
            return

        def renamed(company: Company | None) -> None:
            if company is not None:
                self.notify(f"Renamed {company.code} to “{company.name}”.", title="Saved", markup=False)
                self._load()

        self.app.push_screen(RenameCompanyScreen(self.account.company), renamed)


class CompanyRenamed(Message):
    def __init__(self, company: Company) -> None:
        super().__init__()
        self.company = company


class RenameCompanyScreen(ModalScreen[Company | None]):
    """A new name for one company; saved by the service, problems shown under the field."""

    CSS_PATH = "company_details.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, company: Company) -> None:
        super().__init__()
        self.company = company

    def compose(self) -> ComposeResult:
        with Vertical(id="rename-dialog") as dialog:
            dialog.border_title = Text(f"Rename {self.company.code}")
            yield Input(self.company.name, id="rename-name", max_length=NAME_MAX + 20,
                        placeholder="the company's name")
            yield Static("", id="rename-problem", markup=False)
            with Horizontal(id="rename-buttons"):
                yield Button("Save (Enter)", id="rename-save", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="rename-cancel", compact=True)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#rename-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#rename-name")
    @on(Button.Pressed, "#rename-save")
    def _save(self) -> None:
        self.query_one("#rename-problem", Static).update("Saving…")
        self._rename(self.query_one("#rename-name", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="company-rename")
    def _rename(self, name: str) -> None:
        self.post_message(CompanyRenamed(companies.rename(self.app.ctx, self.app.user, self.company.id, name)))

    @on(CompanyRenamed)
    def _renamed(self, message: CompanyRenamed) -> None:
        self.dismiss(message.company)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        problem = self.query_one("#rename-problem", Static)
        if isinstance(error, ValidationError):
            problem.update(str(error))
            self.query_one("#rename-name", Input).focus()
        elif isinstance(error, ServiceError):
            problem.update(str(error))
        else:
            problem.update("")
            self.app.show_error(error)
