"""The Contacts tab of a customer's details: the location owner at the top, then the
customer's contacts (name, primary email, how many other emails, phone, mobile, whether
they receive notices).

A self-contained widget: it takes the customer id, loads itself in a thread worker,
acts on its own keys while it has focus (a add, Enter/e edit, x/Delete remove,
o set owner, O clear owner) and reloads on reload(). Whether a change is allowed is the
service's answer; a refusal is a toast, and what is shown is re-read afterwards.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static
from textual.worker import Worker, WorkerState

from ..domain import Contact
from ..services import contacts
from ..services.contacts import CustomerPeople, LocationOwner
from ..services.errors import ServiceError, ValidationError
from ..widgets.format import DASH, literal
from .confirm import ConfirmScreen
from .contact_editor import ContactEditor

# fits 80 columns with the cell padding: the primary email and name are cut with "…" when longer
NAME_WIDTH, EMAIL_WIDTH, OTHER_WIDTH, PHONE_WIDTH, NOTICES_WIDTH = 13, 18, 4, 12, 7


class PeopleLoaded(Message):
    def __init__(self, people: CustomerPeople) -> None:
        super().__init__()
        self.people = people


class ContactsChanged(Message):
    """Posted after a change here (the details screen may reload its notes)."""

    def __init__(self, customer_id: int, what: str) -> None:
        super().__init__()
        self.customer_id, self.what = customer_id, what


def owner_line(owner: LocationOwner | None) -> Text:
    if owner is None:
        return Text("No location owner", style="dim")
    line = Text("Location owner: ", style="dim")
    line.append_text(literal(f"{owner.name} ({owner.account_no})", style="bold"))
    return line


class CustomerContacts(Vertical):
    """The tab's content. Mount it with the customer's id; call reload() to re-read."""

    BINDINGS = [
        Binding("a", "add_contact", "Add contact", tooltip="Add a contact to this customer"),
        Binding("e", "edit_contact", "Edit", tooltip="Edit the highlighted contact (also Enter)"),
        Binding("x,delete", "remove_contact", "Remove", key_display="x",
                tooltip="Remove the highlighted contact (asks first)"),
        Binding("o", "set_owner", "Owner", tooltip="Set the location owner (another customer) by account number"),
        Binding("O", "clear_owner", "Clear owner", key_display="O", tooltip="Remove the location owner link"),
    ]
    DEFAULT_CSS = """
    CustomerContacts {
        height: 1fr;
    }
    CustomerContacts #contacts-owner {
        height: 1;
        padding: 0 1;
    }
    CustomerContacts #contacts-table {
        height: 1fr;
    }
    CustomerContacts #contacts-empty {
        height: auto;
        padding: 0 1;
        color: $foreground-muted;
    }
    """

    def __init__(self, customer_id: int, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.customer_id = customer_id
        self.people: CustomerPeople | None = None

    def compose(self) -> ComposeResult:
        yield Static("Loading…", id="contacts-owner")
        table = DataTable(id="contacts-table", cursor_type="row", zebra_stripes=True)
        table.add_column("Name", width=NAME_WIDTH, key="name")
        table.add_column("Primary email", width=EMAIL_WIDTH, key="email")
        table.add_column("More", width=OTHER_WIDTH, key="other")  # other emails: how many
        table.add_column("Phone", width=PHONE_WIDTH, key="phone")
        table.add_column("Mobile", width=PHONE_WIDTH, key="mobile")
        table.add_column("Notices", width=NOTICES_WIDTH, key="notices")
        yield table
        yield Static("", id="contacts-empty", markup=False)

    def on_mount(self) -> None:
        self.reload()

    def focus(self, scroll_visible: bool = True):
        """Focus lands on the table, so the arrows and the tab's keys work at once."""
        tables = self.query("#contacts-table")
        if tables:
            tables.first().focus(scroll_visible)
        else:  # asked before the table is mounted (e.g. from the screen's on_mount)
            self.call_after_refresh(self.focus, scroll_visible)
        return self

    # -- loading ----------------------------------------------------------------------------
    def reload(self) -> None:
        self._load()

    @property
    def loaded(self) -> bool:
        return self.people is not None

    @work(thread=True, exclusive=True, exit_on_error=False, group="contacts-load")
    def _load(self) -> None:
        self.post_message(PeopleLoaded(contacts.people(self.app.ctx, self.app.user, self.customer_id)))

    @on(PeopleLoaded)
    def _loaded(self, message: PeopleLoaded) -> None:
        message.stop()
        people = self.people = message.people
        self.query_one("#contacts-owner", Static).update(owner_line(people.owner))
        table = self.query_one("#contacts-table", DataTable)
        keep = self.selected.id if self.selected else None
        table.clear()
        for c in people.contacts:
            table.add_row(literal(c.name), literal(c.email), Text(str(len(c.other_emails)) if c.other_emails
                                                                   else DASH, style="dim"),
                          literal(c.phone), literal(c.mobile), Text("yes" if c.receives_notices else "no"),
                          key=str(c.id))
        if keep is not None and str(keep) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep)))
        empty = "" if people.contacts else "No contacts yet." + (" Press a to add one." if people.may_edit else "")
        self.query_one("#contacts-empty", Static).update(empty)
        self.query_one("#contacts-empty", Static).display = bool(empty)
        self.screen.refresh_bindings()  # Edit, Remove and Clear owner depend on what was loaded

    @property
    def selected(self) -> Contact | None:
        if self.people is None or not self.people.contacts:
            return None
        table = self.query_one("#contacts-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((c for c in self.people.contacts if str(c.id) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit_contact", "remove_contact"):
            return None if self.selected is None else True   # greyed with no contact highlighted
        if action == "clear_owner":
            return None if self.people is None or self.people.owner is None else True
        return True

    # -- actions ---------------------------------------------------------------------------------
    def _may_edit(self, doing: str) -> bool:
        """The service's answer, read with the list: say why before opening a form that would be refused."""
        if self.people is not None and not self.people.may_edit:
            self.app.notify(f"You can look at these contacts but not {doing}: that needs the customerEdit role. "
                            "Ask an administrator.", title="Not allowed", severity="warning", timeout=8)
            return False
        return self.people is not None

    def action_add_contact(self) -> None:
        if not self._may_edit("add one"):
            return
        self.app.push_screen(ContactEditor(self.customer_id), partial(self._edited, "added"))

    def action_edit_contact(self) -> None:
        contact = self.selected
        if contact is not None and self._may_edit("change them"):
            self.app.push_screen(ContactEditor(self.customer_id, contact), partial(self._edited, "saved"))

    @on(DataTable.RowSelected, "#contacts-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit_contact()

    def _edited(self, what: str, contact: Contact | None) -> None:
        if contact is None:
            return
        self.app.notify(f"Contact {contact.name} {what}.", title="Saved", markup=False)
        self._changed(what)

    def action_remove_contact(self) -> None:
        contact = self.selected
        if contact is None or not self._may_edit("remove them"):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(contact)

        self.app.push_screen(ConfirmScreen("Remove contact", f"Remove {contact.name} from this customer's contacts?"
                                           "\n\nThey will get no more notices. Messages already sent stay in the "
                                           "log.", yes="Remove", no="Keep"), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="contacts-change")
    def _remove(self, contact: Contact) -> None:
        contacts.remove(self.app.ctx, self.app.user, contact.id)
        self.app.call_from_thread(self.app.notify, f"Contact {contact.name} removed.", title="Removed",
                                  markup=False)
        self.app.call_from_thread(self._changed, "removed")

    def action_set_owner(self) -> None:
        if not self._may_edit("set the location owner"):
            return

        def chosen(owner: LocationOwner | None) -> None:
            if owner is not None:
                self.app.notify(f"Location owner: {owner.name} ({owner.account_no}).", title="Saved", markup=False)
                self._changed("owner")

        current = self.people.owner if self.people else None
        self.app.push_screen(OwnerDialog(self.customer_id, current), chosen)

    def action_clear_owner(self) -> None:
        if self.people is None or self.people.owner is None or not self._may_edit("clear the location owner"):
            return
        owner = self.people.owner

        def answered(yes: bool | None) -> None:
            if yes:
                self._clear_owner()

        self.app.push_screen(ConfirmScreen("Clear location owner",
                                           f"Remove {owner.name} ({owner.account_no}) as the owner of this "
                                           "customer's location?", yes="Clear", no="Keep"), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="contacts-change")
    def _clear_owner(self) -> None:
        contacts.clear_owner(self.app.ctx, self.app.user, self.customer_id)
        self.app.call_from_thread(self.app.notify, "Location owner cleared.", title="Saved")
        self.app.call_from_thread(self._changed, "owner")

    def _changed(self, what: str) -> None:
        self.reload()
        self.post_message(ContactsChanged(self.customer_id, what))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            event.stop()
            self.app.show_error(event.worker.error)
            if event.worker.group == "contacts-change":
                self.reload()  # show what is true now


class OwnerSet(Message):
    def __init__(self, owner: LocationOwner) -> None:
        super().__init__()
        self.owner = owner


class OwnerDialog(ModalScreen[LocationOwner | None]):
    """Type the owner's account number; the service finds them (never the customer itself)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    OwnerDialog {
        align: center middle;
    }
    OwnerDialog #owner-dialog {
        width: 100%;
        max-width: 60;
        height: auto;
        border: round $primary;
        border-title-style: bold;
        padding: 0 2;
        background: $surface;
    }
    OwnerDialog Label {
        margin-top: 1;
        color: $foreground-muted;
    }
    OwnerDialog #owner-problem {
        height: auto;
        color: $error;
    }
    OwnerDialog #owner-buttons {
        height: 1;
        margin: 1 0;
        align: center middle;
    }
    OwnerDialog #owner-buttons Button {
        margin: 0 1;
    }
    """

    def __init__(self, customer_id: int, current: LocationOwner | None = None) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.current = current
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="owner-dialog") as dialog:
            dialog.border_title = "Location owner"
            now = f"Now: {self.current.name} ({self.current.account_no})" if self.current else "Now: none"
            yield Static(now, id="owner-now", markup=False)
            yield Label("Owner's account number (another customer)")
            yield Input(id="owner-account", placeholder="e.g. A1000025", max_length=40)
            yield Static("", id="owner-problem", markup=False)
            with Horizontal(id="owner-buttons"):
                yield Button("Set owner (Enter)", id="owner-set", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="owner-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#owner-account", Input).focus()

    @on(Input.Submitted, "#owner-account")
    @on(Button.Pressed, "#owner-set")
    def _submit(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.query_one("#owner-problem", Static).update("Looking…")
        self._set(self.query_one("#owner-account", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="owner-set")
    def _set(self, account_no: str) -> None:
        self.post_message(OwnerSet(contacts.set_owner(self.app.ctx, self.app.user, self.customer_id, account_no)))

    @on(OwnerSet)
    def _owner_set(self, message: OwnerSet) -> None:
        self.dismiss(message.owner)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#owner-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self.busy = False
        error = event.worker.error
        problem = self.query_one("#owner-problem", Static)
        if isinstance(error, ServiceError) or getattr(error, "title", None):
            problem.update(str(error))
            if isinstance(error, ValidationError):
                self.query_one("#owner-account", Input).focus()
        else:
            problem.update("")
            self.app.show_error(error)
