"""The "Quotes & invoices" tab of a customer's details: one line per quote or invoice
(number, kind, issued, due, status, total). m or Enter emails the highlighted one as a
PDF (EmailDocumentScreen, with the recipient checklist); v writes its PDF to a file and
shows where.

A self-contained widget: give it the customer's id, it loads itself in a thread worker,
its keys act while it (its table) has the focus, and `reload()` loads it again.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from ..domain import Document, Message, Permission
from ..services import documents
from ..widgets.format import literal
from .email_document import EmailDocumentScreen


class DocumentsLoaded(TextualMessage):
    def __init__(self, found: list[Document]) -> None:
        super().__init__()
        self.documents = found


class PdfWritten(TextualMessage):
    def __init__(self, number: str, path: Path) -> None:
        super().__init__()
        self.number = number
        self.path = path


def money(amount) -> str:
    return f"${amount:,.2f}"


def day(value) -> str:
    return value.strftime("%d %b %Y") if value else "—"


class CustomerDocuments(Vertical):
    """A customer's quotes and invoices; mount it in a tab."""

    DEFAULT_CSS = """
    CustomerDocuments { height: 1fr; }
    CustomerDocuments #documents-table { height: 1fr; min-height: 3; }
    CustomerDocuments #documents-status { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("m", "email_document", "Email PDF", tooltip="Email the highlighted quote or invoice as a PDF"),
        Binding("v", "write_pdf", "View PDF", tooltip="Write the highlighted document's PDF to a file"),
    ]

    def __init__(self, customer_id: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.customer_id = customer_id
        self.documents: list[Document] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield DataTable(id="documents-table", cursor_type="row", zebra_stripes=True)
        yield Static("Loading…", id="documents-status", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Number", width=10, key="number")
        table.add_column("Kind", width=7, key="kind")
        table.add_column("Issued", width=11, key="issued")
        table.add_column("Due", width=11, key="due")
        table.add_column("Status", width=8, key="status")
        table.add_column("Total", width=11, key="total")
        self.reload()

    def reload(self) -> None:
        self._load()

    def focus(self, scroll_visible: bool = True):
        self.query_one(DataTable).focus(scroll_visible)
        return self

    @work(thread=True, exclusive=True, exit_on_error=False, group="documents")
    def _load(self) -> None:
        self.post_message(DocumentsLoaded(documents.list_documents(self.app.ctx, self.app.user, self.customer_id)))

    @on(DocumentsLoaded)
    def _loaded(self, message: DocumentsLoaded) -> None:
        message.stop()
        table = self.query_one(DataTable)
        current = self.selected
        self.documents = message.documents
        table.clear()
        for d in self.documents:
            table.add_row(literal(d.number), d.kind.label, day(d.issued_on), day(d.due_on), d.status,
                          Text(money(d.total), justify="right"), key=str(d.id))
        if self.documents:
            keep = next((i for i, d in enumerate(self.documents) if current and d.id == current.id), 0)
            table.move_cursor(row=keep)
            self._status("m or Enter: email as a PDF · v: write the PDF to a file")
        else:
            self._status("No quotes or invoices for this customer yet.")
        self.loaded = True

    def _status(self, text: str | Text) -> None:
        self.query_one("#documents-status", Static).update(text)

    @property
    def selected(self) -> Document | None:
        table = self.query_one(DataTable)
        if table.row_count and 0 <= table.cursor_row < len(self.documents):
            return self.documents[table.cursor_row]
        return None

    @on(DataTable.RowSelected, "#documents-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_email_document()

    def action_email_document(self) -> None:
        document = self.selected
        if document is None:
            return
        user = self.app.user
        if user is None or not user.can(Permission.CUSTOMER_EDIT):
            self.app.notify("You can look at this customer's quotes and invoices but not email them: that needs "
                            "the customerEdit role. Ask an administrator.", title="Not allowed",
                            severity="warning", timeout=8)
            return
        self.app.push_screen(EmailDocumentScreen(document.id, f"{document.kind.label} {document.number}"),
                             self._emailed)

    def _emailed(self, message: Message | None) -> None:
        if message is not None:
            self._status(f"Queued: {message.subject}")
            self.query_one(DataTable).focus()

    def action_write_pdf(self) -> None:
        document = self.selected
        if document is not None:
            self._status("Writing the PDF…")
            self._write_pdf(document)

    @work(thread=True, exit_on_error=False, group="document-pdf")
    def _write_pdf(self, document: Document) -> None:
        self.post_message(PdfWritten(document.number, documents.write_pdf(self.app.ctx, self.app.user, document.id)))

    @on(PdfWritten)
    def _pdf_written(self, message: PdfWritten) -> None:
        message.stop()
        self._status(Text.assemble(("PDF written to: ", "bold"), str(message.path)))
        self.app.notify(str(message.path), title=f"{message.number}: PDF written", markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group in ("documents", "document-pdf"):
            event.stop()
            self._status("")
            self.app.show_error(event.worker.error)
