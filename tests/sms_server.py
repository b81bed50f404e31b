"""A scripted stand-in for Twilio's REST API on 127.0.0.1, for SMS and robocall tests.

A real HTTP/1.1 server (http.server in a thread, keep-alive on) that records every
request (method, path, form, basic-auth login, which connection it came on) and
answers as scripted:

    ok()                       201 {"sid": "SM…"/"CA…", "status": "queued"}
    held()                     the same, once the test calls release()
    error(400, 21211, "...")   that status with Twilio's JSON error {code, message, ...}
    status(429) / status(500)  an error status with Twilio-shaped JSON
    STALL                      no answer until release() or `stall_seconds`, then hang up
    DROP                       read the request, then close the connection without answering

Answers are taken from `by_to[To]` (a list used in order, then `ok()`), else from
`script` (in order), else `default`. With `account`/`token` set, a request whose
basic auth does not match gets 401 (code 20003), as Twilio answers a wrong token.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

STALL = "stall"
DROP = "drop"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict | None = None
    hold: bool = False     # wait for release() (at most `stall_seconds`) before answering


def ok() -> Answer:
    return Answer(201)  # the sid is made per request


def held() -> Answer:
    """Accept, but only once the test calls release(): a send kept in flight."""
    return Answer(201, hold=True)


def error(status: int, code: int, message: str) -> Answer:
    return Answer(status, {"code": code, "message": message,
                           "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status})


def status(code: int) -> Answer:
    words = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    return Answer(code, {"code": 20429 if code == 429 else 20500, "message": words.get(code, "Error"),
                         "status": code})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    form: dict[str, str]
    login: str | None
    password: str | None
    conn: int
    answered: str          # "201", "400", ..., STALL or DROP
    at: float

    @property
    def resource(self) -> str:
        return self.path.rsplit("/", 1)[-1]   # Messages.json | Calls.json


class SmsServer:
    def __init__(self, *, account: str | None = None, token: str | None = None,
                 stall_seconds: float = 10.0) -> None:
        self.account, self.token = account, token
        self.stall_seconds = stall_seconds
        self.script: deque = deque()
        self.by_to: dict[str, deque] = {}
        self.default: Answer | str = ok()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._conns = itertools.count(1)
        self._started = 0
        self.in_flight = 0
        self.most_in_flight = 0   # the most requests being answered at once
        self._sids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="sms-server")

    # -- control --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, *answers) -> "SmsServer":
        """Answer the next requests with these, in order."""
        self.script.extend(answers)
        return self

    def answer_to(self, number: str, *answers) -> "SmsServer":
        """Answer the next requests to this number with these, in order."""
        self.by_to.setdefault(number, deque()).extend(answers)
        return self

    def release(self) -> None:
        """Let stalled requests go (they hang up without an answer)."""
        self._release.set()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"only {len(self.requests)} of {count} requests arrived"
            time.sleep(0.01)
        return self.requests

    def started(self, count: int) -> bool:
        with self._lock:
            return self._started >= count

    def __enter__(self) -> "SmsServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- serving ------------------------------------------------------------------------------
    def _next(self, to: str | None):
        with self._lock:
            self._started += 1
            queue = self.by_to.get(to or "")
            if queue:
                return queue.popleft()
            if self.script:
                return self.script.popleft()
            return self.default

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive: clients can reuse the connection
            # the answer goes out in one write (flushed after each request): headers and body
            # in two small writes meet Nagle and delayed ACK, ~40 ms a request
            wbufsize = 64 * 1024

            def setup(self) -> None:
                super().setup()
                self.conn_no = next(server._conns)

            def log_message(self, *args) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                with server._lock:
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                try:
                    self._answer()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                login = password = None
                auth = self.headers.get("Authorization") or ""
                if auth.startswith("Basic "):
                    login, _, password = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
                answer = server._next(form.get("To"))
                if server.account is not None and (login, password) != (server.account, server.token):
                    answer = error(401, 20003, "Authenticate")
                label = answer if isinstance(answer, str) else str(answer.status)
                with server._lock:
                    server.requests.append(Request("POST", self.path, form, login, password, self.conn_no,
                                                   label, time.monotonic()))
                if answer == STALL:
                    server._release.wait(server.stall_seconds)
                    self.close_connection = True
                    return
                if answer == DROP:
                    self.close_connection = True
                    return
                if answer.hold:
                    server._release.wait(server.stall_seconds)
                body = answer.body
                if answer.status in (200, 201) and body is None:
                    prefix = "CA" if self.path.endswith("/Calls.json") else "SM"
                    body = {"sid": f"{prefix}{next(server._sids):032x}", "status": "queued",
                            "to": form.get("To"), "from": form.get("From")}
                data = json.dumps(body or {}).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
