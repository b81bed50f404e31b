"""Composing an email to a customer and queueing it (now, or at a time)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email

from ..delivery.email import new_message_id
from ..domain import Message, Permission, User
from ..store import addresses as addresses_store
from ..store import customers as customers_store
from ..store import mail_servers as mail_store
from ..store import messages as messages_store
from .context import Context, require
from .errors import NoMailServer, ValidationError

# One address per match: 'Name <addr>' (the name quoted, or words without "@"),
# else whatever lies between separators, which is then checked as an address.
_ADDRESS = re.compile(r"""
    (?P<named>(?:"(?:[^"\\]|\\.)*"|[^\s,;<>"@][^,;<>"@]*?)?\s*<[^<>]*>)
  | (?P<sep>[\s,;]+)
  | (?P<word>[^\s,;]+)
""", re.X)
# C0 and C1 controls and DEL: never wanted in a subject, and some are terminal escapes
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_HTML_HINT = re.compile(r"<\s*(html|body|p|br|div|table|a|b|i|strong|em|h[1-6]|ul|ol|span)\b", re.I)


def parse_addresses(text: str, field_name: str = "to") -> list[str]:
    """Addresses separated by commas, semicolons, spaces or lines; 'Name <a@b>' allowed.

    Raises ValidationError naming the first bad address and why, so the form
    can point at it instead of dropping it.
    """
    found: list[str] = []
    for match in _ADDRESS.finditer(text or ""):
        if match.lastgroup == "sep":
            continue
        part = match.group().strip()
        addr = getaddresses([part])[0][1].strip() if match.lastgroup == "named" else part
        if not addr:
            raise ValidationError(f"{field_name.capitalize()}: {part!r} is not an email address.", field_name)
        try:
            valid = validate_email(addr, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(f"{field_name.capitalize()}: {addr!r} — {exc}", field_name) from None
        if valid.normalized not in found:
            found.append(valid.normalized)
    return found


@dataclass
class EmailDraft:
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    is_html: bool | None = None  # None: decide from the body


@dataclass
class CheckedDraft:
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    body: str
    is_html: bool
    warnings: list[str] = field(default_factory=list)


@dataclass
class DraftReview:
    """Every problem of a draft at once, keyed by field (to, cc, bcc, subject), in form order."""

    errors: dict[str, str]
    warnings: list[str]
    is_html: bool
    checked: CheckedDraft | None  # None while there are errors


def review_draft(draft: EmailDraft) -> DraftReview:
    """Judge every field of a draft; a form shows all of it, check_draft raises the first error."""
    errors: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    for name in ("to", "cc", "bcc"):
        try:
            found[name] = parse_addresses(getattr(draft, name), name)
        except ValidationError as exc:
            errors[name] = str(exc)
        if name == "to" and "to" not in errors and not found["to"]:
            errors["to"] = "To: at least one address is required."
    subject = draft.subject or ""
    if len(f"x{subject}x".splitlines()) > 1:  # \r, \n and every other line break Python's email knows
        errors["subject"] = "Subject: must be a single line (it contains a line break)."
    elif _CONTROL.search(subject):
        errors["subject"] = "Subject: contains control characters; please retype it."
    subject = subject.strip()
    body = draft.body or ""
    is_html = draft.is_html if draft.is_html is not None else bool(_HTML_HINT.search(body))
    warnings = []
    if not subject:
        warnings.append("The subject is empty: the email will go out with no subject.")
    if not body.strip():
        warnings.append("The body is empty.")
    checked = None if errors else CheckedDraft(found["to"], found["cc"], found["bcc"], subject, body,
                                                is_html, warnings)
    return DraftReview(errors, warnings, is_html, checked)


def check_draft(draft: EmailDraft) -> CheckedDraft:
    """Validate a draft: every address, a one-line subject. Warnings do not block."""
    review = review_draft(draft)
    if review.checked is None:
        field_name, message = next(iter(review.errors.items()))
        raise ValidationError(message, field_name)
    return review.checked


@dataclass(frozen=True)
class CcSuggestion:
    """What Compose pre-fills Cc with: the additional contacts of the customer's service
    addresses that receive now (additional communication on, an email set)."""

    addresses: list[str]
    names: list[str]

    @property
    def hint(self) -> str:
        if not self.addresses:
            return ""
        return (f"Cc from the service address contacts (additional communication on): "
                f"{', '.join(self.names)}. Edit or clear it if not wanted.")


def suggested_cc(ctx: Context, user: User, customer_id: int) -> CcSuggestion:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        found = addresses_store.active_recipients(con, customer_id)
    emails: list[str] = []
    names: list[str] = []
    for contact in found:
        if contact.email and contact.email.lower() not in (e.lower() for e in emails):
            emails.append(contact.email)
            names.append(contact.name or contact.email)
    return CcSuggestion(emails, names)


def mail_server_ready(ctx: Context, user: User) -> bool:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return mail_store.active(con) is not None


def send_email(ctx: Context, user: User, customer_id: int, draft: EmailDraft,
               due_at: datetime | None = None) -> Message:
    """Queue an email to a customer (due now, or at due_at). Returns the queued message.

    The row, with its Message-ID, is durable before anything is sent; a
    dispatcher sends it and records what the server said.
    """
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    checked = check_draft(draft)
    if due_at is not None and due_at.tzinfo is None:
        raise ValidationError("The send time needs a time zone.", "due_at")

    def queue(con):
        customers_store.get(con, customer_id)
        server = mail_store.active(con)
        if server is None:
            raise NoMailServer("No active mail server is configured: emails cannot be sent yet.")
        mid = messages_store.insert(
            con, message_id=new_message_id(server.from_addr), customer_id=customer_id,
            to_addrs=checked.to, cc_addrs=checked.cc, bcc_addrs=checked.bcc, subject=checked.subject,
            body=checked.body, is_html=checked.is_html, created_by=user.username,
            due_at=due_at.astimezone(UTC) if due_at else None)
        return messages_store.get(con, mid)

    return ctx.db.run(queue)


def send_email_to_account(ctx: Context, user: User, account_no: str, draft: EmailDraft,
                          due_at: datetime | None = None) -> Message:
    """The CLI's way in: by account number, To defaulting to the customer's email."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    return send_email(ctx, user, *for_account(ctx, account_no, draft), due_at)


def for_account(ctx: Context, account_no: str, draft: EmailDraft) -> tuple[int, EmailDraft]:
    """(customer id, draft) for an account number, To defaulting to the customer's email.
    The caller has checked permissions."""
    with ctx.db.connect() as con:
        customer = customers_store.get_by_account(con, account_no)
    if not draft.to.strip():
        if not customer.email:
            raise ValidationError(f"Customer {customer.account_no} has no email address; give --to.", "to")
        draft.to = customer.email
    return customer.id, draft


def log(ctx: Context, user: User, account_no: str | None = None, limit: int = 200) -> list[Message]:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        if account_no:
            customers_store.get_by_account(con, account_no)
        return messages_store.recent(con, limit=limit, account_no=account_no)
