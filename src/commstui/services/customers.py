"""Finding customers and reading one customer's account."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain import Building, Customer, Message, Note, Page, Permission, User
from ..store import customers as customers_store
from ..store import messages as messages_store
from ..store import notes as notes_store
from .context import Context, require


@dataclass(frozen=True)
class CustomerFilter:
    text: str = ""
    building_id: int | None = None
    customer_type: str | None = None
    status: str | None = None

    @property
    def narrowed(self) -> bool:
        """True when the search text or any filter limits the list."""
        return bool(self.text.strip()) or any(v is not None for v in self.as_kwargs().values())

    def as_kwargs(self) -> dict:
        return dict(building_id=self.building_id, customer_type=self.customer_type, status=self.status)


@dataclass(frozen=True)
class FilterOptions:
    buildings: list[Building]
    customer_types: list[str]
    statuses: list[str]


def search(ctx: Context, user: User, flt: CustomerFilter, after_account: str | None = None,
           limit: int = 100) -> Page:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return customers_store.search(con, flt.text, after_account=after_account, limit=limit,
                                      **flt.as_kwargs())


def count(ctx: Context, user: User, flt: CustomerFilter) -> int:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return customers_store.count(con, flt.text, **flt.as_kwargs())


def filter_options(ctx: Context, user: User) -> FilterOptions:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return FilterOptions(
            buildings=customers_store.buildings(con),
            customer_types=customers_store.distinct_values(con, "customer_type"),
            statuses=customers_store.distinct_values(con, "status"),
        )


def get(ctx: Context, user: User, customer_id: int) -> Customer:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return customers_store.get(con, customer_id)


def get_by_account(ctx: Context, user: User, account_no: str) -> Customer:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return customers_store.get_by_account(con, account_no)


@dataclass(frozen=True)
class CustomerAccount:
    """Everything the details screen shows, read in one open of the file."""

    customer: Customer
    messages: list[Message]
    notes: list[Note]


def account(ctx: Context, user: User, customer_id: int) -> CustomerAccount:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return CustomerAccount(
            customer=customers_store.get(con, customer_id),
            messages=messages_store.for_customer(con, customer_id),
            notes=notes_store.for_customer(con, customer_id),
        )


def messages(ctx: Context, user: User, customer_id: int) -> list[Message]:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return messages_store.for_customer(con, customer_id)


def notes(ctx: Context, user: User, customer_id: int) -> list[Note]:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return notes_store.for_customer(con, customer_id)


def add_note(ctx: Context, user: User, customer_id: int, text: str) -> int:
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    text = text.strip()
    if not text:
        from .errors import ValidationError
        raise ValidationError("A note needs some text.", "note")

    def add(con):
        customers_store.get(con, customer_id)
        return notes_store.add(con, customer_id, user.username, text)

    return ctx.db.run(add)
