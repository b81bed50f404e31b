"""Mail server passwords: a 0600 secrets file or an environment variable, read
when a message is sent, and never written to the database."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from commstui import secrets
from commstui.delivery.dispatcher import Dispatcher
from commstui.delivery.email import Outcome
from commstui.services import email, mail_settings
from commstui.services.mail_settings import MailServerForm
from commstui.store import messages as messages_store

from smtp_servers import ScriptedHandler, ScriptedServer

PASSWORD = "Sup3r-Secret-Mail-Pw-8812"
VAR = "COMMSTUI_TEST_SMTP_PASSWORD"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def db_bytes(ctx) -> bytes:
    ctx.db.run(lambda con: con.execute("checkpoint"))
    # the file, its WAL, and the dispatcher's journal folder: no secret may be in any of them
    found = ctx.db.path.parent.glob(ctx.db.path.name + "*")
    return b"".join(f.read_bytes() for p in found for f in ([p] if p.is_file() else p.rglob("*"))
                    if f.is_file())


@pytest.fixture
def auth_server(ctx, admin):
    """A mail server that asks for a login (loopback, no TLS) and records the credentials it got."""
    with ScriptedServer(ScriptedHandler(), auth=True) as srv:
        yield srv


def form(port, **kw) -> MailServerForm:
    return MailServerForm(**{"host": "127.0.0.1", "port": port, "security": "none",
                             "from_addr": "office@commstui.example", "username": "mailer", **kw})


def queue(ctx, user, subject="Rent reminder"):
    return email.send_email_to_account(ctx, user, "A1000001", email.EmailDraft(subject=subject, body="Due Friday."))


def status(ctx, id):
    with ctx.db.connect() as con:
        return messages_store.get(con, id)


# -- the secrets file ------------------------------------------------------------------

def test_store_secret_writes_an_owner_only_file_and_keeps_other_keys():
    ref = secrets.store_secret("mail_server/default", "first")
    assert ref == "secret:mail_server/default"
    path = secrets.secrets_file()
    assert mode(path) == 0o600
    secrets.store_secret("mail_server/backup", "second")
    assert mode(path) == 0o600
    assert secrets.resolve("secret:mail_server/default") == "first"
    assert secrets.resolve("secret:mail_server/backup") == "second"
    assert [p.name for p in path.parent.iterdir()] == ["secrets.json"]  # no temp file left behind


def test_a_secrets_file_made_readable_by_hand_is_tightened_on_the_next_write():
    path = secrets.secrets_file()
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    os.chmod(path, 0o644)
    secrets.store_secret("k", "v")
    assert mode(path) == 0o600


def test_the_file_is_owner_only_even_with_a_permissive_umask():
    old = os.umask(0)
    try:
        secrets.store_secret("k", "v")
    finally:
        os.umask(old)
    assert mode(secrets.secrets_file()) == 0o600


@pytest.mark.parametrize("ref,words", [
    ("secret:nope", "No secret named 'nope'"),
    (f"env:{VAR}", f"{VAR}"),
    ("plain-password", "Unknown password reference"),
])
def test_an_unresolvable_reference_says_why(monkeypatch, ref, words):
    monkeypatch.delenv(VAR, raising=False)
    with pytest.raises(secrets.SecretError, match=words):
        secrets.resolve(ref)


def test_no_reference_means_no_password():
    assert secrets.resolve(None) is None and secrets.resolve("") is None


# -- saving mail server settings -------------------------------------------------------------

def test_a_typed_password_goes_to_the_secrets_file_never_the_database(ctx, admin):
    saved = mail_settings.save_server(ctx, admin, form(2525, password=PASSWORD))
    assert saved.password_ref == "secret:mail_server/default"
    assert PASSWORD not in repr(saved)
    assert PASSWORD.encode() not in db_bytes(ctx)
    assert PASSWORD in secrets.secrets_file().read_text()
    assert mode(secrets.secrets_file()) == 0o600

    # saving again without retyping keeps the password
    again = mail_settings.save_server(ctx, admin, form(2526))
    assert again.password_ref == saved.password_ref and again.port == 2526
    assert secrets.resolve(again.password_ref) == PASSWORD


def test_an_env_reference_keeps_only_the_variables_name(ctx, admin, monkeypatch):
    monkeypatch.setenv(VAR, PASSWORD)
    saved = mail_settings.save_server(ctx, admin, form(2525, password_env=VAR))
    assert saved.password_ref == f"env:{VAR}"
    assert PASSWORD.encode() not in db_bytes(ctx)
    assert not secrets.secrets_file().exists()


# -- sending ---------------------------------------------------------------------------------

async def test_an_env_reference_is_read_at_send_time(ctx, admin, auth_server, monkeypatch):
    monkeypatch.delenv(VAR, raising=False)  # not even set when the settings are saved
    mail_settings.save_server(ctx, admin, form(auth_server.port, password_env=VAR))
    first = queue(ctx, admin, "first")

    monkeypatch.setenv(VAR, "password-one")
    assert await Dispatcher(ctx.db, ctx.settings).run_once() == 1
    monkeypatch.setenv(VAR, "password-two")  # rotated: the next send uses the new one
    second = queue(ctx, admin, "second")
    assert await Dispatcher(ctx.db, ctx.settings).run_once() == 1

    got = auth_server.handler.received
    assert [(r.login, r.password) for r in got] == [("mailer", "password-one"), ("mailer", "password-two")]
    assert status(ctx, first.id).status == status(ctx, second.id).status == "sent"
    assert b"password-one" not in db_bytes(ctx)


async def test_a_secret_file_password_is_used_to_log_in(ctx, admin, auth_server):
    mail_settings.save_server(ctx, admin, form(auth_server.port, password=PASSWORD))
    queue(ctx, admin)
    await Dispatcher(ctx.db, ctx.settings).run_once()
    [got] = auth_server.handler.received
    assert (got.login, got.password) == ("mailer", PASSWORD)


async def test_a_missing_env_variable_leaves_the_message_queued_and_the_dispatcher_says_why(
        ctx, admin, auth_server, monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    mail_settings.save_server(ctx, admin, form(auth_server.port, password_env=VAR))
    queued = queue(ctx, admin)
    clock = FakeClock()
    d = Dispatcher(ctx.db, ctx.settings, clock=clock)

    await d.run_once()

    # a dispatcher that cannot read the password does not claim: no attempt is
    # spent, so another dispatcher that can read it (or this one, later) sends it
    waiting = status(ctx, queued.id)
    assert waiting.status == "queued" and waiting.attempts == 0
    assert VAR in d.last_error and "not set" in d.last_error
    assert auth_server.handler.received == []

    # the administrator sets it; the next round goes through with the same Message-ID
    monkeypatch.setenv(VAR, PASSWORD)
    await d.run_once()
    assert status(ctx, queued.id).status == "sent"
    [got] = auth_server.handler.received
    assert got.message_id == queued.message_id and got.password == PASSWORD


async def test_send_test_email_reports_a_missing_env_variable(ctx, admin, auth_server, monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    mail_settings.save_server(ctx, admin, form(auth_server.port, password_env=VAR))
    result = await mail_settings.send_test_email(ctx, admin, "it@commstui.example")
    assert result.outcome is not Outcome.SENT
    assert VAR in result.reply
    monkeypatch.setenv(VAR, PASSWORD)
    result = await mail_settings.send_test_email(ctx, admin, "it@commstui.example")
    assert result.outcome is Outcome.SENT
    assert auth_server.handler.received[0].password == PASSWORD
