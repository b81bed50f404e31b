"""Mail server settings at 80x24: administrators only, the password kept out of the database,
and "Send test email" against a real capture server and against a closed port."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from functools import partial

from textual.widgets import Input, Select, Static

from commstui.app import CommsApp
from commstui.delivery.capture import free_port, read_outbox
from commstui.screens.mail_settings import MailSettingsScreen, AskTestAddress
from commstui.services import mail_settings

from settings_helpers import (SIZE, assert_only_in_the_secrets_file, assert_secret_hint, fill, loaded,
                              settings_screen)
from tui_helpers import notifications, static_text, until

PASSWORD = "Zq-unusual-Pa55word-71"

opened = partial(settings_screen, screen_type=MailSettingsScreen)


async def test_admin_saves_and_the_password_stays_out_of_the_database(ctx, admin, db_path):
    async with opened(ctx, admin) as (app, pilot, screen):
        assert_secret_hint(screen, "password")
        fill(screen, host="smtp.example.com", username="office", password=PASSWORD,
             from_addr="office@commstui.example")
        screen.query_one("#security", Select).value = "tls"
        await pilot.pause()
        assert screen.query_one("#port", Input).value == "465"  # the usual port for the choice
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.server is not None, what="the save")
        assert screen.query_one("#password", Input).value == ""  # not kept on screen either
        assert "leave empty to keep it" in screen.query_one("#password", Input).placeholder
    server = mail_settings.get_server(ctx, admin)
    assert (server.host, server.port, server.security, server.username) == (
        "smtp.example.com", 465, "tls", "office")
    assert server.password_ref.startswith("secret:")
    assert_only_in_the_secrets_file(PASSWORD, db_path)


async def test_send_test_email_reports_the_servers_acceptance(ctx, admin, capture, mail_server):
    async with opened(ctx, admin) as (app, pilot, screen):
        assert screen.query_one("#host", Input).value == "127.0.0.1"
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, AskTestAddress), what="the address prompt")
        assert app.screen.query_one("#test-to", Input).value == "admin@commstui.example"
        await pilot.press("enter")
        result = screen.query_one("#test-result", Static)
        await until(pilot, lambda: "accepted by the mail server" in static_text(result), what="the test result")
        assert "250" in static_text(result) or "OK: captured" in static_text(result)
        assert result.has_class("-success")
    [got] = read_outbox(capture.outbox)
    assert got.rcpt_tos == ("admin@commstui.example",)
    assert got.subject == "commstui test email"


async def test_send_test_email_to_a_closed_port_shows_the_error(ctx, admin):
    port = free_port()  # nothing listens here
    async with opened(ctx, admin) as (app, pilot, screen):
        fill(screen, host="127.0.0.1", from_addr="office@commstui.example")
        screen.query_one("#security", Select).value = "none"
        await pilot.pause()
        fill(screen, port=str(port))
        await pilot.press("ctrl+t")  # unsaved: saved first, then tested
        await until(pilot, lambda: isinstance(app.screen, AskTestAddress), what="the address prompt")
        assert "saved first" in static_text(app.screen.query_one("#prompt-note", Static))
        await pilot.press("enter")
        result = screen.query_one("#test-result", Static)
        await until(pilot, lambda: "failed" in static_text(result), what="the test result")
        text = static_text(result)
        assert "Test email to admin@commstui.example failed: SMTPConnectError" in text and str(port) in text
        assert result.has_class("-error")
        assert any("Test email failed" in n for n in notifications(app))
    assert mail_settings.get_server(ctx, admin).port == port


async def test_a_bad_value_is_pointed_at_and_nothing_is_saved(ctx, admin):
    async with opened(ctx, admin) as (app, pilot, screen):
        fill(screen, host="smtp.example.com", from_addr="office@")
        await pilot.press("ctrl+s")
        error = screen.query_one("#from-addr-error", Static)
        await until(pilot, lambda: error.display, what="the error")
        assert "From: 'office@'" in static_text(error)
        assert app.focused is screen.query_one("#from-addr", Input)
    assert mail_settings.get_server(ctx, admin) is None


async def test_pacing_is_saved_and_a_bad_value_is_pointed_at(ctx, admin, monkeypatch, request):
    # a config dir with a short path, as in real use (~/.config/commstui): the secrets file's path is
    # shown under the password, and pytest's own tmp paths (longer under xdist) would wrap it to 3 lines
    short = Path(tempfile.mkdtemp(prefix="cfg"))
    request.addfinalizer(lambda: shutil.rmtree(short, ignore_errors=True))
    monkeypatch.setenv("COMMSTUI_CONFIG_DIR", str(short))
    async with opened(ctx, admin) as (app, pilot, screen):
        # the whole form fits 80x24 without scrolling
        assert screen.query_one("#settings-form").max_scroll_y == 0
        assert (screen.query_one("#concurrency", Input).value, screen.query_one("#rate", Input).value) == (
            "4", "0")
        fill(screen, host="smtp.example.com", from_addr="office@commstui.example", concurrency="40")
        await pilot.press("ctrl+s")
        error = screen.query_one("#concurrency-error", Static)
        await until(pilot, lambda: error.display, what="the error at Connections")
        assert "between 1 and 32" in static_text(error)
        assert app.focused is screen.query_one("#concurrency", Input)
        assert mail_settings.get_server(ctx, admin) is None
        fill(screen, concurrency="8", rate="120")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.server is not None, what="the save")
        assert not error.display
    server = mail_settings.get_server(ctx, admin)
    assert (server.concurrency, server.rate_per_minute) == (8, 120)
    async with opened(ctx, admin) as (app, pilot, screen):
        assert (screen.query_one("#concurrency", Input).value, screen.query_one("#rate", Input).value) == (
            "8", "120")
        assert not screen.is_dirty()


async def test_password_and_variable_together_are_refused(ctx, admin):
    async with opened(ctx, admin) as (app, pilot, screen):
        fill(screen, host="smtp.example.com", from_addr="office@commstui.example", username="office",
             password=PASSWORD, password_env="SMTP_PASSWORD")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "not both" in static_text(screen.query_one("#password-env-error", Static))
    assert mail_settings.get_server(ctx, admin) is None


async def test_an_unverified_certificate_is_warned_about(ctx, admin):
    async with opened(ctx, admin) as (app, pilot, screen):
        warning = screen.query_one("#security-warning", Static)
        assert not warning.display
        screen.query_one("#verify-tls").focus()
        await pilot.press("space")
        assert warning.display and "not checked" in static_text(warning)


async def test_an_operator_may_not_change_mail_settings(ctx, operator, mail_server):
    async with opened(ctx, operator) as (app, pilot, screen):
        access = screen.query_one("#settings-access", Static)
        assert access.display and "for administrators" in static_text(access)
        assert screen.query_one("#host", Input).disabled and screen.query_one("#host", Input).value == ""
        await pilot.press("ctrl+s", "ctrl+t")
        await pilot.pause()
        assert app.screen is screen


async def test_commsapp_opens_mail_settings_and_escape_goes_back(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        home = app.screen
        app.action_open_mail_settings()
        screen = await loaded(pilot, MailSettingsScreen)
        fill(screen, host="127.0.0.1", from_addr="office@commstui.example")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.server is not None, what="the save")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is home, what="back home")
