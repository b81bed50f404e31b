"""Set my password: a user (a new customer, or anyone who forgot theirs) asks for a
one-time code by email, then sets a password with it. No login is needed: it is the way in.

Asking never tells whether the account exists: unknown, deactivated or without an email
address, no mail server, or asked too often (more than CODES_PER_HOUR codes an hour),
the caller gets the same silence and nothing is sent. The code goes through the normal
queue (the dispatcher sends it, and notes it on the customer's account).

Only an argon2 hash of a code is stored (store/password_codes.py). The queued email has
to carry the code until it is sent; once the code is used or void, the code in that
email's body is blanked. Neither the code nor a password ever goes into a log, a note or
the audit log.

A code is CODE_LENGTH characters of an alphabet without look-alikes (no I, L, O, 0, 1),
shown as XXXX-XXXX, valid for VALID_DAYS; MAX_WRONG wrong tries void it. One wording
covers wrong, expired, used and void codes and unknown users.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..delivery import schedules as rules
from ..delivery.email import new_message_id
from ..domain import User
from ..store import audit as audit_store
from ..store import mail_servers as mail_store
from ..store import messages as messages_store
from ..store import office as office_store
from ..store import password_codes as codes_store
from ..store import users as users_store
from . import users as users_service
from .auth import hash_password
from .context import Context
from .email import parse_addresses
from .errors import ValidationError

log = logging.getLogger(__name__)

CODE_LENGTH = 8
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
VALID_DAYS = 7
MAX_WRONG = 5
CODES_PER_HOUR = 3
ANSWER_AFTER = 0.5   # seconds: asking takes at least this long, whoever is asked about
SUBJECT = "Your code to set your commstui password"
SENT = ("If that account exists and has an email address, a code is on its way. "
        f"It is valid for {VALID_DAYS} days.")
WRONG_CODE = "That code is not right or has expired; ask for a new one."
# the line of the email that carries the code, and what it becomes once the code is spent
_CODE_LINE = "Code: "
_CODE_IN_BODY = _CODE_LINE + f"[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}"
_BLANKED = {"used": "(used: your password is set)",
            "replaced": "(no longer valid: a newer code was sent)",
            "wrong": f"(no longer valid: {MAX_WRONG} wrong tries)"}

_hasher = PasswordHasher()
_dummy_hash: str | None = None


class PasswordNotSet(ValidationError):
    """Every problem with the form at once: `problems` maps a field (username, code,
    password, repeat) to what to do about it; `field` is the first of them."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(" ".join(problems.values()), next(iter(problems)))
        self.problems = dict(problems)


@dataclass(frozen=True)
class _Outcome:
    username: str | None     # set when the code was right
    code_right: bool


def _now() -> datetime:
    return datetime.now(UTC)


def new_code() -> str:
    """A fresh code as it is shown: XXXX-XXXX."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def _normalised(code: str) -> str:
    """What was typed, as it was hashed: capitals, no spaces or dashes."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _well_formed(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in code)


def _verify(code_hash: str, code: str) -> bool:
    try:
        return _hasher.verify(code_hash, code)
    except (VerificationError, InvalidHashError):
        return False


def _spend_a_verify(code: str) -> None:
    """As long as a real check, so a missing code cannot be told from a wrong one by timing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not a real code")
    _verify(_dummy_hash, code)


def _username(con, typed: str) -> str | None:
    """The stored username: this one, else the one equal to it ignoring case (a customer
    may type their email address in any case)."""
    return typed if users_store.exists(con, typed) else users_store.username_like(con, typed)


def _address(user: User) -> str | None:
    """Where the code goes: the user's email, or the username when it is an address
    (customers' usernames are); None when neither is a usable address."""
    for text in (user.email, user.username):
        if text and "@" in text:
            try:
                found = parse_addresses(text, "email")
            except ValidationError:
                continue
            if len(found) == 1:
                return found[0]
    return None


def _expiry_text(con, expires_at: datetime) -> str:
    zone = office_store.settings(con, rules.system_zone_name())[0].timezone
    try:
        local = expires_at.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        local, zone = expires_at, "UTC"
    return f"{local:%H:%M} on {local:%A} {local.day} {local:%B %Y} ({zone.removeprefix('Etc/')} time)"


def _email_body(user: User, code: str, expiry: str) -> str:
    return (
        f"Hello {user.display_name or user.username},\n\n"
        "Here is your code to set your commstui password:\n\n"
        f"    {_CODE_LINE}{code}\n\n"
        f"It works once, until {expiry}.\n\n"
        "To use it, open commstui and choose \"Set my password\" on the login screen (F2).\n"
        f"Type your username ({user.username}), press F3 (\"I have a code\"), then type this\n"
        "code and your new password twice. Then log in with the new password.\n\n"
        "If you did not ask for this code, you can ignore this email: your password stays\n"
        "as it was, and nobody can use the code without this email.\n"
    )


# -- asking for a code -------------------------------------------------------------------
def request_code(ctx: Context, username: str) -> None:
    """Email a code to the user, if there is such an active user with an email address
    and a mail server to send it. The answer is the same in every case: see SENT."""
    started = time.monotonic()
    try:
        _request_code(ctx, (username or "").strip())
    finally:
        # a known user costs a few database writes more than an unknown one: wait out
        # the difference, so the time taken does not tell either
        time.sleep(max(0.0, started + ANSWER_AFTER - time.monotonic()))


def _request_code(ctx: Context, username: str) -> None:
    code = new_code()
    # hashed whatever happens (argon2 takes a moment)
    code_hash = hash_password(_normalised(code))
    if not username or len(username) > 320:
        return

    def ask(con) -> None:
        now = _now()
        name = _username(con, username)
        if name is None:
            return
        user = users_store.get_by_username(con, name)
        address = _address(user)
        if not user.active or address is None:
            return
        if codes_store.count_since(con, name, now - timedelta(hours=1)) >= CODES_PER_HOUR:
            return  # asked too often: the same silence
        server = mail_store.active(con)
        if server is None:
            log.warning("A password code was asked for, but no mail server is set up to send it.")
            return
        for email_id in codes_store.void_unused(con, name, now):
            _blank(con, email_id, "replaced")
        expires_at = now + timedelta(days=VALID_DAYS)
        email_id = messages_store.insert(
            con, message_id=new_message_id(server.from_addr), customer_id=user.customer_id, to_addrs=[address],
            subject=SUBJECT, body=_email_body(user, code, _expiry_text(con, expires_at)), created_by=name)
        messages_store.mark_sensitive(con, email_id)   # staff screens and the CLI never show the code
        codes_store.insert(con, name, code_hash, now, expires_at, email_id)

    ctx.db.run(ask)


# -- setting the password ------------------------------------------------------------------
def _password_problems(new_password: str, repeat: str) -> dict[str, str]:
    try:
        users_service.check_password(new_password)   # the one password policy (Users, CLI, here)
    except ValidationError as exc:
        return {"password": str(exc)}
    if new_password != repeat:
        return {"repeat": "The two passwords are not the same; type the new password again."}
    return {}


def set_password(ctx: Context, username: str, code: str, new_password: str, repeat: str) -> str:
    """Set the user's password with an emailed code; returns the username as stored (the
    one to log in with). PasswordNotSet (a ValidationError) names every problem."""
    username = (username or "").strip()
    typed = _normalised(code)
    problems: dict[str, str] = {}
    if not username:
        problems["username"] = "Enter your username (a customer's username is their email address)."
    if not typed:
        problems["code"] = "Enter the code from the email; it looks like ABCD-EFGH."
    elif not _well_formed(typed):
        problems["code"] = WRONG_CODE
    problems.update(_password_problems(new_password or "", repeat or ""))
    if "username" in problems or "code" in problems:
        raise PasswordNotSet(_ordered(problems))
    # hashed before the transaction: argon2 takes a moment and the file is shared
    new_hash = None if problems else hash_password(new_password)

    def attempt(con) -> _Outcome:
        now = _now()
        name = _username(con, username)
        user = users_store.get_by_username(con, name) if name else None
        live = codes_store.live(con, name, now) if user is not None and user.active else None
        if live is None:
            _spend_a_verify(typed)
            return _Outcome(None, False)
        if not _verify(live.code_hash, typed):
            if codes_store.record_failure(con, live.id) >= MAX_WRONG:
                codes_store.void(con, live.id, now)
                _blank(con, live.email_id, "wrong")
            return _Outcome(None, False)
        if new_hash is None:
            return _Outcome(name, True)   # right code, unusable password: nothing spent
        if not codes_store.mark_used(con, live.id, now):
            return _Outcome(None, False)
        before = users_store.account(con, name)
        users_store.set_password_hash(con, name, new_hash)
        users_store.unlock(con, name)
        _blank(con, live.email_id, "used")
        detail = "with an emailed code"
        if before.locked(now) or before.failed_logins:
            detail += "; wrong-password count and lock cleared"
        audit_store.record(con, name, "user.password_set", name, detail)
        return _Outcome(name, True)

    outcome = ctx.db.run(attempt)
    if not outcome.code_right:
        problems["code"] = WRONG_CODE
    if problems:
        raise PasswordNotSet(_ordered(problems))
    return outcome.username


def _blank(con, email_id: int | None, why: str) -> None:
    if email_id is not None:
        codes_store.blank_code_in_email(con, email_id, _CODE_IN_BODY, _CODE_LINE + _BLANKED[why])


def _ordered(problems: dict[str, str]) -> dict[str, str]:
    """The problems in the order of the form's fields."""
    order = ("username", "code", "password", "repeat")
    return {field: problems[field] for field in order if field in problems}
