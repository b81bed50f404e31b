"""Scripted aiosmtpd servers on 127.0.0.1 for delivery tests.

A ScriptedHandler answers the way a real mail server might on a bad day:
refuse some recipients at RCPT, answer DATA with a 4xx/5xx, hang up in the
middle of DATA, or hold DATA until the test lets it go. It records every
DATA it saw (also the refused ones) so tests can count what arrived.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from commstui.delivery.capture import LOOPBACK, free_port

DROP = "drop"  # a DATA "reply" meaning: close the connection without answering


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    reply: str  # what the server answered to DATA (or DROP)
    login: str | None = None
    password: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reply.startswith("2")

    def parse(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.content)

    @property
    def message_id(self) -> str:
        return str(self.parse()["Message-ID"])


class ScriptedHandler:
    """An aiosmtpd handler whose answers the test sets.

    refuse:      {address: "550 5.1.1 ..."} answered at RCPT for that address
    data_replies: replies for the next DATA commands, in order ("451 ...",
                 "554 ...", DROP); when it runs out every DATA gets `default`
    hold:        if set, DATA waits (in the server thread, bounded) until
                 release() is called; `entered` is set when a DATA arrives
    """

    def __init__(self, refuse: dict[str, str] | None = None, data_replies=(),
                 default: str = "250 2.0.0 Ok: queued as TEST", hold: bool = False) -> None:
        self.refuse = {k.lower(): v for k, v in (refuse or {}).items()}
        self.data_replies: deque[str] = deque(data_replies)
        self.default = default
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.entered = threading.Event()
        self._gate = threading.Event()
        if not hold:
            self._gate.set()

    def release(self) -> None:
        self._gate.set()

    def script(self, *replies: str) -> None:
        with self._lock:
            self.data_replies.extend(replies)

    @property
    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.accepted]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.entered.set()
        if not self._gate.is_set():
            # waits off the server's loop; bounded so a broken test cannot hang
            await asyncio.get_running_loop().run_in_executor(None, self._gate.wait, 10)
        with self._lock:
            reply = self.data_replies.popleft() if self.data_replies else self.default
            login = password = None
            if isinstance(session.auth_data, LoginPassword):
                login = session.auth_data.login.decode()
                password = session.auth_data.password.decode()
            self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                          envelope.original_content or b"", reply, login, password))
        if reply == DROP:
            server.transport.close()
            return "421 4.4.2 closing (never seen by the client)"
        return reply


def accept_any_login(server, session, envelope, mechanism, auth_data):
    # keep the credentials on the session so handle_DATA can record them
    return AuthResult(success=True, auth_data=auth_data)


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
        self.controller = Controller(handler, hostname=LOOPBACK, port=self.port, **kwargs)

    def __enter__(self) -> "ScriptedServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.handler.release()
        self.controller.stop()
