"""SMS and RoboCall settings at 80x24: administrators only, the token kept out of the database,
bad values pointed at, and "Send test SMS" against the scripted provider on 127.0.0.1."""

from __future__ import annotations

from functools import partial

from textual.widgets import Checkbox, Input, Static

from commstui.screens.sms_settings import SmsSettingsScreen
from commstui.services import sms_settings
from commstui.services.sms_settings import SmsProviderForm

from settings_helpers import assert_only_in_the_secrets_file, assert_secret_hint, fill, settings_screen
from sms_server import SmsServer, error
from tui_helpers import notifications, screen_text, static_text, until

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "tok-Unusual-7781-zq"

opened = partial(settings_screen, screen_type=SmsSettingsScreen)


async def test_admin_saves_and_the_token_stays_out_of_the_database(ctx, admin, db_path):
    async with opened(ctx, admin) as (app, pilot, screen):
        # the whole form fits 80x24 without scrolling
        assert screen.query_one("#settings-form").max_scroll_y == 0
        assert "SMS and RoboCall settings" in screen_text(app)
        assert_secret_hint(screen, "token")
        assert screen.query_one("#base-url", Input).value == "https://api.twilio.com"
        assert screen.query_one("#region", Input).value == "AU"
        fill(screen, account_sid=SID, token=TOKEN, from_number="0412 000 111")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.provider is not None, what="the save")
        assert screen.query_one("#token", Input).value == ""  # not kept on screen either
        assert "leave empty to keep it" in screen.query_one("#token", Input).placeholder
        assert screen.query_one("#from-number", Input).value == "+61412000111"  # shown as saved: E.164
        assert "+61412000111, active" in static_text(screen.query_one("#test-result", Static))
        assert not screen.is_dirty()
    provider = sms_settings.get_provider(ctx, admin)
    assert (provider.account_sid, provider.from_number, provider.token_ref, provider.active) == (
        SID, "+61412000111", "secret:sms_provider/default", True)
    assert_only_in_the_secrets_file(TOKEN, db_path)


async def test_a_bad_value_is_pointed_at_and_nothing_is_saved(ctx, admin):
    async with opened(ctx, admin) as (app, pilot, screen):
        fill(screen, account_sid=SID, token=TOKEN, from_number="02 98")
        await pilot.press("ctrl+s")
        shown = screen.query_one("#from-number-error", Static)
        await until(pilot, lambda: shown.display, what="the error at From number")
        assert "'02 98' is invalid for region AU" in static_text(shown)
        assert app.focused is screen.query_one("#from-number", Input)
        assert screen.query_one("#from-number", Input).has_class("-invalid")
        # the form still fits with the error shown, and the error goes once fixed
        fill(screen, from_number="+61412000111", base_url="http://sms.example.com")
        await pilot.press("ctrl+s")
        url_error = screen.query_one("#base-url-error", Static)
        await until(pilot, lambda: url_error.display, what="the error at Base URL")
        assert "use https" in static_text(url_error) and not shown.display
        fill(screen, token_env="TWILIO_AUTH_TOKEN")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "not both" in static_text(screen.query_one("#token-env-error", Static))
    assert sms_settings.get_provider(ctx, admin) is None


async def test_send_test_sms_reports_the_providers_answer(ctx, admin, monkeypatch):
    monkeypatch.setenv("TWILIO_TEST_TOKEN", TOKEN)
    with SmsServer(account=SID, token=TOKEN) as server:
        sms_settings.save_provider(ctx, admin, SmsProviderForm(
            account_sid=SID, from_number="+61412000111", token_env="TWILIO_TEST_TOKEN", base_url=server.base_url))
        server.answer_to("+61412345679", error(400, 21610, "Attempt to send to unsubscribed recipient"))
        async with opened(ctx, admin) as (app, pilot, screen):
            assert screen.query_one("#token-env", Input).value == "TWILIO_TEST_TOKEN"
            assert screen.query_one("#base-url", Input).value == server.base_url
            await pilot.press("ctrl+t")  # no number yet: pointed at
            assert "enter the mobile number" in static_text(screen.query_one("#test-to-error", Static))
            assert app.focused is screen.query_one("#test-to", Input)
            await pilot.press(*"0412 345 678", "enter")
            result = screen.query_one("#test-result", Static)
            await until(pilot, lambda: "accepted by the provider" in static_text(result), what="the test result")
            assert result.has_class("-success")
            assert screen.last_result.sid in static_text(result)
            assert server.requests[-1].form["To"] == "+61412345678"

            fill(screen, test_to="0412 345 679")
            await pilot.press("ctrl+t")
            await until(pilot, lambda: "failed" in static_text(result), what="the refusal")
            assert static_text(result).strip() == ("✗ Test SMS to 0412 345 679 failed: HTTP 400, error 21610: "
                                           "Attempt to send to unsubscribed recipient")
            assert result.has_class("-error")
            assert any("Test SMS failed" in n for n in notifications(app))

            fill(screen, test_to="02 9876 5432")  # a landline: refused before any request
            await pilot.press("ctrl+t")
            await until(pilot, lambda: "not a mobile number" in static_text(result), what="the landline refusal")
            assert "not a mobile number" in static_text(screen.query_one("#test-to-error", Static))
        assert len(server.requests) == 2


async def test_unsaved_changes_are_saved_before_the_test(ctx, admin, monkeypatch):
    monkeypatch.setenv("TWILIO_TEST_TOKEN", TOKEN)
    with SmsServer(account=SID, token=TOKEN) as server:
        async with opened(ctx, admin) as (app, pilot, screen):
            fill(screen, account_sid=SID, token_env="TWILIO_TEST_TOKEN", from_number="+61412000111",
                 base_url=server.base_url, test_to="+61412345678")
            screen.query_one("#verify-tls", Checkbox).focus()
            await pilot.press("space")
            warning = screen.query_one("#security-warning", Static)
            assert warning.display and "not checked" in static_text(warning)
            await pilot.press("ctrl+t")
            result = screen.query_one("#test-result", Static)
            await until(pilot, lambda: "accepted by the provider" in static_text(result), what="the test result")
        [request] = server.requests
        assert (request.login, request.password) == (SID, TOKEN)
    saved = sms_settings.get_provider(ctx, admin)
    assert saved.base_url == server.base_url and saved.verify_tls is False


async def test_an_operator_may_not_change_sms_settings(ctx, operator):
    async with opened(ctx, operator) as (app, pilot, screen):
        access = screen.query_one("#settings-access", Static)
        assert access.display and "for administrators" in static_text(access)
        assert screen.query_one("#account-sid", Input).disabled
        await pilot.press("ctrl+s", "ctrl+t")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SmsSettingsScreen), what="back")
