"""Add or edit one service address: its fields, the "Additional communication" switch
and, when it is on, the contacts of the address (name, email, phone; several).

Switching it off hides the contacts but keeps them: they receive nothing until it is
switched on again. services.addresses judges the form; every problem is shown at its
field. Ctrl+S saves, Escape closes (asking first when something was changed).
Used by staff (from the customer's Addresses tab) and by portal users ("Update address").
"""

from __future__ import annotations

from itertools import count

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static, Switch

from ..domain import ServiceAddress
from ..services import addresses
from ..services.addresses import AddressForm, ContactForm
from ..services.errors import ServiceError, ValidationError
from .confirm import ConfirmScreen

FIELDS = ("label", "address_line1", "address_line2", "city", "state", "postcode")
LABELS = {"label": "Label", "address_line1": "Address", "address_line2": "Line 2", "city": "City",
          "state": "State", "postcode": "Postcode"}
PLACEHOLDERS = {"label": "e.g. Home, Holiday unit (optional)", "address_line1": "required, e.g. Apt 4, 10 High St",
                "address_line2": "optional", "city": "", "state": "", "postcode": ""}
ON_TEXT = "On: the contacts below receive the emails this account receives."
OFF_TEXT = "Off: contacts are kept but receive nothing. Switch on to add or see them."


def comms_label(on: bool) -> str:
    return f"Additional communication: {'on' if on else 'off'}  (Space switches)"


class AddressSaved(TextualMessage):
    def __init__(self, address: ServiceAddress) -> None:
        super().__init__()
        self.address = address


class SaveRefused(TextualMessage):
    def __init__(self, error: ServiceError) -> None:
        super().__init__()
        self.error = error


class ContactRow(Vertical):
    """One contact: name, email, phone and a remove button, with its problems underneath."""

    def __init__(self, contact: ContactForm, key: int) -> None:
        super().__init__(id=f"contact-{key}", classes="contact-row")
        self.contact = contact

    def compose(self) -> ComposeResult:
        with Horizontal(classes="contact-fields"):
            yield Input(self.contact.name, placeholder="Name", classes="contact-name", compact=True)
            yield Input(self.contact.email, placeholder="Email", classes="contact-email", compact=True)
            yield Input(self.contact.phone, placeholder="Phone", classes="contact-phone", compact=True)
            yield Button("Remove", classes="contact-remove", compact=True, tooltip="Remove this contact")
        yield Static("", classes="contact-error", markup=False)

    def form(self) -> ContactForm:
        return ContactForm(name=self.query_one(".contact-name", Input).value,
                           email=self.query_one(".contact-email", Input).value,
                           phone=self.query_one(".contact-phone", Input).value, id=self.contact.id)

    def show_errors(self, errors: list[str]) -> None:
        shown = self.query_one(".contact-error", Static)
        shown.update("\n".join(errors))
        shown.display = bool(errors)


class AddressEditorScreen(ModalScreen[ServiceAddress | None]):
    """Dismisses with the saved address, or None when closed without saving."""

    CSS_PATH = "address_editor.tcss"
    AUTO_FOCUS = "#address_line1"

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="Save the address and its contacts"),
        Binding("ctrl+n", "add_contact", "Add contact", priority=True,
                tooltip="Another contact for this address (switches additional communication on)"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without saving (asks first if you changed something)"),
    ]

    def __init__(self, customer_id: int, address: ServiceAddress | None = None, who: str = "",
                 save_label: str = "Save") -> None:
        super().__init__()
        self.customer_id = customer_id
        self.address = address
        self.who = who
        self.save_label = save_label
        self._initial = AddressForm.of(address) if address else AddressForm()
        self._keys = count(1)
        self._show_all = False
        self.saving = False

    # -- layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="address-dialog") as dialog:
            title = f"Edit {self.address.label or 'service address'}" if self.address else "Add a service address"
            dialog.border_title = Text(f"{title} · {self.who}" if self.who else title)
            with VerticalScroll(id="address-form"):
                for name in FIELDS:
                    with Horizontal(classes="address-row", id=f"{name}-row"):
                        yield Label(LABELS[name], classes="address-label", id=f"{name}-label")
                        yield Input(getattr(self._initial, name), id=name, compact=True,
                                    placeholder=PLACEHOLDERS[name], select_on_focus=False)
                    yield Static("", classes="address-error", id=f"{name}-error", markup=False)
                with Horizontal(id="comms-row"):
                    yield Switch(self._initial.additional_comms, id="additional-comms")
                    yield Label(comms_label(self._initial.additional_comms), id="comms-label")
                yield Static(ON_TEXT if self._initial.additional_comms else OFF_TEXT, id="comms-help")
                with Vertical(id="contacts"):
                    for contact in self._initial.contacts:
                        yield ContactRow(contact, next(self._keys))
                    yield Button("Add contact  ^N", id="add-contact", compact=True)
            yield Static("", id="save-error", markup=False)
            with Horizontal(id="address-buttons"):
                yield Button(f"{self.save_label}  ^S", id="save", variant="primary", compact=True)
                yield Button("Cancel  Esc", id="cancel", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._show_contacts(self._initial.additional_comms)

    # -- the form --------------------------------------------------------------------
    def form(self) -> AddressForm:
        values = {name: self.query_one(f"#{name}", Input).value for name in FIELDS}
        return AddressForm(**values, additional_comms=self.query_one("#additional-comms", Switch).value,
                           contacts=[row.form() for row in self.query(ContactRow)])

    def is_touched(self) -> bool:
        return self.form() != self._initial

    def _judge(self) -> addresses.FormReview:
        verdict = addresses.review(self.form())
        shown_all = self._show_all
        for name in FIELDS:
            error = verdict.errors.get(name, "") if shown_all else ""
            widget = self.query_one(f"#{name}-error", Static)
            widget.update(error)
            widget.display = bool(error)
            self.query_one(f"#{name}", Input).set_class(bool(error), "-invalid")
            self.query_one(f"#{name}-label", Label).set_class(bool(error), "-invalid")
        for n, row in enumerate(self.query(ContactRow), start=1):
            found = {part: verdict.errors.get(f"contact.{n}.{part}") for part in ("name", "email", "phone")}
            if not shown_all:
                found = {part: None for part in found}
            row.show_errors([e for e in found.values() if e])
            for part, error in found.items():
                row.query_one(f".contact-{part}", Input).set_class(bool(error), "-invalid")
        return verdict

    @on(Input.Changed)
    def _changed(self) -> None:
        if self._show_all and self.is_attached:
            self._judge()  # once shown, problems clear as they are fixed

    @on(Input.Submitted)
    def _enter_moves_on(self) -> None:
        self.focus_next()

    @on(Switch.Changed, "#additional-comms")
    def _switched(self, event: Switch.Changed) -> None:
        self._show_contacts(event.value)

    def _show_contacts(self, on: bool) -> None:
        self.query_one("#contacts").display = on
        self.query_one("#comms-help", Static).update(ON_TEXT if on else OFF_TEXT)
        self.query_one("#comms-label", Label).update(comms_label(on))

    async def action_add_contact(self) -> None:
        switch = self.query_one("#additional-comms", Switch)
        if not switch.value:
            switch.value = True
        row = ContactRow(ContactForm(), next(self._keys))
        await self.query_one("#contacts").mount(row, before="#add-contact")
        row.query_one(".contact-name", Input).focus()

    @on(Button.Pressed, "#add-contact")
    async def _add_pressed(self) -> None:
        await self.action_add_contact()

    @on(Button.Pressed, ".contact-remove")
    def _remove_pressed(self, event: Button.Pressed) -> None:
        row = next(a for a in event.button.ancestors if isinstance(a, ContactRow))
        name = row.form().name.strip() or "the contact"
        row.remove()
        self.notify(f"Removed {name} from the form; Ctrl+S saves the change.", title="Contact removed",
                    markup=False, timeout=4)

    # -- save and cancel -------------------------------------------------------------
    def action_save(self) -> None:
        if self.saving:
            return
        self._show_all = True
        verdict = self._judge()
        if verdict.errors:
            self._focus_first_error(verdict.errors)
            first = next(iter(verdict.errors.values()))
            self.notify(first, title="Not saved: please check the form", severity="error", markup=False)
            return
        self.saving = True
        self.query_one("#save", Button).disabled = True
        self._show_save_error("")
        self._save(self.form())

    def _focus_first_error(self, errors: dict[str, str]) -> None:
        key = next(iter(errors))
        if key in FIELDS:
            self.query_one(f"#{key}", Input).focus()
            return
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "contact":
            rows = list(self.query(ContactRow))
            index = int(parts[1]) - 1
            if 0 <= index < len(rows):
                rows[index].query_one(f".contact-{parts[2]}", Input).focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="address-save")
    def _save(self, form: AddressForm) -> None:
        ctx, user = self.app.ctx, self.app.user
        try:
            if self.address is None:
                saved = addresses.add(ctx, user, self.customer_id, form)
            else:
                saved = addresses.save(ctx, user, self.address.id, form)
        except ServiceError as exc:
            self.post_message(SaveRefused(exc))
            return
        self.post_message(AddressSaved(saved))

    @on(AddressSaved)
    def _saved(self, event: AddressSaved) -> None:
        self.saving = False
        self.dismiss(event.address)

    @on(SaveRefused)
    def _refused(self, event: SaveRefused) -> None:
        self._saving_done()
        error = event.error
        if isinstance(error, ValidationError) and error.field:
            self._focus_first_error({error.field: str(error)})
        self._show_save_error(f"Not saved: {error}")
        self.notify(str(error), title=error.title, severity="error", timeout=8, markup=False)

    def _saving_done(self) -> None:
        self.saving = False
        self.query_one("#save", Button).disabled = False

    def on_worker_state_changed(self, event) -> None:
        error = event.worker.error
        if error is not None and event.worker.group == "address-save":
            self._saving_done()
            self._show_save_error(f"Not saved: {error}")
            self.app.show_error(error)

    def _show_save_error(self, text: str) -> None:
        shown = self.query_one("#save-error", Static)
        shown.update(text)
        shown.display = bool(text)

    def action_cancel(self) -> None:
        if not self.is_touched():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen("Discard your changes?", "The changes to this address will be lost.",
                                           yes="Discard", no="Keep editing"), answered)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
