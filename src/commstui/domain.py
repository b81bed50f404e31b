"""Plain data shared by every layer: no I/O, no Textual, no SQL."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal


class Permission(enum.StrEnum):
    CUSTOMER_VIEW = "customer.view"
    CUSTOMER_EDIT = "customer.edit"
    MAIL_SETTINGS = "settings.mail"
    USERS_MANAGE = "users.manage"
    BULK_SEND = "bulk.send"            # the bulk send wizard, its dashboards and results
    BULK_APPROVE = "bulk.approve"      # release (or reject) a generated batch
    TEMPLATES = "templates.manage"     # create and edit templates
    COMPANY_VIEW = "company.view"                    # every company
    COMPANY_EDIT = "company.edit"
    COMPANY_VIEW_ASSIGNED = "company.view.assigned"  # only the companies assigned to the user (crm roles)
    COMPANY_EDIT_ASSIGNED = "company.edit.assigned"
    OWN_ACCOUNT = "portal.own"                       # a portal user: their own account's addresses only


class Role(enum.StrEnum):
    ADMINISTRATOR = "administrator"
    SUPERUSER = "superuser"
    CUSTOMER_VIEW = "customerView"
    CUSTOMER_EDIT = "customerEdit"
    COMPANY_VIEW = "companyView"
    COMPANY_EDIT = "companyEdit"
    CRM_COMPANY_VIEW = "crmCompanyView"
    CRM_COMPANY_EDIT = "crmCompanyEdit"
    BULK_SEND = "bulkSend"
    BULK_APPROVE = "bulkApprove"
    TEMPLATES = "templates"
    CUSTOMER = "customer"  # portal users: their own account only


# administrator and superuser get everything (see User.can); other roles grant
# exactly these. Sending needs both customerView and customerEdit, as the seed says.
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.CUSTOMER_VIEW: frozenset({Permission.CUSTOMER_VIEW}),
    Role.CUSTOMER_EDIT: frozenset({Permission.CUSTOMER_EDIT}),
    Role.BULK_SEND: frozenset({Permission.BULK_SEND}),
    Role.BULK_APPROVE: frozenset({Permission.BULK_APPROVE}),
    Role.TEMPLATES: frozenset({Permission.TEMPLATES}),
    Role.COMPANY_VIEW: frozenset({Permission.COMPANY_VIEW}),
    Role.COMPANY_EDIT: frozenset({Permission.COMPANY_EDIT}),
    Role.CRM_COMPANY_VIEW: frozenset({Permission.COMPANY_VIEW_ASSIGNED}),
    Role.CRM_COMPANY_EDIT: frozenset({Permission.COMPANY_EDIT_ASSIGNED}),
    Role.CUSTOMER: frozenset({Permission.OWN_ACCOUNT}),
}
ALL_ROLES = [r.value for r in Role]


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HELD = "held"        # missed its time while no dispatcher ran; waits for an operator
    MISSED = "missed"    # missed its time and skipped, by the missed-run policy
    PENDING = "pending"  # in a bulk batch that waits for approval: nothing goes before it
    POSTED = "posted"    # a letter someone marked as posted

    @property
    def label(self) -> str:
        # "sent" only means the server took it; say so where operators read it.
        return {"sent": "accepted by mail server", "held": "needs attention",
                "missed": "missed (skipped)", "pending": "awaiting approval"}.get(self.value, self.value)

    @property
    def is_final(self) -> bool:
        return self in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.CANCELLED,
                        MessageStatus.MISSED, MessageStatus.POSTED)


class MissedPolicy(enum.StrEnum):
    """What a dispatcher does with a message found more than the grace period past
    its time (because no dispatcher was running then)."""

    HOLD = "hold"     # hold it for an operator ("Needs attention") — the default
    SEND = "send"     # send it late, however late
    SKIP = "skip"     # do not send: mark it missed

    @property
    def label(self) -> str:
        return {"hold": "hold it for an operator (Needs attention)",
                "send": "send it late, however late",
                "skip": "skip it and mark it missed"}[self.value]


class Repeat(enum.StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"     # on the weekday of the chosen date
    MONTHLY = "monthly"   # on the day of month of the chosen date
    CRON = "cron"         # a raw cron expression, read in the office time zone


class Channel(enum.StrEnum):
    EMAIL = "email"
    LETTER = "letter"
    SMS = "sms"
    ROBOCALL = "robocall"


class ChannelMode(enum.StrEnum):
    """How a bulk send reaches each recipient."""

    PREFERRED = "preferred"   # each customer's preferred delivery: email or post
    EMAIL = "email"
    LETTER = "letter"
    SMS = "sms"
    ROBOCALL = "robocall"

    @property
    def label(self) -> str:
        return {"preferred": "Preferred delivery (email or post)", "email": "Email", "letter": "Letter (post)",
                "sms": "SMS", "robocall": "RoboCall"}[self.value]


class RecipientKind(enum.StrEnum):
    CUSTOMER = "customer"
    CONTACT = "contact"
    OWNER = "owner"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class BatchStatus(enum.StrEnum):
    GENERATING = "generating"
    PENDING = "pending"       # generated, waiting for approval
    APPROVED = "approved"     # released: its messages are queued (letters wait to be posted)
    REJECTED = "rejected"
    CANCELLED = "cancelled"   # generation was cancelled; nothing of it goes
    FAILED = "failed"         # generation stopped with an error; nothing of it goes

    @property
    def label(self) -> str:
        return {"pending": "pending approval"}.get(self.value, self.value)


class Security(enum.StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class DeliveryMethod(enum.StrEnum):
    EMAIL = "email"
    POST = "post"
    SMS = "sms"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    roles: tuple[str, ...] = ()
    group_roles: tuple[str, ...] = ()
    email: str | None = None
    active: bool = True
    # roles after expanding group roles; filled by the store
    effective_roles: frozenset[str] = frozenset()
    customer_id: int | None = None   # portal users: the one account they may see

    @property
    def is_admin(self) -> bool:
        return bool({Role.ADMINISTRATOR, Role.SUPERUSER} & self.effective_roles)

    def can(self, permission: Permission) -> bool:
        if self.is_admin:
            return True
        return any(permission in ROLE_PERMISSIONS.get(r, ()) for r in self.effective_roles)

    @property
    def is_portal(self) -> bool:
        """A customer's own login: the portal, their account and nothing else. A user who
        also holds staff access (customerView, administrator) gets the staff app instead."""
        return (self.customer_id is not None and self.can(Permission.OWN_ACCOUNT)
                and not self.can(Permission.CUSTOMER_VIEW))


# The host's local administrator. The CLI's administrative verbs act as this user:
# whoever can run commstui on the host can open the DuckDB file directly anyway,
# so a login would protect nothing. It is never stored and cannot log in.
LOCAL_ADMIN = User(id=0, username="cli", display_name="command line",
                   effective_roles=frozenset({Role.ADMINISTRATOR.value}))


@dataclass(frozen=True)
class Building:
    id: int
    code: str
    name: str
    brand: str


@dataclass(frozen=True)
class CustomerRow:
    """One line of the Customers grid: only what the grid shows."""

    id: int
    account_no: str
    name: str
    email: str | None
    mobile: str | None
    building: str | None
    customer_type: str
    status: str


@dataclass(frozen=True)
class Customer:
    id: int
    account_no: str
    name: str
    customer_type: str
    status: str
    preferred_delivery: str
    email: str | None
    mobile: str | None
    sms_opt_in: bool
    address_lines: tuple[str, ...]
    building_id: int | None = None
    building: str | None = None
    brand: str | None = None
    company: str | None = None
    created_at: datetime | None = None

    @property
    def postal_address(self) -> str:
        return "\n".join(line for line in self.address_lines if line)


@dataclass(frozen=True)
class Message:
    id: int
    message_id: str
    customer_id: int | None
    channel: str
    to_addrs: tuple[str, ...]
    cc_addrs: tuple[str, ...]
    bcc_addrs: tuple[str, ...]
    subject: str
    body: str
    is_html: bool
    status: str
    due_at: datetime
    attempts: int
    created_by: str
    created_at: datetime
    last_error: str | None = None
    server_reply: str | None = None
    sent_at: datetime | None = None
    account_no: str | None = None
    scheduled_at: datetime | None = None   # the time the operator chose; kept across retries
    series_id: int | None = None           # set for an occurrence of a recurring series
    series_rule: str | None = None         # the series' cron expression, for display
    pending_rcpts: tuple[str, ...] | None = None  # None: the whole envelope is still to go
    attachment_id: int | None = None       # a file sent with it (a bulk batch's PDF), stored once

    @property
    def is_scheduled(self) -> bool:
        """Queued for a time after it was written (the Emails tab says "scheduled")."""
        return (self.status == MessageStatus.QUEUED and self.attempts == 0
                and self.scheduled_at is not None and self.created_at is not None
                and (self.scheduled_at - self.created_at).total_seconds() > 60)

    @property
    def can_change(self) -> bool:
        """Still editable, reschedulable or cancellable (it has not started to go)."""
        return self.status in (MessageStatus.QUEUED, MessageStatus.HELD) and self.attempts == 0


@dataclass(frozen=True)
class Note:
    id: int
    customer_id: int
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class MailServer:
    id: int
    name: str
    host: str
    port: int
    security: str
    username: str | None
    password_ref: str | None  # "env:VAR" or "secret:KEY"; never the password itself
    from_addr: str
    active: bool
    verify_tls: bool = True
    concurrency: int = 4          # SMTP connections at once
    rate_per_minute: int = 0      # messages per minute at most; 0 means no limit


@dataclass
class Page:
    """A window of rows and whether there are more after it (keyset paging)."""

    rows: list = field(default_factory=list)
    has_more: bool = False


@dataclass(frozen=True)
class ScheduleRequest:
    """What the Schedule dialog (or `send --at/--cron`) asks for, in the office's zone."""

    on: date
    at: time
    repeat: Repeat = Repeat.NONE
    cron: str = ""          # only for Repeat.CRON


@dataclass(frozen=True)
class OfficeSettings:
    """Settings every operator and dispatcher must agree on: kept in the database."""

    timezone: str                      # IANA name, e.g. "Australia/Sydney"
    missed_policy: MissedPolicy = MissedPolicy.HOLD
    grace_minutes: int = 60            # up to this late, a message is simply sent
    lifetime_hours: int = 48           # temporary failures are retried this long, then failed


@dataclass(frozen=True)
class Series:
    id: int
    customer_id: int | None
    cron: str
    timezone: str
    active: bool
    next_at: datetime | None
    skipped: int = 0


@dataclass(frozen=True)
class Attempt:
    attempt: int
    dispatcher: str
    finished_at: datetime
    outcome: str                       # sent | temporary | permanent
    reply: str | None
    refused: tuple[str, ...] = ()      # "address: reply"


@dataclass(frozen=True)
class RecipientOutcome:
    address: str
    outcome: str          # accepted | refused | deferred | pending | failed
    reply: str | None
    at: datetime | None


@dataclass(frozen=True)
class Undelivered:
    """One recipient who did not get a message, and the server's words why."""

    message_id: int
    account_no: str | None
    address: str
    outcome: str          # refused (at RCPT, for good) | failed (the whole message failed)
    reason: str | None
    subject: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    """Everything known about one message: who got it, who did not, and why."""

    message: Message
    attempts: tuple[Attempt, ...]
    recipients: tuple[RecipientOutcome, ...]


@dataclass(frozen=True)
class DispatcherInfo:
    owner: str
    kind: str             # tui | service
    started_at: datetime
    seen_at: datetime


@dataclass(frozen=True)
class DispatcherStatus:
    paused: bool
    paused_by: str | None
    queued: int           # waiting, due now or later (retries included)
    due_next_hour: int
    retrying: int         # queued after a temporary failure
    failing: int          # failed in the last 24 hours
    needs_attention: int  # held
    next_due: datetime | None
    dispatchers: tuple[DispatcherInfo, ...] = ()   # seen in the last few minutes


@dataclass(frozen=True)
class Contact:
    id: int
    customer_id: int
    name: str
    email: str | None
    phone: str | None
    mobile: str | None
    receives_notices: bool
    sms_opt_in: bool = False
    active: bool = True
    other_emails: tuple[str, ...] = ()   # further emails; email is the primary one


@dataclass(frozen=True)
class Template:
    id: int
    name: str
    description: str
    subject: str
    text_body: str
    html_body: str
    letter_body: str
    sms_body: str
    updated_by: str = ""
    updated_at: datetime | None = None

    def supports(self, channel: str) -> bool:
        """Whether it has a body for that channel (a letter falls back on the text body)."""
        if channel in (Channel.SMS, Channel.ROBOCALL):
            return bool(self.sms_body.strip())
        if channel == Channel.LETTER:
            return bool(self.letter_body.strip() or self.text_body.strip())
        return bool(self.text_body.strip() or self.html_body.strip())


@dataclass(frozen=True)
class Attachment:
    id: int
    filename: str
    size: int
    sha256: str
    pages: int | None
    content_type: str = "application/pdf"


@dataclass(frozen=True, slots=True)
class Recipient:
    """One line of the bulk review list: who, on which channel, and where to."""

    account_no: str | None          # the customer at the location
    linked_account_no: str | None   # the customer's or owner's own account; None for a contact
    kind: str                       # RecipientKind
    name: str
    channel: str                    # Channel
    destination: str | None         # email, postal address (one line), phone or SMS number
    customer_id: int                # whose account gets the note (the owner's, for an owner)
    contact_id: int | None = None
    problem: str | None = None      # why it cannot be reached on its channel; None when it can


@dataclass(frozen=True)
class Batch:
    id: int
    title: str
    status: str
    channel_mode: str
    created_by: str
    created_at: datetime
    template_name: str | None = None
    subject: str = ""
    text_body: str = ""
    html_body: str = ""
    letter_body: str = ""
    sms_body: str = ""
    attachment: Attachment | None = None
    generated_at: datetime | None = None
    recipients: int = 0
    emails: int = 0
    letters: int = 0
    sms: int = 0
    robocalls: int = 0
    not_generated: int = 0
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str | None = None
    error: str | None = None
    selection: str = "{}"

    @property
    def generated(self) -> int:
        return self.emails + self.letters + self.sms + self.robocalls


@dataclass(frozen=True)
class BatchFailure:
    """A recipient who got nothing, or whose message failed, and why."""

    account_no: str | None
    linked_account_no: str | None
    kind: str
    name: str
    channel: str
    destination: str | None
    reason: str
    message_id: int | None = None    # None: nothing was generated for them


@dataclass(frozen=True)
class BatchResults:
    batch: Batch
    succeeded: int        # accepted by the server / posted / sent to the provider
    waiting: int          # still queued, retrying, or letters not yet posted
    failed: int           # failed messages plus recipients nothing was generated for
    failures: tuple[BatchFailure, ...]
    cancelled: int = 0    # messages cancelled after approval (from the dashboard)


@dataclass(frozen=True)
class SmsProvider:
    id: int
    name: str
    kind: str             # twilio
    base_url: str
    account_sid: str
    token_ref: str | None  # "env:VAR" or "secret:KEY"; never the token itself
    from_number: str
    default_region: str = "AU"
    verify_tls: bool = True
    active: bool = False


@dataclass(frozen=True)
class AddressContact:
    """An additional recipient for one service address (seed 002)."""

    id: int
    address_id: int
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class ServiceAddress:
    id: int
    customer_id: int
    label: str
    address_line1: str
    address_line2: str | None
    city: str | None
    state: str | None
    postcode: str | None
    additional_comms: bool          # off: its contacts keep their data but receive nothing
    contacts: tuple[AddressContact, ...] = ()

    @property
    def one_line(self) -> str:
        return ", ".join(p for p in (self.address_line1, self.address_line2, self.city,
                                     " ".join(q for q in (self.state, self.postcode) if q)) if p)


class DocumentKind(enum.StrEnum):
    QUOTE = "quote"
    INVOICE = "invoice"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class DocumentLine:
    line_no: int
    description: str
    quantity: Decimal
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Document:
    """A quote or an invoice."""

    id: int
    customer_id: int
    address_id: int | None
    kind: DocumentKind
    number: str
    issued_on: date
    due_on: date | None
    status: str
    notes: str = ""
    lines: tuple[DocumentLine, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class AuditEntry:
    id: int
    happened_at: datetime
    actor: str
    action: str
    target: str
    detail: str
