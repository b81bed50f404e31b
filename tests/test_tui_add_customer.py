"""Add customer from the Customers screen, driven with Pilot at 80x24: press a, type the
email, choose the company by typing part of its name, choose the account activation
template, add; the customer's details open, the user is in the audit log, and a real
dispatcher delivers the welcome email to aiosmtpd. Also: a crm user is offered only
their companies, and a user who may not add is told why in the form."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Select, Static

from commstui.app import CommsApp
from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.screens.add_customer import AddCustomerScreen
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.screens.customers import CustomersScreen
from commstui.store import users as users_store

from tui_helpers import notifications, screen_text, until

SIZE = (80, 24)


async def dialog_from_customers(pilot) -> AddCustomerScreen:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, CustomersScreen) and app.screen.is_mounted, "Customers")
    app.screen.query_one("#results").focus()   # the search box has focus at first, and takes letters
    await pilot.press("a")
    await until(pilot, lambda: isinstance(app.screen, AddCustomerScreen) and app.screen.ready
                and app.screen.matched_text == "", "the Add customer form")
    # the email field takes the focus as the form opens: typing goes there
    await until(pilot, lambda: app.screen.query_one("#add-email", Input).has_focus, "the email field focused")
    return app.screen


def company_options(dialog) -> list[str]:
    options = dialog.query_one("#add-company-list", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_add_from_customers_with_the_company_found_by_name(ctx, admin, mail_server, capture):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await dialog_from_customers(pilot)
        assert dialog.query_one("#add-dialog").border_title == "Add customer"
        assert "Add customer" in screen_text(app)
        await pilot.press(*"nina.novak@example.com", "tab")
        assert dialog.query_one("#add-company", Input).has_focus
        await pilot.press(*"strata")                          # part of "Bluegum Strata Management"
        await until(pilot, lambda: dialog.matched_text == "strata", "the matching companies")
        assert company_options(dialog) == ["BLUE · Bluegum Strata Management"]
        await pilot.press("enter")                            # the one match is chosen
        await until(pilot, lambda: dialog.company_id is not None, "the company chosen")
        assert dialog.query_one("#add-dialog").border_title == "Add customer to BLUE"
        await until(pilot, lambda: dialog.query_one("#add-name", Input).has_focus, "the name field focused")
        await pilot.press(*"Nina Novak")
        template = dialog.query_one("#add-template", Select)
        template.focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("down", "enter")                    # the first template after "No email"
        await until(pilot, lambda: template.value == "Account activation", "the template chosen")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerDetailsScreen), "the customer's details")
        # loaded, tabs and all, before anything else (and before the app closes under it)
        await until(pilot, lambda: app.screen.customer is not None, "the customer's details loaded")
        assert any("Customer added: Added Nina Novak (A" in n and "welcome email is queued" in n
                   for n in notifications(app))
        details = app.screen
        await until(pilot, lambda: details.customer is not None, "the details loaded")
        assert details.customer.name == "Nina Novak" and details.customer.company == "Bluegum Strata Management"
        account_no = details.customer.account_no
        await pilot.press("escape")                           # back on Customers, the new account listed
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "back on Customers")
        await until(pilot, lambda: app.screen.query_one("#results").row_count == 61, "the list re-read")

    with ctx.db.connect() as con:
        user = users_store.get_by_username(con, "nina.novak@example.com")
        audit = con.execute("select actor, action, target, detail from audit_log where action = 'user.add'"
                            ).fetchall()
    assert user.roles == ("customer",) and user.customer_id == details.customer_id
    assert audit == [("admin", "user.add", "nina.novak@example.com",
                      f"customer {account_no} added to company BLUE, roles customer; group roles none; "
                      "welcome email queued (Account activation)")]

    dispatcher = Dispatcher(ctx.db, ctx.settings)
    sent = 0
    for _ in range(5):
        sent += await dispatcher.run_once()
        if sent:
            break
    assert sent == 1
    received = read_outbox(capture.outbox)
    assert [m.rcpt_tos for m in received] == [("nina.novak@example.com",)]
    assert received[0].subject == f"Welcome to Bluegum Strata Management: your account {account_no}"
    assert "Dear Nina," in received[0].parse().get_body(("plain",)).get_content()


async def test_adding_without_choosing_a_company_points_at_the_company_field(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await dialog_from_customers(pilot)
        assert company_options(dialog) == ["ACME · Acme Property Services", "BLUE · Bluegum Strata Management",
                                           "NEST · Urban Nest Living Pty Ltd", "WATT · Wattle Commercial Leasing"]
        await pilot.press(*"x@example.com", "tab", *"acm")      # typed, but nothing chosen
        await until(pilot, lambda: dialog.matched_text == "acm", "the matches")
        dialog.query_one("#add-name", Input).focus()
        await pilot.press(*"Xavier", "enter")
        problem = dialog.query_one("#add-problem", Static)
        await until(pilot, lambda: "choose the company" in str(problem.content), "the refusal")
        await until(pilot, lambda: dialog.query_one("#add-company", Input).has_focus, "the company field focused")
        # choosing, then editing the text, un-chooses
        await pilot.press("down", "enter")
        await until(pilot, lambda: dialog.company_id is not None, "the company chosen")
        dialog.query_one("#add-company", Input).focus()
        await pilot.press("backspace")
        await until(pilot, lambda: dialog.company_id is None, "the choice undone")
        assert dialog.query_one("#add-dialog").border_title == "Add customer"
    with ctx.db.connect() as con:
        assert con.execute("select count(*) from users where username = 'x@example.com'").fetchone()[0] == 0


async def test_a_crm_editor_is_offered_only_their_companies(ctx):
    with ctx.db.connect() as con:
        # crm-editor is assigned BLUE and NEST; customerView lets them onto Customers
        con.execute("update users set roles = list_concat(roles, ['customerView']) where username = 'crm-editor'")
        crm = users_store.get_by_username(con, "crm-editor")
    app = CommsApp(ctx, crm, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await dialog_from_customers(pilot)
        assert company_options(dialog) == ["BLUE · Bluegum Strata Management", "NEST · Urban Nest Living Pty Ltd"]
        dialog.query_one("#add-company", Input).focus()
        await pilot.press(*"acme")
        await until(pilot, lambda: dialog.matched_text == "acme", "the matches")
        assert company_options(dialog) == []
        assert "No company you may add customers to matches" in str(
            dialog.query_one("#add-company-hint", Static).content)


async def test_a_viewer_is_told_why_they_may_not_add(ctx, viewer):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen) and app.screen.is_mounted, "Customers")
        app.screen.query_one("#results").focus()
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AddCustomerScreen), "the form")
        dialog = app.screen
        problem = dialog.query_one("#add-problem", Static)
        await until(pilot, lambda: "viewer is not allowed to add customers" in str(problem.content),
                    "the refusal")
        assert dialog.query_one("#add-add").disabled
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CustomersScreen), "back on Customers")
