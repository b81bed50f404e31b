"""Logging in and adding users. Passwords are hashed with argon2id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..domain import ALL_ROLES, Permission, User
from ..store import users as users_store
from ..store.db import NotFound
from .context import Context, require
from .errors import LoginFailed, ValidationError

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def _spend_a_verify(password: str) -> None:
    """Check the password against a throwaway hash so an unknown username takes as
    long to refuse as a wrong password (no telling which usernames exist by timing)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real password")
    try:
        _hasher.verify(_dummy_hash, password)
    except VerificationError:
        pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def login(ctx: Context, username: str, password: str) -> User:
    """The user if the password is right; LoginFailed with a clear reason if not.

    Wrong passwords count up; login_max_failures in a row lock the account for
    login_lock_minutes. Unknown users get the same message as wrong passwords.
    """
    username = username.strip()
    wrong = "Wrong username or password."
    if not username or not password:
        raise LoginFailed("Enter your username and password.")
    now = datetime.now(UTC)
    s = ctx.settings

    def attempt(con):
        record = users_store.login_record(con, username)
        if record is None:
            _spend_a_verify(password)
            return None, wrong
        pw_hash, _failures, locked_until, active = record
        if not active:
            return None, "This account is deactivated. Ask an administrator."
        if locked_until is not None and locked_until > now:
            minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
            return None, f"Too many wrong passwords: this account is locked for {minutes} more min."
        try:
            _hasher.verify(pw_hash, password)
        except (VerificationError, InvalidHashError):
            failures = users_store.record_login_failure(
                con, username, s.login_max_failures, now + timedelta(minutes=s.login_lock_minutes))
            left = s.login_max_failures - failures
            if failures >= s.login_max_failures:
                return None, f"Too many wrong passwords: this account is locked for {s.login_lock_minutes} min."
            return None, wrong + (f" {left} attempt{'s' if left != 1 else ''} left before the account locks."
                                  if left <= 2 else "")
        new_hash = hash_password(password) if _hasher.check_needs_rehash(pw_hash) else None
        users_store.record_login_success(con, username, new_hash)
        return users_store.get_by_username(con, username), None

    user, error = ctx.db.run(attempt)
    if error:
        raise LoginFailed(error)
    return user


def get_user(ctx: Context, username: str) -> User:
    with ctx.db.connect() as con:
        return users_store.get_by_username(con, username)


def add_user(ctx: Context, actor: User, username: str, password: str, roles=(),
             display_name: str | None = None, group_roles=(), email: str | None = None) -> int:
    """Create a user (administrators; the CLI acts as context.LOCAL_ADMIN)."""
    require(actor, Permission.USERS_MANAGE)
    username = username.strip()
    if not username:
        raise ValidationError("A username is required.", "username")
    if len(password) < 8:
        raise ValidationError("Passwords need at least 8 characters.", "password")
    bad = [r for r in roles if r not in ALL_ROLES]
    if bad:
        raise ValidationError(f"Unknown role(s): {', '.join(bad)}. Known roles: {', '.join(ALL_ROLES)}.", "roles")

    def add(con):
        if users_store.exists(con, username):
            raise ValidationError(f"User {username!r} already exists.", "username")
        return users_store.insert(con, username, display_name or username, hash_password(password),
                                  roles=roles, group_roles=group_roles, email=email)

    return ctx.db.run(add)


def user_exists(ctx: Context, username: str) -> bool:
    with ctx.db.connect() as con:
        try:
            users_store.get_by_username(con, username)
            return True
        except NotFound:
            return False


def has_users(ctx: Context) -> bool:
    """False on a fresh file: the CLI then explains how to create the first user."""
    with ctx.db.connect() as con:
        return users_store.count(con) > 0
