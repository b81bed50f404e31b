"""Mail server settings (administrators) and the "Send test email" check."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email

from .. import secrets
from ..delivery.email import Outcome, SendResult, build_mime, send_one
from ..domain import MailServer, Message, Permission, Security, User
from ..store import mail_servers as mail_store
from .context import Context, require
from .email import new_message_id, parse_addresses
from .errors import NoMailServer, ValidationError

DEFAULT_NAME = "default"


@dataclass
class MailServerForm:
    host: str
    port: int | str
    security: str
    from_addr: str
    username: str = ""
    password: str = ""        # typed in the TUI: saved to the 0600 secrets file
    password_env: str = ""    # or the name of an environment variable
    active: bool = True
    verify_tls: bool = True
    name: str = DEFAULT_NAME
    concurrency: int | str = 4      # connections at once
    rate_per_minute: int | str = 0  # messages per minute; 0 = no limit


def active_server(ctx: Context, user: User) -> MailServer | None:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return mail_store.active(con)


def get_server(ctx: Context, user: User, name: str = DEFAULT_NAME) -> MailServer | None:
    require(user, Permission.MAIL_SETTINGS)
    with ctx.db.connect() as con:
        return mail_store.get(con, name) or mail_store.active(con)


def _validate(form: MailServerForm) -> tuple[str, int, str, str]:
    host = form.host.strip()
    if not host or any(c.isspace() for c in host):
        raise ValidationError("Host: enter the mail server's host name, e.g. smtp.example.com.", "host")
    try:
        port = int(str(form.port).strip())
    except ValueError:
        raise ValidationError(f"Port: {form.port!r} is not a number.", "port") from None
    if not 0 < port < 65536:
        raise ValidationError("Port: must be between 1 and 65535.", "port")
    if form.security not in [s.value for s in Security]:
        raise ValidationError("Security: choose none, starttls or tls.", "security")
    try:
        from_addr = validate_email(form.from_addr.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(f"From: {form.from_addr!r} — {exc}", "from_addr") from None
    return host, port, form.security, from_addr


def _pacing(form: MailServerForm) -> tuple[int, int]:
    try:
        concurrency = int(str(form.concurrency).strip())
    except ValueError:
        raise ValidationError(f"Connections: {form.concurrency!r} is not a number.", "concurrency") from None
    if not 1 <= concurrency <= 32:
        raise ValidationError("Connections: between 1 and 32 at once.", "concurrency")
    try:
        rate = int(str(form.rate_per_minute).strip() or 0)
    except ValueError:
        raise ValidationError(f"Messages per minute: {form.rate_per_minute!r} is not a number.",
                              "rate_per_minute") from None
    if rate < 0:
        raise ValidationError("Messages per minute: 0 (no limit) or more.", "rate_per_minute")
    return concurrency, rate


def save_server(ctx: Context, user: User, form: MailServerForm) -> MailServer:
    """Save settings. A typed password goes to the secrets file, an env var name is kept as env:NAME;
    leaving both empty keeps whatever reference was there."""
    require(user, Permission.MAIL_SETTINGS)
    host, port, security, from_addr = _validate(form)
    concurrency, rate = _pacing(form)
    password_ref = None
    if form.password_env.strip():
        name = form.password_env.strip()
        if not name.replace("_", "").isalnum():
            raise ValidationError("Password variable: use a name like SMTP_PASSWORD.", "password_env")
        password_ref = f"env:{name}"
    elif form.password:
        password_ref = secrets.store_secret(f"mail_server/{form.name}", form.password)

    def save(con):
        existing = mail_store.get(con, form.name)
        ref = password_ref or (existing.password_ref if existing else None)
        username = form.username.strip() or None
        mail_store.save(con, name=form.name, host=host, port=port, security=security,
                        username=username, password_ref=ref,  # kept for when a username is added
                        from_addr=from_addr, active=form.active, verify_tls=form.verify_tls,
                        concurrency=concurrency, rate_per_minute=rate)
        return mail_store.get(con, form.name)

    return ctx.db.run(save)


def _active(ctx: Context) -> MailServer | None:
    with ctx.db.connect() as con:
        return mail_store.active(con)


async def send_test_email(ctx: Context, user: User, to: str, server: MailServer | None = None) -> SendResult:
    """Send a test message now (not queued) and return what the server answered."""
    require(user, Permission.MAIL_SETTINGS)
    recipients = parse_addresses(to, "to")
    if not recipients:
        raise ValidationError("To: enter an address to send the test email to.", "to")
    if server is None:
        # a DuckDB read is blocking: keep it off the event loop this coroutine runs on
        server = await asyncio.to_thread(_active, ctx)
    if server is None:
        raise NoMailServer("No active mail server is configured.")
    try:
        password = secrets.resolve(server.password_ref)
    except secrets.SecretError as exc:
        return SendResult(Outcome.PERMANENT, str(exc))
    now = datetime.now(UTC)
    message = Message(
        id=0, message_id=new_message_id(server.from_addr), customer_id=None, channel="email",
        to_addrs=tuple(recipients), cc_addrs=(), bcc_addrs=(), subject="commstui test email",
        body=f"This is a test email from commstui, sent by {user.username} at {now:%Y-%m-%d %H:%M} UTC.\n"
             f"Mail server: {server.host}:{server.port} ({server.security}).\n",
        is_html=False, status="sending", due_at=now, attempts=1, created_by=user.username, created_at=now)
    return await send_one(server, password, build_mime(message, server.from_addr), recipients,
                          timeout=ctx.settings.smtp_timeout)
