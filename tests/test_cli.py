"""The `commstui` command, run as a real subprocess of the installed entry point:
setup verbs, send -> dispatch -> log against a real SMTP server on 127.0.0.1,
one-line errors, a busy database, and the demo without a terminal."""

from __future__ import annotations

import json
import os
import pty
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from commstui.config import Settings
from commstui.delivery.capture import free_port, read_outbox
from commstui.services import auth, customers, email, mail_settings, setup
from commstui.services.context import Context
from commstui.services.mail_settings import MailServerForm

PASSWORDS = {"admin": "admin-demo-1", "operator": "operator-demo-1", "viewer": "viewer-demo-1"}


def commstui() -> list[str]:
    """The installed console script next to this Python, else `python -m commstui`."""
    exe = Path(sys.executable).with_name("commstui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "commstui"]


def cli_env(password: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("COMMSTUI_PASSWORD", "COMMSTUI_DB", "COMMSTUI_DEBUG")}
    if password is not None:
        env["COMMSTUI_PASSWORD"] = password
    env.update(extra)
    return env


def run(*args, password: str | None = None, stdin: str | None = None, timeout: float = 60,
        **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*commstui(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
        env=cli_env(password, **extra_env), input=stdin if stdin is not None else "",
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    """The error contract: exit code, exactly one line on stderr, no traceback."""
    assert result.returncode == code, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def sample_template(tmp_path_factory) -> Path:
    """One database with the sample data per module; tests copy it (hashing 13 passwords takes seconds)."""
    folder = tmp_path_factory.mktemp("template")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMMSTUI_CONFIG_DIR", str(folder / "config"))
        path = folder / "sample.duckdb"
        setup.init(Context.open(path, Settings()), sample=True)
    return path


@pytest.fixture
def sample_db(sample_template, tmp_path) -> Path:
    path = tmp_path / "office.duckdb"
    shutil.copy(sample_template, path)
    return path


@pytest.fixture(scope="module")
def ready_template(sample_template, tmp_path_factory) -> Path:
    """The sample plus an active mail server nobody listens on: for sends that must be refused."""
    path = tmp_path_factory.mktemp("ready") / "ready.duckdb"
    shutil.copy(sample_template, path)
    ctx = Context.open(path, Settings())
    mail_settings.save_server(ctx, auth.login(ctx, "admin", PASSWORDS["admin"]), MailServerForm(
        host="127.0.0.1", port=free_port(), security="none", from_addr="office@commstui.example"))
    return path


@pytest.fixture
def ready_db(ready_template, tmp_path) -> Path:
    path = tmp_path / "ready.duckdb"
    shutil.copy(ready_template, path)
    return path


def smtp_set(db: Path, port: int) -> None:
    ok(run("smtp", "set", "--db", db, "--host", "127.0.0.1", "--port", port, "--security", "none",
           "--from", "office@commstui.example"))


# -- help ------------------------------------------------------------------------------
VERBS = [[], ["demo"], ["init"], ["seed"], ["user"], ["user", "add"], ["smtp"], ["smtp", "set"],
         ["smtp", "test"], ["send"], ["dispatch"], ["log"]]


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v) or "commstui")
def test_every_verb_has_help(verb):
    result = ok(run(*verb, "--help"))
    assert result.stdout.startswith(f"Usage: {' '.join(['commstui', *verb])}")
    if verb not in (["user"], ["smtp"], ["demo"]):  # groups, and the demo with its own database
        assert "--db PATH" in result.stdout
    assert result.stderr == ""


def test_python_dash_m_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "commstui", "--version"], capture_output=True, text=True,
                            timeout=30, env=cli_env())
    assert result.returncode == 0 and result.stdout.startswith("commstui, version ")


# -- the whole path, end to end ----------------------------------------------------------
def test_init_user_smtp_send_dispatch_log_end_to_end(tmp_path, capture):
    db = tmp_path / "office.duckdb"
    first = ok(run("init", "--db", db, "--sample"))
    assert "Created database" in first.stdout and "60 customers" in first.stdout
    again = ok(run("init", "--db", db, "--sample"))
    assert "already loaded" in again.stdout and "Created" not in again.stdout

    added = ok(run("user", "add", "alice", "--role", "customerView", "--role", "customerEdit",
                   "--name", "Alice Operator", "--email", "alice@commstui.example", "--db", db,
                   password="alice-password-1"))
    assert "Added user alice" in added.stdout
    ok(run("smtp", "set", "--db", db, "--host", "127.0.0.1", "--port", capture.port, "--security", "none",
           "--from", "office@commstui.example"))
    tested = ok(run("smtp", "test", "--to", "check@example.org", "--db", db))
    assert "Accepted by the mail server" in tested.stdout
    [test_email] = read_outbox(capture.outbox)
    assert test_email.subject == "commstui test email" and test_email.rcpt_tos == ("check@example.org",)

    sent = ok(run("send", "--db", db, "--user", "alice", "--account", "A1000001",
                  "--cc", "manager@example.org", "--bcc", "audit@example.org",
                  "--subject", "Water shut-off", "--body", "-", stdin="Tuesday 9-11am, level 12.\n",
                  password="alice-password-1"))
    message_id = sent.stdout.strip()
    assert re.fullmatch(r"<[^<>@\s]+@commstui\.example>", message_id), sent.stdout
    assert sent.stderr == ""
    [queued] = json.loads(ok(run("log", "--json", "--db", db)).stdout)
    assert queued["message_id"] == message_id and queued["status"] == "queued"

    dispatched = ok(run("dispatch", "--once", "--db", db))
    assert "Handled 1: 1 sent" in dispatched.stdout

    [logged] = json.loads(ok(run("log", "--json", "--account", "A1000001", "--db", db)).stdout)
    assert logged["status"] == "sent" and logged["status_label"] == "accepted by mail server"
    assert logged["reply"].startswith("2") and logged["created_by"] == "alice"
    assert logged["to"] == ["olivia.bennett@example.com"] and logged["bcc"] == ["audit@example.org"]
    text = ok(run("log", "--db", db)).stdout
    assert "Water shut-off" in text and "accepted by mail server" in text and "A1000001" in text

    received = next(m for m in read_outbox(capture.outbox) if m.message_id == message_id)
    mime = received.parse()
    assert mime["Subject"] == "Water shut-off"
    assert mime["To"] == "olivia.bennett@example.com" and mime["Cc"] == "manager@example.org"
    assert mime["From"] == "office@commstui.example" and "Bcc" not in mime
    assert set(received.rcpt_tos) == {"olivia.bennett@example.com", "manager@example.org", "audit@example.org"}
    assert mime.get_body(("plain",)).get_content().rstrip() == "Tuesday 9-11am, level 12."

    # the note on the account, as an operator sees it
    ctx = Context.open(db, Settings())
    alice = auth.login(ctx, "alice", "alice-password-1")
    olivia = customers.get_by_account(ctx, alice, "A1000001")
    [note] = customers.notes(ctx, alice, olivia.id)
    assert "Water shut-off" in note.text and "alice" in note.text


def test_html_body_and_a_scheduled_send(sample_db, capture):
    smtp_set(sample_db, capture.port)
    html_id = ok(run("send", "--db", sample_db, "--user", "operator", "--account", "A1000004", "--html",
                     "--subject", "Lift works", "--body", "<p>The <b>lift</b> is off on Monday.</p>",
                     password=PASSWORDS["operator"])).stdout.strip()
    later = ok(run("send", "--db", sample_db, "--user", "operator", "--account", "A1000004",
                   "--subject", "Reminder", "--body", "Next year", "--at", "2099-01-01T09:00+10:00",
                   password=PASSWORDS["operator"]))
    assert "Handled 1: 1 sent" in ok(run("dispatch", "--once", "--db", sample_db)).stdout

    [received] = read_outbox(capture.outbox)
    assert received.message_id == html_id and received.rcpt_tos == ("zoe.oconnor@example.com",)
    mime = received.parse()
    assert "<b>lift</b>" in mime.get_body(("html",)).get_content()
    assert "The lift is off on Monday." in mime.get_body(("plain",)).get_content()
    log = {m["message_id"]: m for m in json.loads(ok(run("log", "--json", "--db", sample_db)).stdout)}
    scheduled = log[later.stdout.strip()]
    assert scheduled["status"] == "queued" and scheduled["due_at"].startswith("2098-12-31T23:00:00")


def test_empty_subject_is_sent_with_a_warning(sample_db, capture):
    smtp_set(sample_db, capture.port)
    result = ok(run("send", "--db", sample_db, "--user", "admin", "--account", "A1000001", "--subject", "",
                    "--body", "Just a body", password=PASSWORDS["admin"]))
    assert "subject is empty" in result.stderr
    assert result.stdout.strip().startswith("<")


def test_seed_adds_customers_and_reports_the_time(sample_db):
    result = ok(run("seed", "--customers", "2500", "--db", sample_db))
    assert re.match(r"Added 2,500 customers to .* in \d+\.\d s\.", result.stdout)
    ctx = Context.open(sample_db, Settings())
    admin = auth.login(ctx, "admin", PASSWORDS["admin"])
    assert customers.count(ctx, admin, customers.CustomerFilter()) == 60 + 2500


def test_db_from_the_environment_or_before_the_verb(sample_db):
    assert ok(run("log", COMMSTUI_DB=str(sample_db))).stdout.strip() == "No messages yet."
    assert ok(run("--db", sample_db, "log")).stdout.strip() == "No messages yet."


# -- errors: one line, non-zero -------------------------------------------------------------
SEND = ["--account", "A1000001", "--subject", "Hi", "--body", "Hello"]


@pytest.mark.parametrize("args, password, code, expected", [
    (["--user", "operator", *SEND[:1], "A9999999", *SEND[2:]], "operator-demo-1", 1,
     "Not found: No customer with account number 'A9999999'"),
    (["--user", "operator", *SEND, "--to", "olivia@@example"], "operator-demo-1", 1, "Invalid input: To:"),
    (["--user", "operator", *SEND, "--cc", "not an address"], "operator-demo-1", 1, "Invalid input: Cc:"),
    (["--user", "operator", *SEND[:3], "Hi\r\nBcc: evil@example.org", *SEND[4:]], "operator-demo-1", 1,
     "Subject: must be a single line"),
    (["--user", "operator", *SEND], "not-the-password", 1, "Login failed: Wrong username or password."),
    (["--user", "nobody", *SEND], "whatever-1", 1, "Login failed: Wrong username or password."),
    (["--user", "viewer", *SEND], "viewer-demo-1", 1, "Not allowed: viewer is not allowed to change or email"),
    (["--user", "operator", *SEND], None, 1, "Password needed: set COMMSTUI_PASSWORD"),
    (["--user", "operator", *SEND, "--at", "tomorrow"], "operator-demo-1", 1, "Invalid input: --at"),
    (["--user", "operator", *SEND, "--at", "2020-01-01T09:00"], "operator-demo-1", 1, "in the past"),
    (["--user", "operator", *SEND, "--at", "2099-01-01T09:00", "--cron", "0 9 * *"], "operator-demo-1", 1,
     "five fields"),
], ids=["unknown account", "bad to", "bad cc", "CR/LF subject", "wrong password", "unknown user",
        "role without customerEdit", "no password", "unreadable time", "time in the past", "bad cron"])
def test_send_errors_are_one_line(ready_db, args, password, code, expected):
    line = one_line_error(run("send", *args, "--db", ready_db, password=password), code)
    assert expected in line
    ctx = Context.open(ready_db, Settings())
    assert email.log(ctx, auth.login(ctx, "admin", PASSWORDS["admin"])) == []  # nothing was queued


@pytest.mark.parametrize("args, code, expected", [
    (["user", "add", "mallory", "--role", "wizard"], 2, "Usage error: Invalid value for '--role': 'wizard'"),
    (["user", "add", "mallory"], 1, "give at least one --role"),
    (["smtp", "set", "--host", "smtp.example.com", "--port", "smtp", "--from", "office@example.com"], 1,
     "Invalid input: Port: 'smtp' is not a number."),
    (["smtp", "set", "--host", "smtp.example.com", "--port", "587", "--from", "office"], 1, "Invalid input: From:"),
    (["smtp", "set", "--host", "smtp.example.com", "--port", "587", "--from", "o@example.com",
      "--security", "ssl"], 2, "Usage error: Invalid value for '--security'"),
    (["smtp", "test", "--to", "x@example.org"], 1, "No mail server"),
    (["dispatch", "--once"], 1, "No mail server: No active mail server is configured"),
    (["seed", "--customers", "none"], 2, "Usage error: Invalid value for '--customers'"),
    (["log", "--account", "A9999999"], 1, "Not found: No customer with account number 'A9999999'"),
    (["log", "--bogus"], 2, "Usage error: No such option '--bogus'"),
    (["frobnicate"], 2, "Usage error: No such command 'frobnicate'"),
], ids=["unknown role", "no role", "non-numeric port", "bad from", "bad security", "smtp test without server",
        "dispatch without server", "non-numeric count", "log unknown account", "unknown option", "unknown verb"])
def test_admin_errors_are_one_line(sample_db, args, code, expected):
    line = one_line_error(run(*args, "--db", sample_db, password="long-enough-1"), code)
    assert expected in line


def test_a_missing_db_directory_is_reported_not_created(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "office.duckdb"
    for verb in (["log"], ["dispatch", "--once"], ["smtp", "test", "--to", "a@example.org"]):
        line = one_line_error(run(*verb, "--db", missing))
        assert line.startswith("No database:") and str(missing) in line and "commstui init" in line
    line = one_line_error(run("init", "--db", missing))
    assert line.startswith("No such directory:") and str(missing.parent) in line
    assert not (tmp_path / "no").exists()


def test_a_short_password_is_refused_with_the_rule(tmp_path):
    line = one_line_error(run("user", "add", "bob", "--role", "customerView", "--db", tmp_path / "x.duckdb",
                              password="short"))
    assert line == "Invalid input: Passwords need at least 8 characters."


def test_a_bad_setting_is_one_line(sample_db):
    line = one_line_error(run("log", "--db", sample_db, COMMSTUI_BUSY_TIMEOUT="soon"))
    assert line.startswith("Configuration error: busy_timeout")


def test_a_failing_mail_server_is_reported(ready_db):
    # nothing listens on the configured port: connection refused
    line = one_line_error(run("smtp", "test", "--to", "x@example.org", "--db", ready_db))
    assert line.startswith("Test email failed:")


# -- a database held by another process ----------------------------------------------------
HOLDER = """
import sys, time, duckdb
from pathlib import Path
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
deadline = time.monotonic() + 30
while not Path(sys.argv[2]).exists() and time.monotonic() < deadline:
    time.sleep(0.02)
con.close()
"""


def test_a_busy_database_is_one_line_exit_3_and_works_after_release(sample_db, tmp_path):
    release = tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(sample_db), str(release)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        busy = run("log", "--db", sample_db, COMMSTUI_BUSY_TIMEOUT="1")
        line = one_line_error(busy, code=3)
        assert line.startswith("Database busy:") and sample_db.name in line
        assert time.monotonic() - started < 15  # the retry is bounded
    finally:
        release.touch()
        holder.wait(timeout=30)
    assert ok(run("log", "--db", sample_db, COMMSTUI_BUSY_TIMEOUT="1")).stdout.strip() == "No messages yet."


# -- the TUI entry: what it says before any screen opens ----------------------------------------
def run_in_terminal(*args, password: str | None = None) -> subprocess.CompletedProcess:
    """Run with a pseudo-terminal as stdin/stdout (the TUI refuses to start without one)."""
    leader, follower = pty.openpty()
    try:
        return subprocess.run([*commstui(), *map(str, args)], stdin=follower, stdout=follower,
                              stderr=subprocess.PIPE, text=True, timeout=60, env=cli_env(password))
    finally:
        os.close(follower)
        os.close(leader)


def test_the_tui_explains_how_to_create_a_first_user(tmp_path):
    db = tmp_path / "empty.duckdb"
    line = one_line_error(run_in_terminal("--db", db))
    assert line.startswith("No users yet:") and "commstui user add NAME --role administrator" in line
    ok(run("init", "--db", db))
    line = one_line_error(run_in_terminal("--db", db))
    assert line.startswith("No users yet:") and f"--db {db}" in line


def test_the_tui_with_a_wrong_password_says_so_before_opening(sample_db):
    line = one_line_error(run_in_terminal("--db", sample_db, "--user", "admin", password="wrong-password"))
    assert line == "Login failed: Wrong username or password."


def test_the_tui_needs_a_terminal(sample_db):
    assert one_line_error(run("--db", sample_db)).startswith("No terminal:")
    assert one_line_error(run("demo")).startswith("No terminal:")


# -- the demo without a terminal -----------------------------------------------------------------
def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def test_demo_sets_everything_up_and_its_mail_server_receives(tmp_path):
    folder = tmp_path / "demo"
    stop = tmp_path / "stop-demo"
    demo = subprocess.Popen([*commstui(), "demo", "--dir", str(folder), "--no-tui", "--until-file", str(stop),
                             "--hold", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(), stdin=subprocess.DEVNULL)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(demo.stdout, lines), daemon=True).start()
    try:
        ready = lines.get(timeout=60)
        assert ready.startswith("Demo ready:"), ready
        port = int(re.search(r"127\.0\.0\.1:(\d+)", ready).group(1))
        db = folder / "demo.duckdb"
        assert str(db) in ready and str(folder / "outbox") in ready

        # the sample data is there and the demo admin can log in
        ctx = Context.open(db, Settings())
        admin = auth.login(ctx, "admin", "admin-demo-1")
        assert customers.count(ctx, admin, customers.CustomerFilter()) == 60
        assert customers.get_by_account(ctx, admin, "A1000003").name == "[bold]Mallory[/bold] Tables"
        assert email.mail_server_ready(ctx, admin)

        # its capture server is the active mail server: a test email and a customer email arrive
        assert "Accepted" in ok(run("smtp", "test", "--to", "me@example.org", "--db", db)).stdout
        message_id = ok(run("send", "--db", db, "--user", "admin", "--account", "A1000004", "--subject",
                            "Hello from the demo", "--body", "Hi Zoë", password="admin-demo-1")).stdout.strip()
        ok(run("dispatch", "--once", "--db", db))
        received = {m.subject: m for m in read_outbox(folder / "outbox")}
        assert set(received) == {"commstui test email", "Hello from the demo"}
        assert received["Hello from the demo"].message_id == message_id
        assert demo.poll() is None  # still serving
    finally:
        stop.touch()
        demo.wait(timeout=30)
    err = demo.stderr.read()
    assert demo.returncode == 0, err
    assert "Demo stopped" in err and "2 emails captured" in err and str(folder) in err
    assert port > 0

    # run again in the same folder: the data is reused, the new mail server port saved
    again = ok(run("demo", "--dir", folder, "--no-tui", "--hold", "0.1"))
    assert again.stdout.startswith("Demo ready:") and f"127.0.0.1:{port};" not in again.stdout
    assert customers.count(ctx, admin, customers.CustomerFilter()) == 60


def test_dispatch_runs_until_sigterm_then_stops_cleanly(sample_db, capture):
    smtp_set(sample_db, capture.port)
    dispatcher = subprocess.Popen([*commstui(), "dispatch", "--db", str(sample_db)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                                  env=cli_env(COMMSTUI_DISPATCH_INTERVAL="0.1"))
    try:
        message_id = ok(run("send", "--db", sample_db, "--user", "operator", "--account", "A1000001",
                            "--subject", "While you wait", "--body", "x",
                            password=PASSWORDS["operator"])).stdout.strip()
        deadline = time.monotonic() + 30
        while not read_outbox(capture.outbox) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [m.message_id for m in read_outbox(capture.outbox)] == [message_id]
    finally:
        dispatcher.send_signal(signal.SIGTERM)
        out, err = dispatcher.communicate(timeout=30)
    assert dispatcher.returncode == 0, err
    assert "Stopped: 1 sent, 0 failed." in err and "Traceback" not in err


def test_the_readme_documents_every_setting():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    for name in Settings.model_fields:
        assert f"`COMMSTUI_{name.upper()}`" in readme and f"`{name}`" in readme, name
    assert "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest" in \
        (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text("utf-8")


def test_a_recurring_send_from_the_cli_in_the_office_zone(ready_db):
    sample_db = ready_db
    shown = ok(run("office", "set", "--timezone", "Australia/Sydney", "--db", sample_db)).stdout
    assert "time zone:      Australia/Sydney" in shown
    assert "Unknown time zone" in one_line_error(run("office", "set", "--timezone", "Mars/Olympus",
                                                     "--db", sample_db), 1)
    result = ok(run("send", "--db", sample_db, "--user", "operator", "--account", "A1000004",
                    "--subject", "Weekly reading", "--body", "Meter day", "--at", "2099-01-01T00:00+10:00",
                    "--cron", "0 9 * * 1", password=PASSWORDS["operator"]))
    assert "repeats by cron '0 9 * * 1'" in result.stderr
    log = {m["message_id"]: m for m in json.loads(ok(run("log", "--json", "--db", sample_db)).stdout)}
    first = log[result.stdout.strip()]
    # 1 Jan 2099 is a Thursday: the rule's first Monday 09:00 in Sydney (+11:00 in summer) is 5 Jan
    assert first["series_rule"] == "0 9 * * 1" and first["scheduled_at"].startswith("2099-01-04T22:00:00")


def test_seed_messages_then_dispatch_once_sends_them_all(sample_db, capture):
    smtp_set(sample_db, capture.port)
    assert "Queued 25 drill emails" in ok(run("seed", "--messages", "25", "--db", sample_db)).stdout
    assert "Handled 25: 25 sent" in ok(run("dispatch", "--once", "--db", sample_db)).stdout
    received = read_outbox(capture.outbox)
    assert len(received) == 25 and len({r.message_id for r in received}) == 25


def test_an_administrator_pauses_and_resumes_dispatching_from_the_cli(sample_db, capture):
    smtp_set(sample_db, capture.port)
    ok(run("seed", "--messages", "3", "--db", sample_db))
    ok(run("dispatcher", "pause", "--db", sample_db))
    assert ok(run("dispatcher", "status", "--db", sample_db)).stdout.startswith("PAUSED by cli: 3 queued")
    paused = ok(run("dispatch", "--once", "--db", sample_db))
    assert "Handled 0" in paused.stdout and "paused" in paused.stderr
    assert read_outbox(capture.outbox) == []
    ok(run("dispatcher", "resume", "--db", sample_db))
    assert "Handled 3: 3 sent" in ok(run("dispatch", "--once", "--db", sample_db)).stdout
