"""One customer's account: a header, then tabs Details, Emails (the message log) and Notes.

The Emails tab follows the dispatcher: it reloads when the app reports a change to
one of the shown messages, and polls every second while any of them is still
queued or sending (another operator's process may be the one sending it).
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from ..domain import Customer, Message, MessageStatus, Note, Permission
from ..services import customers
from ..services.customers import CustomerAccount
from ..widgets.format import DASH, clean, literal, local_time
from ..widgets.status_line import StatusLine
from .compose import ComposeScreen

POLL_SECONDS = 1.0

STATUS_STYLE = {"sent": "green", "failed": "red", "cancelled": "dim", "queued": "yellow", "sending": "yellow"}


class MessagesChanged(TextualMessage):
    """Posted by the app when its dispatcher queued, sent or failed these message ids."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__()
        self.ids = list(ids)


class AccountLoaded(TextualMessage):
    def __init__(self, account: CustomerAccount) -> None:
        super().__init__()
        self.account = account


def status_text(message: Message) -> Text:
    try:
        status = MessageStatus(message.status)
        label = status.label
    except ValueError:
        label = message.status
    if message.status == MessageStatus.QUEUED and message.last_error:
        label += f" (retry {message.attempts + 1})"
    return Text(label, style=STATUS_STYLE.get(message.status, ""))


def when(message: Message) -> str:
    return local_time(message.sent_at or message.due_at)


def is_pending(message: Message) -> bool:
    return message.status in (MessageStatus.QUEUED, MessageStatus.SENDING)


def _grid(*rows: tuple[str, object]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else literal(value, multiline=True))
    return grid


def summary(c: Customer) -> Group:
    """The header: who this is and how to reach them, in four lines."""
    label_width = 8
    top = Table.grid(padding=(0, 1), expand=True)
    top.add_column(width=label_width, no_wrap=True)
    top.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    top.add_column(justify="right", no_wrap=True)
    top.add_row(literal(c.account_no, style="bold"), literal(c.name, style="bold"),
                literal(f"{c.customer_type} · {c.status}"))
    rest = Table.grid(padding=(0, 1), expand=True)
    rest.add_column(width=label_width, style="dim", no_wrap=True)
    rest.add_column(ratio=3, no_wrap=True, overflow="ellipsis")
    rest.add_column(width=7, style="dim", no_wrap=True)
    rest.add_column(ratio=2, no_wrap=True, overflow="ellipsis")
    rest.add_row("Building", literal(building(c)), "Prefers", literal(c.preferred_delivery))
    rest.add_row("Email", literal(c.email), "Mobile", literal(c.mobile))
    address = Table.grid(padding=(0, 1), expand=True)
    address.add_column(width=label_width, style="dim", no_wrap=True)
    address.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    address.add_row("Address", literal(", ".join(c.address_lines) or None))
    return Group(top, rest, address)


def building(c: Customer) -> str | None:
    if not c.building:
        return None
    return f"{c.building} ({c.brand})" if c.brand else c.building


def details(c: Customer) -> Table:
    return _grid(
        ("Account no", c.account_no),
        ("Name", c.name),
        ("Customer type", c.customer_type),
        ("Status", c.status),
        ("Company", c.company),
        ("Building", building(c)),
        ("Preferred delivery", c.preferred_delivery),
        ("Email", c.email),
        ("Mobile", c.mobile),
        ("SMS opt-in", "yes" if c.sms_opt_in else "no"),
        ("Postal address", c.postal_address or None),
    )


def message_detail(m: Message) -> Table:
    reply = m.server_reply or m.last_error
    return _grid(
        ("To", ", ".join(m.to_addrs) or None),
        *((("Cc", ", ".join(m.cc_addrs)),) if m.cc_addrs else ()),
        *((("Bcc", ", ".join(m.bcc_addrs)),) if m.bcc_addrs else ()),
        ("Subject", m.subject or "(no subject)"),
        ("Status", Text.assemble(status_text(m), f" · {when(m)} · attempts {m.attempts} · by {clean(m.created_by)}")),
        ("Server reply", reply),
    )


def notes_text(notes: list[Note]) -> Text:
    if not notes:
        return Text("No notes yet. Every email sent adds one here.", style="dim")
    text = Text()
    for i, note in enumerate(notes):
        if i:
            text.append("\n\n")
        text.append(f"{local_time(note.created_at)}  {clean(note.author)}\n", style="dim")
        text.append(clean(note.text, multiline=True))
    return text


TABS = Binding.Group("Tabs")


class CustomerDetailsScreen(Screen):
    CSS_PATH = "customer_details.tcss"

    BINDINGS = [
        Binding("e", "email", "Email", tooltip="Write an email to this customer"),
        Binding("escape", "back", "Back", tooltip="Back to the customer list"),
        Binding("1", "show_tab('details')", "Details", group=TABS),
        Binding("2", "show_tab('emails')", "Emails", group=TABS),
        Binding("3", "show_tab('notes')", "Notes", group=TABS),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.customer: Customer | None = None
        self.messages: list[Message] = []
        self._poll = None

    def compose(self) -> ComposeResult:
        yield StatusLine("Customer details")
        yield Static("Loading…", id="summary")
        with TabbedContent(initial="details"):
            with TabPane("Details", id="details"):
                yield VerticalScroll(Static(id="details-text"), id="details-scroll")
            with TabPane("Emails", id="emails"):
                yield DataTable(id="emails-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="email-detail")
            with TabPane("Notes", id="notes"):
                yield VerticalScroll(Static(id="notes-text"), id="notes-scroll")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#emails-table", DataTable)
        # sized so When..Status fit 80 columns; the reply scrolls sideways (and shows in full below)
        table.add_column("When", width=16)
        table.add_column("To", width=14)
        table.add_column("Subject", width=15)
        table.add_column("Status", width=23)
        table.add_column("Server reply / last error", width=60)
        self._poll = self.set_interval(POLL_SECONDS, self._load, pause=True)
        self._load()

    # -- loading -------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-account")
    def _load(self) -> None:
        account = customers.account(self.app.ctx, self.app.user, self.customer_id)
        if not get_current_worker().is_cancelled:  # a newer load started: its answer is fresher
            self.post_message(AccountLoaded(account))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.show_error(event.worker.error)

    @on(AccountLoaded)
    def _loaded(self, message: AccountLoaded) -> None:
        account = message.account
        self.customer = account.customer
        self.messages = account.messages
        self.query_one("#summary", Static).update(summary(account.customer))
        self.query_one("#details-text", Static).update(details(account.customer))
        self.query_one("#notes-text", Static).update(notes_text(account.notes))
        self._show_messages(account.messages)
        if any(is_pending(m) for m in account.messages):
            self._poll.resume()
        else:
            self._poll.pause()

    def _show_messages(self, messages: list[Message]) -> None:
        table = self.query_one("#emails-table", DataTable)
        keep = table.cursor_row
        table.clear()
        for m in messages:
            table.add_row(
                when(m), literal(", ".join(m.to_addrs) or None), literal(m.subject or "(no subject)"),
                status_text(m), literal(m.server_reply or m.last_error or DASH),
                key=str(m.id),
            )
        table.display = bool(messages)
        self.query_one("#email-detail", Static).set_class(bool(messages), "-for-row")
        if messages:
            table.move_cursor(row=min(keep, len(messages) - 1))
            self._show_message_detail(messages[table.cursor_row])
        else:
            self.query_one("#email-detail", Static).update(
                Text("No emails yet. Press e to write one.", style="dim"))

    def _show_message_detail(self, message: Message) -> None:
        self.query_one("#email-detail", Static).update(message_detail(message))

    @on(DataTable.RowHighlighted, "#emails-table")
    def _email_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.messages):
            self._show_message_detail(self.messages[event.cursor_row])

    @on(MessagesChanged)
    def _messages_changed(self, event: MessagesChanged) -> None:
        shown = {m.id for m in self.messages}
        if shown & set(event.ids):
            self._load()

    # -- actions -------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_reload(self) -> None:
        self._load()

    def action_email(self) -> None:
        user = self.app.user
        if user is None or not user.can(Permission.CUSTOMER_EDIT):
            self.notify(
                "You can look at this customer but not email them: sending needs the customerEdit role. "
                "Ask an administrator.",
                title="Not allowed", severity="warning", timeout=8)
            return
        if self.customer is None:
            return
        self.app.push_screen(ComposeScreen(self.customer), self._composed)

    def _composed(self, message: Message | None) -> None:
        if message is None:
            return
        self.action_show_tab("emails")
        self._load()  # Compose has already woken the dispatcher
