"""The dispatcher: claim due messages with a lease, send them, record what happened.

One runs inside every TUI and one can run headless (`commstui dispatch`). The
claim is a single UPDATE so two dispatchers never take the same row; a crashed
dispatcher's lease runs out and its rows are taken again, keeping their
Message-ID (at-least-once, de-duplicable by the receiver).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


from .. import secrets
from ..config import Settings
from ..domain import MailServer, Message
from ..store import mail_servers as mail_store
from ..store import messages as messages_store
from ..store import notes as notes_store
from ..store.db import Database, StoreError
from .email import Outcome, SendResult, build_mime, deliver, envelope_recipients, hang_up, smtp_client

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (60, 300, 900, 3600)


def utcnow() -> datetime:
    return datetime.now(UTC)


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=BACKOFF_SECONDS[min(max(attempts - 1, 0), len(BACKOFF_SECONDS) - 1)])


@dataclass
class Claim:
    server: MailServer | None
    messages: list[Message]
    password: str | None = None
    error: str | None = None


class Dispatcher:
    def __init__(self, db: Database, settings: Settings, owner: str | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 on_change: Callable[[list[int]], None] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self.on_change = on_change
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None

    # -- control -------------------------------------------------------------
    def wake(self) -> None:
        """Look for work now (e.g. right after an operator pressed Send)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self) -> None:
        """Until stop(): send what is due, then sleep until woken or the interval passes."""
        try:
            while not self._stop.is_set():
                # clear before looking, not after: a wake() or stop() that arrives while
                # we look must end the wait below instead of being lost
                self._wake.clear()
                try:
                    handled = await self.run_batch()
                except StoreError as exc:
                    # busy file or similar: note it and try again next round
                    self.last_error = str(exc)
                    log.warning("dispatcher: %s", exc)
                    handled = 0
                if handled:
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.dispatch_interval)
                except TimeoutError:
                    pass
        finally:
            await asyncio.shield(asyncio.to_thread(self._release))

    async def run_once(self) -> int:
        """Send everything due now, then return how many messages were handled."""
        total = 0
        while not self._stop.is_set():
            handled = await self.run_batch()
            if not handled:
                break
            total += handled
        return total

    # -- one round -----------------------------------------------------------
    async def run_batch(self) -> int:
        claim = await asyncio.to_thread(self._claim)
        self.last_error = claim.error
        if not claim.messages:
            return 0
        self._changed([m.id for m in claim.messages])
        client = smtp_client(claim.server, claim.password, self.settings.smtp_timeout)
        try:
            for message in claim.messages:
                try:
                    mime = build_mime(message, claim.server.from_addr)
                except (ValueError, TypeError) as exc:
                    # this row can never become an email (e.g. a line break in a header):
                    # fail it alone, with the reason, and carry on with the others
                    result = SendResult(Outcome.PERMANENT, f"cannot build the email: {exc}")
                else:
                    result = await deliver(client, mime, claim.server.from_addr,
                                           envelope_recipients(message))
                if result.outcome is Outcome.TEMPORARY and client.is_connected:
                    client.close()  # start the next message on a fresh connection
                # the outcome is written even if we are being cancelled meanwhile
                await asyncio.shield(asyncio.to_thread(self._record, message, result))
                self._changed([message.id])
        finally:
            await hang_up(client)
        return len(claim.messages)

    def _changed(self, ids: list[int]) -> None:
        if self.on_change:
            try:
                self.on_change(ids)
            except Exception:  # a UI callback must never stop delivery
                log.exception("on_change callback failed")

    def _claim(self) -> Claim:
        now = self.clock()
        lease_until = now + timedelta(seconds=self.settings.lease_seconds)

        def claim(con):
            server = mail_store.active(con)
            if server is None:
                return Claim(None, [])
            try:
                # check the password before claiming: a dispatcher that cannot read it
                # (another OS user's 0600 secrets file) must leave the work to one that can
                # instead of burning the messages' attempts
                password = secrets.resolve(server.password_ref)
            except secrets.SecretError as exc:
                return Claim(server, [], error=str(exc))
            return Claim(server, messages_store.claim(con, self.owner, now, lease_until,
                                                      self.settings.dispatch_batch), password)

        return self.db.run(claim)

    def _record(self, message: Message, result: SendResult) -> None:
        now = self.clock()
        recipients = ", ".join(envelope_recipients(message))
        subject = message.subject or "(no subject)"

        def record(con):
            messages_store.add_attempt(con, message.id, message.attempts, self.owner, now,
                                       result.outcome.value, result.reply, result.refused)
            if result.outcome is Outcome.SENT:
                reply = result.reply
                if result.refused:
                    reply += " | refused: " + "; ".join(f"{k}: {v}" for k, v in result.refused.items())
                if messages_store.mark_sent(con, message.id, self.owner, reply, now):
                    self.sent += 1
                    if message.customer_id is not None:
                        notes_store.add(con, message.customer_id, message.created_by,
                                        f"Email '{subject}' sent to {recipients} by {message.created_by} "
                                        f"(accepted by the mail server: {result.reply})")
            elif result.outcome is Outcome.TEMPORARY and message.attempts < self.settings.max_attempts:
                messages_store.mark_retry(con, message.id, self.owner, result.reply,
                                          now + retry_delay(message.attempts))
            else:
                if messages_store.mark_failed(con, message.id, self.owner, result.reply,
                                              result.reply if result.outcome is Outcome.PERMANENT else None):
                    self.failed += 1
                    if message.customer_id is not None:
                        notes_store.add(con, message.customer_id, message.created_by,
                                        f"Email '{subject}' to {recipients} failed: {result.reply}")

        self.db.run(record)

    def _release(self) -> None:
        try:
            self.db.run(lambda con: messages_store.release(con, self.owner))
        except StoreError as exc:  # the lease will run out on its own
            log.warning("dispatcher could not release its claims: %s", exc)
