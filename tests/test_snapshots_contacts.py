"""Snapshots at 80x24 of the Contacts tab (mounted in a host screen, as the customer
details screen mounts it) with an owner and two contacts, and of the contact editor.

Deterministic: the curated sample data in tmp_path, no dispatcher, no clock-dependent
text, no blinking cursors.
Update after a deliberate change with: pytest tests/test_snapshots_contacts.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

import commstui.app as app_module
from commstui.app import CommsApp
from commstui.screens.contact_editor import ContactEditor
from commstui.screens.customer_contacts import CustomerContacts
from commstui.services import contacts
from commstui.services.contacts import ContactForm

from tui_helpers import until

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _no_periodic_refresh(monkeypatch):
    monkeypatch.setattr(app_module, "STATUS_EVERY", 600.0)


class Host(Screen):
    def __init__(self, cid: int) -> None:
        super().__init__()
        self.cid = cid

    def compose(self):
        yield Static("A1000001  Olivia Bennett — 6 Contacts")
        yield CustomerContacts(self.cid)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(CustomerContacts).focus()


def prepared(ctx, admin) -> int:
    with ctx.db.connect() as con:
        cid = con.execute("select id from customers where account_no = 'A1000001'").fetchone()[0]
    contacts.add(ctx, admin, cid, ContactForm(name="Sam Carter", emails=("sam@example.com", "sam.work@example.com",
                                                                        "s.carter@example.net"), primary=1,
                                              phone="02 9555 0107", mobile="0412 345 678"))
    contacts.set_owner(ctx, admin, cid, "A1000025")
    return cid


async def _tab(pilot, cid: int) -> CustomerContacts:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    app.push_screen(Host(cid))
    await until(pilot, lambda: isinstance(app.screen, Host) and app.screen.query(CustomerContacts)
                and app.screen.query_one(CustomerContacts).loaded, "the tab")
    tab = app.screen.query_one(CustomerContacts)
    await until(pilot, lambda: tab.query_one(DataTable).has_focus, "the table focused")
    return tab


def test_contacts_tab(snap_compare, ctx, admin):
    cid = prepared(ctx, admin)

    async def run_before(pilot) -> None:
        await _tab(pilot, cid)
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)


def test_contact_editor(snap_compare, ctx, admin):
    cid = prepared(ctx, admin)

    async def run_before(pilot) -> None:
        await _tab(pilot, cid)
        await pilot.press("down", "enter")          # Sam Carter
        await until(pilot, lambda: isinstance(pilot.app.screen, ContactEditor), "the editor")
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False
        await pilot.pause()

    assert snap_compare(CommsApp(ctx, admin, run_dispatcher=False), terminal_size=SIZE, run_before=run_before)
