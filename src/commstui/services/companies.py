"""Companies (CRM): find companies, read one with its customers, rename one.

Who sees what:
- administrator, superuser and companyView see every company;
- crmCompanyView sees only the companies assigned to the user (users.company_ids).
  Any other company is invisible: not listed, not counted, and looked up by id or
  code it gives the same "not found" as a company that does not exist.

Renaming needs view AND edit, as the seed pairs them ("companyView and companyEdit",
"crmCompanyView and crmCompanyEdit") and as customerView/customerEdit work: an edit
role alone sees nothing and changes nothing. companyEdit renames any company the user
can see; crmCompanyEdit only the assigned ones.

A company's customers (account no, name, email, status) are part of the company's
record: whoever may view the company sees that list without customerView. Opening
one customer's account (details, emails, notes) still needs customerView, which the
customers service checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..domain import Page, Permission, User
from ..store import companies as companies_store
from ..store.companies import Company
from .context import Context, require_any
from .errors import PermissionDenied, ValidationError

NAME_MAX = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_VIEW = (Permission.COMPANY_VIEW, Permission.COMPANY_VIEW_ASSIGNED)
_EDIT = (Permission.COMPANY_EDIT, Permission.COMPANY_EDIT_ASSIGNED)


def _scope(user: User) -> int | None:
    """None: every company; else the id of the user whose assigned companies are visible."""
    require_any(user, *_VIEW)
    return None if user.can(Permission.COMPANY_VIEW) else user.id


def may_view(user: User | None) -> bool:
    """Whether the Companies screen is for this user at all (the palette asks)."""
    return user is not None and user.active and any(user.can(p) for p in _VIEW)


def search(ctx: Context, user: User, text: str = "", after_code: str | None = None, limit: int = 100) -> Page:
    scope = _scope(user)
    with ctx.db.connect() as con:
        return companies_store.search(con, text, assigned_to=scope, after_code=after_code, limit=limit)


def count(ctx: Context, user: User, text: str = "") -> int:
    scope = _scope(user)
    with ctx.db.connect() as con:
        return companies_store.count(con, text, assigned_to=scope)


def get(ctx: Context, user: User, company_id: int) -> Company:
    scope = _scope(user)
    with ctx.db.connect() as con:
        return companies_store.get(con, company_id, assigned_to=scope)


def get_by_code(ctx: Context, user: User, code: str) -> Company:
    scope = _scope(user)
    with ctx.db.connect() as con:
        return companies_store.get_by_code(con, code, assigned_to=scope)


def customers_of(ctx: Context, user: User, company_id: int, after_account: str | None = None,
                 limit: int = 100) -> Page:
    scope = _scope(user)
    with ctx.db.connect() as con:
        companies_store.get(con, company_id, assigned_to=scope)  # invisible: not found
        return companies_store.customers_of(con, company_id, after_account=after_account, limit=limit)


@dataclass(frozen=True)
class CompanyAccount:
    """What the details screen shows, read in one open of the file."""

    company: Company
    customers: Page
    may_rename: bool          # the screen offers Rename only when it would be allowed
    may_open_customers: bool  # customerView: a customer's own account opens


def account(ctx: Context, user: User, company_id: int, limit: int = 100) -> CompanyAccount:
    scope = _scope(user)
    with ctx.db.connect() as con:
        company = companies_store.get(con, company_id, assigned_to=scope)
        return CompanyAccount(
            company=company,
            customers=companies_store.customers_of(con, company_id, limit=limit),
            may_rename=may_edit(con, user, company_id),
            may_open_customers=user.can(Permission.CUSTOMER_VIEW),
        )


def may_edit(con, user: User, company_id: int) -> bool:
    if user.can(Permission.COMPANY_EDIT):
        return True
    return user.can(Permission.COMPANY_EDIT_ASSIGNED) and companies_store.is_assigned(con, company_id, user.id)


def check_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("A company needs a name.", "name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"A company name can be at most {NAME_MAX} characters (this one is {len(name)}).",
                              "name")
    if _CONTROL.search(name):
        raise ValidationError("A company name cannot hold control characters.", "name")
    return name


def rename(ctx: Context, user: User, company_id: int, name: str) -> Company:
    """Give a company a new name; returns it as saved."""
    scope = _scope(user)
    require_any(user, *_EDIT)
    name = check_name(name)

    def change(con) -> Company:
        company = companies_store.get(con, company_id, assigned_to=scope)  # invisible: not found
        if not may_edit(con, user, company_id):
            raise PermissionDenied(
                f"{user.username} may change only the companies assigned to them (role crmCompanyEdit), "
                f"and {company.code} is not one; ask an administrator to assign it.")
        companies_store.rename(con, company_id, name)
        return companies_store.get(con, company_id)

    return ctx.db.run(change)
