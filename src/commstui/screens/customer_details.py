"""One customer's account: a header, then tabs Details, Emails (the message log) and Notes.

The Emails tab lists every email with its time in the office time zone and what
became of it ("scheduled in 3 h 20 min", "retrying", "needs attention", "accepted
by mail server", ...); the highlighted one is shown in full underneath. A scheduled
email can be cancelled (c), rescheduled (t) or edited (E) until it starts to go;
d or Enter opens its delivery record.

The tab follows the dispatcher: it reloads when the app reports a change to one of
the shown messages, and polls while something is pending (another operator's
process may be the one sending it): every second while a message is sending or due
within a minute, every 30 s otherwise, so "in 3 h 20 min" stays true.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from ..domain import Customer, Message, MessageStatus, Note, Permission, ScheduleRequest
from ..services import customers
from ..services import schedule as schedules
from ..services.customers import CustomerAccount
from ..widgets.format import DASH, clean, literal
from ..widgets.message_text import (SOON_SECONDS, long_time, office_zone, short_time,
                                    shown_time, status_text, utcnow, zone_label)
from ..widgets.status_line import StatusLine
from .cancel_email import CancelsEmails, EmailChanged
from .compose import ComposeScreen
from .customer_addresses import CustomerAddresses
from .customer_contacts import ContactsChanged, CustomerContacts
from .customer_documents import CustomerDocuments
from .delivery_record import DeliveryRecordScreen
from .schedule import ScheduleScreen

FAST_POLL = 1.0    # seconds, while a message is sending or due within a minute
SLOW_POLL = 30.0   # seconds, while something waits further off: keeps "in 3 h 20 min" true
CHANGED_ELSEWHERE_DELAY = 1.0  # after the dispatcher changed emails not shown here
OVERDUE_FAST = 300  # a message this many seconds overdue is not being sent soon: poll slowly

# what last_error holds, by status: the dispatcher's or the canceller's reason
NOTE_LABELS = {"held": ("Why held", "magenta"), "missed": ("Why skipped", "dim"),
               "cancelled": ("Cancelled", "dim")}
LABEL_WIDTH = 12   # the detail pane's labels ("Server reply")
# When, To and Status are fixed; Subject takes what is left of the screen; the reply
# column scrolls in sideways (and is shown in full underneath)
WHEN_WIDTH, TO_WIDTH, STATUS_WIDTH, REPLY_WIDTH = 14, 12, 25, 60


class MessagesChanged(TextualMessage):
    """Posted by the app when its dispatcher queued, sent or failed these message ids."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__()
        self.ids = list(ids)


class AccountLoaded(TextualMessage):
    def __init__(self, account: CustomerAccount, zone: str) -> None:
        super().__init__()
        self.account = account
        self.zone = zone


def poll_delay(messages: list[Message], now: datetime) -> float | None:
    """How soon to look again: soon while something is about to go, never if nothing waits."""
    delay = None
    for m in messages:
        if m.status == MessageStatus.SENDING:
            return FAST_POLL
        if m.status == MessageStatus.QUEUED:
            due_in = (m.due_at - now).total_seconds()
            if -OVERDUE_FAST < due_in < SOON_SECONDS:
                return FAST_POLL
            delay = SLOW_POLL
        elif m.status == MessageStatus.HELD or m.series_id is not None:
            delay = SLOW_POLL  # a series' next occurrence is queued by whichever dispatcher runs
    return delay


def _grid(*rows: tuple[str, object], label_width: int | None = None) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=label_width)
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


def due_rows(m: Message, zone, now: datetime) -> list[tuple[str, object]]:
    """When it went, or is (was) due, in the office zone with its UTC offset."""
    if m.sent_at is not None:
        return [("Sent", long_time(m.sent_at, zone))]
    chosen = m.scheduled_at or m.due_at
    retrying = m.status == MessageStatus.QUEUED and m.attempts > 0
    when = long_time(chosen, zone)
    if m.status in (MessageStatus.QUEUED, MessageStatus.HELD) and not retrying:
        when += f" · {schedules.until(chosen, now)}"
    rows: list[tuple[str, object]] = [("Scheduled" if m.scheduled_at else "Due", when)]
    if retrying:
        rows.append(("Next try", f"{long_time(m.due_at, zone)} · {schedules.until(m.due_at, now)}"))
    return rows


def message_detail(m: Message, zone, now: datetime) -> Table:
    rows: list[tuple[str, object]] = [
        ("Subject", m.subject or "(no subject)"),
        ("To", ", ".join(m.to_addrs) or None),
        *((("Cc", ", ".join(m.cc_addrs)),) if m.cc_addrs else ()),
        *((("Bcc", ", ".join(m.bcc_addrs)),) if m.bcc_addrs else ()),
        ("Status", Text.assemble(status_text(m, now),
                                 f" · attempts {m.attempts} · by {clean(m.created_by)}")),
        *due_rows(m, zone, now),
    ]
    if m.series_rule:
        rows.append(("Repeats", Text.assemble("↻ ", schedules.rule_text(m, zone) or "")))
    if m.pending_rcpts and not MessageStatus(m.status).is_final:
        rows.append(("Pending", Text(clean(", ".join(m.pending_rcpts)), style="yellow")))
    if m.last_error:
        label, style = NOTE_LABELS.get(m.status, ("Last error", "red"))
        rows.append((label, Text(clean(m.last_error, multiline=True), style=style)))
    if m.server_reply:
        rows.append(("Server reply", m.server_reply))
    return _grid(*rows, label_width=LABEL_WIDTH)  # the pane keeps its shape from email to email


def notes_text(notes: list[Note], zone) -> Text:
    if not notes:
        return Text("No notes yet. Every email sent adds one here.", style="dim")
    text = Text()
    for i, note in enumerate(notes):
        if i:
            text.append("\n\n")
        when = note.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        text.append(f"{when}  {clean(note.author)}\n", style="dim")
        text.append(clean(note.text, multiline=True))
    return text


# the tab labels carry their number key ("4 Addresses"): the footer keeps its room for actions
TABS = Binding.Group("Tabs")
TAB_FOCUS = {"details": "#details-scroll", "emails": "#emails-table", "notes": "#notes-scroll",
             "addresses": "#addresses-table", "documents": "#customer-documents",
             "contacts": "#customer-contacts"}
CHANGES = ("cancel_email", "reschedule", "edit_email")


class CustomerDetailsScreen(CancelsEmails, Screen):
    CSS_PATH = "customer_details.tcss"

    BINDINGS = [
        Binding("e", "email", "Email", tooltip="Write an email to this customer"),
        Binding("escape", "back", "Back", tooltip="Back to the customer list"),
        Binding("1", "show_tab('details')", "Details", group=TABS, show=False),
        Binding("2", "show_tab('emails')", "Emails", group=TABS, show=False),
        Binding("3", "show_tab('notes')", "Notes", group=TABS, show=False),
        Binding("4", "show_tab('addresses')", "Addresses", group=TABS, show=False),
        Binding("5", "show_tab('documents')", "Quotes", group=TABS, show=False),
        Binding("6", "show_tab('contacts')", "Contacts", group=TABS, show=False),
        Binding("c", "cancel_email", "Cancel", tooltip="Cancel the highlighted email before it is sent"),
        Binding("t", "reschedule", "Reschedule", tooltip="Move the highlighted email to another time"),
        Binding("E,u", "edit_email", "Edit", key_display="E",
                tooltip="Change the recipients, subject or text of the highlighted email"),
        Binding("d", "delivery_record", "Record",
                tooltip="Who got the highlighted email, who did not and why (also Enter)"),
        Binding("r", "reload", "Reload", show=False),
        # the email actions need the footer's room at 80 columns; these still work
        # (and the palette lists them), they are just not shown here
        Binding("ctrl+l", "app.logout", "Log out", show=False),
        Binding("f9", "app.open_outbox", "Demo outbox", show=False),
    ]

    def __init__(self, customer_id: int, now: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.customer: Customer | None = None
        self.messages: list[Message] = []
        self.zone_name: str | None = None
        self.now: Callable[[], datetime] = now or utcnow
        self._clock_fixed = now is not None  # a test's clock: hand it on to the dialogs
        self._poll: Timer | None = None
        self._soon: Timer | None = None

    @property
    def zone(self):
        return office_zone(self.zone_name)

    def compose(self) -> ComposeResult:
        yield StatusLine("Customer details")
        yield Static("Loading…", id="summary")
        with TabbedContent(initial="details"):
            with TabPane("1 Details", id="details"):
                yield VerticalScroll(Static(id="details-text"), id="details-scroll")
            with TabPane("2 Emails", id="emails"):
                yield DataTable(id="emails-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="email-detail-scroll"):
                    yield Static("", id="email-detail")
            with TabPane("3 Notes", id="notes"):
                yield VerticalScroll(Static(id="notes-text"), id="notes-scroll")
            with TabPane("4 Addresses", id="addresses"):
                yield CustomerAddresses(self.customer_id, id="addresses-tab")
            with TabPane("5 Quotes & invoices", id="documents"):
                yield CustomerDocuments(self.customer_id, id="customer-documents")
            with TabPane("6 Contacts", id="contacts"):
                yield CustomerContacts(self.customer_id, id="customer-contacts")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._load()

    # -- loading -------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="customer-account")
    def _load(self) -> None:
        ctx, user = self.app.ctx, self.app.user
        account = customers.account(ctx, user, self.customer_id)
        zone = schedules.get_office_settings(ctx, user).timezone  # every time is shown in it
        if not get_current_worker().is_cancelled:  # a newer load started: its answer is fresher
            self.post_message(AccountLoaded(account, zone))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.show_error(event.worker.error)
            if event.worker.group == "email-change":
                self._load()  # refused, e.g. sent meanwhile by another process: show what is true now
            elif event.worker.group == "customer-account":
                self._plan_poll()  # e.g. the database was busy too long: keep looking, at the usual pace

    @on(AccountLoaded)
    def _loaded(self, message: AccountLoaded) -> None:
        account = message.account
        self.customer = account.customer
        self.zone_name = message.zone
        self.query_one("#summary", Static).update(summary(account.customer))
        self.query_one("#details-text", Static).update(details(account.customer))
        self.query_one("#notes-text", Static).update(notes_text(account.notes, self.zone))
        self._show_messages(account.messages)
        self._plan_poll()

    def _plan_poll(self) -> None:
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        delay = poll_delay(self.messages, self.now())
        if delay is not None:
            self._poll = self.set_timer(delay, self._load)

    @property
    def poll_seconds(self) -> float | None:
        """How long until the tab looks again (None: nothing is waiting)."""
        return poll_delay(self.messages, self.now())

    def _columns(self, table: DataTable) -> None:
        table.clear(columns=True)
        when = f"When ({zone_label(self.zone_name or 'UTC')})"
        table.add_column(when if len(when) <= WHEN_WIDTH else "When", width=WHEN_WIDTH, key="when")
        table.add_column("To", width=TO_WIDTH, key="to")
        # one cell of padding either side of each column; room for the scrollbar
        fixed = WHEN_WIDTH + TO_WIDTH + STATUS_WIDTH + 2 * 4 + 2
        table.add_column("Subject", width=max(15, self.app.size.width - fixed), key="subject")
        table.add_column("Status", width=STATUS_WIDTH, key="status")
        table.add_column("Server reply / last error", width=REPLY_WIDTH, key="reply")

    def _show_messages(self, messages: list[Message]) -> None:
        table = self.query_one("#emails-table", DataTable)
        current = self.selected
        self.messages = messages
        now = self.now()
        self._columns(table)
        for m in messages:
            repeats = " ↻" if m.series_id is not None or m.series_rule else ""
            table.add_row(
                short_time(shown_time(m), self.zone) + repeats, literal(", ".join(m.to_addrs) or None),
                literal(m.subject or "(no subject)"), status_text(m, now),
                literal(m.last_error or m.server_reply or DASH), key=str(m.id),
            )
        table.display = bool(messages)
        detail = self.query_one("#email-detail", Static)
        detail.set_class(bool(messages), "-for-row")
        self.query_one("#email-detail-scroll").set_class(bool(messages), "-for-row")
        if messages:
            keep = next((i for i, m in enumerate(messages) if current and m.id == current.id), 0)
            table.move_cursor(row=keep)
            self._show_message_detail(messages[table.cursor_row])
        else:
            detail.update(Text("No emails yet. Press e to write one.", style="dim"))
        self.refresh_bindings()

    def _show_message_detail(self, message: Message) -> None:
        self.query_one("#email-detail", Static).update(message_detail(message, self.zone, self.now()))

    @property
    def selected(self) -> Message | None:
        """The highlighted email, if the Emails tab has one."""
        if not self.is_mounted:
            return None
        table = self.query_one("#emails-table", DataTable)
        if table.row_count and 0 <= table.cursor_row < len(self.messages):
            return self.messages[table.cursor_row]
        return None

    @on(DataTable.RowHighlighted, "#emails-table")
    def _email_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.messages):
            self._show_message_detail(self.messages[event.cursor_row])
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#emails-table")
    def _email_selected(self, event: DataTable.RowSelected) -> None:
        self.action_delivery_record()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    @on(MessagesChanged)
    def _messages_changed(self, event: MessagesChanged) -> None:
        shown = {m.id for m in self.messages}
        if shown & set(event.ids):
            self._load()
        elif self._soon is None:
            # maybe a new email of this customer's (queued by another process): look once
            # shortly, however many changes a busy dispatcher reports meanwhile
            self._soon = self.set_timer(CHANGED_ELSEWHERE_DELAY, self._look_again)

    def _look_again(self) -> None:
        self._soon = None
        self._load()

    # -- actions -------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in (*CHANGES, "delivery_record"):
            if not self.is_mounted or self.query_one(TabbedContent).active != "emails":
                return False  # only on the Emails tab
            message = self.selected
            if message is None:
                return None
            if action in CHANGES and not message.can_change:
                return None  # greyed: it has started to go (or is done)
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        # focus goes with the tab: the arrows move through its content straight away (and
        # focus left in a hidden pane would bring that pane back)
        self.query_one(TAB_FOCUS[tab]).focus()

    def action_reload(self) -> None:
        self._load()
        self.query_one(CustomerAddresses).reload()
        self.query_one(CustomerDocuments).reload()
        self.query_one(CustomerContacts).reload()

    @on(ContactsChanged)
    def _contacts_changed(self) -> None:
        self._load()  # each change adds a note on the account

    def _may_edit(self, doing: str) -> bool:
        user = self.app.user
        if user is None or not user.can(Permission.CUSTOMER_EDIT):
            self.notify(
                f"You can look at this customer but not {doing}: that needs the customerEdit role. "
                "Ask an administrator.",
                title="Not allowed", severity="warning", timeout=8)
            return False
        return True

    def action_email(self) -> None:
        if not self._may_edit("email them"):
            return
        if self.customer is None:
            return
        self.app.push_screen(ComposeScreen(self.customer), self._composed)

    def _composed(self, message: Message | None) -> None:
        if message is None:
            return
        self.action_show_tab("emails")
        self._load()  # Compose has already woken the dispatcher

    def _changeable(self, doing: str) -> Message | None:
        message = self.selected
        if message is None or not self._may_edit(doing):
            return None
        if not message.can_change:
            self.notify(f"This email is {status_text(message, self.now()).plain}: it can no longer "
                        "be changed.", title="Too late", severity="warning")
            return None
        return message

    def action_cancel_email(self) -> None:
        message = self._changeable("cancel its emails")
        if message is None:
            return
        self.ask_to_cancel(message)

    def action_reschedule(self) -> None:
        message = self._changeable("reschedule its emails")
        if message is None:
            return
        zone = self.zone_name or schedules.system_zone_name()
        title = "Reschedule the series" if message.series_id is not None else "Reschedule"
        dialog = ScheduleScreen(zone, initial=schedules.request_for(message, zone), title=title,
                                now=self.now() if self._clock_fixed else None)
        self.app.push_screen(dialog, partial(self._reschedule_chosen, message))

    def _reschedule_chosen(self, message: Message, request: ScheduleRequest | None) -> None:
        if request is not None:
            self._reschedule(message.id, request)

    @work(thread=True, exit_on_error=False, group="email-change")
    def _reschedule(self, message_id: int, request: ScheduleRequest) -> None:
        done = schedules.reschedule(self.app.ctx, self.app.user, message_id, request, now=self.now())
        due = long_time(done.scheduled_at or done.due_at, self.zone)
        self.post_message(EmailChanged(done, f"Rescheduled for {due}", wake=True))

    def action_edit_email(self) -> None:
        message = self._changeable("edit its emails")
        if message is None or self.customer is None:
            return
        self.app.push_screen(ComposeScreen(self.customer, editing=message), self._composed)

    def action_delivery_record(self) -> None:
        message = self.selected
        if message is not None:
            self.app.push_screen(DeliveryRecordScreen(message.id, now=self.now))

    @on(EmailChanged)
    def _email_changed(self, event: EmailChanged) -> None:
        if event.wake and self.app.dispatcher is not None:
            self.app.dispatcher.wake()
        subject = clean(event.message.subject) if event.message.subject else "(no subject)"
        self.notify(f"{event.done}.", title=subject, markup=False)
        self._load()
