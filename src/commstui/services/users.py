"""Users and roles, for administrators (users.manage): add users, set their roles, group
roles and companies, link a portal user to their account, reset a password, unlock,
deactivate and reactivate; list and edit group roles (named bundles of roles).

Every change writes an audit row (store.audit) in the same transaction as the change,
with the actor's username, an action name (user.add, user.roles, ...), the username or
group role acted on, and a detail saying before -> after. Passwords and hashes never go
into the detail.

Lockout guards, checked after the change inside its transaction (so a refusal rolls it
back): an administrator cannot deactivate themself or take away their own administrator
rights, and at least one active administrator (or superuser) must remain.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email

from ..domain import ALL_ROLES, Permission, User
from ..store import audit as audit_store
from ..store import companies as companies_store
from ..store import customers as customers_store
from ..store import users as users_store
from ..store.db import NotFound
from ..store.users import UserAccount
from .auth import hash_password
from .context import Context, require
from .errors import ValidationError

PASSWORD_MIN = 8            # as auth.add_user
USERNAME_MAX = 120
NAME_MAX = 120
GENERATED_GROUPS = 3        # a generated password: 3 groups of 4, e.g. "k7mq-9xvt-r2hd"
# no 0/o, 1/l/i: a generated password is read aloud or copied by hand
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CODES = re.compile(r"[\s,;]+")

__all__ = ["UserAccount", "UserForm", "GroupRole", "UserOptions"]


@dataclass
class UserForm:
    """What the user editor (or the CLI) sends. For an existing user the username and
    password are ignored: the password changes only through reset_password."""

    username: str = ""
    display_name: str = ""
    email: str = ""
    password: str = ""                    # adding only; empty: a random one, returned once
    roles: tuple[str, ...] = ()
    group_roles: tuple[str, ...] = ()
    companies: str = ""                   # company codes separated by spaces or commas
    portal_account: str = ""              # a customer account number, or empty


@dataclass(frozen=True)
class GroupRole:
    name: str
    roles: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class UserOptions:
    """What the editor offers: every role, every group role, every company code."""

    roles: list[str]
    group_roles: list[GroupRole]
    companies: list[tuple[str, str]] = field(default_factory=list)   # (code, name)


@dataclass(frozen=True)
class Added:
    account: UserAccount
    password: str | None     # the generated password, shown once; None when the admin chose one


# -- small checks ------------------------------------------------------------------------
def generate_password() -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(GENERATED_GROUPS))


def check_password(password: str) -> None:
    """The one password policy: Users, the CLI and Set my password (services/activation.py)."""
    if len(password) < PASSWORD_MIN:
        raise ValidationError(f"Passwords need at least {PASSWORD_MIN} characters.", "password")


def _clean_username(username: str) -> str:
    username = (username or "").strip()
    if not username:
        raise ValidationError("A username is required.", "username")
    if len(username) > USERNAME_MAX or _CONTROL.search(username) or any(c.isspace() for c in username):
        raise ValidationError(f"A username is one word of at most {USERNAME_MAX} characters, no spaces.",
                              "username")
    return username


def _clean_name(name: str, username: str) -> str:
    name = " ".join((name or "").split())
    if _CONTROL.search(name) or len(name) > NAME_MAX:
        raise ValidationError(f"The name can have at most {NAME_MAX} characters and no control characters.",
                              "display_name")
    return name or username


def _clean_email(email: str) -> str | None:
    email = (email or "").strip()
    if not email:
        return None
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(f"Email: {email!r} is not an email address: {str(exc).rstrip('.')}.",
                              "email") from None


def _check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    roles = tuple(dict.fromkeys(r.strip() for r in roles if r.strip()))
    bad = [r for r in roles if r not in ALL_ROLES]
    if bad:
        raise ValidationError(f"Unknown role(s): {', '.join(bad)}. Known roles: {', '.join(ALL_ROLES)}.", "roles")
    return roles


def _check_group_roles(con, group_roles: Iterable[str]) -> tuple[str, ...]:
    group_roles = tuple(dict.fromkeys(g.strip() for g in group_roles if g.strip()))
    known = users_store.group_role_names(con)
    bad = [g for g in group_roles if g not in known]
    if bad:
        raise ValidationError(f"Unknown group role(s): {', '.join(bad)}. Known: {', '.join(known) or 'none yet'}.",
                              "group_roles")
    return group_roles


def _company_ids(con, codes: str) -> tuple[list[int], list[str]]:
    ids, found = [], []
    for code in (c for c in _CODES.split(codes or "") if c):
        try:
            company = companies_store.get_by_code(con, code)
        except NotFound:
            raise ValidationError(f"No company with code {code!r}. Check the code on the Companies screen.",
                                  "companies") from None
        if company.id not in ids:
            ids.append(company.id)
            found.append(company.code)
    return ids, found


def _customer_id(con, account_no: str) -> int | None:
    account_no = (account_no or "").strip()
    if not account_no:
        return None
    try:
        return customers_store.get_by_account(con, account_no).id
    except NotFound:
        raise ValidationError(f"No customer account {account_no!r}. Check the account number "
                              "(e.g. A1000001) on the Customers screen.", "portal_account") from None


def _words(items: Iterable[str]) -> str:
    items = list(items)
    return ", ".join(items) if items else "(none)"


def _change(before: Iterable[str], after: Iterable[str]) -> str:
    return f"{_words(before)} -> {_words(after)}"


def _target(con, username: str) -> UserAccount:
    return users_store.account(con, username)   # NotFound: "No user 'x'."


def _guard(con, actor: User, username: str) -> None:
    """Refuse (and so roll back) a change that would lock administrators out."""
    admins = users_store.active_admins(con)
    if actor.username == username and username not in admins:
        raise ValidationError("You cannot deactivate yourself or take away your own administrator rights; "
                              "ask another administrator to do it.", "roles")
    if not admins:
        raise ValidationError("This would leave no active administrator. Make another user an administrator "
                              "first.", "roles")


# -- reading -----------------------------------------------------------------------------
def list_users(ctx: Context, actor: User, text: str = "") -> list[UserAccount]:
    require(actor, Permission.USERS_MANAGE)
    with ctx.db.connect() as con:
        return users_store.accounts(con, text)


def get_user(ctx: Context, actor: User, username: str) -> UserAccount:
    require(actor, Permission.USERS_MANAGE)
    with ctx.db.connect() as con:
        return _target(con, username)


def options(ctx: Context, actor: User) -> UserOptions:
    require(actor, Permission.USERS_MANAGE)
    with ctx.db.connect() as con:
        groups = [GroupRole(n, r, d) for n, r, d in users_store.group_roles(con)]
        page = companies_store.search(con, limit=1000)
        return UserOptions(list(ALL_ROLES), groups, [(c.code, c.name) for c in page.rows])


def group_roles(ctx: Context, actor: User) -> list[GroupRole]:
    require(actor, Permission.USERS_MANAGE)
    with ctx.db.connect() as con:
        return [GroupRole(n, r, d) for n, r, d in users_store.group_roles(con)]


# -- adding ------------------------------------------------------------------------------
def add_user(ctx: Context, actor: User, form: UserForm) -> Added:
    """A new user with their access. An empty password means a random one, returned once."""
    require(actor, Permission.USERS_MANAGE)
    username = _clean_username(form.username)
    name = _clean_name(form.display_name, username)
    email = _clean_email(form.email)
    generated = not form.password
    password = generate_password() if generated else form.password
    check_password(password)
    roles = _check_roles(form.roles)
    password_hash = hash_password(password)   # slow (argon2): outside the transaction

    def add(con) -> UserAccount:
        taken = users_store.username_like(con, username)
        if taken:
            raise ValidationError(f"There is already a user {taken!r}; choose another username.", "username")
        groups = _check_group_roles(con, form.group_roles)
        company_ids, codes = _company_ids(con, form.companies)
        customer_id = _customer_id(con, form.portal_account)
        users_store.insert(con, username, name, password_hash, roles=roles, group_roles=groups, email=email,
                           customer_id=customer_id)
        if company_ids:
            users_store.set_company_ids(con, username, company_ids)
        parts = [f"roles: {_words(roles)}", f"group roles: {_words(groups)}"]
        if codes:
            parts.append(f"companies: {_words(codes)}")
        if customer_id is not None:
            parts.append(f"portal account: {form.portal_account.strip()}")
        parts.append("password generated" if generated else "password set by the administrator")
        audit_store.record(con, actor.username, "user.add", username, "; ".join(parts))
        return users_store.account(con, username)

    return Added(ctx.db.run(add), password if generated else None)


# -- changing ----------------------------------------------------------------------------
def save_user(ctx: Context, actor: User, username: str, form: UserForm) -> UserAccount:
    """Apply the editor's form to an existing user: one audit row per part that changed."""
    require(actor, Permission.USERS_MANAGE)
    roles = _check_roles(form.roles)
    email = _clean_email(form.email)

    def save(con) -> UserAccount:
        before = _target(con, username)
        name = _clean_name(form.display_name, username)
        groups = _check_group_roles(con, form.group_roles)
        company_ids, codes = _company_ids(con, form.companies)
        customer_id = _customer_id(con, form.portal_account)
        if (name, email) != (before.display_name, before.email):
            users_store.set_profile(con, username, name, email)
            audit_store.record(con, actor.username, "user.profile", username,
                               f"name: {before.display_name} -> {name}; email: {before.email or '(none)'} -> "
                               f"{email or '(none)'}")
        _roles(con, actor, before, roles)
        _group_roles(con, actor, before, groups)
        if tuple(sorted(codes)) != before.companies:
            users_store.set_company_ids(con, username, company_ids)
            audit_store.record(con, actor.username, "user.companies", username,
                               _change(before.companies, sorted(codes)))
        if customer_id != before.customer_id:
            users_store.set_customer(con, username, customer_id)
            audit_store.record(con, actor.username, "user.portal", username,
                               f"{before.portal_account or '(none)'} -> {form.portal_account.strip() or '(none)'}")
        _guard(con, actor, username)
        return users_store.account(con, username)

    return ctx.db.run(save)


def _roles(con, actor: User, before: UserAccount, roles: tuple[str, ...]) -> None:
    if set(roles) != set(before.roles):
        users_store.set_roles(con, before.username, roles)
        audit_store.record(con, actor.username, "user.roles", before.username, _change(before.roles, roles))


def _group_roles(con, actor: User, before: UserAccount, groups: tuple[str, ...]) -> None:
    if set(groups) != set(before.group_roles):
        users_store.set_group_roles(con, before.username, groups)
        audit_store.record(con, actor.username, "user.group_roles", before.username,
                           _change(before.group_roles, groups))


def set_roles(ctx: Context, actor: User, username: str, roles: Iterable[str]) -> UserAccount:
    require(actor, Permission.USERS_MANAGE)
    roles = _check_roles(roles)

    def change(con) -> UserAccount:
        _roles(con, actor, _target(con, username), roles)
        _guard(con, actor, username)
        return users_store.account(con, username)

    return ctx.db.run(change)


def set_group_roles(ctx: Context, actor: User, username: str, group_roles: Iterable[str]) -> UserAccount:
    require(actor, Permission.USERS_MANAGE)

    def change(con) -> UserAccount:
        _group_roles(con, actor, _target(con, username), _check_group_roles(con, group_roles))
        _guard(con, actor, username)
        return users_store.account(con, username)

    return ctx.db.run(change)


def assign_companies(ctx: Context, actor: User, username: str, codes: str) -> UserAccount:
    """Set the user's companies to exactly these codes (spaces or commas between them)."""
    require(actor, Permission.USERS_MANAGE)

    def change(con) -> UserAccount:
        before = _target(con, username)
        ids, found = _company_ids(con, codes)
        if tuple(sorted(found)) != before.companies:
            users_store.set_company_ids(con, username, ids)
            audit_store.record(con, actor.username, "user.companies", username, _change(before.companies,
                                                                                        sorted(found)))
        return users_store.account(con, username)

    return ctx.db.run(change)


def link_portal(ctx: Context, actor: User, username: str, account_no: str) -> UserAccount:
    """Link a portal user to the customer account they may see (empty: unlink)."""
    require(actor, Permission.USERS_MANAGE)

    def change(con) -> UserAccount:
        before = _target(con, username)
        customer_id = _customer_id(con, account_no)
        if customer_id != before.customer_id:
            users_store.set_customer(con, username, customer_id)
            audit_store.record(con, actor.username, "user.portal", username,
                               f"{before.portal_account or '(none)'} -> {account_no.strip() or '(none)'}")
        return users_store.account(con, username)

    return ctx.db.run(change)


def reset_password(ctx: Context, actor: User, username: str, new_password: str = "") -> str | None:
    """Set a new password (empty: generate one, returned to show once). Also clears a lock,
    so the person can log in with it at once."""
    require(actor, Permission.USERS_MANAGE)
    generated = not new_password
    password = generate_password() if generated else new_password
    check_password(password)
    password_hash = hash_password(password)

    def change(con) -> None:
        before = _target(con, username)
        users_store.set_password_hash(con, username, password_hash)
        users_store.unlock(con, username)
        detail = "new password generated" if generated else "new password set by the administrator"
        if before.locked(datetime.now(UTC)) or before.failed_logins:
            detail += "; wrong-password count and lock cleared"
        audit_store.record(con, actor.username, "user.password_reset", username, detail)

    ctx.db.run(change)
    return password if generated else None


def unlock(ctx: Context, actor: User, username: str) -> UserAccount:
    require(actor, Permission.USERS_MANAGE)

    def change(con) -> UserAccount:
        before = _target(con, username)
        users_store.unlock(con, username)
        was = "locked" if before.locked(datetime.now(UTC)) else "not locked"
        audit_store.record(con, actor.username, "user.unlock", username,
                           f"{was}, {before.failed_logins} wrong password(s) -> unlocked, 0")
        return users_store.account(con, username)

    return ctx.db.run(change)


def set_active(ctx: Context, actor: User, username: str, active: bool) -> UserAccount:
    """Deactivate (cannot log in; nothing else is lost) or reactivate a user."""
    require(actor, Permission.USERS_MANAGE)

    def change(con) -> UserAccount:
        before = _target(con, username)
        if before.active != active:
            users_store.set_active(con, username, active)
            audit_store.record(con, actor.username, "user.reactivate" if active else "user.deactivate", username,
                               f"{'active' if before.active else 'inactive'} -> {'active' if active else 'inactive'}")
        _guard(con, actor, username)
        return users_store.account(con, username)

    return ctx.db.run(change)


# -- group roles -------------------------------------------------------------------------
def save_group_role(ctx: Context, actor: User, name: str, roles: Iterable[str], description: str = "") -> GroupRole:
    """Create a group role or change the roles it bundles (applies to its members at once)."""
    require(actor, Permission.USERS_MANAGE)
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX or _CONTROL.search(name):
        raise ValidationError(f"A group role needs a name of at most {NAME_MAX} characters.", "name")
    roles = _check_roles(roles)
    description = " ".join((description or "").split())

    def save(con) -> GroupRole:
        existing = {n: (r, d) for n, r, d in users_store.group_roles(con)}
        before_roles, before_description = existing.get(name, ((), ""))
        if name in existing and set(before_roles) == set(roles) and before_description == description:
            return GroupRole(name, tuple(before_roles), before_description)
        users_store.upsert_group_role(con, name, roles, description or None)
        detail = (f"new: {_words(roles)}" if name not in existing else _change(before_roles, roles))
        if name in existing and description != before_description:
            detail += f"; description: {before_description or '(none)'} -> {description or '(none)'}"
        audit_store.record(con, actor.username, "group_role.save", name, detail)
        # taking administrator out of a bundle can lock everyone out, or the actor
        admins = users_store.active_admins(con)
        if not admins:
            raise ValidationError("This would leave no active administrator. Make another user an "
                                  "administrator first.", "roles")
        if actor.id and actor.is_admin and actor.username not in admins:
            raise ValidationError("You cannot take away your own administrator rights; ask another "
                                  "administrator to do it.", "roles")
        return GroupRole(name, roles, description)

    return ctx.db.run(save)
