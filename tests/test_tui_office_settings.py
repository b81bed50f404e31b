"""Office settings at 80x24 (administrators): a zone that does not exist is refused at the
field, a saved zone and policy are read back from the database, the service's own refusals
are pointed at their field, and the dispatchers seen lately are listed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.widgets import Input, Label, RadioButton, Static

import commstui.app as app_module
from commstui.app import CommsApp
from commstui.domain import MissedPolicy, OfficeSettings
from commstui.screens.office_settings import OfficeRefused, OfficeSettingsScreen, known_zone
from commstui.services import schedule
from commstui.services.errors import ValidationError
from commstui.store import office as office_store

from tui_helpers import notifications, static_text, until

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _no_periodic_refresh(monkeypatch):
    monkeypatch.setattr(app_module, "STATUS_EVERY", 600.0)


async def opened(pilot) -> OfficeSettingsScreen:
    app = pilot.app
    await until(pilot, lambda: app.screen.query("StatusLine"), "the first screen")
    app.action_open_office_settings()
    await until(pilot, lambda: isinstance(app.screen, OfficeSettingsScreen), "office settings")
    screen = app.screen
    await until(pilot, lambda: screen.loaded, "the settings to load")
    return screen


def shown_error(screen, widget_id: str) -> str:
    error = screen.query_one(f"#{widget_id}-error", Static)
    return static_text(error) if error.display else ""


async def test_a_zone_that_does_not_exist_is_refused_at_the_field(ctx, admin):
    before = schedule.get_office_settings(ctx, admin)
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        zone = screen.query_one("#timezone", Input)
        assert zone.value == before.timezone and zone.has_focus
        zone.value = ""
        await pilot.press(*"Mars/Olympus_Mons")
        assert "-invalid" in zone.classes  # marked while typing
        assert str(screen.query_one("#zone-clock", Label).content) == ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: shown_error(screen, "timezone"), "the error at the field")
        assert "'Mars/Olympus_Mons' is not a time zone" in shown_error(screen, "timezone")
        assert app.focused is zone
        await pilot.press("backspace")  # typing again clears the message
        await until(pilot, lambda: not shown_error(screen, "timezone"), "the error cleared")
    assert schedule.get_office_settings(ctx, admin) == before


async def test_a_saved_zone_and_policy_are_read_back(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        zone = screen.query_one("#timezone", Input)
        zone.value = ""
        await pilot.press(*"europe/lond")
        await pilot.press("right")  # accept the suggestion
        assert zone.value == "Europe/London"
        assert "now " in str(screen.query_one("#zone-clock", Label).content)  # the time there
        screen.query_one("#policy-skip", RadioButton).value = True
        await pilot.pause()
        screen.query_one("#grace", Input).value = "30"
        screen.query_one("#lifetime", Input).value = "24"
        await pilot.press("ctrl+s")
        result = screen.query_one("#office-result", Static)
        await until(pilot, lambda: "Saved" in static_text(result), "the save")
        assert any("Office settings saved" in n for n in notifications(app))
    assert schedule.get_office_settings(ctx, admin) == OfficeSettings(
        timezone="Europe/London", missed_policy=MissedPolicy.SKIP, grace_minutes=30, lifetime_hours=24)
    # and a new screen shows what was saved
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert screen.query_one("#timezone", Input).value == "Europe/London"
        assert screen.query_one("#policy-skip", RadioButton).value
        assert screen.policy() is MissedPolicy.SKIP


async def test_a_bad_number_and_the_services_refusal_are_shown_at_their_field(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        screen.query_one("#lifetime", Input).value = "0"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: shown_error(screen, "lifetime"), "the error at Retry for")
        assert "Retry for: hours" in shown_error(screen, "lifetime")
        # what the service refuses is pointed at the same way (its ValidationError.field)
        with pytest.raises(ValidationError) as refused:
            schedule.save_office_settings(ctx, admin, OfficeSettings(timezone="Europe/London",
                                                                     grace_minutes=-5))
        screen.post_message(OfficeRefused(refused.value))
        field = refused.value.field
        widget = {"grace_minutes": "grace", "timezone": "timezone", "lifetime_hours": "lifetime"}[field]
        await until(pilot, lambda: shown_error(screen, widget), "the service's error at its field")
        assert shown_error(screen, "lifetime") == ""


async def test_dispatchers_seen_lately_are_listed(ctx, admin):
    now = datetime.now(UTC)
    ctx.db.run(lambda con: office_store.heartbeat(con, "night-box:4242", "service", now, now))
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        listing = screen.query_one("#dispatchers", Static)
        await until(pilot, lambda: "night-box:4242" in static_text(listing), "the dispatcher")
        assert "service" in static_text(listing)


async def test_an_operator_may_look_but_not_change(ctx, operator):
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query("StatusLine"), "the first screen")
        app.action_open_office_settings()  # not offered in the palette; refused here too
        await pilot.pause()
        assert not isinstance(app.screen, OfficeSettingsScreen)
        assert any("for administrators" in n for n in notifications(app))
        app.push_screen(OfficeSettingsScreen())
        await until(pilot, lambda: isinstance(app.screen, OfficeSettingsScreen), "the screen")
        screen = app.screen
        await until(pilot, lambda: screen.loaded, "the settings")
        assert screen.query_one("#timezone", Input).disabled
        assert "for administrators" in static_text(screen.query_one("#office-access", Static))


def test_zone_names_are_matched_without_regard_to_case():
    assert known_zone("australia/sydney") == "Australia/Sydney"
    assert known_zone(" UTC ") == "UTC"
    assert known_zone("Mars/Olympus_Mons") is None
