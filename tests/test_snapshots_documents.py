"""Snapshot at 80x24 of the email checklist for a quote: the primary email and the
service address's contacts (one unticked) and a one-off address added.

Deterministic: fixed data (the quote's dates and lines are given), no blinking cursor.
Update after a deliberate change with: pytest tests/test_snapshots_documents.py --snapshot-update
"""

from __future__ import annotations

import time
from datetime import date

from textual.app import App
from textual.widgets import Input

from commstui.app import CommsApp
from commstui.screens.email_document import EmailDocumentScreen
from commstui.store import documents as documents_store

SIZE = (80, 24)


class Host(App):
    show_error = CommsApp.show_error

    def __init__(self, ctx, user, screen) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher = ctx, user, None
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def test_email_checklist(snap_compare, ctx, admin):
    def make(con):
        cid = con.execute("select id from customers where account_no = 'A1000001'").fetchone()[0]
        address = con.execute(
            "insert into service_addresses (customer_id, label, address_line1, city, state, postcode, "
            "additional_comms) values (?, 'Holiday unit', '12 Harbour St', 'Pyrmont', 'NSW', '2009', true) "
            "returning id", [cid]).fetchone()[0]
        for name, email in (("Daniel", "daniel.b@example.com"), ("Kim Lee (property manager)", "kim.lee@example.com")):
            con.execute("insert into address_contacts (address_id, name, email) values (?, ?, ?)",
                        [address, name, email])
        return documents_store.insert(con, customer_id=cid, address_id=address, kind="quote", number="Q-900001",
                                      issued_on=date(2026, 11, 2), due_on=date(2026, 12, 2),
                                      lines=[("Replace hot water system", 1, "1890.00")])

    screen = EmailDocumentScreen(ctx.db.run(make), "Quote Q-900001")

    async def run_before(pilot) -> None:
        await until(pilot, lambda: screen.ready)
        await pilot.press("down", "space", "a", *"site.manager@builder.example", "enter")
        await pilot.pause()
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False

    assert snap_compare(Host(ctx, admin, screen), terminal_size=SIZE, run_before=run_before)
