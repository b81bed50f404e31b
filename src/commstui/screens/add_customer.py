""""Add customer" from the Customers screen: the same form as adding from a company,
with a Company field first. Typing part of a company's code or name lists the
companies this user may add to (the service scopes crm users to their assigned ones);
Enter or Down moves into the list, Enter there chooses. Changing the text after
choosing un-chooses, so what is shown is always what will be used.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ..domain import Page
from ..services import company_customers
from ..widgets.format import literal
from .add_company_customer import AddCustomerDialog

MATCHES_SHOWN = 20
DEBOUNCE_SECONDS = 0.15


class CompanyInput(Input):
    BINDINGS = [Binding("down", "screen.company_list", "Companies", show=False)]


class CompaniesMatched(Message):
    def __init__(self, text: str, page: Page) -> None:
        super().__init__()
        self.text, self.page = text, page


class AddCustomerScreen(AddCustomerDialog):
    """Add a customer to a company chosen in the form (Customers path)."""

    CSS_PATH = ["add_company_customer.tcss", "add_customer.tcss"]

    def __init__(self) -> None:
        super().__init__(None, "")
        self._chosen_text: str | None = None   # the field's text when a company was chosen
        self._debounce: Timer | None = None
        self.matched_text: str | None = None   # the text the list answers (tests wait on it)
        self._codes: dict[str, tuple[str, str]] = {}   # option id -> (code, name)

    def title_text(self) -> str:
        return f"Add customer to {self.company_code}" if self.company_id is not None else "Add customer"

    def compose_company(self) -> ComposeResult:
        yield Label("Company (code or name)")
        yield CompanyInput(id="add-company", placeholder="type part of the code or name, then choose",
                           max_length=120)
        yield OptionList(id="add-company-list")
        yield Static("", id="add-company-hint", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#add-company-list", OptionList).display = False
        self._find_companies("")

    # -- the type-ahead --------------------------------------------------------------------
    @on(Input.Changed, "#add-company")
    def _company_typed(self, event: Input.Changed) -> None:
        if self.company_id is not None and event.value != self._chosen_text:
            self._choose(None)  # edited after choosing: nothing is chosen until they choose again
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, lambda: self._find_companies(event.value))

    @work(thread=True, exclusive=True, exit_on_error=False, group="add-companies")
    def _find_companies(self, text: str) -> None:
        page = company_customers.companies_for_adding(self.app.ctx, self.app.user, text, limit=MATCHES_SHOWN)
        if not get_current_worker().is_cancelled:
            self.post_message(CompaniesMatched(text, page))

    @on(CompaniesMatched)
    def _matched(self, message: CompaniesMatched) -> None:
        field = self.query_one("#add-company", Input)
        if message.text != field.value:
            return  # an answer to older text
        self.matched_text = message.text
        options = self.query_one("#add-company-list", OptionList)
        options.clear_options()
        options.add_options([Option(literal(f"{c.code} · {c.name}"), id=str(c.id)) for c in message.page.rows])
        self._codes = {str(c.id): (c.code, c.name) for c in message.page.rows}
        rows = message.page.rows
        options.display = self.company_id is None and bool(rows)
        hint = self.query_one("#add-company-hint", Static)
        if self.company_id is not None:
            hint.update("")
        elif not rows:
            hint.update("No company you may add customers to matches; check the spelling." if message.text.strip()
                        else "You may not add customers to any company; ask an administrator.")
        else:
            more = " (more match: type more)" if message.page.has_more else ""
            hint.update(f"Enter or ↓ to choose{more}.")

    def action_company_list(self) -> None:
        options = self.query_one("#add-company-list", OptionList)
        if options.display and options.option_count:
            options.focus()
            if options.highlighted is None:
                options.highlighted = 0

    @on(Input.Submitted, "#add-company")
    def _company_entered(self) -> None:
        options = self.query_one("#add-company-list", OptionList)
        if self.company_id is not None:
            self.query_one("#add-name", Input).focus()
        elif options.option_count == 1 and options.display:
            self._choose(options.get_option_at_index(0).id)
        else:
            self.action_company_list()

    @on(OptionList.OptionSelected, "#add-company-list")
    def _company_picked(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        field = self.query_one("#add-company", Input)
        hint = self.query_one("#add-company-hint", Static)
        if option_id is None:
            self.company_id, self.company_code, self._chosen_text = None, "", None
            hint.update("")
        else:
            code, name = self._codes[option_id]
            self.company_id, self.company_code = int(option_id), code
            self._chosen_text = f"{code} · {name}"
            with field.prevent(Input.Changed):
                field.value = self._chosen_text
            self.query_one("#add-company-list", OptionList).display = False
            hint.update(f"Chosen: {name}.")
            self.query_one("#add-name", Input).focus()
        self.query_one("#add-dialog").border_title = self.title_text()
