"""What a customer sees after logging in to the portal: their name and account number,
their service addresses with the additional contacts on them, and "Update address".
Nothing else of the system: no customer list, no Escape to anywhere; only log out.

Each address's "Additional communication" switch says whether its contacts receive the
emails sent to the account; switching it off keeps them without sending them anything.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..widgets.format import clean
from .customer_addresses import AddressesShown, CustomerAddresses

HELP = ("Your service addresses. An address's additional contacts receive the emails we send you "
        "while its additional communication is on.")


class PortalAddresses(CustomerAddresses):
    """The same list, in the portal's words: e is "Update address"."""

    BINDINGS = [
        Binding("e", "edit_address", "Update address",
                tooltip="Change the highlighted address and its additional contacts (also Enter)"),
    ]


class PortalScreen(Screen):
    CSS_PATH = "portal.tcss"
    AUTO_FOCUS = "#addresses-table"

    BINDINGS = [
        Binding("u", "update_address", "Update address", show=False),
        Binding("ctrl+l", "app.logout", "Log out", tooltip="Log out of the portal"),
        Binding("escape", "nothing", show=False),   # there is nowhere to go back to
    ]

    def __init__(self, customer_id: int | None = None) -> None:
        """customer_id: the logged-in portal user's own account unless given."""
        super().__init__()
        self.customer_id = customer_id

    def compose(self) -> ComposeResult:
        if self.customer_id is None:
            user = self.app.user
            self.customer_id = user.customer_id if user is not None else None
        yield Static("Customer portal", id="portal-title")
        yield Static("Loading…", id="portal-account")
        yield Static(HELP, id="portal-help")
        yield PortalAddresses(self.customer_id if self.customer_id is not None else 0, id="portal-addresses")
        yield Footer(compact=True)

    @on(AddressesShown)
    def _shown(self, event: AddressesShown) -> None:
        book = event.book
        shown = Text()
        shown.append(clean(book.name), style="bold")
        shown.append(f"  ·  Account {book.account_no}", style="dim")
        self.query_one("#portal-account", Static).update(shown)
        self.refresh_bindings()

    def action_update_address(self) -> None:
        self.query_one(CustomerAddresses).action_edit_address()

    def action_nothing(self) -> None:
        """Escape leads nowhere from the portal's home."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "update_address":
            return True if self.query_one(CustomerAddresses).highlighted is not None else None
        return True
