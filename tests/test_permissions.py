"""Who may do what, checked at the service layer for every action it offers.

One table says which roles may do which actions; each role runs every action
and the outcomes must match the table exactly (the failure shows the whole
difference). Refused actions must also leave nothing behind.
"""

from __future__ import annotations

import inspect

import pytest

from commstui.services import auth, customers, email, mail_settings
from commstui.services.customers import CustomerFilter
from commstui.services.errors import PermissionDenied
from commstui.services.mail_settings import MailServerForm
from commstui.services.context import LOCAL_ADMIN

ALLOWED, DENIED = "allowed", "denied"


def _form(capture) -> MailServerForm:
    return MailServerForm(host="127.0.0.1", port=capture.port, security="none", from_addr="office@commstui.example")


def _draft() -> email.EmailDraft:
    return email.EmailDraft(to="olivia.bennett@example.com", subject="Lift", body="The lift is fixed.")


# name -> call(ctx, user, customer, capture, role)
ACTIONS = {
    "customers.search": lambda ctx, u, c, cap, r: customers.search(ctx, u, CustomerFilter(text="olivia")),
    "customers.count": lambda ctx, u, c, cap, r: customers.count(ctx, u, CustomerFilter()),
    "customers.filter_options": lambda ctx, u, c, cap, r: customers.filter_options(ctx, u),
    "customers.get": lambda ctx, u, c, cap, r: customers.get(ctx, u, c.id),
    "customers.get_by_account": lambda ctx, u, c, cap, r: customers.get_by_account(ctx, u, c.account_no),
    "customers.account": lambda ctx, u, c, cap, r: customers.account(ctx, u, c.id),
    "customers.messages": lambda ctx, u, c, cap, r: customers.messages(ctx, u, c.id),
    "customers.notes": lambda ctx, u, c, cap, r: customers.notes(ctx, u, c.id),
    "customers.add_note": lambda ctx, u, c, cap, r: customers.add_note(ctx, u, c.id, "Called about the lift."),
    "email.mail_server_ready": lambda ctx, u, c, cap, r: email.mail_server_ready(ctx, u),
    "email.send_email": lambda ctx, u, c, cap, r: email.send_email(ctx, u, c.id, _draft()),
    "email.send_email_to_account": lambda ctx, u, c, cap, r: email.send_email_to_account(
        ctx, u, c.account_no, _draft()),
    "email.log": lambda ctx, u, c, cap, r: email.log(ctx, u, c.account_no),
    "mail_settings.active_server": lambda ctx, u, c, cap, r: mail_settings.active_server(ctx, u),
    "mail_settings.get_server": lambda ctx, u, c, cap, r: mail_settings.get_server(ctx, u),
    "mail_settings.save_server": lambda ctx, u, c, cap, r: mail_settings.save_server(ctx, u, _form(cap)),
    "mail_settings.send_test_email": lambda ctx, u, c, cap, r: mail_settings.send_test_email(
        ctx, u, "it@commstui.example"),
    "auth.add_user": lambda ctx, u, c, cap, r: auth.add_user(ctx, u, f"made-by-{r}", "long-enough-pw",
                                                             ["customerView"]),
}

VIEW = {"customers.search", "customers.count", "customers.filter_options", "customers.get",
        "customers.get_by_account", "customers.account", "customers.messages", "customers.notes",
        "email.mail_server_ready", "email.log", "mail_settings.active_server"}
EDIT = {"customers.add_note", "email.send_email", "email.send_email_to_account"}
ADMIN = {"mail_settings.get_server", "mail_settings.save_server", "mail_settings.send_test_email", "auth.add_user"}
assert VIEW | EDIT | ADMIN == set(ACTIONS)

# role name -> (add_user kwargs, actions allowed)
ROLES = {
    "administrator": (dict(roles=["administrator"]), VIEW | EDIT | ADMIN),
    "superuser": (dict(roles=["superuser"]), VIEW | EDIT | ADMIN),
    "customerView": (dict(roles=["customerView"]), VIEW),
    "customerEdit-only": (dict(roles=["customerEdit"]), set()),  # editing needs viewing too
    "view+edit-via-group": (dict(group_roles=["Operators"]), VIEW | EDIT),
    "view+edit-roles": (dict(roles=["customerView", "customerEdit"]), VIEW | EDIT),
    "company-roles-only": (dict(roles=["companyView", "companyEdit", "bulkSend", "templates"]), set()),
    "no-roles": (dict(), set()),
}


@pytest.fixture
def olivia(ctx, admin):
    return customers.get_by_account(ctx, admin, "A1000001")


async def outcome(call) -> str:
    try:
        result = call()
        if inspect.isawaitable(result):
            result = await result
    except PermissionDenied:
        return DENIED
    except Exception as exc:  # anything else is a bug in the table or the service: show it
        return f"{type(exc).__name__}: {exc}"
    return ALLOWED


def _footprint(ctx):
    with ctx.db.connect() as con:
        return tuple(con.execute(f"select count(*) from {t}").fetchone()[0]
                     for t in ("messages", "notes", "users", "mail_servers"))


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_may_do_exactly_what_the_table_says(ctx, capture, mail_server, olivia, role):
    kwargs, allowed = ROLES[role]
    auth.add_user(ctx, LOCAL_ADMIN, f"perm-{role}", "long-enough-pw", **kwargs)
    user = auth.login(ctx, f"perm-{role}", "long-enough-pw")
    before = _footprint(ctx)

    got = {name: await outcome(lambda call=call: call(ctx, user, olivia, capture, role))
           for name, call in ACTIONS.items()}

    assert got == {name: ALLOWED if name in allowed else DENIED for name in ACTIONS}
    if not allowed & (EDIT | ADMIN):
        assert _footprint(ctx) == before  # a refused action leaves nothing behind


async def test_a_deactivated_administrator_may_do_nothing(ctx, capture, mail_server, olivia):
    auth.add_user(ctx, LOCAL_ADMIN, "perm-gone", "long-enough-pw", roles=["administrator"])
    ctx.db.run(lambda con: con.execute("update users set active = false where username = 'perm-gone'"))
    gone = auth.get_user(ctx, "perm-gone")

    got = {name: await outcome(lambda call=call: call(ctx, gone, olivia, capture, "gone"))
           for name, call in ACTIONS.items()}

    assert set(got.values()) == {DENIED}


def test_a_refusal_says_who_and_what_is_missing(ctx, viewer, olivia, mail_server):
    with pytest.raises(PermissionDenied) as err:
        email.send_email(ctx, viewer, olivia.id, _draft())
    assert err.value.title == "Not allowed"
    assert "viewer" in str(err.value) and "customerEdit" in str(err.value)


def test_permission_is_checked_before_the_input(ctx, viewer, olivia, mail_server):
    # a refused user learns nothing about whether the draft or customer was valid
    with pytest.raises(PermissionDenied):
        email.send_email(ctx, viewer, 987654321, email.EmailDraft(to="bob@"))
    with pytest.raises(PermissionDenied):
        auth.add_user(ctx, viewer, "", "short")
