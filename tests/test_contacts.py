"""Contacts of a customer and the location owner link: the rows written (emails with one
primary, numbers in E.164), every refusal naming its field, the owner rules, who may
read and change, and that bulk sends pick up contacts and owners set here."""

from __future__ import annotations

import pytest

from commstui.services import auth, bulk, contacts
from commstui.services.bulk import Selection
from commstui.services.contacts import ContactForm
from commstui.services.errors import PermissionDenied, ValidationError
from commstui.store import notes as notes_store
from commstui.store import users as users_store
from commstui.store.db import NotFound


def customer_id(ctx, account_no: str) -> int:
    with ctx.db.connect() as con:
        return con.execute("select id from customers where account_no = ?", [account_no]).fetchone()[0]


def rows(ctx, cid: int) -> list[tuple]:
    with ctx.db.connect() as con:
        return con.execute("select name, email, other_emails, phone, mobile, receives_notices, sms_opt_in, active "
                           "from contacts where customer_id = ? order by id", [cid]).fetchall()


def person(ctx, username: str, roles):
    ctx.db.run(lambda con: users_store.insert(con, username, username.title(), "not-a-real-hash", roles=roles))
    with ctx.db.connect() as con:
        return users_store.get_by_username(con, username)


SAM = ContactForm(name="  Sam   Carter ", emails=("sam@Example.COM", "", "sam.work@example.com"), primary=2,
                  phone="02 9555 0107", mobile="0412 345 678", receives_notices=True, sms_opt_in=True)


# -- adding, editing, removing ----------------------------------------------------------------
def test_add_keeps_one_primary_and_the_rest_as_other_emails(ctx, admin):
    cid = customer_id(ctx, "A1000003")
    before = rows(ctx, cid)
    contact = contacts.add(ctx, admin, cid, SAM)
    assert contact.name == "Sam Carter"
    assert contact.email == "sam.work@example.com"            # the one chosen as primary
    assert contact.other_emails == ("sam@example.com",)       # the domain normalised, the blank row dropped
    assert (contact.phone, contact.mobile) == ("+61295550107", "+61412345678")
    assert contact.receives_notices and contact.sms_opt_in
    assert rows(ctx, cid) == before + [("Sam Carter", "sam.work@example.com", ["sam@example.com"],
                                        "+61295550107", "+61412345678", True, True, True)]
    listed = contacts.people(ctx, admin, cid).contacts
    assert listed[-1] == contact
    with ctx.db.connect() as con:
        assert notes_store.for_customer(con, cid)[0].text == "Contact Sam Carter added by admin."


def test_edit_can_change_the_primary_and_drop_emails(ctx, admin):
    cid = customer_id(ctx, "A1000003")
    contact = contacts.add(ctx, admin, cid, SAM)
    form = ContactForm.of(contact)
    assert form.emails == ("sam.work@example.com", "sam@example.com") and form.primary == 0
    changed = contacts.update(ctx, admin, contact.id, ContactForm(
        name="Sam Carter", emails=("sam.work@example.com", "sam@example.com", "s@example.net"), primary=1))
    assert changed.email == "sam@example.com"
    assert changed.other_emails == ("sam.work@example.com", "s@example.net")
    assert changed.phone is None and changed.mobile is None and not changed.receives_notices
    again = contacts.update(ctx, admin, contact.id, ContactForm(name="Sam Carter", emails=(), primary=0))
    assert again.email is None and again.other_emails == ()


def test_remove_keeps_the_row_but_lists_and_bulk_skip_it(ctx, admin):
    cid = customer_id(ctx, "A1000001")
    daniel = contacts.people(ctx, admin, cid).contacts[0]
    assert daniel.name == "Daniel Bennett"
    contacts.remove(ctx, admin, daniel.id)
    assert contacts.people(ctx, admin, cid).contacts == []
    assert rows(ctx, cid)[0][-1] is False                      # kept, inactive: past messages still point at it
    with pytest.raises(NotFound):
        contacts.update(ctx, admin, daniel.id, ContactForm(name="Daniel"))
    with pytest.raises(NotFound):
        contacts.remove(ctx, admin, daniel.id)


@pytest.mark.parametrize("form, field, words", [
    (ContactForm(name="   "), "name", "needs a name"),
    (ContactForm(name="x" * 121), "name", "at most 120"),
    (ContactForm(name="Bad\x1b[31m"), "name", "control characters"),
    (ContactForm(name="A", emails=("not-an-email",)), "emails", "'not-an-email' is not an email address"),
    (ContactForm(name="A", emails=("a@example.com", "A@EXAMPLE.com")), "emails", "listed twice"),
    (ContactForm(name="A", emails=("a@example.com", "b@example.com"), primary=5), "emails", "primary"),
    (ContactForm(name="A", emails=("a@example.com", ""), primary=1), "emails", "primary"),
    (ContactForm(name="A", phone="12"), "phone", "'12'"),
    (ContactForm(name="A", mobile="02 9555 0107"), "mobile", "not a mobile number"),
    (ContactForm(name="A", sms_opt_in=True), "mobile", "SMS opt-in needs a mobile"),
    (ContactForm(name="A", receives_notices=True), "emails", "receives notices needs an email"),
])
def test_bad_forms_are_refused_by_field_and_nothing_is_written(ctx, admin, form, field, words):
    cid = customer_id(ctx, "A1000003")
    before = rows(ctx, cid)
    with pytest.raises(ValidationError) as refused:
        contacts.add(ctx, admin, cid, form)
    assert refused.value.field == field and words in str(refused.value)
    assert rows(ctx, cid) == before


def test_a_contact_of_a_missing_customer_is_not_found(ctx, admin):
    with pytest.raises(NotFound):
        contacts.add(ctx, admin, 987_654, ContactForm(name="Nobody"))
    with pytest.raises(NotFound):
        contacts.people(ctx, admin, 987_654)


# -- the location owner ---------------------------------------------------------------------------
def test_owner_is_set_by_account_number_shown_and_cleared(ctx, admin):
    cid = customer_id(ctx, "A1000003")
    assert contacts.people(ctx, admin, cid).owner is None
    owner = contacts.set_owner(ctx, admin, cid, " a1000025 ")
    assert (owner.account_no, owner.name) == ("A1000025", "Amelia Hart-Davies")
    assert contacts.people(ctx, admin, cid).owner == owner
    assert contacts.clear_owner(ctx, admin, cid) == owner
    assert contacts.people(ctx, admin, cid).owner is None
    assert contacts.clear_owner(ctx, admin, cid) is None       # nothing to clear: no note, no error
    with ctx.db.connect() as con:
        texts = [n.text for n in notes_store.for_customer(con, cid)]
    assert texts[:2] == ["Location owner Amelia Hart-Davies (A1000025) cleared by admin.",
                         "Location owner set to Amelia Hart-Davies (A1000025) by admin."]


@pytest.mark.parametrize("account, words", [
    ("", "type the owner's account number"),
    ("A9999999", "no customer with account number 'A9999999'"),
    ("A1000003", "cannot own its own location"),
])
def test_owner_refusals_say_what_to_do(ctx, admin, account, words):
    cid = customer_id(ctx, "A1000003")
    with pytest.raises(ValidationError) as refused:
        contacts.set_owner(ctx, admin, cid, account)
    assert refused.value.field == "owner" and words in str(refused.value)
    assert contacts.people(ctx, admin, cid).owner is None


# -- who may -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("roles, may_read, may_change", [
    (["administrator"], True, True),
    (["superuser"], True, True),
    (["customerView", "customerEdit"], True, True),
    (["customerView"], True, False),
    (["customerEdit"], False, False),          # an edit role alone sees nothing
    (["companyView", "companyEdit"], False, False),
    (["customer"], False, False),              # portal users: their addresses only
])
def test_who_may_read_and_change(ctx, roles, may_read, may_change):
    user = person(ctx, "t-who", roles)
    cid = customer_id(ctx, "A1000001")
    daniel_id = customer_daniel(ctx)
    if may_read:
        people = contacts.people(ctx, user, cid)
        assert [c.name for c in people.contacts] == ["Daniel Bennett"] and people.may_edit is may_change
    else:
        with pytest.raises(PermissionDenied):
            contacts.people(ctx, user, cid)
    before = rows(ctx, cid)
    changes = [lambda: contacts.add(ctx, user, cid, ContactForm(name="New")),
               lambda: contacts.update(ctx, user, daniel_id, ContactForm(name="Changed")),
               lambda: contacts.set_owner(ctx, user, cid, "A1000025"),
               lambda: contacts.clear_owner(ctx, user, cid),
               lambda: contacts.remove(ctx, user, daniel_id)]
    if may_change:
        for change in changes:
            change()
        assert len(rows(ctx, cid)) == len(before) + 1
        return
    for change in changes:
        with pytest.raises(PermissionDenied):
            change()
    assert rows(ctx, cid) == before


def customer_daniel(ctx) -> int:
    with ctx.db.connect() as con:
        return con.execute("select id from contacts where name = 'Daniel Bennett'").fetchone()[0]


def test_the_portal_user_cannot_read_even_their_own_contacts(ctx):
    portal = auth.login(ctx, "portal", "portal-demo-1")
    assert portal.customer_id == customer_id(ctx, "A1000001")
    with pytest.raises(PermissionDenied):
        contacts.people(ctx, portal, portal.customer_id)


# -- bulk sends read what is set here ------------------------------------------------------------------
def test_bulk_selection_counts_and_lists_contacts_and_owners_set_here(ctx, admin):
    cid = customer_id(ctx, "A1000003")
    selection = Selection(mode="accounts", accounts_text="A1000003", include_owners=True, include_contacts=True)
    assert bulk.count(ctx, admin, selection).total == 1
    contacts.add(ctx, admin, cid, ContactForm(name="Notified", emails=("n@example.com",), receives_notices=True))
    contacts.add(ctx, admin, cid, ContactForm(name="Quiet", emails=("q@example.com",)))
    contacts.set_owner(ctx, admin, cid, "A1000025")
    counted = bulk.count(ctx, admin, selection)
    assert (counted.customers, counted.owners, counted.contacts) == (1, 1, 1)
    listed = bulk.recipients(ctx, admin, selection, "email")
    assert [(r.kind, r.name, r.destination) for r in listed.recipients][1:] == [
        ("owner", "Amelia Hart-Davies", owner_email(ctx)), ("contact", "Notified", "n@example.com")]


def owner_email(ctx) -> str:
    with ctx.db.connect() as con:
        return con.execute("select email from customers where account_no = 'A1000025'").fetchone()[0]
