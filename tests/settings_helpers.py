"""Helpers shared by the mail and SMS settings tests: a bare app that opens one settings
screen for a user, filling in and waiting for that screen, and where a credential may be."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Static

from commstui import secrets
from commstui.app import CommsApp
from commstui.screens.provider_settings import ProviderSettingsScreen

from tui_helpers import static_text, until

SIZE = (80, 24)  # the terminal the settings must fit without scrolling


class SettingsHost(App):
    """Opens one settings screen for ctx and user, with no dispatcher and no demo outbox."""

    show_error = CommsApp.show_error  # the one place errors are reported

    def __init__(self, ctx, user, screen_type: type[ProviderSettingsScreen]) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher, self.demo_outbox = ctx, user, None, None
        self.screen_type = screen_type

    def on_mount(self) -> None:
        self.push_screen(self.screen_type())


@asynccontextmanager
async def settings_screen(ctx, user, screen_type: type[ProviderSettingsScreen]
                          ) -> AsyncIterator[tuple[App, Pilot, ProviderSettingsScreen]]:
    """The app, its pilot and the settings screen, once the saved settings are shown."""
    app = SettingsHost(ctx, user, screen_type)
    async with app.run_test(size=SIZE) as pilot:
        yield app, pilot, await loaded(pilot, screen_type)


def fill(screen: ProviderSettingsScreen, **values: str) -> None:
    """Type into fields by widget id, with _ for - (from_addr= fills #from-addr)."""
    for widget_id, value in values.items():
        screen.query_one(f"#{widget_id.replace('_', '-')}", Input).value = value


async def loaded(pilot, screen_type: type[ProviderSettingsScreen]) -> ProviderSettingsScreen:
    """The settings screen once it shows the saved settings (or has refused access)."""
    await until(pilot, lambda: isinstance(pilot.app.screen, screen_type), what=screen_type.__name__)
    screen = pilot.app.screen
    await until(pilot, lambda: screen.loaded, what="the settings to load")
    await pilot.pause()  # the layout of what loading showed or hid (a busy machine may not be there yet)
    return screen


def assert_secret_hint(screen: ProviderSettingsScreen, secret_id: str) -> None:
    """Under the credential's field: the secrets file it goes to, and not the database."""
    hint = static_text(screen.query_one(f"#{secret_id}-hint", Static))
    assert str(secrets.secrets_file()) in hint and "not in the database" in hint, hint


def assert_only_in_the_secrets_file(secret: str, db_path: Path) -> None:
    """The credential is in neither the database file nor its WAL, and is in the 0600 secrets file."""
    for path in [db_path, *db_path.parent.glob(db_path.name + ".wal")]:
        assert secret.encode() not in path.read_bytes(), f"the credential is in {path}"
    kept = secrets.secrets_file()
    assert secret in kept.read_text(), f"the credential is not in {kept}"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600, f"{kept} is not mode 0600"
