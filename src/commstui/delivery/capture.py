"""A local capture mail server (aiosmtpd) for the demo and the tests.

Every message it receives is written to an outbox folder as an .eml file with
its envelope in a JSON file beside it, so any process (the demo TUI, a test,
the CLI) can read what was "sent" without a real mail server.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class CaptureHandler:
    """aiosmtpd handler: accept everything and file it in `outbox`."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = Path(outbox)
        self.outbox.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._n = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self._n += 1
            stem = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{self._n:06d}"
        (self.outbox / f"{stem}.eml").write_bytes(envelope.original_content or envelope.content)
        (self.outbox / f"{stem}.json").write_text(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "received_at": datetime.now(UTC).isoformat(),
        }))
        return "250 2.0.0 OK: captured"


class CaptureServer:
    """Start/stop an aiosmtpd capture server on 127.0.0.1 in a background thread."""

    def __init__(self, outbox: Path, port: int | None = None) -> None:
        self.handler = CaptureHandler(outbox)
        self.port = port or free_port()
        self.controller = Controller(self.handler, hostname=LOOPBACK, port=self.port)

    @property
    def outbox(self) -> Path:
        return self.handler.outbox

    def start(self) -> "CaptureServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "CaptureServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass(frozen=True)
class CapturedMessage:
    path: Path
    received_at: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    from_header: str
    to_header: str
    subject: str
    message_id: str

    def parse(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.path.read_bytes())


def read_outbox(outbox: Path) -> list[CapturedMessage]:
    """Everything captured so far, newest first."""
    found = []
    outbox = Path(outbox)
    if not outbox.exists():
        return []
    for eml in sorted(outbox.glob("*.eml"), reverse=True):
        meta_path = eml.with_suffix(".json")
        if not meta_path.exists():
            continue  # still being written
        meta = json.loads(meta_path.read_text())
        headers = BytesParser(policy=policy.default).parsebytes(eml.read_bytes(), headersonly=True)
        found.append(CapturedMessage(
            path=eml, received_at=datetime.fromisoformat(meta["received_at"]),
            mail_from=meta["mail_from"], rcpt_tos=tuple(meta["rcpt_tos"]),
            from_header=str(headers.get("From", "")), to_header=str(headers.get("To", "")),
            subject=str(headers.get("Subject", "")), message_id=str(headers.get("Message-ID", ""))))
    return found
