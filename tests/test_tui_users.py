"""The Users screen driven like an administrator: add a user, change roles, see the audit
log say so; validation at the field; deactivate with a confirmation; reset a password."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, SelectionList, Static

from commstui.app import CommsApp
from commstui.domain import LOCAL_ADMIN
from commstui.screens.audit_log import AuditLogScreen, AuditTable
from commstui.screens.confirm import ConfirmScreen
from commstui.screens.group_roles import GroupRoleEditorScreen, GroupRolesScreen
from commstui.screens.user_editor import PasswordResetScreen, PasswordShownScreen, UserEditorScreen
from commstui.screens.users import UsersScreen
from commstui.services import audit, auth, users
from commstui.services.errors import LoginFailed

from tui_helpers import screen_text, static_text, until

SIZE = (80, 24)


async def users_screen(pilot) -> UsersScreen:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    app.push_screen(UsersScreen())
    await until(pilot, lambda: isinstance(app.screen, UsersScreen) and app.screen.loaded, "the users")
    return app.screen


async def highlight(pilot, screen: UsersScreen, username: str) -> None:
    table = screen.query_one("#users-table", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(username))
    await pilot.pause()


async def editor(pilot) -> UserEditorScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, UserEditorScreen) and pilot.app.screen.ready,
                "the editor")
    return pilot.app.screen


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector, Input).focus()
    await pilot.press(*text) if text else await pilot.pause()


async def test_adding_a_user_then_changing_roles_shows_in_the_audit_log(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await users_screen(pilot)
        await pilot.press("a")
        form = await editor(pilot)
        await type_into(pilot, "#user-username", "nina")
        await type_into(pilot, "#user-display_name", "Nina Novak")
        await type_into(pilot, "#user-password", "nina-secret-1")
        roles = form.query_one("#user-roles", SelectionList)
        roles.focus()
        await pilot.press("down", "down", "down", "space")   # the third role: customerView
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen) and screen.loaded
                    and "nina" in screen.accounts, "the new user in the list")
        assert screen.current_username() == "nina"
        assert "Nina Novak" in screen_text(app)
        nina = auth.login(ctx, "nina", "nina-secret-1")
        assert nina.roles == ("customerView",)

        # change her roles: Enter edits, space ticks bulkSend (the ninth role)
        await pilot.press("enter")
        form = await editor(pilot)
        form.query_one("#user-roles", SelectionList).focus()
        await pilot.press(*["down"] * 9, "space", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen) and screen.loaded
                    and "bulkSend" in screen.accounts["nina"].roles, "the new role")
        assert auth.login(ctx, "nina", "nina-secret-1").effective_roles == {"customerView", "bulkSend"}

        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, AuditLogScreen) and app.screen.loaded, "the log")
        log = app.screen
        table = log.query_one(AuditTable)
        assert table.row_count == 2
        newest = [str(cell) for cell in table.get_row_at(0)]
        assert newest[1:4] == ["admin", "user.roles", "nina"]
        assert newest[4] == "customerView -> customerView, bulkSend"
        assert [str(c) for c in table.get_row_at(1)][2] == "user.add"
        text = screen_text(app)
        assert "user.roles" in text and "2 entries, newest first" in text

        # filter by user
        await pilot.press("slash", *"viewer")
        await until(pilot, lambda: log.loaded and "Nothing recorded for 'viewer'" in static_text(
            log.query_one("#audit-count", Static)), "an empty filter")
        await pilot.press("escape")
        await until(pilot, lambda: log.loaded and table.row_count == 2, "everything again")


async def test_a_bad_email_is_shown_at_the_field_and_nothing_is_added(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await users_screen(pilot)
        await pilot.press("a")
        form = await editor(pilot)
        await type_into(pilot, "#user-username", "nina")
        await type_into(pilot, "#user-email", "nina-at-example")
        await pilot.press("ctrl+s")
        error = form.query_one("#user-email-error", Static)
        await until(pilot, lambda: error.display and "not an email address" in static_text(error), "the error")
        assert form.focused is form.query_one("#user-email", Input)
        assert not form.query_one("#user-username-error", Static).display
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back to the list")
    assert [a.username for a in users.list_users(ctx, admin, "nina")] == []


async def test_a_generated_password_is_shown_once_and_works(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await users_screen(pilot)
        await pilot.press("a")
        await editor(pilot)
        await type_into(pilot, "#user-username", "kim")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PasswordShownScreen), "the password")
        password = app.screen.password
        assert password in screen_text(app) and "not shown again" in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen), "back to the list")
    assert auth.login(ctx, "kim", password).username == "kim"


async def test_deactivating_asks_first_and_the_guard_keeps_your_own_account(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await users_screen(pilot)
        await highlight(pilot, screen, "operator")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "Deactivate operator (Oscar Operator)?" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: screen.loaded and not screen.accounts["operator"].active, "deactivated")
        with pytest.raises(LoginFailed, match="deactivated"):
            auth.login(ctx, "operator", "operator-demo-1")

        await highlight(pilot, screen, "admin")
        await pilot.press("d", "y")
        await until(pilot, lambda: any("cannot deactivate yourself" in n.message for n in app._notifications),
                    "the refusal")
        assert users.get_user(ctx, admin, "admin").active


async def test_unlock_and_reset_password_from_the_list(ctx, admin):
    for _ in range(ctx.settings.login_max_failures):
        with pytest.raises(LoginFailed):
            auth.login(ctx, "viewer", "wrong")
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await users_screen(pilot)
        assert "locked" in screen_text(app)
        await highlight(pilot, screen, "viewer")
        await pilot.press("u")
        await until(pilot, lambda: screen.loaded and not any(
            a.locked_until for a in screen.accounts.values()), "unlocked")
        assert auth.login(ctx, "viewer", "viewer-demo-1").username == "viewer"

        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PasswordResetScreen), "the reset dialog")
        await pilot.press(*"short", "enter")
        problem = app.screen.query_one("#password-problem", Static)
        await until(pilot, lambda: "at least 8" in static_text(problem), "too short")
        app.screen.query_one("#password-new", Input).value = ""
        await pilot.press("enter")
        dialog = app.screen
        await until(pilot, lambda: dialog.generated is not None, "a generated password")
        assert dialog.generated in screen_text(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, UsersScreen), "back")
    assert auth.login(ctx, "viewer", dialog.generated).username == "viewer"
    assert [e.action for e in audit.recent(ctx, LOCAL_ADMIN, target="viewer")] == [
        "user.password_reset", "user.unlock"]


async def test_group_roles_are_edited_from_the_users_screen(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await users_screen(pilot)
        await pilot.press("g")
        await until(pilot, lambda: isinstance(app.screen, GroupRolesScreen) and app.screen.loaded, "the groups")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, GroupRoleEditorScreen), "the group editor")
        await pilot.press("down", "down", "space")    # from administrator down to customerView: untick it
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, GroupRolesScreen) and app.screen.loaded
                    and app.screen.found["Operators"].roles == ("customerEdit",), "the new bundle")
    assert auth.login(ctx, "operator", "operator-demo-1").effective_roles == {"customerEdit"}


async def test_a_non_administrator_sees_why_and_no_users(ctx, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await users_screen(pilot)
        assert screen.accounts == {}
        assert "not allowed to manage users" in screen_text(app)
