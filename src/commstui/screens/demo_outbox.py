"""Demo outbox: what the demo's local capture servers received, newest first:
emails, SMS and RoboCalls in one list.

Nothing here left the computer: `commstui demo` points the mail settings and the
SMS provider at capture servers on 127.0.0.1 that file everything in a folder.
The list re-reads that folder every couple of seconds; Enter shows one in full.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..services import demo
from ..services.demo import CapturedMessage, CapturedText
from ..widgets.format import clean, literal, local_time, plural
from ..widgets.status_line import StatusLine

REFRESH_SECONDS = 2.0
COLUMNS = (("Received", 16), ("Channel", 8), ("To", 18))  # Subject or text takes the rest

Captured = CapturedMessage | CapturedText


def newest_first(emails: list[CapturedMessage], texts: list[CapturedText]) -> list[Captured]:
    return sorted([*emails, *texts], key=lambda m: (m.received_at, str(m.path)), reverse=True)


def row_cells(m: Captured) -> tuple:
    if isinstance(m, CapturedText):
        return (local_time(m.received_at), m.channel, literal(m.to),
                literal(" ".join(m.body.split()) or "(empty)"))
    return (local_time(m.received_at), "Email", literal(m.to_header or ", ".join(m.rcpt_tos)),
            literal(m.subject or "(no subject)"))


def counts_line(messages: list[Captured]) -> str:
    texts = sum(isinstance(m, CapturedText) for m in messages)
    return (f"{plural(len(messages), 'message')} received: {plural(len(messages) - texts, 'email')}, "
            f"{plural(texts, 'text or call', 'texts and calls')}.")


class OutboxRead(TextualMessage):
    def __init__(self, messages: list[Captured]) -> None:
        super().__init__()
        self.messages = messages


class MessageParsed(TextualMessage):
    def __init__(self, parsed: EmailMessage) -> None:
        super().__init__()
        self.parsed = parsed


def report_error(screen: Screen, error: BaseException) -> None:
    report = getattr(screen.app, "show_error", None)
    if report is not None:
        report(error)
    else:
        screen.notify(str(error), title=getattr(error, "title", "Error"), severity="error", markup=False)


class OutboxTable(DataTable):
    BINDINGS = [Binding("enter", "select_cursor", "Show message",
                        tooltip="Show the highlighted email, text or call in full")]


class DemoOutboxScreen(Screen):
    CSS_PATH = "demo_outbox.tcss"
    AUTO_FOCUS = "#outbox-table"

    BINDINGS = [
        Binding("r", "reload", "Reload", tooltip="Read the outbox folder again now"),
        Binding("escape", "back", "Back", tooltip="Back to where you were"),
    ]

    def __init__(self, outbox: Path) -> None:
        super().__init__()
        self.outbox = Path(outbox)
        self.messages: list[Captured] = []
        self.read_once = False

    def compose(self) -> ComposeResult:
        yield StatusLine("Demo outbox")
        yield Static(Text.assemble(
            "Received by the demo's local mail and SMS servers. Nothing left this computer.\n",
            ("Emails, texts and calls, newest first · Enter shows one in full", "dim")), id="outbox-intro")
        yield OutboxTable(id="outbox-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="outbox-empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#outbox-table", DataTable)
        for label, width in COLUMNS:
            table.add_column(label, width=width)
        # each column has one cell of padding either side; leave room for the scrollbar
        rest = self.app.size.width - sum(w for _, w in COLUMNS) - 2 * (len(COLUMNS) + 1) - 2
        table.add_column("Subject or text", width=max(20, rest))
        self.set_interval(REFRESH_SECONDS, self._read)
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False, group="outbox-read")
    def _read(self) -> None:
        try:
            messages = newest_first(demo.outbox(self.outbox), demo.texts(self.outbox))
        except ValueError:
            return  # caught an envelope file half-written: the next round reads it whole
        self.post_message(OutboxRead(messages))

    @on(OutboxRead)
    def _show(self, event: OutboxRead) -> None:
        if self.read_once and [m.path for m in event.messages] == [m.path for m in self.messages]:
            return  # nothing new: leave the cursor and scroll alone
        self.read_once = True
        table = self.query_one("#outbox-table", DataTable)
        current = self.messages[table.cursor_row].path if self.messages and table.row_count else None
        self.messages = event.messages
        table.clear()
        for m in event.messages:
            table.add_row(*row_cells(m), key=str(m.path))
        keep = next((i for i, m in enumerate(event.messages) if m.path == current), 0)
        if event.messages:
            table.move_cursor(row=keep)
        empty = self.query_one("#outbox-empty", Static)
        empty.update(Text(
            counts_line(event.messages) if event.messages else
            f"Nothing received yet. Send an email from a customer's details (e), or an SMS or RoboCall "
            f"by bulk send, and it appears here within seconds.\nOutbox folder: {self.outbox}", style="dim"))

    @on(DataTable.RowSelected, "#outbox-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._open(event.cursor_row)

    def _open(self, row: int) -> None:
        if 0 <= row < len(self.messages):
            chosen = self.messages[row]
            self.app.push_screen(CapturedTextScreen(chosen) if isinstance(chosen, CapturedText)
                                 else CapturedMessageScreen(chosen))

    def action_reload(self) -> None:
        self._read()

    def action_back(self) -> None:
        self.dismiss()

    def on_worker_state_changed(self, event) -> None:
        if event.worker.error is not None:
            report_error(self, event.worker.error)


def headers_table(captured: CapturedMessage, parsed: EmailMessage) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    rows = [(name, parsed.get(name)) for name in ("Message-ID", "Date", "From", "To", "Cc", "Subject")]
    rows += [("Envelope to", ", ".join(captured.rcpt_tos)),  # includes Bcc, which has no header
             ("Received", captured.received_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"))]
    for name, value in rows:
        grid.add_row(name, literal(None if value is None else str(value), multiline=True))
    return grid


def plain_body(parsed: EmailMessage) -> Text:
    part = parsed.get_body(preferencelist=("plain",))
    if part is None:
        return Text("(this message has no text/plain part)", style="dim")
    try:
        content = part.get_content()
    except (LookupError, ValueError) as exc:  # unknown charset, broken encoding
        return Text(f"(the text part cannot be decoded: {exc})", style="dim")
    content = content.replace("\r\n", "\n")  # the wire format's line ends
    return Text(clean(content, multiline=True) if content.strip() else "(empty)")


def parts_table(parsed: EmailMessage) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    for part in parsed.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        name = part.get_filename()
        kind = "attachment" if part.is_attachment() else "inline"
        grid.add_row(literal(part.get_content_type()), literal(f"{kind}: {name}" if name else kind),
                     f"{len(payload):,} bytes")
    return grid


class CapturedMessageScreen(Screen):
    """One captured message in full: headers, the text/plain body, and its parts."""

    CSS_PATH = "demo_outbox.tcss"
    BINDINGS = [Binding("escape", "back", "Back", tooltip="Back to the outbox list")]

    def __init__(self, captured: CapturedMessage) -> None:
        super().__init__()
        self.captured = captured
        self.parsed: EmailMessage | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine("Outbox message")
        with VerticalScroll(id="message-scroll"):
            yield Static("Loading…", id="message-headers")
            yield Static("Body (text/plain)", classes="message-section")
            yield Static("", id="message-body")
            yield Static("Parts", classes="message-section")
            yield Static("", id="message-parts")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#message-scroll").focus()
        self._parse()

    @work(thread=True, exclusive=True, exit_on_error=False, group="outbox-message")
    def _parse(self) -> None:
        self.post_message(MessageParsed(self.captured.parse()))

    @on(MessageParsed)
    def _parsed(self, event: MessageParsed) -> None:
        self.parsed = event.parsed
        self.query_one("#message-headers", Static).update(headers_table(self.captured, event.parsed))
        self.query_one("#message-body", Static).update(plain_body(event.parsed))
        self.query_one("#message-parts", Static).update(Group(parts_table(event.parsed)))

    def action_back(self) -> None:
        self.dismiss()

    def on_worker_state_changed(self, event) -> None:
        if event.worker.error is not None:
            report_error(self, event.worker.error)
            self.query_one("#message-headers", Static).update(
                Text(f"This message cannot be read: {event.worker.error}", style="bold red"))



def text_headers(captured: CapturedText) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for name, value in (("Channel", captured.channel), ("Provider id", captured.sid),
                        ("From", captured.from_number), ("To", captured.to),
                        ("Received", captured.received_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"))):
        grid.add_row(name, literal(value))
    return grid


class CapturedTextScreen(Screen):
    """One captured SMS or RoboCall in full: who, when, and the text (what a call says,
    then the TwiML it was given)."""

    CSS_PATH = "demo_outbox.tcss"
    BINDINGS = [Binding("escape", "back", "Back", tooltip="Back to the outbox list")]

    def __init__(self, captured: CapturedText) -> None:
        super().__init__()
        self.captured = captured

    def compose(self) -> ComposeResult:
        call = self.captured.kind == "robocall"
        yield StatusLine("Outbox RoboCall" if call else "Outbox SMS")
        with VerticalScroll(id="message-scroll"):
            yield Static(text_headers(self.captured), id="message-headers")
            yield Static("What the call says" if call else "Text", classes="message-section")
            yield Static(Text(clean(self.captured.body, multiline=True)) if self.captured.body.strip()
                         else Text("(empty)", style="dim"), id="message-body")
            if call and self.captured.twiml:
                yield Static("TwiML received", classes="message-section")
                yield Static(literal(self.captured.twiml, style="dim", multiline=True), id="message-twiml")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#message-scroll").focus()

    def action_back(self) -> None:
        self.dismiss()
