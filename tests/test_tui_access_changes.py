"""An administrator's change to a logged-in user reaches their open session: a
deactivated user is logged out, changed roles apply (the services check the user the
app holds, so the app must hold the current one)."""

from __future__ import annotations

from tui_helpers import notifications, until

from commstui.app import CommsApp
from commstui.domain import Permission
from commstui.screens.customers import CustomersScreen
from commstui.screens.login import LoginScreen
from commstui.services import users


async def test_a_deactivated_user_is_logged_out_of_their_open_session(ctx, admin, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "the customers screen")
        users.set_active(ctx, admin, "viewer", False)
        app.refresh_dispatcher_status()  # the status tick (every few seconds) reads the user again
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        assert app.user is None
        await until(pilot, lambda: any("deactivated by an administrator" in n for n in notifications(app)),
                    "the reason")


async def test_changed_roles_apply_to_the_open_session(ctx, admin, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "the customers screen")
        assert not app.user.can(Permission.CUSTOMER_EDIT)
        users.set_roles(ctx, admin, "viewer", ["customerView", "customerEdit"])
        app.refresh_dispatcher_status()
        await until(pilot, lambda: app.user.can(Permission.CUSTOMER_EDIT), "the new role")
        assert any("changed your roles" in n for n in notifications(app))
        users.set_roles(ctx, admin, "viewer", [])
        app.refresh_dispatcher_status()
        await until(pilot, lambda: not app.user.can(Permission.CUSTOMER_VIEW), "the role taken away")
