"""A local SMTP server for the dispatch benchmark, meant to run in its OWN process (so it never
shares the GIL with the client being measured). Listens on 127.0.0.1 only.

    .venv/bin/python bench/smtp_relay.py --mode relay --data-delay-ms 20   # aiosmtpd, answers DATA after 20 ms
    .venv/bin/python bench/smtp_relay.py --mode sink                       # minimal asyncio sink, no delay
    .venv/bin/python bench/smtp_relay.py --mode wrap --parent PID -- smtp-sink ...  # stop it with PID

Prints `READY <port>` once it listens and `RECEIVED <n>` (messages accepted) when it
stops. It stops on SIGTERM/SIGINT, when the process that started it (--parent) is gone,
or after --max-seconds, so a benchmark that dies, even by SIGKILL, cannot leave it running.
`wrap` gives the same guard to a server that has none (Postfix's smtp-sink).

`sink` is the labelled fallback for Postfix's smtp-sink (C, zero latency) when postfix
cannot be installed: a tiny hand-written SMTP responder (EHLO/MAIL/RCPT/DATA/RSET/NOOP/QUIT,
pipelining-safe) that accepts everything at once and parses nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

LOOPBACK = "127.0.0.1"


class DelayedHandler:
    """aiosmtpd handler: accept every message, answering DATA after `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.received += 1
        return "250 2.0.0 OK: queued by the bench relay"


class SinkProtocol(asyncio.Protocol):
    """Just enough SMTP to take messages and throw them away, as fast as the socket allows."""

    counter = [0]

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 bench-sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            if self.in_data:
                # the body ends with CRLF.CRLF (the CRLF put in front at DATA covers an empty body)
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    # keep only a tail long enough to hold a split terminator
                    if len(self.buffer) > 8:
                        self.buffer = self.buffer[-4:]
                    break
                self.buffer = self.buffer[end + 5:]
                self.in_data = False
                SinkProtocol.counter[0] += 1
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                break
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                out.append(b"250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                           b"250 SIZE 104857600\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer
                out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 Bye\r\n")
                self.transport.write(b"".join(out))
                self.transport.close()
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP and anything else: fine
                out.append(b"250 2.0.0 Ok\r\n")
        if out:
            self.transport.write(b"".join(out))


async def serve(mode: str, port: int, delay: float, parent: int | None, max_seconds: float) -> int:
    loop = asyncio.get_running_loop()
    if mode == "relay":
        from aiosmtpd.smtp import SMTP

        handler = DelayedHandler(delay)
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="bench-relay", ident="bench relay", data_size_limit=None),
            LOOPBACK, port, backlog=256)
        received = lambda: handler.received  # noqa: E731
    else:
        server = await loop.create_server(SinkProtocol, LOOPBACK, port, backlog=256)
        received = lambda: SinkProtocol.counter[0]  # noqa: E731
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    deadline = loop.time() + max_seconds
    while not stop.is_set() and loop.time() < deadline:
        if parent and os.getppid() != parent:  # whoever started us is gone
            break
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except TimeoutError:
            pass
    server.close()
    print(f"RECEIVED {received()}", flush=True)
    return 0


def wrap(command: list[str], parent: int | None, max_seconds: float) -> int:
    """Run `command` (e.g. Postfix's smtp-sink, which has no such guard) and stop it when we are
    told to, when our parent is gone, or after max_seconds."""
    import subprocess
    import time

    child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    deadline = time.monotonic() + max_seconds
    while not stop and child.poll() is None and time.monotonic() < deadline:
        if parent and os.getppid() != parent:
            break
        time.sleep(0.2)
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
    return 0


def main(argv: list[str]) -> int:
    command: list[str] = []
    if "--" in argv:  # --mode wrap ... -- COMMAND ARGS
        argv, command = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("relay", "sink", "wrap"), default="relay",
                        help="wrap: run the command after -- and stop it with us")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed in READY)")
    parser.add_argument("--data-delay-ms", type=float, default=20.0, help="relay: wait before answering DATA")
    parser.add_argument("--parent", type=int, default=None, help="exit when this pid is no longer our parent")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long regardless")
    args = parser.parse_args(argv)
    if args.mode == "wrap":
        if not command:
            parser.error("--mode wrap needs a command after --")
        return wrap(command, args.parent, args.max_seconds)
    return asyncio.run(serve(args.mode, args.port, args.data_delay_ms / 1000, args.parent, args.max_seconds))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
