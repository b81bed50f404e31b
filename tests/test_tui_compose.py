"""Compose, driven like an operator at 80x24: keyboard only, real DuckDB, real SMTP capture server."""

from __future__ import annotations


import pytest
from textual.app import App
from textual.widgets import Button, Input, Static, TextArea

from commstui.app import CommsApp
from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.screens.compose import ComposeScreen, ConfirmDiscard
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.mail_settings import MailSettingsScreen
from commstui.services import customers, email

from conftest import PASSWORDS
from tui_helpers import notifications, static_text, until

SIZE = (80, 24)
MALLORY = "A1000003"  # named "[bold]Mallory[/bold] Tables" on purpose


class Host(App):
    """The least an app must offer ComposeScreen: ctx, user, dispatcher, the settings action."""
    show_error = CommsApp.show_error  # the one place errors are reported


    def __init__(self, ctx, user, customer) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher, self.demo_outbox = ctx, user, None, None
        self.customer = customer
        self.results: list = []
        self.settings_opened = 0

    def on_mount(self) -> None:
        self.push_screen(ComposeScreen(self.customer), self.results.append)

    def action_open_mail_settings(self) -> None:
        self.settings_opened += 1
        self.push_screen(MailSettingsScreen())


async def opened(pilot) -> ComposeScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, ComposeScreen), what="compose")
    screen = pilot.app.screen
    await until(pilot, lambda: screen.server_ready is not None, what="the mail server check")
    return screen


def queued_for(ctx, user, account_no: str):
    return email.log(ctx, user, account_no)


async def type_into(pilot, widget_id: str, text: str) -> None:
    """Focus a field and replace what is there; the last key is really typed (fewer key
    presses keep the suite fast; the field still sees typing and the focus moves)."""
    widget = pilot.app.screen.query_one(f"#{widget_id}")
    widget.focus()
    if isinstance(widget, Input):
        widget.value = text[:-1]
        widget.cursor_position = len(widget.value)
    else:
        widget.text = text[:-1]
        widget.move_cursor(widget.document.end)
    await pilot.press(text[-1])


@pytest.fixture
def mallory(ctx, admin):
    return customers.get_by_account(ctx, admin, MALLORY)


async def test_to_is_prefilled_and_the_name_shows_literally(ctx, operator, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert screen.query_one("#to", Input).value == "mallory@example.com"
        assert screen.heading == "Email [bold]Mallory[/bold] Tables (A1000003)"
        # To is filled in, so the operator starts on the Subject
        assert app.focused is screen.query_one("#subject", Input)
        assert not screen.query_one("#server-notice").display
        assert not screen.query_one("#send", Button).disabled


@pytest.mark.parametrize("bad, named", [("bob@", "'bob@'"), ("not an address", "'not'")])
async def test_a_bad_address_is_named_and_nothing_is_queued(ctx, operator, mail_server, mallory, bad, named):
    before = len(queued_for(ctx, operator, MALLORY))
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await type_into(pilot, "to", f"mallory@example.com, {bad}")
        await type_into(pilot, "subject", "Hello")
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = screen.query_one("#to-error", Static)
        assert error.display and named in static_text(error)
        assert screen.query_one("#to", Input).has_class("-invalid")
        assert app.focused is screen.query_one("#to", Input)  # pointed at, for fixing
        assert any(named in n for n in notifications(app))
        assert app.screen is screen and app.results == []
    assert len(queued_for(ctx, operator, MALLORY)) == before


async def test_a_bad_cc_is_pointed_at_on_leaving_the_field(ctx, operator, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await type_into(pilot, "cc", "bob@")
        assert not screen.query_one("#cc-error").display  # not while typing
        await pilot.press("tab")
        error = screen.query_one("#cc-error", Static)
        assert error.display and "Cc: 'bob@'" in static_text(error)
        # fixing it clears the error as soon as it is right
        screen.query_one("#cc", Input).focus()
        await pilot.press("e", "x", "a", "m", "p", "l", "e", ".", "o", "r", "g")
        assert not screen.query_one("#cc-error").display


async def test_empty_subject_warns_but_still_sends(ctx, operator, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        warnings = screen.query_one("#warnings", Static)
        assert warnings.display and "will go out with no subject" in static_text(warnings)
        await type_into(pilot, "body", "Your parcel is at the front desk.")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.results, what="the dialog to close")
    [message] = app.results
    assert message.subject == "" and message.status == "queued"
    assert message.to_addrs == ("mallory@example.com",)
    assert queued_for(ctx, operator, MALLORY)[0].message_id == message.message_id


async def test_several_to_cc_and_bcc_reach_the_server_bcc_only_in_the_envelope(
        ctx, operator, capture, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await type_into(pilot, "to", "mallory@example.com; second@example.org")
        await type_into(pilot, "cc", "cc@example.org")
        await type_into(pilot, "bcc", "audit@example.org")
        await type_into(pilot, "subject", "Water shut-off")
        await type_into(pilot, "body", "Tuesday 9-11am.")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.results, what="the dialog to close")
    [message] = app.results
    assert message.to_addrs == ("mallory@example.com", "second@example.org")

    assert await Dispatcher(ctx.db, ctx.settings).run_once() == 1
    [got] = read_outbox(capture.outbox)
    assert set(got.rcpt_tos) == {"mallory@example.com", "second@example.org", "cc@example.org",
                                 "audit@example.org"}
    parsed = got.parse()
    assert parsed["To"] == "mallory@example.com, second@example.org"
    assert parsed["Cc"] == "cc@example.org"
    assert "Bcc" not in parsed and "audit@example.org" not in got.path.read_text()
    assert parsed["Subject"] == "Water shut-off"
    assert parsed.get_body(("plain",)).get_content().strip() == "Tuesday 9-11am."


async def test_html_is_detected_and_can_be_overridden(ctx, operator, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await type_into(pilot, "body", "<p>Hello</p>")
        assert screen.query_one("#html").value is True
        screen.query_one("#html").focus()
        await pilot.press("space")  # the operator decides: plain text after all
        await type_into(pilot, "subject", "Markup")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.results, what="the dialog to close")
    assert app.results[0].is_html is False


async def test_a_line_break_in_the_subject_is_refused(ctx, operator, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        screen.query_one("#subject", Input).value = "Hello\r\nBcc: everyone@example.org"  # pasted
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = screen.query_one("#subject-error", Static)
        assert error.display and "single line" in static_text(error)
        assert app.results == []


async def test_no_mail_server_admin_is_offered_the_settings(ctx, admin, mallory):
    app = Host(ctx, admin, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        notice = screen.query_one("#server-notice", Static)
        assert notice.display and "No active mail server" in static_text(notice) and "F2" in static_text(notice)
        assert screen.query_one("#open-settings", Button).display
        assert screen.query_one("#send", Button).disabled
        await pilot.press("ctrl+s")
        assert app.results == [] and app.screen is screen
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, MailSettingsScreen), what="mail settings")
        assert app.settings_opened == 1


async def test_no_mail_server_operator_is_told_to_ask_an_administrator(ctx, operator, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        notice = screen.query_one("#server-notice", Static)
        assert notice.display and "Ask an administrator" in static_text(notice)
        assert not screen.query_one("#open-settings", Button).display
        await pilot.press("f2")
        await pilot.pause()
        assert app.settings_opened == 0 and app.screen is screen


async def test_a_viewer_is_refused_and_keeps_the_draft(ctx, viewer, mail_server, mallory):
    app = Host(ctx, viewer, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await type_into(pilot, "subject", "Hello")
        await pilot.press("ctrl+s")
        refused = screen.query_one("#send-error", Static)
        await until(pilot, lambda: refused.display, what="the refusal")
        assert "viewer is not allowed" in static_text(refused) and "customerEdit" in static_text(refused)
        assert any("Not allowed" in n for n in notifications(app))
        assert app.screen is screen and screen.query_one("#subject", Input).value == "Hello"
        assert not screen.query_one("#send", Button).disabled  # may try again after fixing roles
    assert app.results == []


async def test_escape_asks_before_throwing_away_typed_text(ctx, operator, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await type_into(pilot, "subject", "Draft")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDiscard), what="the question")
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, what="back to the draft")
        assert screen.query_one("#subject", Input).value == "Draft"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDiscard), what="the question")
        await pilot.press("y")
        await until(pilot, lambda: app.results, what="the dialog to close")
    assert app.results == [None]


async def test_escape_on_an_untouched_draft_just_closes(ctx, operator, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: app.results, what="the dialog to close")
    assert app.results == [None]


async def test_tab_order_and_everything_fits_at_80x24(ctx, operator, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        # every field in error at once still leaves the buttons on screen
        for name in ("to", "cc", "bcc"):
            screen.query_one(f"#{name}", Input).value = "bob@"
        screen.query_one("#subject", Input).value = "a\nb"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert all(screen.query_one(f"#{n}-error").display for n in ("to", "cc", "bcc", "subject"))
        for widget_id in ("send", "cancel", "html"):
            region = screen.query_one(f"#{widget_id}").region
            assert region.height and region.bottom <= SIZE[1], widget_id
        screen.query_one("#to", Input).focus()
        order = []
        for _ in range(8):
            order.append(app.focused.id)
            await pilot.press("tab")
        assert order == ["to", "cc", "bcc", "subject", "body", "html", "send", "cancel"]


async def test_log_in_then_send_from_the_customer_details_through_commsapp(
        ctx, operator, mail_server, mallory):
    app = CommsApp(ctx, None, run_dispatcher=False, login_name="operator")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.focused, Input), what="the login form")
        app.focused.value = PASSWORDS["operator"]
        await pilot.press("enter")
        await until(pilot, lambda: app.user is not None, what="the login")
        await app.push_screen(CustomerDetailsScreen(mallory.id))
        details = app.screen
        await until(pilot, lambda: details.customer is not None, what="the customer")
        await pilot.press("e")
        screen = await opened(pilot)
        # the login screen's styles are loaded by now and must not disturb this form
        assert screen.query_one("#to-label").region.y == screen.query_one("#to", Input).region.y
        await pilot.press(*"Lift maintenance")
        await pilot.press("tab", *"The lift is off on Monday.")
        assert isinstance(app.focused, TextArea)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is details, what="back to the details")
        await until(pilot, lambda: any(m.subject == "Lift maintenance" for m in details.messages),
                    what="the Emails tab to show it")
        assert screen.is_attached is False
    [message] = [m for m in queued_for(ctx, operator, MALLORY) if m.subject == "Lift maintenance"]
    assert message.status == "queued" and message.body == "The lift is off on Monday."


async def test_send_wakes_the_dispatcher(ctx, operator, capture, mail_server, mallory):
    app = Host(ctx, operator, mallory)
    app.dispatcher = Dispatcher(ctx.db, ctx.settings)  # not running: we look at its wake-up call
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press(*"Woken", "ctrl+s")
        await until(pilot, lambda: app.results, what="the dialog to close")
        assert app.dispatcher._wake.is_set()
        assert await app.dispatcher.run_once() == 1
    assert read_outbox(capture.outbox)[0].subject == "Woken"


async def test_the_apps_own_dispatcher_delivers_what_compose_queued(
        ctx, operator, capture, mail_server, mallory):
    app = CommsApp(ctx, operator, run_dispatcher=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.dispatcher is not None, what="the dispatcher")
        await app.push_screen(ComposeScreen(mallory))
        await opened(pilot)
        await pilot.press(*"Delivered", "ctrl+s")
        await until(pilot, lambda: read_outbox(capture.outbox), timeout=10, what="delivery")
    assert read_outbox(capture.outbox)[0].subject == "Delivered"
