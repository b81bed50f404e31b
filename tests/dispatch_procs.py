"""Helpers for tests that run `commstui dispatch` (and `commstui seed`) as real processes
against one DuckDB file, with a ScriptedServer in the test process taking the mail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from commstui.delivery.email import new_message_id
from commstui.services import mail_settings
from commstui.services.mail_settings import MailServerForm


def commstui() -> list[str]:
    exe = Path(sys.executable).with_name("commstui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "commstui"]


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("COMMSTUI_PASSWORD", "COMMSTUI_DB")}
    return {**clean, "COMMSTUI_BUSY_TIMEOUT": "60", "COMMSTUI_DISPATCH_INTERVAL": "0.2", **extra}


def use_server(ctx, admin, port: int, concurrency: int) -> None:
    mail_settings.save_server(ctx, admin, MailServerForm(
        host="127.0.0.1", port=port, security="none", from_addr="office@commstui.example",
        concurrency=concurrency))


def seed_cli(db: Path, n: int) -> None:
    """`commstui seed --messages N`: N drill emails due now, one recipient each."""
    done = subprocess.run([*commstui(), "seed", "--messages", str(n), "--db", str(db)],
                          capture_output=True, text=True, timeout=120, env=env())
    assert done.returncode == 0, done.stderr


def seed(ctx, n: int, created_by: str = "operator") -> list[str]:
    """Queue n emails due now, one recipient each, to the sample customers in turn (as
    `commstui seed --messages N` does, without a process start), in one statement."""

    def queue(con):
        customers = con.execute(
            "select id, email from customers where email is not null order by id").fetchall()
        picked = [customers[i % len(customers)] for i in range(n)]
        message_ids = [new_message_id("office@commstui.example") for _ in range(n)]
        con.execute(
            "insert into messages (message_id, customer_id, to_addrs, subject, body, created_by, due_at, "
            "scheduled_at) select unnest(?::varchar[]), unnest(?::bigint[]), unnest(?::varchar[][]), "
            "unnest(?::varchar[]), unnest(?::varchar[]), ?, current_timestamp, current_timestamp",
            [message_ids, [c for c, _ in picked], [[a] for _, a in picked],
             [f"Drill {i:05d}" for i in range(n)], [f"Drill message {i}.\n" for i in range(n)], created_by])
        return message_ids

    return ctx.db.run(queue)


class DispatchProcess:
    """`commstui dispatch --db F` with its output in files (a full pipe must never stall it)."""

    def __init__(self, db: Path, folder: Path, name: str, **environment: str) -> None:
        self.name = name
        self.out = folder / f"{name}.out"
        self.err = folder / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen([*commstui(), "dispatch", "--db", str(db)], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=env(**environment))

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 60) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"{self.name} did not stop within {timeout} s of SIGTERM:\n{self.stderr}")


def wait_for(condition, timeout: float, what: str, step: float = 0.05, watch=()):
    """Poll a condition with a deadline; fail early if a watched process died."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        for p in watch:
            assert p.alive(), f"{p.name} exited ({p.proc.returncode}) while waiting for {what}:\n{p.stderr}"
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(step)


def message_ids(ctx) -> dict[str, str]:
    """Message-ID -> status for every email in the file."""
    with ctx.db.connect() as con:
        return dict(con.execute("select message_id, status from messages where channel = 'email'").fetchall())


def statuses(ctx) -> Counter:
    with ctx.db.connect() as con:
        return Counter(dict(con.execute(
            "select status, count(*) from messages where channel = 'email' group by status").fetchall()))
