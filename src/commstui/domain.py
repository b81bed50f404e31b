"""Plain data shared by every layer: no I/O, no Textual, no SQL."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time


class Permission(enum.StrEnum):
    CUSTOMER_VIEW = "customer.view"
    CUSTOMER_EDIT = "customer.edit"
    MAIL_SETTINGS = "settings.mail"
    USERS_MANAGE = "users.manage"


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

    @property
    def label(self) -> str:
        # "sent" only means the server took it; say so where operators read it.
        return {"sent": "accepted by mail server", "held": "needs attention",
                "missed": "missed (skipped)"}.get(self.value, self.value)

    @property
    def is_final(self) -> bool:
        return self in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.CANCELLED,
                        MessageStatus.MISSED)


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

    @property
    def is_admin(self) -> bool:
        return bool({Role.ADMINISTRATOR, Role.SUPERUSER} & self.effective_roles)

    def can(self, permission: Permission) -> bool:
        if self.is_admin:
            return True
        return any(permission in ROLE_PERMISSIONS.get(r, ()) for r in self.effective_roles)


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
