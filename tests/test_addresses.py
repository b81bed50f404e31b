"""Service addresses and their additional contacts, through services.addresses over the
sample data in a real DuckDB file: who may see and change them (staff roles, the portal
user's own account only, with no existence leak), the form's checks, the toggle's meaning
for delivery (Compose's Cc and bulk sends), and every new customer's first address."""

from __future__ import annotations

import pytest

from commstui.domain import LOCAL_ADMIN
from commstui.services import addresses, auth, bulk, customer_import, customers, email, setup
from commstui.services.addresses import AddressForm, ContactForm
from commstui.services.errors import PermissionDenied, ValidationError
from commstui.store.db import NotFound

OLIVIA = "A1000001"


@pytest.fixture
def portal(ctx):
    return auth.login(ctx, "portal", "portal-demo-1")


def cid(ctx, account: str) -> int:
    return customers.get_by_account(ctx, LOCAL_ADMIN, account).id


def book(ctx, user, account=OLIVIA):
    return addresses.address_book(ctx, user, cid(ctx, account))


# -- the sample -----------------------------------------------------------------------
def test_the_sample_gives_olivia_an_address_on_and_one_off_with_contacts(ctx, viewer):
    found = book(ctx, viewer)
    assert (found.account_no, found.name) == (OLIVIA, "Olivia Bennett")
    home, holiday = found.addresses
    assert (home.label, home.one_line, home.additional_comms) == (
        "Service address", "Apt 1201, 1 Wharf Rd, Pyrmont, NSW 2009", True)
    assert [(c.name, c.email) for c in home.contacts] == [("Hannah Bennett", "hannah.bennett@example.com")]
    assert (holiday.label, holiday.additional_comms, len(holiday.contacts)) == ("Holiday unit", False, 2)
    # every sample customer with an address has it as their first service address
    with ctx.db.connect() as con:
        missing = con.execute("select count(*) from customers c where address_line1 is not null and not exists "
                              "(select 1 from service_addresses s where s.customer_id = c.id)").fetchone()[0]
    assert missing == 0


# -- permissions ------------------------------------------------------------------------
def test_viewing_needs_customer_view_and_changing_needs_edit_too(ctx, viewer, operator):
    editor = auth.login(ctx, "editor", "editor-demo-1")   # customerEdit without customerView
    sender = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    home = book(ctx, viewer).addresses[0]

    for user in (editor, sender):
        with pytest.raises(PermissionDenied, match="customerView"):
            book(ctx, user)
    with pytest.raises(PermissionDenied, match="customerEdit"):
        addresses.set_additional_comms(ctx, viewer, home.id, False)
    with pytest.raises(PermissionDenied):
        addresses.add(ctx, viewer, home.customer_id, AddressForm(address_line1="1 New St"))
    assert addresses.set_additional_comms(ctx, operator, home.id, False).additional_comms is False


def test_the_portal_user_reads_and_changes_only_their_own_account(ctx, portal, admin):
    own = addresses.address_book(ctx, portal, portal.customer_id)
    assert own.account_no == OLIVIA
    home = own.addresses[0]
    assert addresses.set_additional_comms(ctx, portal, home.id, False).additional_comms is False
    added = addresses.add(ctx, portal, portal.customer_id, AddressForm(
        label="Office", address_line1="Level 3, 5 Market St", city="Sydney", state="NSW", postcode="2000",
        additional_comms=True, contacts=[ContactForm("Reception", "reception@example.com", "02 9555 0199")]))
    assert [c.name for c in added.contacts] == ["Reception"]


def test_another_account_is_answered_exactly_like_a_missing_one(ctx, portal, admin):
    other = book(ctx, admin, "A1000030")
    other_address = other.addresses[0]
    other_contact = other_address.contacts[0]
    missing_customer = 99_999_999
    with ctx.db.connect() as con:
        missing_address = con.execute("select max(id) + 1000 from service_addresses").fetchone()[0]
        missing_contact = con.execute("select max(id) + 1000 from address_contacts").fetchone()[0]

    def refusal(call) -> str:
        with pytest.raises(NotFound) as err:
            call()
        return str(err.value)

    # the other account's id and a missing id give the same words, with only the id differing
    said_other = refusal(lambda: addresses.address_book(ctx, portal, other.customer_id))
    said_missing = refusal(lambda: addresses.address_book(ctx, portal, missing_customer))
    assert said_other.replace(str(other.customer_id), "N") == said_missing.replace(str(missing_customer), "N")
    assert said_other == f"No customer with id {other.customer_id}"
    assert refusal(lambda: addresses.active_recipients(ctx, portal, other.customer_id)).startswith("No customer")

    calls = {
        "get": (lambda i: addresses.get(ctx, portal, i), other_address.id, missing_address),
        "toggle": (lambda i: addresses.set_additional_comms(ctx, portal, i, False), other_address.id,
                   missing_address),
        "save": (lambda i: addresses.save(ctx, portal, i, AddressForm(address_line1="Hijacked")),
                 other_address.id, missing_address),
        "add": (lambda i: addresses.add(ctx, portal, i, AddressForm(address_line1="Hijacked")),
                other.customer_id, missing_customer),
        "edit contact": (lambda i: addresses.edit_contact(ctx, portal, i, ContactForm("X", "x@example.com")),
                         other_contact.id, missing_contact),
        "remove contact": (lambda i: addresses.remove_contact(ctx, portal, i), other_contact.id, missing_contact),
    }
    for name, (call, theirs, nobody) in calls.items():
        said_theirs, said_nobody = refusal(lambda: call(theirs)), refusal(lambda: call(nobody))
        assert said_theirs.replace(str(theirs), "N") == said_nobody.replace(str(nobody), "N"), name

    # and nothing of theirs changed
    assert book(ctx, admin, "A1000030") == other


def test_the_portal_user_is_refused_everything_else(ctx, portal):
    flt = customers.CustomerFilter(text="bennett")
    for call in (lambda: customers.search(ctx, portal, flt),
                 lambda: customers.get(ctx, portal, portal.customer_id),
                 lambda: customers.account(ctx, portal, portal.customer_id),
                 lambda: email.suggested_cc(ctx, portal, portal.customer_id),
                 lambda: email.send_email(ctx, portal, portal.customer_id, email.EmailDraft(to="a@example.com")),
                 lambda: bulk.choices(ctx, portal)):
        with pytest.raises(PermissionDenied):
            call()


def test_an_administrator_is_staff_even_with_a_linked_account(ctx, admin):
    # administrators pass every `can`, OWN_ACCOUNT included: they are not portal users
    assert not addresses.is_portal_user(admin)
    assert book(ctx, admin, "A1000030").account_no == "A1000030"


# -- the form ---------------------------------------------------------------------------
def test_every_problem_is_reported_at_its_field(ctx, operator):
    review = addresses.review(AddressForm(
        label="x" * 41, address_line1="  ", city="Syd\x1bney",
        contacts=[ContactForm("", "someone@example.com"), ContactForm("Ann", "ann@"),
                  ContactForm("Bob", "", "call me"), ContactForm("Cy", "", "")]))
    assert list(review.errors) == ["label", "city", "address_line1", "contact.1.name", "contact.2.email",
                                   "contact.3.phone", "contact.4.email"]
    assert "at most 40" in review.errors["label"]
    assert "required" in review.errors["address_line1"]
    assert review.errors["contact.2.email"].startswith("Contact 2 email: 'ann@'")
    assert "give an email" in review.errors["contact.4.email"]

    home = book(ctx, operator).addresses[0]
    with pytest.raises(ValidationError) as err:
        addresses.save(ctx, operator, home.id, AddressForm(address_line1=""))
    assert err.value.field == "address_line1"
    assert book(ctx, operator).addresses[0] == home   # nothing saved


def test_emails_are_normalised_and_contacts_added_edited_and_removed(ctx, operator):
    holiday = book(ctx, operator).addresses[1]
    added = addresses.add_contact(ctx, operator, holiday.id, ContactForm("Kim", "Kim.Lee@EXAMPLE.com", "0412 345 678"))
    assert added.email == "Kim.Lee@example.com" and added.phone == "0412 345 678"
    edited = addresses.edit_contact(ctx, operator, added.id, ContactForm("Kim Lee", "kim@example.org"))
    assert (edited.id, edited.name, edited.email, edited.phone) == (added.id, "Kim Lee", "kim@example.org", None)
    after = addresses.remove_contact(ctx, operator, added.id)
    assert [c.id for c in after.contacts] == [c.id for c in holiday.contacts]
    with ctx.db.connect() as con:
        actions = [r[0] for r in con.execute("select action from audit_log where target = ? order by id",
                                             [OLIVIA]).fetchall()]
    assert actions == ["address.edit"] * 3


# -- the toggle and delivery -------------------------------------------------------------
def harbour_contacts(ctx, user) -> set[str]:
    building = next(b.id for b in bulk.choices(ctx, user).buildings if b.code == "HARB")
    found = bulk.recipients(ctx, user, bulk.Selection(mode="buildings", building_ids=[building],
                                                      include_contacts=True), "email")
    return {r.destination for r in found.recipients if r.kind == "contact" and r.account_no == OLIVIA}


def test_toggle_off_keeps_the_contacts_and_stops_delivery_on_restores(ctx, admin):
    sender = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    olivia = cid(ctx, OLIVIA)
    home, holiday = book(ctx, admin).addresses
    assert email.suggested_cc(ctx, admin, olivia).addresses == ["hannah.bennett@example.com"]
    assert harbour_contacts(ctx, sender) == {"daniel.bennett@example.com", "hannah.bennett@example.com"}

    addresses.set_additional_comms(ctx, admin, home.id, False)
    assert addresses.active_recipients(ctx, admin, olivia) == []
    assert email.suggested_cc(ctx, admin, olivia).addresses == []
    assert harbour_contacts(ctx, sender) == {"daniel.bennett@example.com"}   # the notices contact stays
    assert addresses.get(ctx, admin, home.id).contacts == home.contacts      # data intact

    addresses.set_additional_comms(ctx, admin, home.id, True)
    addresses.set_additional_comms(ctx, admin, holiday.id, True)
    assert [c.email for c in addresses.active_recipients(ctx, admin, olivia)] == [
        "hannah.bennett@example.com", "tom.reid@bondirentals.example.com", "office@bondirentals.example.com"]
    assert [c.name for c in addresses.active_recipients(ctx, admin, olivia, holiday.id)] == [
        "Tom Reid", "Bondi Rentals Office"]
    assert harbour_contacts(ctx, sender) == {"daniel.bennett@example.com", "hannah.bennett@example.com",
                                             "tom.reid@bondirentals.example.com",
                                             "office@bondirentals.example.com"}


def test_a_contact_without_an_email_receives_nothing_even_when_on(ctx, operator):
    home = book(ctx, operator).addresses[0]
    addresses.add_contact(ctx, operator, home.id, ContactForm("Phone Only", "", "+61 2 9555 0000"))
    assert [c.name for c in addresses.active_recipients(ctx, operator, home.customer_id)] == ["Hannah Bennett"]


def test_bulk_address_contacts_are_contacts_linked_to_the_customer(ctx, admin, mail_server):
    sender = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    found = bulk.recipients(ctx, sender, bulk.Selection(mode="accounts", accounts_text=OLIVIA,
                                                        include_contacts=True), "preferred")
    rows = [(r.kind, r.account_no, r.linked_account_no, r.name, r.channel, r.destination, r.problem)
            for r in found.recipients]
    assert rows == [("customer", OLIVIA, OLIVIA, "Olivia Bennett", "email", "olivia.bennett@example.com", None),
                    ("contact", OLIVIA, None, "Daniel Bennett", "email", "daniel.bennett@example.com", None),
                    ("contact", OLIVIA, OLIVIA, "Hannah Bennett", "email", "hannah.bennett@example.com", None)]
    assert bulk.count(ctx, sender, bulk.Selection(mode="accounts", accounts_text=OLIVIA,
                                                  include_contacts=True)) == bulk.SelectionCount(1, 0, 2)
    compose = bulk.BulkCompose(subject="Hi", text_body="Dear {{ recipient.name }} ({{ recipient.kind }})")
    batch = bulk.generate(ctx, sender, bulk.Selection(mode="accounts", accounts_text=OLIVIA, include_contacts=True),
                          "email", compose, found.recipients).batch
    with ctx.db.connect() as con:
        got = con.execute("select to_addrs, body, recipient_kind, customer_id from messages where batch_id = ? "
                          "order by id", [batch.id]).fetchall()
    assert (["hannah.bennett@example.com"], "Dear Hannah Bennett (Contact)", "contact",
            cid(ctx, OLIVIA)) in [tuple(r) for r in got]


# -- every new customer gets a first service address ---------------------------------------
def first_addresses(ctx, accounts: list[str]) -> dict[str, list[tuple]]:
    with ctx.db.connect() as con:
        rows = con.execute("select c.account_no, s.label, s.address_line1, s.city, s.additional_comms "
                           "from customers c left join service_addresses s on s.customer_id = c.id "
                           "where c.account_no in (select unnest(?::varchar[])) order by c.account_no, s.id",
                           [accounts]).fetchall()
    found: dict[str, list[tuple]] = {}
    for account, *rest in rows:
        found.setdefault(account, []).append(tuple(rest))
    return found


def test_seeded_customers_get_their_first_service_address(ctx):
    assert setup.seed_customers(ctx, 1200, chunk=500) == 1200
    with ctx.db.connect() as con:
        seeded, with_address = con.execute(
            "select count(*), count(*) filter (where exists (select 1 from service_addresses s "
            "where s.customer_id = c.id)) from customers c where account_no like 'S%'").fetchone()
        per_customer = con.execute("select max(n) from (select count(*) as n from service_addresses "
                                   "group by customer_id)").fetchone()[0]
    assert seeded == with_address == 1200 and per_customer == 2  # Olivia's two; one each otherwise
    first = first_addresses(ctx, ["S00000007"])["S00000007"]
    assert first == [("Service address", "8 Mill Lane", "Springfield", False)]


def test_imported_customers_get_their_first_service_address(ctx, tmp_path):
    csv = tmp_path / "new.csv"
    csv.write_text(
        "account_no,name,customer_type,status,company_code,building_code,preferred_delivery,email,mobile,"
        "sms_opt_in,address_line1,address_line2,city,state,postcode\n"
        "N0000001,Nia North,residential,active,,MILL,email,nia@example.com,,false,Apt 9,12 Mill Lane,Newtown,NSW,2042\n"
        "N0000002,No Address,residential,active,,MILL,email,none@example.com,,false,,,,,\n", "utf-8")
    report = customer_import.import_file(ctx, LOCAL_ADMIN, csv)
    assert report.added == 2, report.problems
    found = first_addresses(ctx, ["N0000001", "N0000002"])
    assert found == {"N0000001": [("Service address", "Apt 9", "Newtown", False)],
                     "N0000002": [(None, None, None, None)]}
