"""Snapshot (pytest-textual-snapshot) of a customer's Emails tab at 80x24: one email
scheduled for later, one accepted by the mail server, one failed with the server's
reason (highlighted, so the pane underneath shows why).

Deterministic: the office zone is fixed (Australia/Sydney), the screen's clock is
fixed, the outcomes come from a scripted aiosmtpd through a dispatcher with a fixed
clock, and nothing on the Emails tab shows a Message-ID or a port. Update with
`pytest --snapshot-update` and look at the SVG before committing it.
"""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

import pytest

from commstui.app import CommsApp
from commstui.services import customers, mail_settings
from commstui.services.mail_settings import MailServerForm

from emails_helpers import SIZE, dispatch_at, local, open_emails, scheduled, set_office
from smtp_servers import OK, ScriptedHandler, ScriptedServer
from tui_helpers import screen_text, until


@pytest.fixture
def three_emails(ctx, admin, operator, settings):
    set_office(ctx, admin)
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    handler = ScriptedHandler(data_replies=[OK, "554 5.7.1 Message rejected as spam"])
    with ScriptedServer(handler) as srv:
        mail_settings.save_server(ctx, admin, MailServerForm(
            host="127.0.0.1", port=srv.port, security="none", from_addr="office@commstui.example",
            concurrency=1))
        scheduled(ctx, operator, olivia, "Meter reading next week")             # 15:20, later today
        scheduled(ctx, operator, olivia, "Water shut-off Tuesday", at=time(9, 0), now=local(8))
        scheduled(ctx, operator, olivia, "Special offer!!!", at=time(9, 5), now=local(8))
        for at in (local(9, 0), local(9, 5)):
            assert asyncio.run(dispatch_at(ctx, settings, at + timedelta(seconds=10))) == 1
    return olivia


def test_emails_tab(snap_compare, ctx, operator, three_emails):
    async def opened(pilot):
        app = pilot.app
        screen = await open_emails(pilot, three_emails.id)
        await until(pilot, lambda: "554 5.7.1" in screen_text(app), "the failure, explained")
        await until(pilot, lambda: "queued" in screen_text(app).splitlines()[0], "the dispatcher figures")
        assert screen.poll_seconds is not None

    app = CommsApp(ctx, operator, run_dispatcher=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened)
