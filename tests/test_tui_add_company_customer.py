"""The Add customer dialog driven with Pilot at 80x24, pushed by a host app as the company
details screen will push it: fill it in by keys, choose the activation template, add; the
customer's details open, and a real dispatcher delivers the welcome email to aiosmtpd."""

from __future__ import annotations

from textual.widgets import Input, Select, SelectionList, Static

from commstui.app import CommsApp
from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.screens.add_company_customer import AddCompanyCustomerScreen
from commstui.screens.customer_details import CustomerDetailsScreen
from commstui.store import users as users_store

from tui_helpers import notifications, until

SIZE = (80, 24)


def company_id(ctx, code: str) -> int:
    with ctx.db.connect() as con:
        return con.execute("select id from companies where code = ?", [code]).fetchone()[0]


async def dialog_shown(pilot, ctx, code: str) -> AddCompanyCustomerScreen:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")

    def added(customer) -> None:  # what company_details does with the result
        if customer is not None:
            app.push_screen(CustomerDetailsScreen(customer.id))

    app.push_screen(AddCompanyCustomerScreen(company_id(ctx, code), code), added)
    await until(pilot, lambda: isinstance(app.screen, AddCompanyCustomerScreen) and app.screen.ready, "the dialog")
    # the email field takes the focus as the dialog opens: typing goes there
    await until(pilot, lambda: app.screen.query_one("#add-email", Input).has_focus, "the email field focused")
    return app.screen


async def test_add_a_customer_with_the_welcome_email_received_by_aiosmtpd(ctx, admin, mail_server, capture):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await dialog_shown(pilot, ctx, "ACME")
        assert dialog.query_one("#add-dialog").border_title == "Add customer to ACME"
        assert dialog.query_one("#add-roles", SelectionList).selected == ["customer"]  # the usual choice
        await pilot.press(*"nina.novak@example.com", "tab", *"Nina Novak")
        template = dialog.query_one("#add-template", Select)
        template.focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("down", "enter")     # the first template after "No email"
        await until(pilot, lambda: template.value == "Account activation", "the template chosen")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerDetailsScreen), "the customer's details")
        # loaded, tabs and all, before anything else (and before the app closes under it)
        await until(pilot, lambda: app.screen.customer is not None, "the customer's details loaded")
        assert any("Customer added: Added Nina Novak (A" in n and "welcome email is queued" in n
                   for n in notifications(app))

        with ctx.db.connect() as con:
            user = users_store.get_by_username(con, "nina.novak@example.com")
            account_no = con.execute("select account_no from customers where email = 'nina.novak@example.com'"
                                     ).fetchone()[0]
        assert user.roles == ("customer",)
        assert app.screen.customer_id == con_id(ctx, account_no)
        assert any(row[1] == "user.add" and row[3].startswith(f"customer {account_no} added to company ACME")
                   for row in audit_rows(ctx))

    dispatcher = Dispatcher(ctx.db, ctx.settings)
    sent = 0
    for _ in range(5):
        sent += await dispatcher.run_once()
        if sent:
            break
    assert sent == 1
    received = read_outbox(capture.outbox)
    assert [m.rcpt_tos for m in received] == [("nina.novak@example.com",)]
    assert received[0].subject == f"Welcome to Acme Property Services: your account {account_no}"
    text = received[0].parse().get_body(("plain",)).get_content()
    assert "Dear Nina," in text and account_no in text


def audit_rows(ctx) -> list[tuple]:
    with ctx.db.connect() as con:
        return con.execute("select actor, action, target, detail from audit_log order by id").fetchall()


def con_id(ctx, account_no: str) -> int:
    with ctx.db.connect() as con:
        return con.execute("select id from customers where account_no = ?", [account_no]).fetchone()[0]


async def test_a_taken_email_is_shown_at_the_field_and_nothing_is_added(ctx, admin):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await dialog_shown(pilot, ctx, "BLUE")
        await pilot.press(*"olivia.bennett@example.com", "tab", *"Olivia Again", "enter")
        problem = dialog.query_one("#add-problem", Static)
        await until(pilot, lambda: "A1000001 already has that email" in str(problem.content), "the refusal")
        assert app.screen is dialog
        await until(pilot, lambda: dialog.query_one("#add-email", Input).has_focus, "the email field focused")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AddCompanyCustomerScreen), "the dialog closed")
    with ctx.db.connect() as con:
        assert con.execute("select count(*) from users where username ilike 'olivia.bennett@%'").fetchone()[0] == 0


async def test_a_company_editor_is_offered_only_the_customer_role(ctx):
    with ctx.db.connect() as con:
        editor = users_store.get_by_username(con, "company-editor")
    app = CommsApp(ctx, editor, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await dialog_shown(pilot, ctx, "NEST")
        roles = dialog.query_one("#add-roles", SelectionList)
        assert [roles.get_option_at_index(i).value for i in range(roles.option_count)] == ["customer"]
        assert dialog.query_one("#add-group-roles", SelectionList).option_count == 0
        assert "No mail server" in str(dialog.query_one("#add-problem", Static).content)
