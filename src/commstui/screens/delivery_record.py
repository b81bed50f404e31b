"""One message's delivery record: who got it, who did not and why, and every attempt.

The header says at a glance what became of the message and names the recipients
who did not get it, with the server's words; the recipients table lists each
address with its outcome (problems first), the attempts table every try (when,
by which dispatcher, what the server answered, whom it refused). Times are in the
office time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..domain import DeliveryRecord, MessageStatus, RecipientOutcome
from ..services import schedule as schedules
from ..widgets.format import DASH, clean, literal, plural
from ..widgets.message_text import (STATUS_STYLE, long_time, office_zone, short_time, state,
                                    state_label, status_text, utcnow)
from ..widgets.status_line import StatusLine

OUTCOME_STYLE = {"accepted": "green", "refused": "bold red", "failed": "bold red",
                 "deferred": "yellow", "pending": "yellow"}
ATTEMPT_WORDS = {"sent": ("accepted", "green"), "temporary": ("temporary", "yellow"),
                 "permanent": ("permanent", "bold red")}
# problems first: the reader is looking for who did not get it
OUTCOME_ORDER = {"refused": 0, "failed": 0, "deferred": 1, "pending": 1, "accepted": 2}
NOT_DELIVERED_SHOWN = 3  # recipients named in the header; the table has the rest
LABEL_WIDTH = 10
NOTE_LABELS = {"held": ("Why held", "magenta"), "missed": ("Skipped", "dim"), "cancelled": ("Cancelled", "dim")}


class RecordLoaded(TextualMessage):
    def __init__(self, record: DeliveryRecord, zone: str) -> None:
        super().__init__()
        self.record = record
        self.zone = zone


def sorted_recipients(recipients: tuple[RecipientOutcome, ...]) -> list[RecipientOutcome]:
    return sorted(recipients, key=lambda r: OUTCOME_ORDER.get(r.outcome, 1))


def outcome_summary(record: DeliveryRecord) -> Table:
    """'3 recipients: 2 accepted, 1 refused', then who did not get it and why, a line each."""
    recipients = record.recipients
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    if not recipients:
        grid.add_row(Text("No recipients recorded.", style="dim"))
        return grid
    m = record.message
    if not record.attempts and m.status != MessageStatus.SENT:
        # never tried: nobody has it, and nothing has gone wrong with anyone in particular
        line = Text(f"{plural(len(recipients), 'recipient')} · ")
        if MessageStatus(m.status).is_final:
            line.append("never sent: ", style="bold")
            line.append(state_label(m), style=STATUS_STYLE.get(state(m), ""))
        else:
            line.append("not tried yet")
        grid.add_row(line)
        return grid
    counts: dict[str, int] = {}
    for r in recipients:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    text = Text(plural(len(recipients), "recipient") + ": ")
    for i, outcome in enumerate(sorted(counts, key=lambda o: OUTCOME_ORDER.get(o, 1))):
        if i:
            text.append(", ")
        text.append(f"{counts[outcome]} {outcome}", style=OUTCOME_STYLE.get(outcome, ""))
    missing = [r for r in sorted_recipients(recipients) if r.outcome != "accepted"]
    if not missing:
        text.append(" · everyone's server accepted it", style="green")
    elif MessageStatus(m.status).is_final:
        text.append(" · did not get it:", style="bold red")
    else:
        text.append(" · not got it yet:", style="bold yellow")
    outer = Table.grid(expand=True)
    outer.add_column(ratio=1)
    outer.add_row(text)
    for r in missing[:NOT_DELIVERED_SHOWN]:
        grid.add_row(literal(r.address, style="bold"), Text(r.outcome, style=OUTCOME_STYLE.get(r.outcome, "")),
                     literal(r.reply or DASH))
    if len(missing) > NOT_DELIVERED_SHOWN:
        grid.add_row(Text(f"… and {len(missing) - NOT_DELIVERED_SHOWN} more below", style="dim"))
    if missing:
        outer.add_row(grid)
    return outer


def record_header(record: DeliveryRecord, zone, now: datetime) -> Table:
    m = record.message
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=LABEL_WIDTH)
    grid.add_column()
    grid.add_row("Subject", literal(m.subject or "(no subject)", style="bold"))
    grid.add_row("Message-ID", literal(m.message_id))
    grid.add_row("Status", Text.assemble(status_text(m, now), f" · attempts {m.attempts}"
                                         f" · by {clean(m.created_by)}"))
    chosen = m.scheduled_at or m.due_at
    when = long_time(chosen, zone)
    if not MessageStatus(m.status).is_final:
        when += f" · {schedules.until(chosen, now)}"
    grid.add_row("Scheduled" if m.scheduled_at else "Due", when)
    if m.status == MessageStatus.QUEUED and m.attempts and m.due_at != chosen:
        grid.add_row("Next try", f"{long_time(m.due_at, zone)} · {schedules.until(m.due_at, now)}")
    if m.sent_at is not None:
        grid.add_row("Sent", long_time(m.sent_at, zone))
    if m.series_rule:
        grid.add_row("Repeats", f"↻ {schedules.rule_text(m, zone)}")
    if m.last_error and m.status != MessageStatus.SENT:
        label, style = NOTE_LABELS.get(m.status, ("Last error", "red"))
        grid.add_row(label, literal(m.last_error, style=style, multiline=True))
    grid.add_row("Outcome", outcome_summary(record))
    return grid


class DeliveryRecordScreen(Screen):
    CSS_PATH = "delivery_record.tcss"
    AUTO_FOCUS = "#recipients-table"

    BINDINGS = [
        Binding("escape", "back", "Back", tooltip="Back to where you were"),
        Binding("r", "reload", "Reload", tooltip="Read the record again"),
    ]

    def __init__(self, message_id: int, now: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.message_id = message_id
        self.now: Callable[[], datetime] = now or utcnow
        self.record: DeliveryRecord | None = None
        self.zone_name: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine("Delivery record")
        yield Static("Loading…", id="record-header")
        yield Static("Recipients", classes="record-section", id="recipients-title")
        yield DataTable(id="recipients-table", cursor_type="row", zebra_stripes=True)
        yield Static("Attempts", classes="record-section", id="attempts-title")
        yield DataTable(id="attempts-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="attempts-empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        recipients = self.query_one("#recipients-table", DataTable)
        recipients.add_column("Outcome", width=8, key="outcome")
        recipients.add_column("Address", width=26, key="address")
        recipients.add_column("When", width=12, key="when")
        recipients.add_column("Server reply", key="reply")
        attempts = self.query_one("#attempts-table", DataTable)
        attempts.add_column("#", width=2, key="n")
        attempts.add_column("Finished", width=12, key="finished")
        attempts.add_column("Outcome", width=9, key="outcome")
        attempts.add_column("Server reply", width=30, key="reply")
        attempts.add_column("Refused", key="refused")
        attempts.add_column("Dispatcher", key="dispatcher")
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="delivery-record")
    def _load(self) -> None:
        ctx, user = self.app.ctx, self.app.user
        record = schedules.delivery_record(ctx, user, self.message_id)
        self.post_message(RecordLoaded(record, schedules.get_office_settings(ctx, user).timezone))

    def on_worker_state_changed(self, event) -> None:
        if event.worker.error is not None:
            self.app.show_error(event.worker.error)
            if self.record is None:
                self.query_one("#record-header", Static).update(
                    Text(f"This message's record cannot be read: {event.worker.error}", style="bold red"))

    @on(RecordLoaded)
    def _loaded(self, event: RecordLoaded) -> None:
        self.record = event.record
        self.zone_name = event.zone
        zone = office_zone(event.zone)
        record = event.record
        self.query_one("#record-header", Static).update(record_header(record, zone, self.now()))
        self.query_one("#recipients-title", Static).update(
            f"Recipients ({len(record.recipients)}) · times in {event.zone}")
        recipients = self.query_one("#recipients-table", DataTable)
        recipients.clear()
        for r in sorted_recipients(record.recipients):
            recipients.add_row(Text(r.outcome, style=OUTCOME_STYLE.get(r.outcome, "")), literal(r.address),
                               short_time(r.at, zone) if r.at else DASH, literal(r.reply or DASH))
        attempts = self.query_one("#attempts-table", DataTable)
        attempts.clear()
        for a in record.attempts:
            word, style = ATTEMPT_WORDS.get(a.outcome, (a.outcome, ""))
            attempts.add_row(str(a.attempt), short_time(a.finished_at, zone), Text(word, style=style),
                             literal(a.reply or DASH), literal("; ".join(a.refused) or DASH),
                             literal(a.dispatcher))
        self.query_one("#attempts-title", Static).update(f"Attempts ({len(record.attempts)})")
        attempts.display = bool(record.attempts)
        empty = self.query_one("#attempts-empty", Static)
        empty.display = not record.attempts
        if not record.attempts:
            m = record.message
            empty.update(Text("Not tried yet." if not MessageStatus(m.status).is_final
                              else "It was never tried.", style="dim"))

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self._load()
