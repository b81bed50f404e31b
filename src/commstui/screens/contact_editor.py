"""Add or edit one contact of a customer: name, emails (one of them primary), phone,
mobile, and the two switches (receives email notices, SMS opt-in).

The emails are a small list: type an address and press Enter to add it; in the list,
Space or p makes the highlighted one primary, Delete or x removes it. The first
address added is the primary until another is chosen. The service checks everything
again on Ctrl+S; a refusal is shown under the form and its field gets the focus.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, Switch
from textual.worker import Worker, WorkerState

from ..domain import Contact
from ..services import contacts
from ..services.contacts import ContactForm
from ..services.errors import ValidationError
from ..widgets.format import clean
from ..widgets.form_errors import explain_failure

FIELD_IDS = {"name": "#contact-name", "emails": "#contact-new-email", "phone": "#contact-phone",
             "mobile": "#contact-mobile"}


class EmailList(OptionList):
    """The contact's emails; the primary one is starred."""

    BINDINGS = [
        Binding("space,p", "screen.make_primary", "Make primary", key_display="p"),
        Binding("delete,x", "screen.remove_email", "Remove email", key_display="x"),
    ]


class ContactSaved(Message):
    def __init__(self, contact: Contact) -> None:
        super().__init__()
        self.contact = contact


class ContactEditor(ModalScreen[Contact | None]):
    """Dismisses with the saved contact, or None when cancelled."""

    CSS_PATH = "contact_editor.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+s", "save", "Save", tooltip="Save the contact")]

    def __init__(self, customer_id: int, contact: Contact | None = None) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.contact = contact
        form = ContactForm.of(contact) if contact else ContactForm()
        self.emails: list[str] = list(form.emails)
        self.primary = form.primary
        self._initial = form
        self.busy = False

    def compose(self) -> ComposeResult:
        form = self._initial
        with VerticalScroll(id="contact-dialog") as dialog:
            dialog.border_title = Text(f"Edit contact {self.contact.name}" if self.contact else "Add contact")  # literal
            yield Label("Name")
            yield Input(form.name, id="contact-name", placeholder="e.g. Daniel Bennett", max_length=200, compact=True)
            yield Label("Emails (★ primary · Space makes primary · x removes)")
            yield EmailList(id="contact-emails")
            yield Input(id="contact-new-email", placeholder="type an address, Enter adds it", max_length=320,
                        compact=True)
            with Horizontal(classes="contact-numbers"):
                with Vertical(classes="contact-number"):
                    yield Label("Phone")
                    yield Input(form.phone, id="contact-phone", placeholder="02 9555 0100", max_length=40,
                                    compact=True)
                with Vertical(classes="contact-number"):
                    yield Label("Mobile")
                    yield Input(form.mobile, id="contact-mobile", placeholder="0412 345 678", max_length=40,
                                    compact=True)
            with Horizontal(classes="contact-switches"):
                yield Switch(form.receives_notices, id="contact-notices",
                             tooltip="Bulk sends include contacts who receive notices, when asked to")
                yield Label("Receives email notices")
                yield Switch(form.sms_opt_in, id="contact-sms", tooltip="SMS needs a mobile number")
                yield Label("SMS opt-in")
            yield Static("", id="contact-problem", markup=False)
            with Horizontal(id="contact-buttons"):
                yield Button("Save (Ctrl+S)", id="contact-save", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="contact-cancel", compact=True)

    def on_mount(self) -> None:
        self._show_emails()
        self.query_one("#contact-name", Input).focus()

    # -- the emails list ------------------------------------------------------------------
    def _show_emails(self, highlight: int | None = None) -> None:
        listing = self.query_one(EmailList)
        listing.clear_options()
        for i, addr in enumerate(self.emails):
            star = "★ " if i == self.primary else "  "
            listing.add_option(Text(star + clean(addr) + ("  (primary)" if i == self.primary else "")))
        listing.display = bool(self.emails)
        if self.emails:
            listing.highlighted = min(highlight if highlight is not None else self.primary, len(self.emails) - 1)

    @on(Input.Submitted, "#contact-new-email")
    def _add_email(self, event: Input.Submitted) -> None:
        problem = self.query_one("#contact-problem", Static)
        if not event.value.strip():
            return
        try:
            addr = contacts.check_email(event.value)
        except ValidationError as exc:
            problem.update(str(exc))
            return
        if addr.lower() in (e.lower() for e in self.emails):
            problem.update(f"Emails: {addr} is already in the list.")
            return
        self.emails.append(addr)
        if len(self.emails) == 1:
            self.primary = 0
        event.input.value = ""
        problem.update("")
        self._show_emails(highlight=len(self.emails) - 1)

    def action_make_primary(self) -> None:
        index = self.query_one(EmailList).highlighted
        if index is not None and index < len(self.emails):
            self.primary = index
            self._show_emails(highlight=index)

    def action_remove_email(self) -> None:
        index = self.query_one(EmailList).highlighted
        if index is None or index >= len(self.emails):
            return
        del self.emails[index]
        if self.primary == index:
            self.primary = 0          # the first left becomes the primary; they can choose another
        elif self.primary > index:
            self.primary -= 1
        self._show_emails(highlight=max(0, index - 1))
        if not self.emails:
            self.query_one("#contact-new-email", Input).focus()

    # -- saving -------------------------------------------------------------------------------
    def form(self) -> ContactForm:
        return ContactForm(
            name=self.query_one("#contact-name", Input).value,
            emails=tuple(self.emails),
            primary=self.primary,
            phone=self.query_one("#contact-phone", Input).value,
            mobile=self.query_one("#contact-mobile", Input).value,
            receives_notices=self.query_one("#contact-notices", Switch).value,
            sms_opt_in=self.query_one("#contact-sms", Switch).value,
        )

    @on(Button.Pressed, "#contact-save")
    def action_save(self) -> None:
        if self.busy:
            return
        pending = self.query_one("#contact-new-email", Input)
        if pending.value.strip():  # typed but not yet added: add it rather than lose it
            before = len(self.emails)
            self._add_email(Input.Submitted(pending, pending.value))
            if len(self.emails) == before:
                pending.focus()
                return
        self.busy = True
        self.query_one("#contact-save", Button).disabled = True
        self.query_one("#contact-problem", Static).update("Saving…")
        self._save(self.form())

    @work(thread=True, exclusive=True, exit_on_error=False, group="contact-save")
    def _save(self, form: ContactForm) -> None:
        ctx, user = self.app.ctx, self.app.user
        if self.contact is None:
            saved = contacts.add(ctx, user, self.customer_id, form)
        else:
            saved = contacts.update(ctx, user, self.contact.id, form)
        self.post_message(ContactSaved(saved))

    @on(ContactSaved)
    def _saved(self, message: ContactSaved) -> None:
        self.dismiss(message.contact)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#contact-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self.busy = False
        self.query_one("#contact-save", Button).disabled = False
        explain_failure(self.app, event.worker.error, self._show_problem)

    def _show_problem(self, field: str | None, text: str) -> None:
        selector = FIELD_IDS.get(field or "")
        if selector:
            self.query_one(selector).focus()
        self.query_one("#contact-problem", Static).update(text)
