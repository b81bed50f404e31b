"""A local capture SMS server for the demo: a tiny stand-in for Twilio's REST API.

It answers the two requests `TwilioProvider` makes (POST .../Messages.json for an
SMS, POST .../Calls.json for a RoboCall) the way Twilio does, checks the account
SID and token like Twilio (a wrong one gets Twilio's 401), and files every text
and call as a JSON file in `outbox/texts/`, so the demo TUI, a test or the CLI can
read what was "sent" without an SMS account. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import os
import secrets as random_tokens
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote

from .capture import LOOPBACK
from .sms import API_VERSION

DEMO_ACCOUNT_SID = "AC0000000000000000000000000000demo"
TEXTS_FOLDER = "texts"
MAX_REQUEST_BYTES = 64 * 1024     # a Twilio SMS body is at most 1,600 characters; TwiML is small too
DRAIN_BYTES = 1024 * 1024         # at most this much of a too-large request is read and dropped
IDLE_SECONDS = 30.0               # a kept-alive connection with nothing to say is closed after this
KINDS = {"Messages.json": "sms", "Calls.json": "robocall"}


def texts_folder(outbox: Path) -> Path:
    return Path(outbox) / TEXTS_FOLDER


class RequestProblem(Exception):
    """An answer other than 201, in Twilio's shape: {code, message, more_info, status}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}


def spoken_text(twiml: str) -> str:
    """What a call's TwiML says out loud: the text of its <Say> verbs, in order."""
    try:
        root = ElementTree.fromstring(twiml)
    except ElementTree.ParseError as exc:
        raise RequestProblem(400, 12100, f"Document parse failure: {exc}") from None
    said = [" ".join("".join(say.itertext()).split()) for say in root.iter("Say")]
    return "\n".join(s for s in said if s)


class SmsCaptureServer:
    """Start/stop the capture SMS server on 127.0.0.1 in a background thread.

    The socket is bound when the object is made (port=None picks a free one), so
    `port` and `base_url` are known before start()."""

    def __init__(self, outbox: Path, port: int | None = None, *, account_sid: str = DEMO_ACCOUNT_SID,
                 token: str | None = None) -> None:
        self.outbox = Path(outbox)
        self.texts = texts_folder(self.outbox)
        self.texts.mkdir(parents=True, exist_ok=True)
        self.account_sid = account_sid
        # a new token each run unless one is given: only the demo that saved it can send
        self.token = token or random_tokens.token_urlsafe(18)
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._server = ThreadingHTTPServer((LOOPBACK, port or 0), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> "SmsCaptureServer":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="sms-capture")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()  # only when serving: shutdown() waits for serve_forever to end
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "SmsCaptureServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- one request ---------------------------------------------------------------------------
    def _authorised(self, header: str | None) -> bool:
        kind, _, encoded = (header or "").partition(" ")
        if kind.lower() != "basic":
            return False
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (random_tokens.compare_digest(login.encode(), self.account_sid.encode())
                and random_tokens.compare_digest(password.encode(), self.token.encode()))

    def _route(self, path: str) -> str:
        """The kind of request (sms | robocall) a path asks for, or a Twilio-shaped 404."""
        parts = path.split("?", 1)[0].strip("/").split("/")
        if (len(parts) == 4 and parts[0] == API_VERSION and parts[1] == "Accounts" and parts[3] in KINDS
                and unquote(parts[2]) == self.account_sid):
            return KINDS[parts[3]]
        raise RequestProblem(404, 20404, f"The requested resource {path.split('?', 1)[0]} was not found")

    def receive(self, path: str, authorization: str | None, raw: bytes) -> dict:
        """Check and file one request; returns the 201 answer or raises RequestProblem."""
        if not self._authorised(authorization):
            raise RequestProblem(401, 20003, "Authenticate")
        kind = self._route(path)
        try:
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            raise RequestProblem(400, 20001, "The request body is not UTF-8 form data") from None
        to, sender = form.get("To", "").strip(), form.get("From", "").strip()
        if not to:
            raise RequestProblem(400, 21604, "A 'To' phone number is required.")
        if not sender:
            raise RequestProblem(400, 21603, "A 'From' phone number is required.")
        twiml = None
        if kind == "sms":
            body = form.get("Body", "")
            if not body.strip():
                raise RequestProblem(400, 21602, "Message body is required.")
        elif form.get("Twiml", "").strip():
            twiml = form["Twiml"]
            body = spoken_text(twiml)
        elif form.get("Url", "").strip():
            body = f"(the call plays what {form['Url'].strip()} answers)"
        else:
            raise RequestProblem(400, 21205, "A call needs 'Twiml' or 'Url'.")
        return self._file(kind, to, sender, body, twiml)

    def _file(self, kind: str, to: str, sender: str, body: str, twiml: str | None) -> dict:
        now = datetime.now(UTC)
        with self._lock:
            n = next(self._numbers)
        sid = ("SM" if kind == "sms" else "CA") + random_tokens.token_hex(16)
        record = {"sid": sid, "kind": kind, "to": to, "from": sender, "body": body, "twiml": twiml,
                  "received_at": now.isoformat()}
        path = self.texts / f"{now:%Y%m%dT%H%M%S%f}-{n:06d}.json"
        # written whole, then renamed: a reader never sees half a file
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, path)
        return {"sid": sid, "status": "queued", "to": to, "from": sender, "account_sid": self.account_sid,
                "date_created": now.strftime("%a, %d %b %Y %H:%M:%S +0000")}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive: the provider reuses its connection
            timeout = IDLE_SECONDS
            wbufsize = 64 * 1024            # the answer goes out in one write (no Nagle delay)
            server_version = "commstui-sms-capture"

            def log_message(self, *args) -> None:  # the demo's terminal belongs to the TUI
                pass

            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_REQUEST_BYTES:
                    # read (a bounded amount of) what was sent first: closing on unread data
                    # resets the connection and the client never sees the answer
                    left = min(max(length, 0), DRAIN_BYTES)
                    while left > 0 and (chunk := self.rfile.read(min(left, 64 * 1024))):
                        left -= len(chunk)
                    self._send(413, RequestProblem(413, 20001, "The request is too large").body(), close=True)
                    return
                raw = self.rfile.read(length)
                try:
                    answer, status = server.receive(self.path, self.headers.get("Authorization"), raw), 201
                except RequestProblem as problem:
                    answer, status = problem.body(), problem.status
                except OSError as exc:  # could not file it (disk full, folder removed): try again later
                    answer, status = RequestProblem(500, 20500, f"Could not file the message: {exc}").body(), 500
                self._send(status, answer)

            def do_GET(self) -> None:
                self._send(405, RequestProblem(405, 20004, "Only POST is captured here").body())

            def _send(self, status: int, body: dict, close: bool = False) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if close:  # said in the answer, so the client does not send on this connection again
                    self.send_header("Connection", "close")
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
                self.end_headers()
                self.wfile.write(data)

        return Handler


@dataclass(frozen=True)
class CapturedText:
    path: Path
    sid: str
    kind: str                  # sms | robocall
    to: str
    from_number: str
    body: str                  # the SMS text, or what the call says
    received_at: datetime
    twiml: str | None = None   # a call's TwiML as received

    @property
    def channel(self) -> str:
        return "SMS" if self.kind == "sms" else "RoboCall"


def read_texts(outbox: Path) -> list[CapturedText]:
    """Every text and call captured so far (in `outbox/texts/`), newest first."""
    folder = texts_folder(outbox)
    if not folder.exists():
        return []
    found = []
    for path in sorted(folder.glob("*.json"), reverse=True):
        record = json.loads(path.read_text("utf-8"))
        found.append(CapturedText(
            path=path, sid=str(record.get("sid", "")), kind=str(record.get("kind", "sms")),
            to=str(record.get("to", "")), from_number=str(record.get("from", "")),
            body=str(record.get("body", "")), received_at=datetime.fromisoformat(record["received_at"]),
            twiml=record.get("twiml")))
    return found
