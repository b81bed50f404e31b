"""Turning a queued message into MIME and handing it to an SMTP server.

The outcome of one attempt is classified the way DESIGN.md says:
2xx accepted; 4xx, timeouts and dropped connections temporary (retry);
5xx permanent (failed, keep the server's words).
"""

from __future__ import annotations

import enum
import html
import re
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from functools import lru_cache

import aiosmtplib

from ..domain import MailServer, Message, Security


class Outcome(enum.StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


# "slow down" replies: 421 (service not available, closing), 454 (temporary failure,
# e.g. TLS or auth unavailable) and 451 4.7.x rate-limit answers are deferrals, never failures
THROTTLE_CODES = frozenset({421, 454})


@dataclass
class SendResult:
    outcome: Outcome
    reply: str
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> server's words
    code: int | None = None

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLE_CODES

    @property
    def deferred(self) -> dict[str, str]:
        """Recipients refused with a 4xx at RCPT: owed another try."""
        return {k: v for k, v in self.refused.items() if v[:1] == "4"}

    @property
    def rejected(self) -> dict[str, str]:
        """Recipients refused for good (5xx at RCPT)."""
        return {k: v for k, v in self.refused.items() if v[:1] != "4"}


def html_to_text(body: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</h[1-6]>|</li>", "\n", body)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip() + "\n"


@dataclass(frozen=True)
class FileAttachment:
    """A file sent with a message (a bulk batch's PDF), loaded once per dispatcher."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


def build_mime(message: Message, from_addr: str, attachment: FileAttachment | None = None) -> EmailMessage:
    mime = EmailMessage()
    mime["Message-ID"] = message.message_id
    # the time it was scheduled for: the same on every resend, so duplicates are identical
    mime["Date"] = format_datetime(message.scheduled_at or message.created_at)
    mime["From"] = from_addr
    mime["To"] = ", ".join(message.to_addrs)
    if message.cc_addrs:
        mime["Cc"] = ", ".join(message.cc_addrs)
    # Bcc goes only in the envelope, never in a header
    mime["Subject"] = message.subject
    if message.is_html:
        mime.set_content(html_to_text(message.body))
        mime.add_alternative(message.body, subtype="html")
    else:
        mime.set_content(message.body or "\n")
    if attachment is not None:
        maintype, _, subtype = attachment.content_type.partition("/")
        mime.add_attachment(attachment.data, maintype=maintype, subtype=subtype or "octet-stream",
                            filename=attachment.filename)
    return mime


def new_message_id(from_addr: str | None) -> str:
    """Assigned once, when the row is written; every resend carries it."""
    domain = from_addr.rpartition("@")[2] if from_addr and "@" in from_addr else socket.getfqdn() or "commstui.local"
    return make_msgid(domain=domain)


def envelope_recipients(message: Message) -> list[str]:
    """Who this attempt is for: after a partial attempt, only those still owed it."""
    if message.pending_rcpts is not None:
        return list(message.pending_rcpts)
    return all_recipients(message)


def all_recipients(message: Message) -> list[str]:
    if len(message.to_addrs) == 1 and not message.cc_addrs and not message.bcc_addrs:
        return list(message.to_addrs)  # most messages: one recipient
    seen: list[str] = []
    for addr in (*message.to_addrs, *(message.cc_addrs or ()), *(message.bcc_addrs or ())):
        if addr not in seen:
            seen.append(addr)
    return seen


# -- the dispatcher's fast path: the same bytes build_mime gives, with what repeats cached.
# Building an EmailMessage costs ~1 ms; in a bulk run the body and most headers repeat.
_SMTP = policy.SMTP


def _header(name: str, value: str) -> bytes:
    # most headers are short printable ASCII: written as-is, which is what the email
    # package would write for them; anything else (non-ASCII, long, "=?") goes through it.
    # (isascii() and isprintable(): only " " to "~", as a regex would say, at a fifth of the cost)
    if value and len(name) + len(value) < 76 and value.isascii() and value.isprintable() and "=?" not in value:
        return f"{name}: {value}\r\n".encode()
    return _folded(name, value)


@lru_cache(maxsize=4096)
def _folded(name: str, value: str) -> bytes:
    if len(value.splitlines()) > 1:  # any line break, U+2028 and NEL included, as EmailMessage refuses
        raise ValueError(f"line break in the {name} header")
    return _SMTP.fold_binary(name, _SMTP.header_factory(name, value))


@lru_cache(maxsize=256)
def _date(at: datetime) -> bytes:
    # naive means UTC (a claimed row's time, see store.messages.Outgoing): hashing a naive
    # datetime for the cache is cheap, an aware one asks its tzinfo every time
    return _header("Date", format_datetime(at.replace(tzinfo=UTC) if at.tzinfo is None else at))


@lru_cache(maxsize=16)
def _from(from_addr: str) -> bytes:
    return _header("From", from_addr)


@lru_cache(maxsize=64)
def _content(body: str, is_html: bool) -> bytes:
    """MIME-Version, Content-* headers, blank line and the encoded body."""
    part = EmailMessage()
    if is_html:
        part.set_content(html_to_text(body))
        part.add_alternative(body, subtype="html")
    else:
        part.set_content(body or "\n")
    return part.as_bytes(policy=_SMTP)


def render(message: Message, from_addr: str, attachment: FileAttachment | None = None) -> bytes:
    """The message as it goes on the wire (same headers as build_mime)."""
    if attachment is not None:  # rare and large: the email package's own path, encoded per message
        return build_mime(message, from_addr, attachment).as_bytes(policy=_SMTP)
    when = getattr(message, "scheduled_utc", None) or message.scheduled_at or message.created_at
    head = (_header("Message-ID", message.message_id) + _date(when)
            + _from(from_addr) + _header("To", ", ".join(message.to_addrs)))
    if message.cc_addrs:
        head += _header("Cc", ", ".join(message.cc_addrs))
    return head + _header("Subject", message.subject) + _content(message.body, message.is_html)


@lru_cache(maxsize=2)
def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Client(aiosmtplib.SMTP):
    """Remembers a refused RCPT's reply: aiosmtplib hangs up by itself on a 421 to RCPT and
    then reports only "Server not connected" for the next recipient, losing the server's
    "slow down". (A 421 to MAIL or DATA comes back as that command's own error.) Only
    RCPT is wrapped: a wrapper costs every command of every message."""

    last_response: aiosmtplib.SMTPResponse | None = None

    async def rcpt(self, *args, **kwargs):
        try:
            return await super().rcpt(*args, **kwargs)
        except aiosmtplib.SMTPRecipientRefused as exc:
            self.last_response = aiosmtplib.SMTPResponse(exc.code, exc.message)
            raise


def smtp_client(server: MailServer, password: str | None, timeout: float) -> aiosmtplib.SMTP:
    # loading the CA store costs ~1 ms: once per process, and only for TLS
    context = _tls_context(server.verify_tls) if server.security != Security.NONE else None
    return _Client(
        hostname=server.host, port=server.port, timeout=timeout,
        use_tls=server.security == Security.TLS,
        start_tls=True if server.security == Security.STARTTLS else False,
        tls_context=context,
        username=server.username or None, password=password if server.username else None,
    )


def _reply(code: int, text: str) -> str:
    return f"{code} {text}".strip()


async def deliver(client: aiosmtplib.SMTP, mime: EmailMessage | bytes, sender: str,
                  recipients: list[str]) -> SendResult:
    """One attempt over a connected (or connectable) client."""
    if isinstance(client, _Client):
        client.last_response = None
    try:
        if not client.is_connected:
            await client.connect()
        if isinstance(mime, bytes):
            errors, response = await client.sendmail(sender, recipients, mime)
        else:
            errors, response = await client.send_message(mime, sender=sender, recipients=recipients)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = {r.recipient: _reply(r.code, r.message) for r in exc.recipients}
        temporary = any(400 <= r.code < 500 for r in exc.recipients)
        codes = {r.code for r in exc.recipients}
        return SendResult(Outcome.TEMPORARY if temporary else Outcome.PERMANENT,
                          "; ".join(f"{k}: {v}" for k, v in refused.items()), refused,
                          code=next(iter(codes & THROTTLE_CODES), None))
    except aiosmtplib.SMTPResponseException as exc:
        outcome = Outcome.TEMPORARY if 400 <= exc.code < 500 else Outcome.PERMANENT
        return SendResult(outcome, _reply(exc.code, exc.message), code=exc.code)
    except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
        return SendResult(Outcome.TEMPORARY, f"timed out: {exc}")
    except (aiosmtplib.SMTPException, OSError) as exc:
        last = getattr(client, "last_response", None)
        if isinstance(exc, aiosmtplib.SMTPServerDisconnected) and last is not None and last.code in THROTTLE_CODES:
            # the server said 421 and hung up: its words, and its "slow down", are the outcome
            return SendResult(Outcome.TEMPORARY, _reply(last.code, last.message), code=last.code)
        # connection refused / dropped, TLS trouble: try again later
        return SendResult(Outcome.TEMPORARY, f"{type(exc).__name__}: {exc}")
    refused = {addr: _reply(r.code, r.message) for addr, r in (errors or {}).items()}
    return SendResult(Outcome.SENT, response, refused, code=250)


async def hang_up(client: aiosmtplib.SMTP) -> None:
    """QUIT politely if still connected; a server that already went away is just closed."""
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


async def send_one(server: MailServer, password: str | None, mime: EmailMessage, recipients: list[str],
                   timeout: float = 30.0) -> SendResult:
    """Connect, send, quit: for test emails and single sends."""
    client = smtp_client(server, password, timeout)
    try:
        return await deliver(client, mime, server.from_addr, recipients)
    finally:
        await hang_up(client)
