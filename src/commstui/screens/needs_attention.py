"""Needs attention: held emails across every customer, waiting for an operator.

A message lands here when its time passed while no dispatcher was running and the
missed-run policy says hold it (or it was later than the grace period allows).
Nothing sends it until someone decides: s sends it now, c cancels it; Enter (or d)
shows its delivery record, o opens the customer. Times are in the office zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from ..domain import Message, Permission
from ..services import customers
from ..services import schedule as schedules
from ..widgets.format import DASH, clean, literal, plural
from ..widgets.message_text import long_time, office_zone, short_time, utcnow
from ..widgets.status_line import StatusLine
from .cancel_email import CancelsEmails, EmailChanged
from .customer_details import CustomerDetailsScreen, MessagesChanged
from .delivery_record import DeliveryRecordScreen

NAMES_LOOKED_UP = 50  # customers named in the list; beyond that the account number must do
REFRESH_SECONDS = 30.0  # new held messages and "2 h ago" stay current
COLUMNS = (("Account", 8), ("Customer", 14), ("Subject", 16), ("Due", 12), ("Late", 9))

EMPTY = ("Nothing needs attention.\n\n"
         "Messages that missed their time while no dispatcher was running, held by the missed-run "
         "policy (office settings: hold for an operator, or send only if less than the grace period "
         "late), land here. None of them is sent late until someone decides: send it now (s) or "
         "cancel it (c).")


class HeldLoaded(TextualMessage):
    def __init__(self, messages: list[Message], names: dict[int, str], zone: str) -> None:
        super().__init__()
        self.messages = messages
        self.names = names
        self.zone = zone


def why_held(m: Message, now: datetime) -> str:
    """The dispatcher's reason if it gave one, else how late it was."""
    if m.last_error:
        return m.last_error
    due = m.scheduled_at or m.due_at
    return f"missed its time ({schedules.until(due, now)}) while no dispatcher ran"


def held_detail(m: Message, name: str | None, zone, now: datetime) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=8)
    grid.add_column()
    due = m.scheduled_at or m.due_at
    grid.add_row("Why held", literal(why_held(m, now), style="bold magenta", multiline=True))
    grid.add_row("Due", f"{long_time(due, zone)} · {schedules.until(due, now)}")
    grid.add_row("To", literal(", ".join(m.to_addrs) or None))
    grid.add_row("Customer", literal(f"{m.account_no or DASH} {name or ''}".strip()))
    if m.series_rule:
        grid.add_row("Repeats", f"↻ {schedules.rule_text(m, zone)}")
    return grid


class NeedsAttentionScreen(CancelsEmails, Screen):
    CSS_PATH = "needs_attention.tcss"
    AUTO_FOCUS = "#held-table"

    BINDINGS = [
        Binding("s", "send_now", "Send now", tooltip="Send the highlighted email now after all"),
        Binding("c", "cancel_email", "Cancel", tooltip="Cancel the highlighted email; it stays in the log"),
        Binding("d", "delivery_record", "Record", tooltip="The highlighted email's delivery record (also Enter)"),
        Binding("o", "open_customer", "Customer", tooltip="Open the highlighted email's customer"),
        Binding("r", "reload", "Reload", tooltip="Look for held emails again"),
        Binding("escape", "back", "Back", tooltip="Back to where you were"),
        # room in the footer for the actions at 80 columns; the keys still work
        Binding("ctrl+l", "app.logout", "Log out", show=False),
        Binding("f9", "app.open_outbox", "Demo outbox", show=False),
    ]

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.now: Callable[[], datetime] = now or utcnow
        self.messages: list[Message] = []
        self.names: dict[int, str] = {}
        self.zone_name: str | None = None
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield StatusLine("Needs attention")
        yield Static("Loading…", id="held-intro")
        yield DataTable(id="held-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="held-detail-scroll"):
            yield Static("", id="held-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#held-table", DataTable)
        for label, width in COLUMNS:
            table.add_column(label, width=width, key=label.lower())
        table.add_column("Why held", key="why")
        self.set_interval(REFRESH_SECONDS, self._load)
        self._load()

    # -- loading -------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="needs-attention")
    def _load(self) -> None:
        ctx, user = self.app.ctx, self.app.user
        held = schedules.needs_attention(ctx, user)
        names: dict[int, str] = {}
        customer_ids = {m.customer_id for m in held if m.customer_id is not None}
        for cid in sorted(customer_ids)[:NAMES_LOOKED_UP]:
            try:
                names[cid] = customers.get(ctx, user, cid).name
            except Exception:  # e.g. deleted meanwhile (a store error): the account number still shows
                names[cid] = ""
        zone = schedules.get_office_settings(ctx, user).timezone
        if not get_current_worker().is_cancelled:
            self.post_message(HeldLoaded(held, names, zone))

    def on_worker_state_changed(self, event) -> None:
        if event.worker.error is not None:
            self.app.show_error(event.worker.error)
            if event.worker.group == "held-change":
                self._load()  # refused, e.g. another operator got there first: show what is true now

    @property
    def zone(self):
        return office_zone(self.zone_name)

    @on(HeldLoaded)
    def _loaded(self, event: HeldLoaded) -> None:
        self.loaded = True
        self.zone_name = event.zone
        table = self.query_one("#held-table", DataTable)
        current = self.selected
        self.messages, self.names = event.messages, event.names
        now = self.now()
        table.clear()
        for m in event.messages:
            due = m.scheduled_at or m.due_at
            table.add_row(literal(m.account_no), literal(self.names.get(m.customer_id or -1) or None),
                          literal(m.subject or "(no subject)"),
                          short_time(due, self.zone) + (" ↻" if m.series_rule else ""),
                          schedules.until(due, now), literal(why_held(m, now), style="magenta"),
                          key=str(m.id))
        table.display = bool(event.messages)
        intro = self.query_one("#held-intro", Static)
        detail = self.query_one("#held-detail", Static)
        if event.messages:
            intro.update(Text.assemble(
                (plural(len(event.messages), "email") + " held", "bold magenta"),
                f" · times in {event.zone} · sent only if you decide"))
            keep = next((i for i, m in enumerate(event.messages) if current and m.id == current.id), 0)
            table.move_cursor(row=keep)
            self._show_detail()
        else:
            intro.update(Text(f"Times in {event.zone}", style="dim"))
            detail.update(Text(EMPTY))
        self.query_one("#held-detail-scroll").set_class(bool(event.messages), "-for-row")
        self.refresh_bindings()

    def _show_detail(self) -> None:
        m = self.selected
        if m is not None:
            self.query_one("#held-detail", Static).update(
                held_detail(m, self.names.get(m.customer_id or -1), self.zone, self.now()))

    @property
    def selected(self) -> Message | None:
        if not self.is_mounted:
            return None
        table = self.query_one("#held-table", DataTable)
        if table.row_count and 0 <= table.cursor_row < len(self.messages):
            return self.messages[table.cursor_row]
        return None

    @on(DataTable.RowHighlighted, "#held-table")
    def _highlighted(self) -> None:
        self._show_detail()
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#held-table")
    def _selected(self) -> None:
        self.action_delivery_record()

    @on(MessagesChanged)
    def _messages_changed(self) -> None:
        self._load()  # a dispatcher may have held another one

    # -- actions -------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("send_now", "cancel_email", "delivery_record", "open_customer"):
            message = self.selected
            if message is None:
                return None
            if action == "open_customer" and message.customer_id is None:
                return None
        return True

    def _may_edit(self, doing: str) -> bool:
        user = self.app.user
        if user is None or not user.can(Permission.CUSTOMER_EDIT):
            self.notify(f"You may look but not {doing}: that needs the customerEdit role. "
                        "Ask an administrator.", title="Not allowed", severity="warning", timeout=8)
            return False
        return True

    def action_send_now(self) -> None:
        message = self.selected
        if message is not None and self._may_edit("send held emails"):
            self._send_now(message.id)

    @work(thread=True, exit_on_error=False, group="held-change")
    def _send_now(self, message_id: int) -> None:
        done = schedules.send_held_now(self.app.ctx, self.app.user, message_id)
        self.post_message(EmailChanged(done, "Queued to send now", wake=True))

    def action_cancel_email(self) -> None:
        message = self.selected
        if message is None or not self._may_edit("cancel held emails"):
            return
        self.ask_to_cancel(message)

    @on(EmailChanged)
    def _changed(self, event: EmailChanged) -> None:
        if event.wake and self.app.dispatcher is not None:
            self.app.dispatcher.wake()
        subject = clean(event.message.subject) if event.message.subject else "(no subject)"
        self.notify(f"{event.done}.", title=subject, markup=False)
        self._load()

    def action_delivery_record(self) -> None:
        message = self.selected
        if message is not None:
            self.app.push_screen(DeliveryRecordScreen(message.id, now=self.now))

    def action_open_customer(self) -> None:
        message = self.selected
        if message is not None and message.customer_id is not None:
            self.app.push_screen(CustomerDetailsScreen(message.customer_id, now=self.now))

    def action_reload(self) -> None:
        self._load()

    def action_back(self) -> None:
        self.dismiss()
