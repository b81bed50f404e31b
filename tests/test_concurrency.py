"""Several processes on one DuckDB file (DESIGN.md: DuckDB lets one process hold
the file at a time, so each opens it per unit of work and retries while busy).

Two writers queue emails at the same time: every message is there exactly once.
A headless dispatcher sends while a writer queues: every message ends sent and
the mail server receives each Message-ID once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from commstui.config import Settings
from commstui.delivery.capture import free_port, read_outbox
from commstui.services import auth, email, mail_settings, setup
from commstui.services.context import Context
from commstui.services.mail_settings import MailServerForm

# Queues N emails to one customer as the demo operator, starting when `go` exists,
# and prints when its first and last send happened (to prove the writers overlapped).
WRITER = """
import sys, time
from pathlib import Path
from commstui.config import Settings
from commstui.services import auth, email
from commstui.services.context import Context

db, tag, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
ctx = Context.open(db, Settings(busy_timeout=60))
user = auth.login(ctx, "operator", "operator-demo-1")
print("ready", flush=True)
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.005)
first = time.time()
for i in range(n):
    email.send_email_to_account(ctx, user, "A1000001", email.EmailDraft(
        subject=f"{tag}-{i:03d}", body=f"message {i} from writer {tag}"))
print("span", first, time.time(), flush=True)
"""


def commstui() -> list[str]:
    exe = Path(sys.executable).with_name("commstui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "commstui"]


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("COMMSTUI_PASSWORD", "COMMSTUI_DB")}
    return {**clean, **extra}


def start_writer(db: Path, tag: str, n: int, go: Path) -> subprocess.Popen:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), tag, str(n), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    line = writer.stdout.readline()  # logged in; the process bounds its own wait
    assert line.strip() == "ready", writer.stderr.read() if writer.poll() is not None else line
    return writer


def finish(writer: subprocess.Popen, timeout: float = 180) -> tuple[float, float]:
    out, err = writer.communicate(timeout=timeout)
    assert writer.returncode == 0, err
    _, first, last = out.split()
    return float(first), float(last)


@pytest.fixture(scope="module")
def sample_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMMSTUI_CONFIG_DIR", str(folder / "config"))
        path = folder / "sample.duckdb"
        setup.init(Context.open(path, Settings()), sample=True)
    return path


def office(template: Path, folder: Path, smtp_port: int) -> Context:
    path = folder / "office.duckdb"
    shutil.copy(template, path)
    ctx = Context.open(path, Settings(busy_timeout=60))
    mail_settings.save_server(ctx, auth.login(ctx, "admin", "admin-demo-1"), MailServerForm(
        host="127.0.0.1", port=smtp_port, security="none", from_addr="office@commstui.example"))
    return ctx


def everything(ctx: Context):
    return email.log(ctx, auth.login(ctx, "admin", "admin-demo-1"), limit=100_000)


def test_two_processes_queueing_at_once_lose_nothing(sample_template, tmp_path):
    n = 100
    ctx = office(sample_template, tmp_path, free_port())  # never dispatched: only queueing here
    go = tmp_path / "go"
    writers = [start_writer(ctx.db.path, tag, n, go) for tag in ("north", "south")]
    go.touch()
    spans = [finish(w) for w in writers]
    # they really ran at the same time: each started before the other finished
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]

    messages = everything(ctx)
    subjects = Counter(m.subject for m in messages)
    assert len(messages) == 2 * n
    assert set(subjects) == {f"{tag}-{i:03d}" for tag in ("north", "south") for i in range(n)}
    assert set(subjects.values()) == {1}  # each exactly once
    assert len({m.message_id for m in messages}) == 2 * n
    assert {m.status for m in messages} == {"queued"}


def test_a_dispatcher_sending_while_a_writer_queues(sample_template, tmp_path, capture):
    n = 50
    ctx = office(sample_template, tmp_path, capture.port)
    go = tmp_path / "go"
    writer = start_writer(ctx.db.path, "live", n, go)
    dispatcher = subprocess.Popen([*commstui(), "dispatch", "--db", str(ctx.db.path)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env(COMMSTUI_DISPATCH_INTERVAL="0.1", COMMSTUI_BUSY_TIMEOUT="60"))
    try:
        go.touch()
        finish(writer)
        deadline = time.monotonic() + 120
        while len(read_outbox(capture.outbox)) < n and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        dispatcher.send_signal(signal.SIGTERM)
        _, err = dispatcher.communicate(timeout=60)
    assert dispatcher.returncode == 0, err
    assert "Traceback" not in err

    messages = everything(ctx)
    assert len(messages) == n
    assert Counter(m.status for m in messages) == {"sent": n}
    received = Counter(m.message_id for m in read_outbox(capture.outbox))
    assert received == Counter({m.message_id: 1 for m in messages})  # each Message-ID once
    assert f"Stopped: {n} sent, 0 failed." in err


def test_two_command_line_senders_at_once(sample_template, tmp_path):
    """The same through `commstui send`: two loops of one process per email, side by side."""
    ctx = office(sample_template, tmp_path, free_port())
    per_sender = 5
    results: dict[str, list[subprocess.CompletedProcess]] = {}

    def sender(tag: str) -> None:
        results[tag] = [subprocess.run(
            [*commstui(), "send", "--db", str(ctx.db.path), "--user", "operator", "--account", "A1000002",
             "--to", "rajesh@example.org", "--subject", f"{tag}-{i}", "--body", "hello"],
            capture_output=True, text=True, timeout=60, env=env(COMMSTUI_PASSWORD="operator-demo-1"))
            for i in range(per_sender)]

    loops = [threading.Thread(target=sender, args=(tag,)) for tag in ("east", "west")]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join(timeout=120)
    for tag in ("east", "west"):
        for result in results[tag]:
            assert result.returncode == 0, result.stderr
            assert result.stdout.strip().startswith("<")  # the Message-ID
    subjects = Counter(m.subject for m in everything(ctx))
    assert subjects == Counter({f"{tag}-{i}": 1 for tag in ("east", "west") for i in range(per_sender)})
