"""Turning a queued message into MIME and handing it to an SMTP server.

The outcome of one attempt is classified the way DESIGN.md says:
2xx accepted; 4xx, timeouts and dropped connections temporary (retry);
5xx permanent (failed, keep the server's words).
"""

from __future__ import annotations

import enum
import html
import re
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from ..domain import MailServer, Message, Security


class Outcome(enum.StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass
class SendResult:
    outcome: Outcome
    reply: str
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> server's words


def _html_to_text(body: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</h[1-6]>|</li>", "\n", body)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip() + "\n"


def build_mime(message: Message, from_addr: str) -> EmailMessage:
    mime = EmailMessage()
    mime["Message-ID"] = message.message_id
    mime["Date"] = format_datetime(message.created_at)
    mime["From"] = from_addr
    mime["To"] = ", ".join(message.to_addrs)
    if message.cc_addrs:
        mime["Cc"] = ", ".join(message.cc_addrs)
    # Bcc goes only in the envelope, never in a header
    mime["Subject"] = message.subject
    if message.is_html:
        mime.set_content(_html_to_text(message.body))
        mime.add_alternative(message.body, subtype="html")
    else:
        mime.set_content(message.body or "\n")
    return mime


def envelope_recipients(message: Message) -> list[str]:
    seen: list[str] = []
    for addr in (*message.to_addrs, *message.cc_addrs, *message.bcc_addrs):
        if addr not in seen:
            seen.append(addr)
    return seen


def smtp_client(server: MailServer, password: str | None, timeout: float) -> aiosmtplib.SMTP:
    context = ssl.create_default_context()
    if not server.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return aiosmtplib.SMTP(
        hostname=server.host, port=server.port, timeout=timeout,
        use_tls=server.security == Security.TLS,
        start_tls=True if server.security == Security.STARTTLS else False,
        tls_context=context,
        username=server.username or None, password=password if server.username else None,
    )


def _reply(code: int, text: str) -> str:
    return f"{code} {text}".strip()


async def deliver(client: aiosmtplib.SMTP, mime: EmailMessage, sender: str,
                  recipients: list[str]) -> SendResult:
    """One attempt over a connected (or connectable) client."""
    try:
        if not client.is_connected:
            await client.connect()
        errors, response = await client.send_message(mime, sender=sender, recipients=recipients)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = {r.recipient: _reply(r.code, r.message) for r in exc.recipients}
        temporary = any(400 <= r.code < 500 for r in exc.recipients)
        return SendResult(Outcome.TEMPORARY if temporary else Outcome.PERMANENT,
                          "; ".join(f"{k}: {v}" for k, v in refused.items()), refused)
    except aiosmtplib.SMTPResponseException as exc:
        outcome = Outcome.TEMPORARY if 400 <= exc.code < 500 else Outcome.PERMANENT
        return SendResult(outcome, _reply(exc.code, exc.message))
    except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
        return SendResult(Outcome.TEMPORARY, f"timed out: {exc}")
    except (aiosmtplib.SMTPException, OSError) as exc:
        # connection refused / dropped, TLS trouble: try again later
        return SendResult(Outcome.TEMPORARY, f"{type(exc).__name__}: {exc}")
    refused = {addr: _reply(r.code, r.message) for addr, r in (errors or {}).items()}
    return SendResult(Outcome.SENT, response, refused)


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
