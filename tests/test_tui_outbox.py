"""The demo outbox at 80x24: what the capture servers received (emails, SMS, RoboCalls),
newest first, one of them in full."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import DataTable, Static

from commstui.app import CommsApp
from commstui.delivery.dispatcher import Dispatcher
from commstui.delivery.sms_capture import DEMO_ACCOUNT_SID, SmsCaptureServer
from commstui.delivery.texts import TextSender
from commstui.screens.demo_outbox import CapturedMessageScreen, CapturedTextScreen, DemoOutboxScreen
from commstui.services import customers, email, sms_settings
from commstui.store import messages as messages_store

from tui_helpers import static_text, until

SIZE = (80, 24)


class Host(App):
    show_error = CommsApp.show_error  # the one place errors are reported

    def __init__(self, ctx, user, outbox: Path) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher, self.demo_outbox = ctx, user, None, outbox

    def on_mount(self) -> None:
        self.push_screen(DemoOutboxScreen(self.demo_outbox))


async def send(ctx, user, subject: str, body: str, **addresses) -> None:
    """Queue through the service and deliver with a real dispatcher to the capture server."""
    olivia = customers.get_by_account(ctx, user, "A1000001")
    email.send_email(ctx, user, olivia.id, email.EmailDraft(
        to=addresses.get("to", olivia.email), cc=addresses.get("cc", ""), bcc=addresses.get("bcc", ""),
        subject=subject, body=body))
    assert await Dispatcher(ctx.db, ctx.settings).run_once() == 1


def cells(table: DataTable, row: int) -> list[str]:
    return [str(getattr(c, "plain", c)) for c in table.get_row_at(row)]


async def test_outbox_lists_newest_first_and_shows_one_in_full(ctx, admin, capture, mail_server):
    await send(ctx, admin, "First notice", "Hello.")
    await send(ctx, admin, "Second [bold]notice[/bold]", "Line one [red]literal[/red]\nLine two",
               cc="cc@example.org", bcc="audit@example.org")
    app = Host(ctx, admin, capture.outbox)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        table = screen.query_one("#outbox-table", DataTable)
        await until(pilot, lambda: table.row_count == 2, what="two rows")
        newest = cells(table, 0)
        assert newest[1] == "Email"
        assert newest[2] == "olivia.bennett@example.com"
        assert newest[3] == "Second [bold]notice[/bold]"  # markup shown as typed
        assert cells(table, 1)[3] == "First notice"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CapturedMessageScreen), what="the message")
        message = app.screen
        headers = message.query_one("#message-headers", Static)
        await until(pilot, lambda: "Message-ID" in static_text(headers), what="the headers")
        text = static_text(headers)
        for expected in ("Date", "From", "office@commstui.example", "Cc", "cc@example.org",
                         "Second [bold]notice[/bold]", "audit@example.org"):
            assert expected in text
        assert "Bcc" not in text  # only the envelope shows the Bcc recipient
        body = static_text(message.query_one("#message-body", Static))
        assert body.strip().splitlines() == ["Line one [red]literal[/red]", "Line two"]
        assert "text/plain" in static_text(message.query_one("#message-parts", Static))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="back to the list")


async def test_outbox_picks_up_new_mail_by_itself(ctx, admin, capture, mail_server):
    app = Host(ctx, admin, capture.outbox)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        table = screen.query_one("#outbox-table", DataTable)
        empty = screen.query_one("#outbox-empty", Static)
        await until(pilot, lambda: "Nothing received yet" in static_text(empty), what="the empty notice")
        await send(ctx, admin, "Arrives while watching", "Hi")
        await until(pilot, lambda: table.row_count == 1, timeout=6, what="the refresh")
        assert cells(table, 0)[3] == "Arrives while watching"
        assert "1 message received" in static_text(empty)


async def test_commsapp_opens_the_outbox_in_demo_mode(ctx, admin, capture, mail_server):
    await send(ctx, admin, "Through the app", "Hi")
    app = CommsApp(ctx, admin, demo_outbox=capture.outbox, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_open_outbox()
        await until(pilot, lambda: isinstance(app.screen, DemoOutboxScreen) and app.screen.read_once,
                    what="the outbox")
        table = app.screen.query_one("#outbox-table", DataTable)
        await until(pilot, lambda: table.row_count == 1, what="the row")
        assert cells(table, 0)[3] == "Through the app"


def queue_text(ctx, account_no: str, channel: str, to: str, body: str) -> None:
    def insert(con):
        customer_id = con.execute("select id from customers where account_no = ?", [account_no]).fetchone()[0]
        messages_store.insert(con, message_id=f"<{channel}-{account_no}@test>", customer_id=customer_id,
                              to_addrs=[to], subject="", body=body, created_by="admin", channel=channel)

    ctx.db.run(insert)


async def test_texts_and_calls_are_listed_beside_emails_and_shown_in_full(ctx, admin, capture, mail_server):
    with SmsCaptureServer(capture.outbox) as sms:
        # configured as `commstui demo` does: the capture server is the active provider
        sms_settings.save_provider(ctx, admin, sms_settings.SmsProviderForm(
            account_sid=DEMO_ACCOUNT_SID, from_number="+61400000000", token=sms.token, base_url=sms.base_url))
        await send(ctx, admin, "Lift notice", "Hi")
        queue_text(ctx, "A1000001", "sms", "+61412345001", "Lift off [b]Monday[/b].\nSorry!")
        assert (await TextSender(ctx.db, ctx.settings, timeout=5).run_once()).sent == 1
        queue_text(ctx, "A1000006", "robocall", "+61412345006", "The fire alarm test is at noon.")
        assert (await TextSender(ctx.db, ctx.settings, timeout=5).run_once()).sent == 1

    app = Host(ctx, admin, capture.outbox)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        table = screen.query_one("#outbox-table", DataTable)
        await until(pilot, lambda: table.row_count == 3, what="three rows")
        assert [cells(table, row)[1:] for row in range(3)] == [
            ["RoboCall", "+61412345006", "The fire alarm test is at noon."],
            ["SMS", "+61412345001", "Lift off [b]Monday[/b]. Sorry!"],   # one line, markup as typed
            ["Email", "olivia.bennett@example.com", "Lift notice"]]
        empty = screen.query_one("#outbox-empty", Static)
        assert "3 messages received: 1 email, 2 texts and calls." in static_text(empty)

        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, CapturedTextScreen), what="the SMS")
        headers = static_text(app.screen.query_one("#message-headers", Static))
        for expected in ("Channel", "SMS", "Provider id", "SM", "+61400000000", "+61412345001", "Received"):
            assert expected in headers
        body = static_text(app.screen.query_one("#message-body", Static))
        assert body.strip().splitlines() == ["Lift off [b]Monday[/b].", "Sorry!"]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, what="back to the list")

        await pilot.press("up", "enter")
        await until(pilot, lambda: isinstance(app.screen, CapturedTextScreen), what="the call")
        assert "RoboCall" in static_text(app.screen.query_one("#message-headers", Static))
        assert static_text(app.screen.query_one("#message-body", Static)).strip() == "The fire alarm test is at noon."
        assert "<Say>" in static_text(app.screen.query_one("#message-twiml", Static))
