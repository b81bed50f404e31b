"""The Companies screens driven with Pilot at 80x24: search while typing, a crm user's
scoping, opening a company and one of its customers, the refused cases, and renaming."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from commstui.app import CommsApp
from commstui.screens.companies import CompaniesScreen, CompanyTable
from commstui.screens.company_details import NO_CUSTOMER_ACCESS, CompanyDetailsScreen, RenameCompanyScreen
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.store import companies as companies_store
from commstui.store import users as users_store

from tui_helpers import notifications, screen_text, static_text, until

SIZE = (80, 24)


def user(ctx, username: str, assigned: tuple[str, ...] = ()):
    def assign(con):
        con.execute("update users set company_ids = [] where username = ?", [username])
        for code in assigned:
            companies_store.assign(con, username, code)

    ctx.db.run(assign)
    with ctx.db.connect() as con:
        return users_store.get_by_username(con, username)


def codes(app) -> list[str]:
    table = app.screen.query_one(CompanyTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def count_text(app) -> str:
    found = app.screen.query("#company-count")
    return str(found.first().content) if found else ""


async def companies_shown(pilot) -> CompaniesScreen:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    app.push_screen(CompaniesScreen())
    await until(pilot, lambda: isinstance(app.screen, CompaniesScreen) and app.screen.settled, "the list")
    return app.screen


async def details_shown(pilot) -> CompanyDetailsScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, CompanyDetailsScreen) and app.screen.loaded, "the company")
    return app.screen


def customer_accounts(app) -> list[str]:
    table = app.screen.query_one("#company-customers", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_search_by_code_or_name_while_typing(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await companies_shown(pilot)
        assert codes(app) == ["ACME", "BLUE", "NEST", "WATT"]
        assert count_text(app) == "4 companies"
        assert screen.query_one("#company-search", Input).has_focus
        await pilot.press(*"strata")  # part of a name
        await until(pilot, lambda: codes(app) == ["BLUE"] and count_text(app) == "1 match", "the name match")
        await pilot.press("escape")
        await until(pilot, lambda: len(codes(app)) == 4, "everyone again")
        await pilot.press(*"wat")  # part of a code, in lower case
        await until(pilot, lambda: codes(app) == ["WATT"] and screen.settled, "the code match")
        await pilot.press(*"-nothing")
        await until(pilot, lambda: codes(app) == [] and "No company matches" in count_text(app), "no match")


async def test_a_crm_user_sees_only_assigned_companies(ctx):
    crm = user(ctx, "crm-viewer", ("ACME",))
    app = CommsApp(ctx, crm, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await companies_shown(pilot)
        assert codes(app) == ["ACME"] and count_text(app) == "1 company"
        await pilot.press(*"bluegum")
        await until(pilot, lambda: codes(app) == [] and "No company matches" in count_text(app) and screen.settled,
                    "nothing for an unassigned company")
        assert "Bluegum" not in screen_text(app).replace("bluegum", "")  # only what was typed


async def test_opening_a_company_and_then_a_customer(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await companies_shown(pilot)
        await pilot.press(*"ACME")
        await until(pilot, lambda: codes(app) == ["ACME"] and screen.settled, "one match")
        await pilot.press("enter")  # the one match opens
        details = await details_shown(pilot)
        shown = screen_text(app)
        assert "Acme Property Services" in shown and "19 customers" in shown
        assert len(customer_accounts(app)) == 19 and customer_accounts(app)[0] == "A1000001"
        table = details.query_one("#company-customers", DataTable)
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, CustomerDetailsScreen)
                    and app.screen.customer is not None, "the customer's account")
        assert app.screen.customer.account_no == "A1000001"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is details, "back to the company")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back to the list")


async def test_without_customer_view_a_customer_does_not_open_and_says_why(ctx):
    crm = user(ctx, "crm-viewer", ("ACME",))
    app = CommsApp(ctx, crm, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await companies_shown(pilot)
        screen.query_one(CompanyTable).focus()
        await pilot.press("enter")
        details = await details_shown(pilot)
        assert len(customer_accounts(app)) == 19  # the list itself needs no customerView
        assert "Opening a customer's account needs the role customerView." in screen_text(app)
        assert not details.check_action("rename", ())  # crmCompanyView alone: no Rename
        assert "Rename" not in screen_text(app).splitlines()[-1]
        details.query_one("#company-customers", DataTable).focus()
        await pilot.press("enter")
        await until(pilot, lambda: any(NO_CUSTOMER_ACCESS in n for n in notifications(app)), "the reason")
        assert app.screen is details
        await pilot.press("r")
        await pilot.pause()
        assert app.screen is details


async def test_without_a_company_role_the_screen_says_so(ctx, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
        app.push_screen(CompaniesScreen())
        await until(pilot, lambda: isinstance(app.screen, CompaniesScreen)
                    and "not allowed to view companies" in count_text(app), "the refusal")
        assert codes(app) == []
        # the toast comes from the failed worker's state change, which may land after the line
        await until(pilot, lambda: any("Not allowed" in n for n in notifications(app)), "the refusal toast")


async def test_rename_from_the_details(ctx):
    app = CommsApp(ctx, _crm_pair(ctx), run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await companies_shown(pilot)
        assert codes(app) == ["BLUE"]
        screen.query_one(CompanyTable).focus()
        await pilot.press("enter")
        details = await details_shown(pilot)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RenameCompanyScreen), "the rename dialog")
        dialog = app.screen
        name = dialog.query_one("#rename-name", Input)
        name.value = "   "
        await pilot.press("enter")
        await until(pilot, lambda: "A company needs a name." in static_text(dialog.query_one("#rename-problem")),
                    "the problem under the field")
        name.value = "Bluegum Strata (renamed)"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is details and "Bluegum Strata (renamed)" in screen_text(app),
                    "the new name")
        with ctx.db.connect() as con:
            assert companies_store.get_by_code(con, "BLUE").name == "Bluegum Strata (renamed)"


def _crm_pair(ctx):
    def add(con):
        if not users_store.exists(con, "t-crm-pair"):
            users_store.insert(con, "t-crm-pair", "CRM pair", "not-a-real-hash",
                               roles=["crmCompanyView", "crmCompanyEdit"])

    ctx.db.run(add)
    return user(ctx, "t-crm-pair", ("BLUE",))
