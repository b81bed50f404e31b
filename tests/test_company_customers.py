"""Adding a customer to a company: the rows made in one transaction, the refusals (each
naming its field), who may add (crm scoping included), and the welcome email rendered
for the new customer, queued, sent by a real dispatcher and received by aiosmtpd."""

from __future__ import annotations

import pytest

from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.services import auth, company_customers
from commstui.services.company_customers import NewCustomerForm
from commstui.services.errors import LoginFailed, PermissionDenied, ValidationError
from commstui.store import companies as companies_store
from commstui.store import notes as notes_store
from commstui.store import users as users_store
from commstui.store.db import NotFound

TEMPLATE = "Account activation"


@pytest.fixture
def ids(ctx) -> dict[str, int]:
    with ctx.db.connect() as con:
        return dict(con.execute("select code, id from companies").fetchall())


def person(ctx, username: str, roles, codes=()):
    def make(con):
        users_store.insert(con, username, username.title(), "not-a-real-hash", roles=roles)
        for code in codes:
            companies_store.assign(con, username, code)
    ctx.db.run(make)
    with ctx.db.connect() as con:
        return users_store.get_by_username(con, username)


def counts(ctx) -> tuple[int, int, int, int]:
    with ctx.db.connect() as con:
        return tuple(con.execute(f"select count(*) from {t}").fetchone()[0]
                     for t in ("customers", "users", "messages", "notes"))


def form(email="Nina.Novak@Example.com", name="Nina Novak", **kw) -> NewCustomerForm:
    return NewCustomerForm(email=email, name=name, **kw)


# -- the rows ------------------------------------------------------------------------------
def test_adds_customer_user_and_note_in_the_company(ctx, admin, ids):
    before = counts(ctx)
    customer, message = company_customers.add_customer(ctx, admin, ids["ACME"], form())
    assert message is None
    assert customer.name == "Nina Novak" and customer.company == "Acme Property Services"
    assert customer.email == "Nina.Novak@example.com"   # the domain is normalised, the local part kept
    assert counts(ctx) == (before[0] + 1, before[1] + 1, before[2], before[3] + 1)
    with ctx.db.connect() as con:
        highest = con.execute("select max(account_no) from customers where account_no <> ?",
                              [customer.account_no]).fetchone()[0]
        row = con.execute("select username, display_name, roles, group_roles, customer_id, email, active "
                          "from users where customer_id = ?", [customer.id]).fetchone()
        notes = notes_store.for_customer(con, customer.id)
        company_id = con.execute("select company_id from customers where id = ?", [customer.id]).fetchone()[0]
    assert int(customer.account_no[1:]) == int(highest[1:]) + 1
    assert company_id == ids["ACME"]
    assert row == ("Nina.Novak@example.com", "Nina Novak", ["customer"], [], customer.id,
                   "Nina.Novak@example.com", True)
    assert [n.text for n in notes] == ["Added to company ACME by admin; no welcome email."]


def test_the_new_user_cannot_log_in_before_activation(ctx, admin, ids):
    company_customers.add_customer(ctx, admin, ids["ACME"], form(email="nina@example.com"))
    for guess in ("", "nina@example.com", "password", "customer"):
        with pytest.raises(LoginFailed):
            auth.login(ctx, "nina@example.com", guess)


def test_account_numbers_follow_on_and_never_collide(ctx, admin, ids):
    made = [company_customers.add_customer(ctx, admin, ids["BLUE"], form(email=f"p{i}@example.com",
                                                                        name=f"Person {i}"))[0]
            for i in range(3)]
    numbers = [int(c.account_no[1:]) for c in made]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    assert all(len(c.account_no) == 8 and c.account_no.startswith("A") for c in made)


def test_group_roles_and_roles_are_kept(ctx, admin, ids):
    customer, _ = company_customers.add_customer(
        ctx, admin, ids["ACME"], form(roles=("customerView",), group_roles=("Operators",)))
    with ctx.db.connect() as con:
        user = users_store.get_by_username(con, "Nina.Novak@example.com")
    assert user.roles == ("customer", "customerView") and user.group_roles == ("Operators",)
    assert "customerEdit" in user.effective_roles


# -- refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, field, words", [
    (dict(email=""), "email", "required"),
    (dict(email="not-an-address"), "email", "not-an-address"),
    (dict(email="a@example.com, b@example.com"), "email", "one address only"),
    (dict(email="OLIVIA.BENNETT@example.com"), "email", "A1000001 already has that email"),
    (dict(email="admin"), "email", "admin"),
    (dict(name="   "), "name", "needs a name"),
    (dict(name="x" * 121), "name", "at most 120"),
    (dict(name="Bad\x1b[31m"), "name", "control characters"),
    (dict(roles=("customer", "wizard")), "roles", "wizard"),
    (dict(group_roles=("Nobody",)), "group_roles", "Nobody"),
    (dict(template="No such template"), "template", "Account activation"),
    (dict(template="Quote"), "template", "no email template"),
])
def test_bad_forms_are_refused_by_field_and_nothing_is_made(ctx, admin, ids, mail_server, changes, field, words):
    before = counts(ctx)
    values = dict(email="nina@example.com", name="Nina Novak") | changes
    if changes.get("template") == "Quote":  # Quote has an email body: make one without any
        with ctx.db.connect() as con:
            con.execute("update templates set text_body = '', html_body = '' where name = 'Quote'")
    with pytest.raises(ValidationError) as refused:
        company_customers.add_customer(ctx, admin, ids["ACME"], NewCustomerForm(**values))
    assert refused.value.field == field
    assert words.lower() in str(refused.value).lower()
    assert counts(ctx) == before


def test_a_taken_username_is_refused_whatever_the_case(ctx, admin, ids):
    company_customers.add_customer(ctx, admin, ids["ACME"], form(email="dup@example.com"))
    before = counts(ctx)
    with pytest.raises(ValidationError) as refused:
        company_customers.add_customer(ctx, admin, ids["BLUE"], form(email="DUP@example.com"))
    assert refused.value.field == "email" and "already" in str(refused.value)
    assert counts(ctx) == before


def test_a_template_without_a_mail_server_is_refused(ctx, admin, ids):
    before = counts(ctx)
    with pytest.raises(ValidationError) as refused:
        company_customers.add_customer(ctx, admin, ids["ACME"], form(template=TEMPLATE))
    assert refused.value.field == "template" and "mail server" in str(refused.value)
    assert counts(ctx) == before


def test_only_an_administrator_may_give_staff_roles(ctx, ids):
    editor = person(ctx, "t-editor", ["companyView", "companyEdit"])
    with pytest.raises(ValidationError) as refused:
        company_customers.add_customer(ctx, editor, ids["ACME"], form(roles=("customer", "administrator")))
    assert refused.value.field == "roles" and "administrator" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        company_customers.add_customer(ctx, editor, ids["ACME"], form(group_roles=("Operators",)))
    assert refused.value.field == "group_roles"
    offered = company_customers.options(ctx, editor, ids["ACME"])
    assert offered.roles == ["customer"] and offered.group_roles == []
    assert TEMPLATE in offered.templates and "Quote" in offered.templates


# -- who may add ---------------------------------------------------------------------------------
@pytest.mark.parametrize("roles, codes, company, allowed", [
    (["administrator"], [], "ACME", True),
    (["superuser"], [], "WATT", True),
    (["companyView", "companyEdit"], [], "NEST", True),
    (["companyView"], [], "ACME", False),
    (["companyEdit"], [], "ACME", False),             # an edit role alone sees nothing
    (["crmCompanyView", "crmCompanyEdit"], ["BLUE"], "BLUE", True),
    (["crmCompanyView", "crmCompanyEdit"], ["BLUE"], "ACME", False),   # not assigned: not found
    (["companyView", "crmCompanyEdit"], ["BLUE"], "BLUE", True),
    (["companyView", "crmCompanyEdit"], ["BLUE"], "ACME", False),     # seen, but not theirs to edit
    (["crmCompanyView"], ["BLUE"], "BLUE", False),
    (["customerView", "customerEdit"], [], "ACME", True),   # the Customers section's rule (seed 003, 12)
    (["customer"], [], "ACME", False),
])
def test_who_may_add(ctx, ids, roles, codes, company, allowed):
    user = person(ctx, "t-who", roles, codes)
    assert company_customers.may_add(ctx, user, ids[company]) is allowed
    before = counts(ctx)
    if allowed:
        customer, _ = company_customers.add_customer(ctx, user, ids[company], form())
        assert customer.company is not None
        return
    with pytest.raises((PermissionDenied, NotFound)):
        company_customers.add_customer(ctx, user, ids[company], form())
    with pytest.raises((PermissionDenied, NotFound)):
        company_customers.options(ctx, user, ids[company])
    assert counts(ctx) == before


def test_an_unassigned_company_looks_like_a_missing_one(ctx, ids):
    crm = person(ctx, "t-crm", ["crmCompanyView", "crmCompanyEdit"], ["BLUE"])
    with pytest.raises(NotFound) as hidden:
        company_customers.add_customer(ctx, crm, ids["ACME"], form())
    with pytest.raises(NotFound) as missing:
        company_customers.add_customer(ctx, crm, 987_654, form())
    assert str(hidden.value).replace(str(ids["ACME"]), "N") == str(missing.value).replace("987654", "N")


# -- the welcome email ------------------------------------------------------------------------------
async def test_welcome_email_is_merged_queued_and_received(ctx, admin, ids, mail_server, capture):
    customer, message = company_customers.add_customer(
        ctx, admin, ids["ACME"], form(email="nina.novak@example.com", template=TEMPLATE))
    assert message is not None and message.status == "queued" and message.customer_id == customer.id
    assert message.to_addrs == ("nina.novak@example.com",) and message.is_html
    assert message.subject == f"Welcome to Acme Property Services: your account {customer.account_no}"

    dispatcher = Dispatcher(ctx.db, ctx.settings)
    sent = 0
    for _ in range(5):
        sent += await dispatcher.run_once()
        if sent:
            break
    assert sent == 1
    received = read_outbox(capture.outbox)
    assert len(received) == 1
    mail = received[0]
    assert mail.rcpt_tos == ("nina.novak@example.com",)
    assert mail.subject == message.subject
    parsed = mail.parse()
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "Dear Nina," in text and customer.account_no in text
    assert "Your username is your email address: nina.novak@example.com" in text
    assert "Demo Administrator" in text and "{{" not in text + html
    assert f"<strong>{customer.account_no}</strong>" in html
    with ctx.db.connect() as con:
        notes = [n.text for n in notes_store.for_customer(con, customer.id)]
    assert f"Added to company ACME by admin; welcome email queued ({TEMPLATE})." in notes


# -- the audit log -------------------------------------------------------------------------------
def audit_rows(ctx) -> list[tuple]:
    with ctx.db.connect() as con:
        return con.execute("select actor, action, target, detail from audit_log order by id").fetchall()


def test_the_new_user_is_written_to_the_audit_log_in_the_same_transaction(ctx, admin, ids, mail_server):
    before = audit_rows(ctx)
    customer, _ = company_customers.add_customer(
        ctx, admin, ids["ACME"], form(group_roles=("Operators",), template=TEMPLATE))
    assert audit_rows(ctx) == before + [(
        "admin", "user.add", "Nina.Novak@example.com",
        f"customer {customer.account_no} added to company ACME, roles customer; group roles Operators; "
        f"welcome email queued ({TEMPLATE})")]
    with pytest.raises(ValidationError):   # refused: no trace in the log either
        company_customers.add_customer(ctx, admin, ids["ACME"], form(email="other@example.com", name=""))
    assert len(audit_rows(ctx)) == len(before) + 1


# -- the Customers path: the company chosen in the form --------------------------------------------
@pytest.mark.parametrize("roles, codes, text, offered", [
    (["administrator"], [], "", ["ACME", "BLUE", "NEST", "WATT"]),
    (["administrator"], [], "blue", ["BLUE"]),
    (["administrator"], [], "LEASING", ["WATT"]),                  # by name, any case
    (["companyView", "companyEdit"], [], "", ["ACME", "BLUE", "NEST", "WATT"]),
    (["crmCompanyView", "crmCompanyEdit"], ["BLUE", "NEST"], "", ["BLUE", "NEST"]),
    (["crmCompanyView", "crmCompanyEdit"], ["BLUE", "NEST"], "acme", []),   # not assigned: never offered
    (["companyView", "crmCompanyEdit"], ["BLUE"], "", ["BLUE"]),   # sees all, may edit only BLUE
])
def test_the_company_list_offers_only_companies_the_user_may_add_to(ctx, roles, codes, text, offered):
    user = person(ctx, "t-list", roles, codes)
    page = company_customers.companies_for_adding(ctx, user, text)
    assert [c.code for c in page.rows] == offered
    assert all(company_customers.may_add(ctx, user, c.id) for c in page.rows)


@pytest.mark.parametrize("roles", [["customerView"], ["customerEdit"], ["companyView"], ["crmCompanyView"],
                                   ["customer"]])
def test_without_an_edit_role_on_companies_nothing_is_offered(ctx, roles):
    user = person(ctx, "t-none", roles)
    with pytest.raises(PermissionDenied):
        company_customers.companies_for_adding(ctx, user, "")
    with pytest.raises(PermissionDenied):
        company_customers.options(ctx, user, None)
    with pytest.raises(PermissionDenied):
        company_customers.add_customer(ctx, user, None, form())


def test_options_before_a_company_is_chosen_and_adding_without_one(ctx, admin, ids):
    offered = company_customers.options(ctx, admin, None)
    assert offered.company is None and "customer" in offered.roles and TEMPLATE in offered.templates
    before = counts(ctx)
    with pytest.raises(ValidationError) as refused:
        company_customers.add_customer(ctx, admin, None, form())
    assert refused.value.field == "company" and "choose the company" in str(refused.value)
    assert counts(ctx) == before
