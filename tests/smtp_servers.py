"""Scripted aiosmtpd servers on 127.0.0.1 for delivery tests.

A ScriptedHandler answers the way a real mail server might on a bad day:
refuse MAIL FROM (e.g. 421 "too busy"), refuse some recipients at RCPT
(per address or in order: 450/452/550...), answer DATA with a 4xx/5xx, hang
up after the data or in the middle of it, stall past the client's timeout, or
hold DATA until the test lets it go. It records every DATA it saw (also the
refused ones, and the partial ones it hung up on) and the connections it
served, so tests can count what arrived, on how many connections at once.

Like a real server it closes the connection after any 421 it answers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import cached_property

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from commstui.delivery.capture import LOOPBACK, free_port

# special DATA "replies" (anything else is answered as written)
DROP = "drop"          # read the whole message, then close the connection without answering
DROP_MID = "drop-mid"  # close the connection in the middle of the data (after `drop_after` bytes)
STALL = "stall"        # answer nothing (until release() or `stall_seconds`), then close

OK = "250 2.0.0 Ok: queued as TEST"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    reply: str  # what the server answered to DATA (or DROP / DROP_MID / STALL)
    login: str | None = None
    password: str | None = None
    conn: int = 0        # which connection it came on (1, 2, ... in order of EHLO)
    at: float = 0.0      # time.monotonic() when the answer was decided

    @property
    def accepted(self) -> bool:
        return self.reply.startswith("2")

    def parse(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.content)

    @cached_property
    def message_id(self) -> str:
        headers = BytesParser(policy=policy.default).parsebytes(self.content, headersonly=True)
        return str(headers["Message-ID"])


def _ordered(replies) -> deque[str]:
    return deque([replies] if isinstance(replies, str) else replies)


class ScriptedHandler:
    """An aiosmtpd handler whose answers the test sets.

    mail_replies: replies for the next MAIL FROM commands, in order ("421 ...",
                  "451 ..."); then MAIL FROM is accepted
    refuse:       {address: reply} answered at RCPT for that address every time, or
                  {address: [reply, reply, ...]} answered for its next RCPTs in
                  order, after which it is accepted (e.g. ["452 4.5.3 ..."]: refused
                  once, accepted on the retry)
    rcpt_replies: replies for the next RCPT commands in order, whatever the
                  address (None in the list: the usual answer); used before `refuse`
    data_replies: replies for the next DATA commands, in order ("451 ...",
                  "554 ...", DROP, DROP_MID, STALL); then every DATA gets `default`
    hold:         if set, DATA waits (bounded) until release(); `entered` is set
                  when a DATA arrives
    latency:      milliseconds to wait before answering each DATA (a slow relay)
    stall_seconds: how long a STALL lasts at most (release() ends it sooner)
    drop_after:   bytes of message data read before a DROP_MID hangs up
    """

    def __init__(self, refuse: dict[str, str | Sequence[str]] | None = None, data_replies=(),
                 default: str = OK, hold: bool = False, *, mail_replies=(), rcpt_replies=(),
                 latency: float = 0, stall_seconds: float = 10.0, drop_after: int = 200,
                 close_on_421: bool = True) -> None:
        self.refuse = {k.lower(): (v if isinstance(v, str) else deque(v)) for k, v in (refuse or {}).items()}
        self.mail_replies: deque[str] = _ordered(mail_replies)
        self.rcpt_replies: deque[str | None] = _ordered(rcpt_replies)
        self.data_replies: deque[str] = _ordered(data_replies)
        self.default = default
        self.latency = latency
        self.stall_seconds = stall_seconds
        self.drop_after = drop_after
        self.close_on_421 = close_on_421
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.commands: list[tuple[int, str, str, str]] = []  # (conn, "MAIL"/"RCPT", argument, reply)
        self.entered = threading.Event()
        self._gate = threading.Event()
        self._released = threading.Event()
        if not hold:
            self._gate.set()
        # connections that said EHLO/HELO (the controller's own start-up probe does not)
        self.connections = 0
        self.open_connections = 0
        self.max_open_connections = 0

    # -- the test's side -------------------------------------------------------
    def release(self) -> None:
        """Let held DATA commands go and end any stall."""
        self._gate.set()
        self._released.set()

    def script(self, *replies: str) -> None:
        """More DATA replies, after the ones already scripted."""
        with self._lock:
            self.data_replies.extend(replies)

    def script_mail(self, *replies: str) -> None:
        with self._lock:
            self.mail_replies.extend(replies)

    def script_rcpt(self, *replies: str | None) -> None:
        with self._lock:
            self.rcpt_replies.extend(replies)

    @property
    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.accepted]

    def accepted_ids(self) -> list[str]:
        """The Message-ID of every message accepted, in order (duplicates kept)."""
        return [r.message_id for r in self.accepted]

    # -- connections (called by ScriptedSMTP) -----------------------------------
    def _greeted(self) -> int:
        with self._lock:
            self.connections += 1
            self.open_connections += 1
            self.max_open_connections = max(self.max_open_connections, self.open_connections)
            return self.connections

    def _closed(self) -> None:
        with self._lock:
            self.open_connections -= 1

    def _take_data_reply(self) -> str:
        with self._lock:
            return self.data_replies.popleft() if self.data_replies else self.default

    def _record(self, session, envelope, content: bytes, reply: str) -> None:
        login = password = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
            password = session.auth_data.password.decode()
        with self._lock:
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), content, reply,
                                          login, password, getattr(session, "conn", 0), time.monotonic()))

    # -- aiosmtpd hooks -------------------------------------------------------------
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self._lock:
            reply = self.mail_replies.popleft() if self.mail_replies else None
            self.commands.append((getattr(session, "conn", 0), "MAIL", address, reply or "250 OK"))
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            reply = self.rcpt_replies.popleft() if self.rcpt_replies else None
            if reply is None:
                scripted = self.refuse.get(address.lower())
                if isinstance(scripted, deque):
                    reply = scripted.popleft() if scripted else None
                else:
                    reply = scripted
            self.commands.append((getattr(session, "conn", 0), "RCPT", address, reply or "250 2.1.5 Ok"))
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.entered.set()
        reply = getattr(session, "data_reply", None) or self._take_data_reply()
        session.data_reply = None
        if not self._gate.is_set():
            # waits off the server's loop; bounded so a broken test cannot hang
            await asyncio.get_running_loop().run_in_executor(None, self._gate.wait, 10)
        if self.latency:
            await asyncio.sleep(self.latency / 1000)
        content = envelope.original_content or b""
        if reply == STALL:
            self._record(session, envelope, content, reply)
            deadline = time.monotonic() + self.stall_seconds
            while time.monotonic() < deadline and not self._released.is_set():
                await asyncio.sleep(0.05)
            if server.transport is not None:
                server.transport.close()
            return "421 4.4.2 gave up (never seen by the client)"
        self._record(session, envelope, content, reply)
        if reply == DROP:
            server.transport.close()
            return "421 4.4.2 closing (never seen by the client)"
        return reply


class ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP plus: counts connections, hangs up after a 421, and can drop
    the connection in the middle of the message data (DROP_MID)."""

    _greeted = False

    async def smtp_EHLO(self, hostname: str):
        await super().smtp_EHLO(hostname)
        self._count_greeting()

    async def smtp_HELO(self, hostname: str):
        await super().smtp_HELO(hostname)
        self._count_greeting()

    def _count_greeting(self) -> None:
        if not self._greeted and self.session is not None:
            self._greeted = True
            self._conn = self.event_handler._greeted()
        if self.session is not None:
            self.session.conn = self._conn

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if self._greeted and self.session is not None:  # a new session after STARTTLS
            self.session.conn = self._conn

    def connection_lost(self, error) -> None:
        if self._greeted and self.session is not None and not getattr(self, "_counted_closed", False):
            self._counted_closed = True
            self.event_handler._closed()
        super().connection_lost(error)

    async def push(self, status) -> None:
        await super().push(status)
        text = status.decode() if isinstance(status, bytes) else status
        if text.startswith("421") and self.event_handler.close_on_421 and self.transport is not None:
            self.transport.close()  # a real server hangs up after 421

    async def smtp_DATA(self, arg: str) -> None:
        handler: ScriptedHandler = self.event_handler
        ready = (self.session is not None and self.session.host_name and self.envelope is not None
                 and self.envelope.rcpt_tos and not arg)
        if not ready:
            return await super().smtp_DATA(arg)  # its own error replies
        reply = handler._take_data_reply()
        if reply != DROP_MID:
            self.session.data_reply = reply
            return await super().smtp_DATA(arg)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        handler.entered.set()
        got = bytearray()
        while len(got) < handler.drop_after:
            line = await self._reader.readuntil(b"\r\n")
            if line == b".\r\n":
                break
            got += line
        handler._record(self.session, self.envelope, bytes(got), DROP_MID)
        # close with the rest of the message unread: the client, still writing or
        # waiting for the final reply, sees the connection go away mid-message
        self.transport.abort()


def accept_any_login(server, session, envelope, mechanism, auth_data):
    # keep the credentials on the session so handle_DATA can record them
    return AuthResult(success=True, auth_data=auth_data)


class _ScriptedController(Controller):
    def factory(self):
        return ScriptedSMTP(self.handler, **self.SMTP_kwargs)


class ScriptedServer:
    """Run a ScriptedHandler on 127.0.0.1 in a background thread (context manager).

    With auth=True the server advertises AUTH without TLS (loopback only) and
    accepts any login, recording the credentials it was given.
    """

    def __init__(self, handler: ScriptedHandler, auth: bool = False) -> None:
        self.handler = handler
        self.port = free_port()
        kwargs = {}
        if auth:
            kwargs = dict(authenticator=accept_any_login, auth_require_tls=False)
        self.controller = _ScriptedController(handler, hostname=LOOPBACK, port=self.port, **kwargs)

    def start(self) -> "ScriptedServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.handler.release()
        self.controller.stop()

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
