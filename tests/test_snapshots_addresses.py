"""Snapshots at 80x24 of a customer's addresses (the Addresses tab's widget, on the
holiday address: toggle off, contacts kept) and of the customer portal.

Deterministic: the sample data, no blinking cursors.
Update after a deliberate change with: pytest tests/test_snapshots_addresses.py --snapshot-update
"""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from commstui.app import CommsApp
from commstui.screens.customer_addresses import CustomerAddresses
from commstui.screens.portal import PortalScreen
from commstui.services import auth, customers

SIZE = (80, 24)


class AddressesHost(Screen):
    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id

    def compose(self) -> ComposeResult:
        yield CustomerAddresses(self.customer_id)
        yield Footer(compact=True)


class Host(App):
    show_error = CommsApp.show_error  # the one place errors are reported

    def __init__(self, ctx, user, screen) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher, self.demo_outbox = ctx, user, None, None
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)

    def action_logout(self) -> None:
        self.exit()


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def test_addresses_tab_on_an_address_switched_off(snap_compare, ctx, operator):
    olivia = customers.get_by_account(ctx, operator, "A1000001")
    screen = AddressesHost(olivia.id)

    async def run_before(pilot) -> None:
        widget = screen.query_one(CustomerAddresses)
        await until(pilot, lambda: widget.book is not None)
        widget.query_one(DataTable).focus()
        await pilot.press("down")
        await pilot.pause()

    assert snap_compare(Host(ctx, operator, screen), terminal_size=SIZE, run_before=run_before)


def test_customer_portal(snap_compare, ctx):
    portal = auth.login(ctx, "portal", "portal-demo-1")
    screen = PortalScreen(portal.customer_id)

    async def run_before(pilot) -> None:
        widget = screen.query_one(CustomerAddresses)
        await until(pilot, lambda: widget.book is not None)
        await pilot.pause()

    assert snap_compare(Host(ctx, portal, screen), terminal_size=SIZE, run_before=run_before)
