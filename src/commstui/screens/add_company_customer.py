"""The "Add customer" dialog: email (the username), name, group roles, roles and an
optional welcome-email template. The service decides everything; a refusal is shown
under the form and the field it names gets the focus. On success the dialog dismisses
with the new customer and the caller opens CustomerDetailsScreen.

AddCustomerDialog is the form both paths of seed 003 share; AddCompanyCustomerScreen is
the CRM path (the company is known), and screens/add_customer.py adds a Company field
for the Customers path.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, SelectionList, Static
from textual.worker import Worker, WorkerState

from ..domain import Customer, Role
from ..services import company_customers
from ..services.company_customers import AddCustomerOptions, NewCustomerForm
from ..widgets.form_errors import explain_failure

FIELD_IDS = {"email": "#add-email", "name": "#add-name", "group_roles": "#add-group-roles",
             "roles": "#add-roles", "template": "#add-template", "company": "#add-company"}


class AddOptionsLoaded(Message):
    def __init__(self, options: AddCustomerOptions) -> None:
        super().__init__()
        self.options = options


class CustomerAdded(Message):
    def __init__(self, customer: Customer, queued: bool) -> None:
        super().__init__()
        self.customer = customer
        self.queued = queued


class AddCustomerDialog(ModalScreen[Customer | None]):
    """The shared form. Dismisses with the new customer, or None when cancelled.

    A subclass may yield more fields from compose_company() (placed after the email,
    as the seed orders them) and set self.company_id before Add."""

    CSS_PATH = "add_company_customer.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+s", "add", "Add", tooltip="Add the customer")]

    def __init__(self, company_id: int | None = None, company_code: str = "") -> None:
        super().__init__()
        self.company_id = company_id
        self.company_code = company_code
        self.options: AddCustomerOptions | None = None
        self.busy = False

    def title_text(self) -> str:
        return f"Add customer to {self.company_code or 'company'}"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="add-dialog") as dialog:
            dialog.border_title = self.title_text()
            yield Label("Email (the username)")
            yield Input(id="add-email", placeholder="name@example.com", max_length=320)
            yield from self.compose_company()
            yield Label("Name")
            yield Input(id="add-name", placeholder="the customer's name", max_length=200)
            yield Label("Group roles")
            yield SelectionList[str](id="add-group-roles")
            yield Label("Roles")
            yield SelectionList[str](id="add-roles")
            yield Label("Template (welcome email)")
            yield Select[str]([], id="add-template", prompt="No email", allow_blank=True)
            yield Static("Loading…", id="add-problem", markup=False)
            with Horizontal(id="add-buttons"):
                yield Button("Add (Ctrl+S)", id="add-add", variant="primary", compact=True, disabled=True)
                yield Button("Cancel (Esc)", id="add-cancel", compact=True)

    def compose_company(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#add-email", Input).focus()
        self._load()

    @property
    def ready(self) -> bool:
        return self.options is not None

    @work(thread=True, exclusive=True, exit_on_error=False, group="add-options")
    def _load(self) -> None:
        self.post_message(AddOptionsLoaded(company_customers.options(self.app.ctx, self.app.user, self.company_id)))

    @on(AddOptionsLoaded)
    def _loaded(self, message: AddOptionsLoaded) -> None:
        options = self.options = message.options
        if options.company is not None:
            self.company_code = options.company.code
        self.query_one("#add-dialog").border_title = self.title_text()
        groups = self.query_one("#add-group-roles", SelectionList)
        groups.clear_options()
        groups.add_options([(f"{g.name} ({', '.join(g.roles)})", g.name) for g in options.group_roles])
        roles = self.query_one("#add-roles", SelectionList)
        roles.clear_options()
        roles.add_options([(r, r, r == Role.CUSTOMER.value) for r in options.roles])
        template = self.query_one("#add-template", Select)
        template.set_options([(name, name) for name in options.templates])
        template.disabled = not options.templates
        hint = "" if options.mail_server_ready else \
            "No mail server is set up yet: a welcome email cannot be sent (choose no template)."
        self.query_one("#add-problem", Static).update(hint)
        self.query_one("#add-add", Button).disabled = False

    # -- adding ---------------------------------------------------------------------------
    def form(self) -> NewCustomerForm:
        template = self.query_one("#add-template", Select).value
        return NewCustomerForm(
            email=self.query_one("#add-email", Input).value,
            name=self.query_one("#add-name", Input).value,
            group_roles=tuple(self.query_one("#add-group-roles", SelectionList).selected),
            roles=tuple(self.query_one("#add-roles", SelectionList).selected),
            template=template if isinstance(template, str) else None,
        )

    @on(Input.Submitted, "#add-name")
    @on(Button.Pressed, "#add-add")
    def action_add(self) -> None:
        if self.options is None or self.busy:
            return
        self.busy = True
        self.query_one("#add-add", Button).disabled = True
        self.query_one("#add-problem", Static).update("Adding…")
        self._add(self.company_id, self.form())

    @work(thread=True, exclusive=True, exit_on_error=False, group="add-customer")
    def _add(self, company_id: int | None, form: NewCustomerForm) -> None:
        customer, message = company_customers.add_customer(self.app.ctx, self.app.user, company_id, form)
        self.post_message(CustomerAdded(customer, message is not None))

    @on(CustomerAdded)
    def _added(self, message: CustomerAdded) -> None:
        c = message.customer
        self.app.notify(f"Added {c.name} ({c.account_no})"
                        + ("; the welcome email is queued." if message.queued else "."),
                        title="Customer added", markup=False)
        self.dismiss(c)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#add-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self.show_problem(event.worker.error)

    def show_problem(self, error: BaseException | None) -> None:
        self.busy = False
        self.query_one("#add-add", Button).disabled = self.options is None
        explain_failure(self.app, error, self._show_at_field)

    def _show_at_field(self, field: str | None, text: str) -> None:
        selector = FIELD_IDS.get(field or "")
        if selector and self.query(selector):
            self.query_one(selector).focus()
        self.query_one("#add-problem", Static).update(text)


class AddCompanyCustomerScreen(AddCustomerDialog):
    """Add a customer to a known company (the company's details screen, CRM path)."""

    def __init__(self, company_id: int, company_code: str = "") -> None:
        super().__init__(company_id, company_code)
