"""A customer's service addresses and the additional contacts on them (seed 002).

Who may do what, checked here and only here:
- staff: viewing needs customerView; changing needs customerView and customerEdit;
- a portal user (role customer, linked to one account) may view and change the
  addresses of their own account only. Any other account or address is answered
  exactly as a missing one ("No customer ..."), so nothing leaks about what exists.

The "additional communication" toggle: off keeps the contacts' data but they receive
nothing; on restores them. `active_recipients` is who receives now (toggle on and an
email set): Compose pre-fills Cc with them, and bulk sends include them with contacts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

from ..domain import AddressContact, Permission, ServiceAddress, User
from ..store import addresses as store
from ..store import audit as audit_store
from ..store import customers as customers_store
from ..store.db import NotFound
from .context import Context, require
from .errors import ValidationError

LIMITS = {"label": 40, "address_line1": 100, "address_line2": 100, "city": 60, "state": 30, "postcode": 12,
          "name": 80, "phone": 30}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PHONE = re.compile(r"^\+?[\d\s().-]+$")


# -- who may ------------------------------------------------------------------------
def is_portal_user(user: User | None) -> bool:
    """A customer logged in to see their own account (and not also staff with customerView)."""
    return user is not None and user.is_portal


def _gate(user: User | None, change: bool) -> User:
    """Staff with the roles, or a portal user (whose account is checked by _own)."""
    staff = (Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT) if change else (Permission.CUSTOMER_VIEW,)
    if user is not None and user.active and not all(user.can(p) for p in staff) and is_portal_user(user):
        return user
    return require(user, *staff)


def _own(user: User, customer_id: int, missing: str) -> None:
    """A portal user asking about another account hears the same as about a missing one."""
    if is_portal_user(user) and customer_id != user.customer_id:
        raise NotFound(missing)


def _customer_missing(customer_id: int) -> str:
    return f"No customer with id {customer_id}"


def _address_of(con, user: User, address_id: int) -> ServiceAddress:
    try:
        address = store.get(con, address_id)
    except NotFound:
        raise NotFound(f"No service address {address_id}") from None
    _own(user, address.customer_id, f"No service address {address_id}")
    return address


# -- reading --------------------------------------------------------------------------
@dataclass(frozen=True)
class AddressBook:
    """One customer's addresses with who the account is (the portal has no customers.get)."""

    customer_id: int
    account_no: str
    name: str
    addresses: list[ServiceAddress]


def address_book(ctx: Context, user: User, customer_id: int) -> AddressBook:
    user = _gate(user, change=False)
    _own(user, customer_id, _customer_missing(customer_id))
    with ctx.db.connect() as con:
        customer = customers_store.get(con, customer_id)
        return AddressBook(customer.id, customer.account_no, customer.name, store.for_customer(con, customer_id))


def get(ctx: Context, user: User, address_id: int) -> ServiceAddress:
    user = _gate(user, change=False)
    with ctx.db.connect() as con:
        return _address_of(con, user, address_id)


def active_recipients(ctx: Context, user: User, customer_id: int,
                      address_id: int | None = None) -> list[AddressContact]:
    """Address contacts who receive now: the address's toggle is on and they have an email."""
    user = _gate(user, change=False)
    _own(user, customer_id, _customer_missing(customer_id))
    with ctx.db.connect() as con:
        customers_store.get(con, customer_id)
        return store.active_recipients(con, customer_id, address_id)


# -- the form ---------------------------------------------------------------------------
@dataclass
class ContactForm:
    name: str = ""
    email: str = ""
    phone: str = ""
    id: int | None = None          # None: a new contact


@dataclass
class AddressForm:
    label: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    additional_comms: bool = False
    contacts: list[ContactForm] = field(default_factory=list)

    @classmethod
    def of(cls, address: ServiceAddress) -> "AddressForm":
        return cls(label=address.label, address_line1=address.address_line1,
                   address_line2=address.address_line2 or "", city=address.city or "",
                   state=address.state or "", postcode=address.postcode or "",
                   additional_comms=address.additional_comms,
                   contacts=[ContactForm(c.name, c.email or "", c.phone or "", c.id) for c in address.contacts])


@dataclass(frozen=True)
class CheckedContact:
    id: int | None
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class FormReview:
    """Every problem at once, keyed by field ("address_line1", "contact.2.email"), in form order."""

    errors: dict[str, str]
    fields: dict[str, str | None]             # the address fields, trimmed (None for empty)
    contacts: list[CheckedContact]


def _text(errors: dict, key: str, label: str, value: str, limit: int) -> str | None:
    value = (value or "").strip()
    if _CONTROL.search(value):
        errors[key] = f"{label}: contains control characters or a line break; please retype it."
    elif len(value) > limit:
        errors[key] = f"{label}: at most {limit} characters (this has {len(value)})."
    return value or None


def check_email(value: str, label: str = "Email") -> str | None:
    """The address normalised, None when empty; ValidationError saying what is wrong."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(f"{label}: {value!r} — {exc}", "email") from None


def review(form: AddressForm) -> FormReview:
    errors: dict[str, str] = {}
    fields = {
        "label": _text(errors, "label", "Label", form.label, LIMITS["label"]),
        "address_line1": _text(errors, "address_line1", "Address", form.address_line1, LIMITS["address_line1"]),
        "address_line2": _text(errors, "address_line2", "Address line 2", form.address_line2,
                               LIMITS["address_line2"]),
        "city": _text(errors, "city", "City", form.city, LIMITS["city"]),
        "state": _text(errors, "state", "State", form.state, LIMITS["state"]),
        "postcode": _text(errors, "postcode", "Postcode", form.postcode, LIMITS["postcode"]),
    }
    if "address_line1" not in errors and not fields["address_line1"]:
        errors["address_line1"] = "Address: the first address line is required (e.g. \"Apt 4, 10 High St\")."
    contacts = []
    for n, c in enumerate(form.contacts, start=1):
        key = f"contact.{n}"
        name = _text(errors, f"{key}.name", f"Contact {n} name", c.name, LIMITS["name"])
        try:
            email = check_email(c.email, f"Contact {n} email")
        except ValidationError as exc:
            errors[f"{key}.email"], email = str(exc), None
        phone = _text(errors, f"{key}.phone", f"Contact {n} phone", c.phone, LIMITS["phone"])
        if phone and f"{key}.phone" not in errors and not (_PHONE.match(phone)
                                                          and sum(ch.isdigit() for ch in phone) >= 6):
            errors[f"{key}.phone"] = (f"Contact {n} phone: {phone!r} is not a phone number "
                                      "(digits, spaces, + ( ) - only; at least 6 digits).")
        if not name and f"{key}.name" not in errors:
            errors[f"{key}.name"] = f"Contact {n}: a name is required."
        elif not (email or c.email.strip()) and not phone and f"{key}.phone" not in errors:
            errors[f"{key}.email"] = f"Contact {n}: give an email (to receive emails) or a phone number."
        contacts.append(CheckedContact(c.id, name or "", email, phone))
    return FormReview(errors, fields, contacts)


def _checked(form: AddressForm) -> FormReview:
    found = review(form)
    if found.errors:
        key, message = next(iter(found.errors.items()))
        raise ValidationError(message, key)
    return found


# -- changing ---------------------------------------------------------------------------
def _where(address: ServiceAddress | None, fields: dict) -> str:
    return (address.label if address else fields.get("label")) or "service address"


def add(ctx: Context, user: User, customer_id: int, form: AddressForm) -> ServiceAddress:
    """A new service address (with its contacts) for the customer."""
    user = _gate(user, change=True)
    _own(user, customer_id, _customer_missing(customer_id))
    found = _checked(form)

    def insert(con):
        customer = customers_store.get(con, customer_id)
        fields = {k: v for k, v in found.fields.items() if k != "label"}
        address_id = store.insert(con, customer_id, label=found.fields["label"] or "", updated_by=user.username,
                                  additional_comms=form.additional_comms, **fields)
        for c in found.contacts:
            store.add_contact(con, address_id, name=c.name, email=c.email, phone=c.phone, updated_by=user.username)
        audit_store.record(con, user.username, "address.add", customer.account_no,
                           f"{_where(None, found.fields)}; {len(found.contacts)} contact(s); additional "
                           f"communication {'on' if form.additional_comms else 'off'}")
        return store.get(con, address_id)

    return ctx.db.run(insert)


def save(ctx: Context, user: User, address_id: int, form: AddressForm) -> ServiceAddress:
    """Change an address: its fields, the toggle, and its contacts as the form lists them
    (a contact left out of the form is removed; one without an id is added)."""
    user = _gate(user, change=True)
    found = _checked(form)

    def update(con):
        address = _address_of(con, user, address_id)
        kept = {c.id for c in address.contacts}
        wanted = {c.id for c in found.contacts if c.id is not None}
        if wanted - kept:
            raise ValidationError("A contact in the form no longer belongs to this address; reopen it and "
                                  "try again.", "contacts")
        fields = dict(found.fields)
        fields["label"] = fields["label"] or ""
        store.update(con, address_id, user.username, additional_comms=form.additional_comms, **fields)
        for gone in kept - wanted:
            store.remove_contact(con, gone)
        for c in found.contacts:
            if c.id is None:
                store.add_contact(con, address_id, name=c.name, email=c.email, phone=c.phone,
                                  updated_by=user.username)
            else:
                store.update_contact(con, c.id, name=c.name, email=c.email, phone=c.phone,
                                     updated_by=user.username)
        account = customers_store.get(con, address.customer_id).account_no
        audit_store.record(con, user.username, "address.edit", account,
                           f"{_where(address, fields)}; {len(found.contacts)} contact(s); additional "
                           f"communication {'on' if form.additional_comms else 'off'}")
        return store.get(con, address_id)

    return ctx.db.run(update)


def set_additional_comms(ctx: Context, user: User, address_id: int, on: bool) -> ServiceAddress:
    """Switch the address's contacts on (they receive again) or off (kept, receive nothing)."""
    user = _gate(user, change=True)

    def switch(con):
        address = _address_of(con, user, address_id)
        store.update(con, address_id, user.username, additional_comms=on)
        account = customers_store.get(con, address.customer_id).account_no
        audit_store.record(con, user.username, "address.additional_comms", account,
                           f"{_where(address, {})}: {'on' if on else 'off'}")
        return store.get(con, address_id)

    return ctx.db.run(switch)


def add_contact(ctx: Context, user: User, address_id: int, contact: ContactForm) -> AddressContact:
    address = get(ctx, user, address_id)
    form = AddressForm.of(address)
    form.contacts.append(ContactForm(contact.name, contact.email, contact.phone))
    saved = save(ctx, user, address_id, form)
    return saved.contacts[-1]


def edit_contact(ctx: Context, user: User, contact_id: int, contact: ContactForm) -> AddressContact:
    address = _address_of_contact(ctx, user, contact_id)
    form = AddressForm.of(address)
    form.contacts = [ContactForm(contact.name, contact.email, contact.phone, c.id) if c.id == contact_id else c
                     for c in form.contacts]
    saved = save(ctx, user, address.id, form)
    return next(c for c in saved.contacts if c.id == contact_id)


def remove_contact(ctx: Context, user: User, contact_id: int) -> ServiceAddress:
    address = _address_of_contact(ctx, user, contact_id)
    form = AddressForm.of(address)
    form.contacts = [c for c in form.contacts if c.id != contact_id]
    return save(ctx, user, address.id, form)


def _address_of_contact(ctx: Context, user: User, contact_id: int) -> ServiceAddress:
    user = _gate(user, change=True)
    with ctx.db.connect() as con:
        owner = store.contact_owner(con, contact_id)
        if owner is None or (is_portal_user(user) and owner[1] != user.customer_id):
            raise NotFound(f"No address contact {contact_id}")
        return store.get(con, owner[0])

