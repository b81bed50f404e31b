"""The Addresses tab of a customer (and the body of the portal): the customer's service
addresses, one per line, with the highlighted one's additional contacts underneath.

a adds an address, Enter or e edits the highlighted one (fields, the "Additional
communication" switch and its contacts), t switches its additional communication
on or off. Off keeps the contacts but they receive nothing; on restores them.
A self-contained widget: give it the customer id; it loads itself in a worker and
again on reload().
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.widgets import DataTable, Static

from ..domain import Permission, ServiceAddress
from ..services import addresses
from ..services.addresses import AddressBook
from ..services.errors import ServiceError
from ..widgets.format import clean, literal, plural
from .address_editor import AddressEditorScreen

LABEL_WIDTH, COMMS_WIDTH, CONTACTS_WIDTH = 15, 11, 8


def comms_words(on: bool) -> str:
    return "Additional communication: " + ("on" if on else "off")


def address_detail(address: ServiceAddress) -> Text | Table:
    """The highlighted address: its toggle and what it means, then its contacts."""
    head = Text()
    head.append(comms_words(address.additional_comms), style="bold green" if address.additional_comms else "bold")
    if address.additional_comms:
        head.append(" — the contacts below receive this account's emails.", style="dim")
    elif address.contacts:
        head.append(" — the contacts are kept but receive nothing (t switches on).", style="dim")
    else:
        head.append(" — e to add contacts for this address.", style="dim")
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_row(head)
    if not address.contacts:
        grid.add_row(Text("No additional contacts.", style="dim"))
        return grid
    people = Table.grid(padding=(0, 2))
    people.add_column(no_wrap=True, overflow="ellipsis", max_width=28)
    people.add_column(no_wrap=True, overflow="ellipsis")
    people.add_column(no_wrap=True)
    style = "" if address.additional_comms else "dim"
    for c in address.contacts:
        people.add_row(literal(c.name, style=style), literal(c.email, style=style), literal(c.phone, style=style))
    grid.add_row(people)
    return grid


class AddressesLoaded(TextualMessage):
    def __init__(self, book: AddressBook) -> None:
        super().__init__()
        self.book = book


class AddressesShown(TextualMessage):
    """Posted (bubbling) each time the widget has shown a fresh load: the portal reads who it is."""

    def __init__(self, book: AddressBook) -> None:
        super().__init__()
        self.book = book


class AddressChanged(TextualMessage):
    """An address was saved or switched; `verb` says how ("added", "saved", "on", "off")."""

    def __init__(self, address: ServiceAddress, verb: str) -> None:
        super().__init__()
        self.address = address
        self.verb = verb


class CustomerAddresses(Vertical):
    """Mount with CustomerAddresses(customer_id); focus the table to use its keys."""

    DEFAULT_CSS = """
    CustomerAddresses {
        height: 1fr;
    }
    CustomerAddresses #addresses-table {
        height: auto;
        max-height: 8;
    }
    CustomerAddresses #address-detail-scroll {
        height: 1fr;
        margin-top: 1;
    }
    """

    BINDINGS = [
        Binding("a", "add_address", "Add address", tooltip="Add a service address for this customer"),
        Binding("e", "edit_address", "Edit address",
                tooltip="Change the highlighted address, its additional communication and contacts (also Enter)"),
        Binding("t", "toggle_comms", "Comms on/off",
                tooltip="Switch the highlighted address's additional communication on or off (contacts are kept)"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, customer_id: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.customer_id = customer_id
        self.book: AddressBook | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        table = DataTable(id="addresses-table", cursor_type="row", zebra_stripes=True)
        table.add_column("Label", key="label", width=LABEL_WIDTH)
        table.add_column("Address", key="address")
        table.add_column("Add'l comms", key="comms", width=COMMS_WIDTH)
        table.add_column("Contacts", key="contacts", width=CONTACTS_WIDTH)
        yield table
        with VerticalScroll(id="address-detail-scroll"):
            yield Static("Loading…", id="address-detail")

    def on_mount(self) -> None:
        self.reload()

    def on_resize(self) -> None:
        self._size_address_column()

    def _size_address_column(self) -> None:
        table = self.query_one(DataTable)
        fixed = LABEL_WIDTH + COMMS_WIDTH + CONTACTS_WIDTH + 4 * 2 + 2  # cell padding, scrollbar
        table.columns["address"].width = max(12, self.size.width - fixed)
        table.columns["address"].auto_width = False
        table.refresh()

    # -- loading -----------------------------------------------------------------------
    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False, group="addresses-load")
    def _load(self) -> None:
        self.post_message(AddressesLoaded(addresses.address_book(self.app.ctx, self.app.user, self.customer_id)))

    @on(AddressesLoaded)
    def _loaded(self, event: AddressesLoaded) -> None:
        event.stop()
        table = self.query_one(DataTable)
        keep = self.highlighted.id if self.highlighted else None
        self.book = event.book
        table.clear()
        for a in event.book.addresses:
            table.add_row(literal(a.label or "—"), literal(a.one_line),
                          Text("on", style="bold green") if a.additional_comms else Text("off", style="dim"),
                          str(len(a.contacts)), key=str(a.id))
        self._size_address_column()
        if keep is not None and str(keep) in {str(a.id) for a in event.book.addresses}:
            table.move_cursor(row=table.get_row_index(str(keep)))
        self._show_detail()
        self.post_message(AddressesShown(event.book))

    @property
    def highlighted(self) -> ServiceAddress | None:
        if self.book is None or not self.book.addresses:
            return None
        row = self.query_one(DataTable).cursor_row
        return self.book.addresses[row] if 0 <= row < len(self.book.addresses) else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit_address()

    def _show_detail(self) -> None:
        detail = self.query_one("#address-detail", Static)
        if self.book is None:
            return
        address = self.highlighted
        if address is None:
            detail.update(Text("No service addresses yet." + (" Press a to add one." if self.may_change() else ""),
                               style="dim"))
            return
        detail.update(address_detail(address))
        self.screen.refresh_bindings()

    # -- changing ----------------------------------------------------------------------
    def may_change(self) -> bool:
        """Offer the keys (the service decides): staff with customerEdit, or the portal user."""
        user = self.app.user
        return user is not None and ((user.can(Permission.CUSTOMER_VIEW) and user.can(Permission.CUSTOMER_EDIT))
                                     or addresses.is_portal_user(user))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add_address", "edit_address", "toggle_comms"):
            if not self.may_change():
                return False
            if action != "add_address" and self.highlighted is None:
                return None
        return True

    def _who(self) -> str:
        return f"{clean(self.book.name)} ({self.book.account_no})" if self.book else ""

    def action_add_address(self) -> None:
        if self.book is None:
            return
        self.app.push_screen(AddressEditorScreen(self.customer_id, None, self._who()),
                             lambda saved: saved and self.post_message(AddressChanged(saved, "added")))

    def action_edit_address(self) -> None:
        address = self.highlighted
        if address is None or not self.may_change():
            return
        self.app.push_screen(AddressEditorScreen(self.customer_id, address, self._who(),
                                                 save_label="Update address"),
                             lambda saved: saved and self.post_message(AddressChanged(saved, "saved")))

    def action_toggle_comms(self) -> None:
        address = self.highlighted
        if address is None or self._busy:
            return
        self._busy = True
        self._toggle(address.id, not address.additional_comms)

    @work(thread=True, exclusive=True, exit_on_error=False, group="addresses-change")
    def _toggle(self, address_id: int, on: bool) -> None:
        try:
            address = addresses.set_additional_comms(self.app.ctx, self.app.user, address_id, on)
        except ServiceError as exc:
            self.app.call_from_thread(self.app.show_error, exc)
            self._busy = False
            return
        self.post_message(AddressChanged(address, "on" if on else "off"))

    @on(AddressChanged)
    def _changed(self, event: AddressChanged) -> None:
        event.stop()
        self._busy = False
        a = event.address
        name = a.label or "the address"
        people = plural(len(a.contacts), "contact")
        if event.verb == "on":
            text = (f"Additional communication is on for {name}: its {people} receive emails again."
                    if a.contacts else f"Additional communication is on for {name}; add contacts with e.")
        elif event.verb == "off":
            text = (f"Additional communication is off for {name}: its {people} are kept but receive nothing "
                    "until you switch it on (t).")
        else:
            text = f"{name.capitalize() if name == 'the address' else name} {event.verb}: {a.one_line}."
        self.app.notify(text, title=comms_words(a.additional_comms), markup=False)
        self.reload()

    def on_worker_state_changed(self, event) -> None:
        error = event.worker.error
        if error is not None and event.worker.group in ("addresses-load", "addresses-change"):
            self._busy = False
            if event.worker.group == "addresses-load":
                self.query_one("#address-detail", Static).update(Text(f"Could not load the addresses: {error}",
                                                                      style="red"))
            self.app.show_error(error)
