"""Office settings at 80x24 (administrators): a zone that does not exist is refused at the
field, a saved zone and policy are read back from the database, the service's own refusals
are pointed at their field, and the dispatchers seen lately are listed. The letterhead
(what every bulk letter prints at its top) is edited here too and read back through
services.bulk; a letterhead left alone is not written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.widgets import Input, Label, RadioButton, Static

import commstui.app as app_module
from commstui.app import CommsApp
from commstui.domain import MissedPolicy, OfficeSettings
from commstui.screens.office_settings import OfficeRefused, OfficeSettingsScreen, known_zone
from commstui.services import bulk, schedule
from commstui.services.bulk import LetterheadForm
from commstui.services.errors import PermissionDenied, ValidationError
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
    await pilot.pause()  # focus and layout settle after what loading showed (a busy machine may lag)
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


async def type_into(pilot, widget: Input, text: str) -> None:
    widget.value = ""
    widget.focus()
    await pilot.pause()
    if text:
        await pilot.press(*text)


async def test_the_letterhead_is_edited_saved_and_read_back(ctx, admin):
    before = bulk.get_letterhead(ctx, admin)
    office_before = schedule.get_office_settings(ctx, admin)
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        # what is saved is on screen, and the section says what it is for
        assert screen.query_one("#lh-name", Input).value == before.name
        assert screen.query_one("#lh-address1", Input).value == before.address_lines[0]
        assert "top of every bulk letter" in str(screen.query_one("#letterhead-note", Label).content)
        await type_into(pilot, screen.query_one("#lh-name", Input), "Harbour Towers Management")
        await type_into(pilot, screen.query_one("#lh-address1", Input), "Suite 4, 1 Quay St")
        await type_into(pilot, screen.query_one("#lh-address2", Input), "")  # a gap is closed up
        await type_into(pilot, screen.query_one("#lh-address3", Input), "Sydney NSW 2000")
        await type_into(pilot, screen.query_one("#lh-address4", Input), "Australia")
        await type_into(pilot, screen.query_one("#lh-phone", Input), "(02) 9000 1234")
        await type_into(pilot, screen.query_one("#lh-email", Input), "letters@harbour.example")
        assert screen.query_one("#lh-email", Input).region.bottom <= SIZE[1]  # scrolled into view
        await pilot.press("ctrl+s")
        result = screen.query_one("#office-result", Static)
        await until(pilot, lambda: "Saved" in static_text(result), "the save")
        assert "letterhead" in static_text(result)
    expected = LetterheadForm("Harbour Towers Management", ["Suite 4, 1 Quay St", "Sydney NSW 2000", "Australia"],
                              "(02) 9000 1234", "letters@harbour.example")
    assert bulk.get_letterhead(ctx, admin) == expected
    assert schedule.get_office_settings(ctx, admin) == office_before  # the rest as it was
    # and a new screen shows what was saved
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert [screen.query_one(f"#lh-address{n}", Input).value for n in range(1, 5)] == [
            "Suite 4, 1 Quay St", "Sydney NSW 2000", "Australia", ""]
        assert screen.query_one("#lh-phone", Input).value == "(02) 9000 1234"


async def test_a_letterhead_left_alone_keeps_its_defaults(ctx, admin):
    # no email of its own: letters show the mail server's From; saving the zone must not pin it
    head = bulk.get_letterhead(ctx, admin)
    bulk.save_letterhead(ctx, admin, LetterheadForm(head.name, head.address_lines, head.phone, ""))
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        shown_email = screen.query_one("#lh-email", Input).value
        screen.query_one("#timezone", Input).value = "Europe/Paris"
        await pilot.press("ctrl+s")
        result = screen.query_one("#office-result", Static)
        await until(pilot, lambda: "Saved" in static_text(result), "the save")
        assert "letterhead" not in static_text(result)
    assert schedule.get_office_settings(ctx, admin).timezone == "Europe/Paris"
    stored = ctx.db.run(office_store.get_all)
    assert "letterhead_email" not in stored
    assert bulk.get_letterhead(ctx, admin).email == shown_email


async def test_a_two_line_letterhead_name_is_refused_at_its_field(ctx, admin):
    before = bulk.get_letterhead(ctx, admin)
    office_before = schedule.get_office_settings(ctx, admin)
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        screen.query_one("#timezone", Input).value = "Europe/Paris"
        # typing or pasting keeps an Input to one line; the service refuses whatever else arrives
        name = screen.query_one("#lh-name", Input)
        name.value = "Harbour Towers\nManagement"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: shown_error(screen, "lh-name"), "the error at the letterhead's name")
        assert "name must be plain text on one line" in shown_error(screen, "lh-name")
        assert app.focused is name and "-invalid" in name.classes
        assert "-invalid" in screen.query_one("#lh-name-label", Label).classes
        assert not static_text(screen.query_one("#office-result", Static)).startswith("Saved")
        await type_into(pilot, name, "Harbour Towers")  # typing again clears the message
        await until(pilot, lambda: not shown_error(screen, "lh-name"), "the error cleared")
        # too many address lines (only the CLI or a script could send five) point at Address
        with pytest.raises(ValidationError) as refused:
            bulk.save_letterhead(ctx, admin, LetterheadForm("Harbour", ["1", "2", "3", "4", "5"]))
        screen.post_message(OfficeRefused(refused.value))
        await until(pilot, lambda: shown_error(screen, "lh-address1"), "the error at the address")
        assert "at most four address lines" in shown_error(screen, "lh-address1")
    # nothing was saved: neither the letterhead nor the zone typed with it
    assert bulk.get_letterhead(ctx, admin) == before
    assert schedule.get_office_settings(ctx, admin) == office_before


async def test_an_operator_may_not_change_the_letterhead(ctx, operator, admin):
    before = bulk.get_letterhead(ctx, admin)
    app = CommsApp(ctx, operator, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.query("StatusLine"), "the first screen")
        app.push_screen(OfficeSettingsScreen())  # the palette does not offer it; pushed to try
        await until(pilot, lambda: isinstance(app.screen, OfficeSettingsScreen), "the screen")
        screen = app.screen
        await until(pilot, lambda: screen.loaded, "the settings")
        assert all(widget.disabled for widget in screen.query(".letterhead-input"))
        assert screen.letterhead is None  # the service would not show it to an operator
        refused = screen.query_one("#letterhead-refused", Static)
        assert refused.display and "operator is not allowed" in static_text(refused)
        assert not screen.query_one("#letterhead-fields").display
        await pilot.press("ctrl+s")  # nothing happens
        await pilot.pause()
        assert not screen.query_one("#office-result", Static).display
        # and if the screen were to try, the service is the gate
        screen._save(schedule.get_office_settings(ctx, operator), LetterheadForm("Not Ours", ["1 Side St"]))
        result = screen.query_one("#office-result", Static)
        await until(pilot, lambda: "Not saved" in static_text(result), "the refusal")
    with pytest.raises(PermissionDenied):
        bulk.save_letterhead(ctx, operator, LetterheadForm("Not Ours"))
    assert bulk.get_letterhead(ctx, admin) == before


def test_zone_names_are_matched_without_regard_to_case():
    assert known_zone("australia/sydney") == "Australia/Sydney"
    assert known_zone(" UTC ") == "UTC"
    assert known_zone("Mars/Olympus_Mons") is None
