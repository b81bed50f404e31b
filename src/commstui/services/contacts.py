"""Contacts of a customer and the owner of their location (issue 5, item 4).

A contact has a name, emails (exactly one of them primary: contacts.email; the others
in contacts.other_emails), a phone, a mobile, and two flags: receives email notices
(bulk sends include them on request) and SMS opt-in. Numbers are stored in E.164, read
in the SMS provider's region (AU when none is set up), as bulk sends read them.

The location owner is another customer, named by account number; never the customer
itself. Bulk sends reach the owner through customers.owner_id.

Who may: reading needs customerView; changing needs customerView and customerEdit,
like every change to a customer's account. Portal users (role customer) see none of
this: their portal shows their service addresses only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from ..delivery.sms import NumberError, normalise_number
from ..domain import Contact, Permission, User
from ..store import contacts as store
from ..store import customers as customers_store
from ..store import notes as notes_store
from ..store import sms as sms_store
from ..store.contacts import LocationOwner
from ..store.db import NotFound
from .context import Context, require
from .errors import ValidationError

NAME_MAX = 120
EMAILS_MAX = 10
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_VIEW = (Permission.CUSTOMER_VIEW,)
_EDIT = (Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)


@dataclass
class ContactForm:
    name: str = ""
    emails: tuple[str, ...] = ()   # in the order shown; blanks are ignored
    primary: int = 0               # index into emails of the primary one
    phone: str = ""
    mobile: str = ""
    receives_notices: bool = False
    sms_opt_in: bool = False

    @classmethod
    def of(cls, contact: Contact) -> "ContactForm":
        """The form filled in from a saved contact (the primary email first)."""
        emails = tuple(e for e in (contact.email, *contact.other_emails) if e)
        return cls(name=contact.name, emails=emails, primary=0, phone=contact.phone or "",
                   mobile=contact.mobile or "", receives_notices=contact.receives_notices,
                   sms_opt_in=contact.sms_opt_in)


@dataclass(frozen=True)
class CustomerPeople:
    """What the contacts tab shows, read in one open of the file."""

    contacts: list[Contact]
    owner: LocationOwner | None
    may_edit: bool


# -- reading ---------------------------------------------------------------------------------
def people(ctx: Context, user: User, customer_id: int) -> CustomerPeople:
    require(user, *_VIEW)
    with ctx.db.connect() as con:
        customers_store.get(con, customer_id)  # a missing customer says so
        return CustomerPeople(contacts=store.for_customer(con, customer_id), owner=store.owner_of(con, customer_id),
                              may_edit=user.can(Permission.CUSTOMER_EDIT))


def list_contacts(ctx: Context, user: User, customer_id: int) -> list[Contact]:
    return people(ctx, user, customer_id).contacts


def get(ctx: Context, user: User, contact_id: int) -> Contact:
    require(user, *_VIEW)
    with ctx.db.connect() as con:
        return store.get(con, contact_id)


# -- checking the form --------------------------------------------------------------------------
def _check_name(text: str) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise ValidationError("Name: a contact needs a name.", "name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"Name: at most {NAME_MAX} characters (this one is {len(name)}).", "name")
    if _CONTROL.search(name):
        raise ValidationError("Name: cannot hold control characters; please retype it.", "name")
    return name


def check_email(text: str) -> str:
    """One address, normalised (the domain lower-cased), or a ValidationError on field emails."""
    addr = (text or "").strip()
    try:
        return validate_email(addr, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(f"Emails: {addr!r} is not an email address: {exc}", "emails") from None


def _check_emails(emails, primary: int) -> tuple[str | None, list[str]]:
    """(primary, others). Blank rows are dropped; a repeated address is refused."""
    kept: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(emails):
        if not (raw or "").strip():
            continue
        addr = check_email(raw)
        if addr.lower() in seen:
            raise ValidationError(f"Emails: {addr} is listed twice; remove one of them.", "emails")
        seen[addr.lower()] = addr
        kept.append((i, addr))
    if not kept:
        return None, []
    if len(kept) > EMAILS_MAX:
        raise ValidationError(f"Emails: at most {EMAILS_MAX} addresses per contact (this one has {len(kept)}).",
                              "emails")
    chosen = [addr for i, addr in kept if i == primary]
    if not chosen:
        raise ValidationError("Emails: choose which address is the primary one.", "emails")
    return chosen[0], [addr for i, addr in kept if i != primary]


def _region(con) -> str:
    provider = sms_store.active_provider(con)
    return provider.default_region if provider else "AU"


def _check_number(raw: str, region: str, field: str, *, mobile: bool) -> str | None:
    if not (raw or "").strip():
        return None
    try:
        return normalise_number(raw, region, sms=mobile)
    except NumberError as exc:
        raise ValidationError(f"{field.capitalize()}: {exc}.", field) from None


@dataclass(frozen=True)
class _Checked:
    name: str
    email: str | None
    other_emails: list[str]
    phone: str | None
    mobile: str | None
    receives_notices: bool
    sms_opt_in: bool

    def fields(self) -> dict:
        return dict(name=self.name, email=self.email, other_emails=self.other_emails, phone=self.phone,
                    mobile=self.mobile, receives_notices=self.receives_notices, sms_opt_in=self.sms_opt_in)


def _check(con, form: ContactForm) -> _Checked:
    name = _check_name(form.name)
    email, others = _check_emails(form.emails, form.primary)
    region = _region(con)
    phone = _check_number(form.phone, region, "phone", mobile=False)
    mobile = _check_number(form.mobile, region, "mobile", mobile=True)
    if form.sms_opt_in and mobile is None:
        raise ValidationError("Mobile: SMS opt-in needs a mobile number; add one or switch SMS opt-in off.",
                              "mobile")
    if form.receives_notices and email is None and mobile is None:
        raise ValidationError("Emails: a contact who receives notices needs an email address (or a mobile "
                              "for SMS notices); add one or switch notices off.", "emails")
    return _Checked(name, email, others, phone, mobile, bool(form.receives_notices), bool(form.sms_opt_in))


# -- changing ------------------------------------------------------------------------------------
def add(ctx: Context, user: User, customer_id: int, form: ContactForm) -> Contact:
    require(user, *_EDIT)

    def write(con) -> Contact:
        customer = customers_store.get(con, customer_id)
        checked = _check(con, form)
        contact_id = store.insert(con, customer_id=customer.id, **checked.fields())
        notes_store.add(con, customer.id, user.username, f"Contact {checked.name} added by {user.username}.")
        return store.get(con, contact_id)

    return ctx.db.run(write)


def update(ctx: Context, user: User, contact_id: int, form: ContactForm) -> Contact:
    require(user, *_EDIT)

    def write(con) -> Contact:
        contact = store.get(con, contact_id)
        checked = _check(con, form)
        store.update(con, contact_id, **checked.fields())
        notes_store.add(con, contact.customer_id, user.username,
                        f"Contact {checked.name} changed by {user.username}.")
        return store.get(con, contact_id)

    return ctx.db.run(write)


def remove(ctx: Context, user: User, contact_id: int) -> Contact:
    """Marks the contact removed (its past messages keep their link); returns it as it was."""
    require(user, *_EDIT)

    def write(con) -> Contact:
        contact = store.get(con, contact_id)
        store.deactivate(con, contact_id)
        notes_store.add(con, contact.customer_id, user.username,
                        f"Contact {contact.name} removed by {user.username}.")
        return contact

    return ctx.db.run(write)


# -- the location owner -----------------------------------------------------------------------------
def set_owner(ctx: Context, user: User, customer_id: int, owner_account_no: str) -> LocationOwner:
    """Link the owner of this customer's location, named by account number."""
    require(user, *_EDIT)
    account_no = (owner_account_no or "").strip()
    if not account_no:
        raise ValidationError("Owner: type the owner's account number (e.g. A1000025).", "owner")

    def write(con) -> LocationOwner:
        customer = customers_store.get(con, customer_id)
        try:
            owner = customers_store.get_by_account(con, account_no.upper())
        except NotFound:
            raise ValidationError(f"Owner: there is no customer with account number {account_no!r}; check it "
                                  "on the Customers screen.", "owner") from None
        if owner.id == customer.id:
            raise ValidationError(f"Owner: {customer.account_no} cannot own its own location; type the account "
                                  "number of the owner (another customer).", "owner")
        store.set_owner(con, customer.id, owner.id)
        notes_store.add(con, customer.id, user.username,
                        f"Location owner set to {owner.name} ({owner.account_no}) by {user.username}.")
        return LocationOwner(owner.id, owner.account_no, owner.name)

    return ctx.db.run(write)


def clear_owner(ctx: Context, user: User, customer_id: int) -> LocationOwner | None:
    """Remove the owner link; returns the owner it was (None if there was none)."""
    require(user, *_EDIT)

    def write(con) -> LocationOwner | None:
        customer = customers_store.get(con, customer_id)
        was = store.owner_of(con, customer.id)
        if was is not None:
            store.set_owner(con, customer.id, None)
            notes_store.add(con, customer.id, user.username,
                            f"Location owner {was.name} ({was.account_no}) cleared by {user.username}.")
        return was

    return ctx.db.run(write)
