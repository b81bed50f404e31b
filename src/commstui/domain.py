"""Plain data shared by every layer: no I/O, no Textual, no SQL."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


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

    @property
    def label(self) -> str:
        # "sent" only means the server took it; say so where operators read it.
        return {"sent": "accepted by mail server"}.get(self.value, self.value)

    @property
    def is_final(self) -> bool:
        return self in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.CANCELLED)


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


@dataclass
class Page:
    """A window of rows and whether there are more after it (keyset paging)."""

    rows: list = field(default_factory=list)
    has_more: bool = False
