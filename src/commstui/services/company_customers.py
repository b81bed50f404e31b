"""Adding a customer to a company (the CRM path of seed 003): the customer's account,
their portal user and, if a template is chosen, the welcome email, all in one transaction.

Who may add: whoever may edit that company (companyEdit, or crmCompanyEdit for a
company assigned to them; the company must also be visible to them). customerEdit is
not needed: the seed's CRM path is for company staff, and a company's customers are
part of its record (see services.companies). Opening the new account afterwards still
needs customerView, which the customers service checks.

Roles: a customer's user is a portal user, so it always gets the role "customer".
Staff roles (anything else) may be given only by an administrator (users.manage):
otherwise a crmCompanyEdit user could make a new administrator. A group role counts
as the roles it bundles.

The username is the email address (one address, normalised); it must not be the
username of any user nor the email of any customer, ignoring letter case, so one
address names one portal account. The new user gets the hash of a random secret
nobody knows: they cannot log in until their account is activated (a password set).

Adding from Customers (the second path of seed 003) is the same action with the company
chosen in the form: the list offered is the companies this user may edit (crm users see
only their assigned ones), and the check is the same edit-the-company check.

The new portal user is written to the audit log (action user.add) in the same
transaction as the customer, so a failed add leaves no trace and a made one always does.

Account numbers continue the sample scheme: "A" and 7 digits, one past the highest
such number in use; the unique account_no column refuses a collision, and the
transaction is retried on a write conflict.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from ..delivery import rendering
from ..delivery.email import new_message_id
from ..domain import ALL_ROLES, Customer, Message, Page, Permission, Role, Template, User
from ..store import audit as audit_store
from ..store import companies as companies_store
from ..store import customers as customers_store
from ..store import mail_servers as mail_store
from ..store import messages as messages_store
from ..store import notes as notes_store
from ..store import templates as templates_store
from ..store import users as users_store
from ..store.companies import Company
from ..store.db import NotFound
from . import companies
from .auth import hash_password
from .context import Context, require_any
from .email import parse_addresses
from .errors import PermissionDenied, ValidationError
from .templates import office_today

NAME_MAX = 120
ACCOUNT_PREFIX = "A"
ACCOUNT_DIGITS = 7
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# roles anyone who may add customers may give; the rest need an administrator
CUSTOMER_ROLES = frozenset({Role.CUSTOMER.value})


@dataclass
class NewCustomerForm:
    email: str = ""
    name: str = ""
    group_roles: tuple[str, ...] = ()
    roles: tuple[str, ...] = (Role.CUSTOMER.value,)
    template: str | None = None   # a template's name; None or "" sends no welcome email


@dataclass(frozen=True)
class GroupRole:
    name: str
    roles: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class AddCustomerOptions:
    """What the Add customer dialog offers this user (for this company, when one is chosen)."""

    company: Company | None
    group_roles: list[GroupRole]          # only those this user may give
    roles: list[str]                      # likewise
    templates: list[str] = field(default_factory=list)   # templates with an email body
    mail_server_ready: bool = False


# -- permission -----------------------------------------------------------------------
def _customer_staff(user: User) -> bool:
    """customerView + customerEdit may add a customer to any company (seed 003, step 12:
    the Customers section needs just those); the CRM path goes by company rights."""
    return user.active and user.can(Permission.CUSTOMER_VIEW) and user.can(Permission.CUSTOMER_EDIT)


def _company_for_edit(con, user: User, company_id: int) -> Company:
    """The company if this user may edit it; its not-found if they may not even see it."""
    if _customer_staff(user):
        return companies_store.get(con, company_id)
    require_any(user, Permission.COMPANY_VIEW, Permission.COMPANY_VIEW_ASSIGNED)
    require_any(user, Permission.COMPANY_EDIT, Permission.COMPANY_EDIT_ASSIGNED)
    scope = None if user.can(Permission.COMPANY_VIEW) else user.id
    company = companies_store.get(con, company_id, assigned_to=scope)  # invisible: not found
    if not companies.may_edit(con, user, company_id):
        raise PermissionDenied(
            f"{user.username} may add customers only to the companies assigned to them (role crmCompanyEdit), "
            f"and {company.code} is not one; ask an administrator to assign it.")
    return company


def _require_some_company_edit(user: User) -> None:
    """May this user add customers to any company at all (which ones is checked per company)."""
    if _customer_staff(user):
        return
    require_any(user, *Permission)  # logged in and active
    if not ((user.can(Permission.COMPANY_VIEW) or user.can(Permission.COMPANY_VIEW_ASSIGNED))
            and (user.can(Permission.COMPANY_EDIT) or user.can(Permission.COMPANY_EDIT_ASSIGNED))):
        raise PermissionDenied(
            f"{user.username} is not allowed to add customers: that needs the roles customerView and "
            "customerEdit, or view and edit rights on companies (companyView + companyEdit, or crmCompanyView + "
            "crmCompanyEdit for assigned companies). Ask an administrator.")


def _editable_scope(user: User) -> int | None:
    """None: every company is editable; else only the companies assigned to this user id."""
    everything = _customer_staff(user) or (user.can(Permission.COMPANY_VIEW) and user.can(Permission.COMPANY_EDIT))
    return None if everything else user.id


def companies_for_adding(ctx: Context, user: User, text: str = "", limit: int = 20) -> Page:
    """The companies this user may add customers to, whose code or name holds `text`
    (the Company field's type-ahead list), ordered by code."""
    _require_some_company_edit(user)
    with ctx.db.connect() as con:
        return companies_store.search(con, text, assigned_to=_editable_scope(user), limit=limit)


def may_add(ctx: Context, user: User | None, company_id: int) -> bool:
    """Whether to offer "Add customer" on this company (the service checks again)."""
    if user is None or not user.active:
        return False
    try:
        with ctx.db.connect() as con:
            _company_for_edit(con, user, company_id)
    except (PermissionDenied, NotFound):
        return False
    return True


# -- what the form offers ---------------------------------------------------------------
def _group_roles(con) -> list[GroupRole]:
    return [GroupRole(name, roles, description) for name, roles, description in users_store.group_roles(con)]


def _email_taken(con, email: str) -> str | None:
    """Why the address cannot be a new username, or None."""
    username = users_store.username_like(con, email)
    if username:
        return f"there is already a user {username!r}"
    account = customers_store.account_with_email(con, email)
    if account:
        return f"customer {account} already has that email address"
    return None


def _next_account_no(con) -> str:
    highest = customers_store.highest_account_number(con, ACCOUNT_PREFIX, ACCOUNT_DIGITS)
    number = max(highest or 0, 10 ** (ACCOUNT_DIGITS - 1) - 1) + 1
    if number >= 10 ** ACCOUNT_DIGITS:
        raise ValidationError("Every account number of the form A + 7 digits is used; ask an administrator.",
                              "email")
    return f"{ACCOUNT_PREFIX}{number}"


def _grantable(user: User, roles) -> bool:
    return user.can(Permission.USERS_MANAGE) or set(roles) <= CUSTOMER_ROLES


def _email_templates(con) -> list[Template]:
    return [t for t in templates_store.list_all(con) if t.supports("email")]


def options(ctx: Context, user: User, company_id: int | None) -> AddCustomerOptions:
    """What the form offers; company_id None: the company is still to be chosen (Customers path)."""
    if company_id is None:
        _require_some_company_edit(user)
    with ctx.db.connect() as con:
        company = None if company_id is None else _company_for_edit(con, user, company_id)
        return AddCustomerOptions(
            company=company,
            group_roles=[g for g in _group_roles(con) if _grantable(user, g.roles)],
            roles=[r for r in ALL_ROLES if _grantable(user, [r])],
            templates=[t.name for t in _email_templates(con)],
            mail_server_ready=mail_store.active(con) is not None,
        )


# -- checking the form -------------------------------------------------------------------
def _check_email(text: str) -> str:
    found = parse_addresses(text, "email")
    if not found:
        raise ValidationError("Email: the customer's email address is required (it is their username).", "email")
    if len(found) > 1:
        raise ValidationError(f"Email: one address only (found {len(found)}); the email is the username.", "email")
    return found[0]


def _check_name(text: str) -> str:
    name = " ".join((text or "").split())
    if not name:
        raise ValidationError("Name: the customer needs a name.", "name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"Name: at most {NAME_MAX} characters (this one is {len(name)}).", "name")
    if _CONTROL.search(name):
        raise ValidationError("Name: cannot hold control characters; please retype it.", "name")
    return name


def _check_roles(con, user: User, form: NewCustomerForm) -> tuple[list[str], list[str]]:
    roles = list(dict.fromkeys(r.strip() for r in form.roles if r and r.strip()))
    unknown = [r for r in roles if r not in ALL_ROLES]
    if unknown:
        raise ValidationError(f"Roles: unknown role(s) {', '.join(unknown)}. Known roles: {', '.join(ALL_ROLES)}.",
                              "roles")
    if Role.CUSTOMER.value not in roles:
        roles.insert(0, Role.CUSTOMER.value)  # a customer's user is a portal user
    staff = [r for r in roles if not _grantable(user, [r])]
    if staff:
        raise ValidationError(f"Roles: only an administrator may give {', '.join(staff)}; "
                              "a customer normally has the role customer only.", "roles")
    known = {g.name: g for g in _group_roles(con)}
    groups = list(dict.fromkeys(g.strip() for g in form.group_roles if g and g.strip()))
    missing = [g for g in groups if g not in known]
    if missing:
        raise ValidationError(f"Group roles: no group role {', '.join(map(repr, missing))}. "
                              f"Group roles: {', '.join(known) or 'none yet'}.", "group_roles")
    staff_groups = [g for g in groups if not _grantable(user, known[g].roles)]
    if staff_groups:
        raise ValidationError(f"Group roles: only an administrator may give {', '.join(staff_groups)} "
                              "(it grants staff roles).", "group_roles")
    return roles, groups


def _template(con, name: str | None) -> Template | None:
    if name is None or not name.strip():
        return None
    found = templates_store.find_by_name(con, name.strip())
    if found is None or not found.supports("email"):
        names = ", ".join(t.name for t in _email_templates(con)) or "none yet"
        raise ValidationError(f"Template: no email template named {name.strip()!r}. Email templates: {names}.",
                              "template")
    return found


# -- adding ------------------------------------------------------------------------------
def add_customer(ctx: Context, user: User, company_id: int | None,
                 form: NewCustomerForm) -> tuple[Customer, Message | None]:
    """Create the customer (in the company), their portal user and, with a template,
    queue the welcome email. Returns the customer and the queued message (or None)."""
    if company_id is None:
        _require_some_company_edit(user)
        raise ValidationError("Company: choose the company the customer belongs to (type part of its code or "
                              "name, then pick it from the list).", "company")
    email = _check_email(form.email)
    name = _check_name(form.name)
    # hashed before the transaction: argon2 takes a moment and the file is shared
    password_hash = hash_password(secrets.token_urlsafe(32))

    def add(con) -> tuple[Customer, Message | None]:
        company = _company_for_edit(con, user, company_id)
        roles, groups = _check_roles(con, user, form)
        template = _template(con, form.template)
        taken = _email_taken(con, email)
        if taken:
            raise ValidationError(f"Email: {email} cannot be the username: {taken}.", "email")
        server = mail_store.active(con) if template else None
        if template and server is None:
            raise ValidationError("Template: no active mail server is configured, so the welcome email cannot "
                                  "be sent; choose no template, or ask an administrator to set one up.", "template")
        account_no = _next_account_no(con)
        customer_id = customers_store.insert(con, account_no=account_no, name=name, company_id=company.id,
                                             email=email, preferred_delivery="email")
        users_store.insert(con, email, name, password_hash, roles=roles, group_roles=groups, email=email,
                           customer_id=customer_id)
        message = None
        if template is not None:
            message = _queue_welcome(con, user, template, customer_id, server.from_addr)
        welcome = f"welcome email queued ({template.name})" if message else "no welcome email"
        notes_store.add(con, customer_id, user.username,
                        f"Added to company {company.code} by {user.username}; {welcome}.")
        audit_store.record(con, user.username, "user.add", email,
                           f"customer {account_no} added to company {company.code}, roles {', '.join(roles)}"
                           f"; group roles {', '.join(groups) or 'none'}; {welcome}")
        return customers_store.get(con, customer_id), message

    return ctx.db.run(add)


def _queue_welcome(con, user: User, template: Template, customer_id: int, from_addr: str) -> Message:
    parts = {part: getattr(template, part) for part in ("subject", "text_body", "html_body")}
    row = templates_store.merge_row(con, customer_id=customer_id)
    row.update(recipient_name=row["name"], recipient_kind="customer", recipient_email=row["email"],
               recipient_mobile=row["mobile"], sender_name=user.display_name, sender_email=user.email or "",
               today=office_today(con))
    try:
        rendered = rendering.compile_parts(parts).render(rendering.context_for(row))
    except rendering.TemplateError as exc:
        raise ValidationError(f"Template {template.name!r}: {exc}", "template") from None
    except rendering.RenderError as exc:
        raise ValidationError(f"Template {template.name!r}: {exc}", "template") from None
    html = rendered["html_body"] if template.html_body.strip() else None
    body = html or rendered["text_body"]
    mid = messages_store.insert(con, message_id=new_message_id(from_addr), customer_id=customer_id,
                                to_addrs=[row["email"]], subject=rendered["subject"], body=body,
                                is_html=bool(html), created_by=user.username)
    return messages_store.get(con, mid)
