"""Email a quote or an invoice as a PDF: a checklist of recipients (the customer's
primary email first, then the contacts of the document's service address, all ticked),
"Add email" for one-off addresses that go with this email only and are not saved on the
account, and Send. A refusal is shown under the address field; nothing typed or ticked
is lost. Dismisses with the queued message, or None when cancelled.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import Worker, WorkerState

from ..domain import Message
from ..services import documents
from ..services.documents import DocumentRecipient, DocumentView
from ..services.errors import ValidationError
from ..widgets.format import clean
from ..widgets.form_errors import explain_failure

HINT = "To keep an address for next time, add it as a contact on the service address (Addresses tab)."
ONE_OFF = "(this email only — not saved)"
KNOWN, EXTRA = "to:", "extra:"   # SelectionList values: which list an address goes in


class ChecklistLoaded(TextualMessage):
    def __init__(self, view: DocumentView, found: list[DocumentRecipient]) -> None:
        super().__init__()
        self.view = view
        self.recipients = found


class DocumentQueued(TextualMessage):
    def __init__(self, message: Message) -> None:
        super().__init__()
        self.message = message


def recipient_prompt(email: str, label: str) -> Text:
    """The address first (what the operator checks), then whose it is."""
    return Text.assemble(clean(email), "  ", (clean(label), "dim"), no_wrap=True, overflow="ellipsis")


class EmailDocumentScreen(ModalScreen[Message | None]):
    CSS_PATH = "email_document.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "send", "Send", tooltip="Queue the email with the PDF to the ticked addresses"),
        Binding("a", "add_email", "Add email", tooltip="Add a one-off address (not saved on the account)"),
    ]

    def __init__(self, document_id: int, title: str = "") -> None:
        super().__init__()
        self.document_id = document_id
        self.title_text = title
        self.view: DocumentView | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="email-doc-dialog") as dialog:
            dialog.border_title = f"Email {self.title_text}".strip()
            yield Static("Loading…", id="email-doc-summary", markup=False)
            yield Label("Send to (Space ticks or unticks)")
            yield SelectionList[str](id="email-doc-recipients")
            with Horizontal(id="email-doc-add"):
                yield Input(id="email-doc-extra", placeholder="another email address (a)", max_length=320,
                            compact=True)
                yield Button("Add email", id="email-doc-add-button", compact=True)
            yield Static("", id="email-doc-problem", markup=False)
            yield Static(HINT, id="email-doc-hint", markup=False)
            with Horizontal(id="email-doc-buttons"):
                yield Button("Send (Ctrl+S)", id="email-doc-send", variant="primary", compact=True,
                             disabled=True)
                yield Button("Cancel (Esc)", id="email-doc-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#email-doc-recipients").focus()
        self._load()

    @property
    def ready(self) -> bool:
        return self.view is not None

    @work(thread=True, exclusive=True, exit_on_error=False, group="email-doc-load")
    def _load(self) -> None:
        ctx, user = self.app.ctx, self.app.user
        view = documents.get_document(ctx, user, self.document_id)
        self.post_message(ChecklistLoaded(view, documents.recipients(ctx, user, self.document_id)))

    @on(ChecklistLoaded)
    def _loaded(self, message: ChecklistLoaded) -> None:
        view = self.view = message.view
        d = view.document
        self.query_one("#email-doc-dialog").border_title = f"Email {d.kind.label} {d.number}"
        summary = f"{d.kind.label} {d.number} for {view.customer_name} ({view.account_no}) · total ${d.total:,.2f}"
        if view.address:
            summary += f"\n{view.address}"
        summary += f"\nThe PDF goes as an attachment: {d.number}.pdf"
        self.query_one("#email-doc-summary", Static).update(clean(summary, multiline=True))
        checklist = self.query_one("#email-doc-recipients", SelectionList)
        checklist.clear_options()
        checklist.add_options([Selection(recipient_prompt(r.email, r.label), KNOWN + r.email, True)
                               for r in message.recipients])
        if message.recipients:
            checklist.highlighted = 0   # Space unticks the first straight away
        if not message.recipients:
            self._problem("This customer has no email address on file: add one below.")
            self.query_one("#email-doc-extra", Input).focus()
        self.query_one("#email-doc-send", Button).disabled = False

    # -- adding a one-off address --------------------------------------------------------------
    def action_add_email(self) -> None:
        self.query_one("#email-doc-extra", Input).focus()

    @on(Input.Submitted, "#email-doc-extra")
    @on(Button.Pressed, "#email-doc-add-button")
    def _add_extra(self) -> None:
        field = self.query_one("#email-doc-extra", Input)
        try:
            address = documents.check_address(field.value)
        except ValidationError as exc:
            self._problem(str(exc))
            field.focus()
            return
        checklist = self.query_one("#email-doc-recipients", SelectionList)
        for index in range(checklist.option_count):
            value = checklist.get_option_at_index(index).value
            if value.split(":", 1)[1].casefold() == address.casefold():
                checklist.select(value)
                self._problem(f"{address} is already on the list; it is ticked.")
                field.value = ""
                return
        checklist.add_option(Selection(recipient_prompt(address, ONE_OFF), EXTRA + address, True))
        checklist.highlighted = checklist.option_count - 1
        field.value = ""
        self._problem("")

    def _problem(self, text: str) -> None:
        problem = self.query_one("#email-doc-problem", Static)
        problem.update(text)
        problem.display = bool(text)

    # -- sending -----------------------------------------------------------------------------------
    def chosen(self) -> tuple[list[str], list[str]]:
        """(ticked addresses from the account, ticked one-off addresses)."""
        selected = self.query_one("#email-doc-recipients", SelectionList).selected
        return ([v.removeprefix(KNOWN) for v in selected if v.startswith(KNOWN)],
                [v.removeprefix(EXTRA) for v in selected if v.startswith(EXTRA)])

    @on(Button.Pressed, "#email-doc-send")
    def action_send(self) -> None:
        if self.view is None or self.busy:
            return
        pending = self.query_one("#email-doc-extra", Input).value.strip()
        if pending:
            self._problem(f"{pending} is typed but not added: press Enter (or Add email) to add it, "
                          "or clear the field.")
            self.query_one("#email-doc-extra", Input).focus()
            return
        self.busy = True
        self.query_one("#email-doc-send", Button).disabled = True
        self._problem("Queueing…")
        to, extra = self.chosen()
        self._send(to, extra)

    @work(thread=True, exclusive=True, exit_on_error=False, group="email-doc-send")
    def _send(self, to: list[str], extra: list[str]) -> None:
        self.post_message(DocumentQueued(documents.email_document(self.app.ctx, self.app.user,
                                                                  self.document_id, to, extra)))

    @on(DocumentQueued)
    def _queued(self, event: DocumentQueued) -> None:
        message = event.message
        count = len(message.to_addrs) + len(message.cc_addrs)
        dispatcher = getattr(self.app, "dispatcher", None)
        if dispatcher is not None:
            dispatcher.wake()
        self.app.notify(f"Queued to {count} recipient{'s' if count != 1 else ''}; it goes in the background "
                        "within seconds.", title=clean(message.subject), markup=False)
        self.dismiss(message)

    @on(Button.Pressed, "#email-doc-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self.busy = False
        self.query_one("#email-doc-send", Button).disabled = self.view is None
        explain_failure(self.app, event.worker.error, self._show_failure)

    def _show_failure(self, field: str | None, text: str) -> None:
        self._problem(text)
        if field is not None:
            self.query_one("#email-doc-extra" if field == "extra" else "#email-doc-recipients").focus()
