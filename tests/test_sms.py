"""SMS and robocall: numbers in E.164, the Twilio-shaped provider against a real HTTP server
on 127.0.0.1 (every answer mapped to accepted / temporary / permanent), the provider settings
(validation, permissions, the token kept out of the database) and `commstui sms ...` run as a
real subprocess."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from commstui import secrets
from commstui.delivery.capture import free_port
from commstui.delivery.sms import NumberError, TwilioProvider, is_mobile, normalise_number
from commstui.services import auth, sms_settings
from commstui.services.errors import PermissionDenied, ValidationError
from commstui.services.sms_settings import NoSmsProvider, SmsProviderForm

from sms_server import DROP, STALL, SmsServer, error, status

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "tok-Unusual-7781-zq"
FROM = "+61412000111"


@pytest.fixture
def server():
    with SmsServer(account=SID, token=TOKEN) as running:
        yield running


def provider_for(server: SmsServer, **options) -> TwilioProvider:
    return TwilioProvider(server.base_url, SID, TOKEN, FROM, **options)


# -- numbers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, region, e164", [
    ("0412 345 678", "AU", "+61412345678"),
    ("0412-345-678", "AU", "+61412345678"),
    ("+61 412 345 678", "AU", "+61412345678"),
    ("(02) 9876 5432", "AU", "+61298765432"),
    ("021 123 4567", "NZ", "+64211234567"),
    ("+64 21 123 4567", "AU", "+64211234567"),   # a country code wins over the region
    ("07911 123456", "GB", "+447911123456"),
])
def test_numbers_are_normalised_to_e164(raw, region, e164):
    assert normalise_number(raw, region) == e164


def test_a_landline_can_get_a_robocall_but_not_an_sms():
    assert normalise_number("02 9876 5432") == "+61298765432"
    with pytest.raises(NumberError) as refused:
        normalise_number("02 9876 5432", sms=True)
    assert refused.value.reason == "not a mobile number"
    assert "RoboCall" in str(refused.value)
    assert normalise_number("0412 345 678", sms=True) == "+61412345678"
    assert is_mobile("0412 345 678") and not is_mobile("02 9876 5432") and not is_mobile("call me")


@pytest.mark.parametrize("raw, reason", [
    ("call me maybe", "not a phone number"),
    ("", "not a phone number"),
    ("0412 34", "invalid for region"),
    ("0412 345 678 999", "invalid for region"),
])
def test_a_bad_number_says_why(raw, reason):
    with pytest.raises(NumberError) as refused:
        normalise_number(raw, "AU")
    assert refused.value.reason == reason
    assert repr(raw) in str(refused.value)


# -- the provider against a real HTTP server ----------------------------------------------------------
async def test_an_sms_is_posted_the_twilio_way_and_accepted(server):
    async with provider_for(server) as provider:
        result = await provider.send_sms("+61412345678", "Water off Tuesday 9-11am. Reply STOP to opt out")
    assert result.ok and not result.temporary
    assert result.sid.startswith("SM") and result.message == "queued"
    assert result.outcome == "sent" and result.sid in result.reply
    [request] = server.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.form == {"To": "+61412345678", "From": FROM,
                            "Body": "Water off Tuesday 9-11am. Reply STOP to opt out"}
    assert (request.login, request.password) == (SID, TOKEN)


async def test_a_robocall_says_the_text_and_the_text_cannot_become_markup(server):
    text = 'Lift <B> out of order & "closed" until 5pm</Say><Hangup/>'
    async with provider_for(server) as provider:
        result = await provider.call("+61298765432", text)
    assert result.ok and result.sid.startswith("CA")
    [request] = server.requests
    assert request.resource == "Calls.json"
    assert request.form["To"] == "+61298765432" and request.form["From"] == FROM
    twiml = ET.fromstring(request.form["Twiml"])
    assert twiml.tag == "Response" and [child.tag for child in twiml] == ["Say"]
    assert twiml[0].text == text  # read back exactly: nothing of it was taken as TwiML


@pytest.mark.parametrize("code, words", [
    (21211, "The 'To' number +61400000000 is not a valid phone number."),
    (21610, "Attempt to send to unsubscribed recipient"),
])
async def test_twilio_refusals_are_permanent_with_twilios_words(server, code, words):
    server.answer(error(400, code, words))
    async with provider_for(server) as provider:
        result = await provider.send_sms("+61400000000", "hello")
    assert not result.ok and not result.temporary and result.outcome == "permanent"
    assert result.code == code
    assert result.message == f"HTTP 400, error {code}: {words}"


@pytest.mark.parametrize("answer", [429, 500, 503])
async def test_too_many_requests_and_server_errors_are_temporary(server, answer):
    server.answer(status(answer))
    async with provider_for(server) as provider:
        result = await provider.send_sms("+61412345678", "hello")
    assert not result.ok and result.temporary and result.outcome == "temporary"
    assert result.message.startswith(f"HTTP {answer}")
    assert result.throttled == (answer == 429)


async def test_a_stalled_provider_is_a_temporary_timeout():
    with SmsServer(stall_seconds=5) as server:
        server.answer(STALL)
        async with TwilioProvider(server.base_url, SID, TOKEN, FROM, timeout=0.3) as provider:
            result = await provider.send_sms("+61412345678", "hello")
        server.release()
    assert not result.ok and result.temporary
    assert "no answer from the provider in time" in result.message and "Timeout" in result.message


async def test_a_dropped_connection_and_a_closed_port_are_temporary(server):
    server.answer(DROP)
    async with provider_for(server) as provider:
        dropped = await provider.send_sms("+61412345678", "hello")
    assert not dropped.ok and dropped.temporary
    assert "could not reach the provider" in dropped.message
    async with TwilioProvider(f"http://127.0.0.1:{free_port()}", SID, TOKEN, FROM, timeout=2) as provider:
        refused = await provider.send_sms("+61412345678", "hello")
    assert not refused.ok and refused.temporary and "ConnectError" in refused.message


async def test_a_wrong_token_is_refused_and_says_where_to_fix_it(server):
    async with TwilioProvider(server.base_url, SID, "not-the-token", FROM) as provider:
        result = await provider.send_sms("+61412345678", "hello")
    assert not result.ok and not result.temporary and result.credentials_refused
    assert result.code == 20003
    assert "Authenticate" in result.message and "check the account SID and auth token" in result.message


async def test_an_answer_without_a_message_id_is_not_retried(server):
    from sms_server import Answer

    server.answer(Answer(201, {"status": "queued"}))
    async with provider_for(server) as provider:
        result = await provider.send_sms("+61412345678", "hello")
    assert not result.ok and not result.temporary
    assert "without a message id" in result.message


async def test_one_connection_is_kept_for_many_messages(server):
    async with provider_for(server) as provider:
        for n in range(5):
            assert (await provider.send_sms("+61412345678", f"message {n}")).ok
    assert len(server.requests) == 5
    assert {r.conn for r in server.requests} == {server.requests[0].conn}


# -- TLS: verified by default (a real HTTPS server with a self-signed certificate) ----------------------
@pytest.fixture
def https_server(tmp_path):
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = b'{"sid": "SMtls", "status": "queued"}'
            self.send_response(201)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_an_unknown_certificate_is_refused_unless_verification_is_off(https_server):
    async with TwilioProvider(https_server, SID, TOKEN, FROM, timeout=5) as provider:
        checked = await provider.send_sms("+61412345678", "hello")
    assert not checked.ok and "CERTIFICATE_VERIFY_FAILED" in checked.message
    async with TwilioProvider(https_server, SID, TOKEN, FROM, verify_tls=False, timeout=5) as provider:
        unchecked = await provider.send_sms("+61412345678", "hello")
    assert unchecked.ok and unchecked.sid == "SMtls"


# -- settings (the service) ------------------------------------------------------------------------------
def form(server: SmsServer | None = None, **changes) -> SmsProviderForm:
    values = dict(account_sid=SID, from_number="0412 000 111", token_env="TWILIO_TEST_TOKEN",
                  base_url=server.base_url if server else "https://api.twilio.com")
    values.update(changes)
    return SmsProviderForm(**values)


@pytest.mark.parametrize("changes, field, words", [
    ({"account_sid": " "}, "account_sid", "enter the account's SID"),
    ({"account_sid": "AC 12"}, "account_sid", "characters"),
    ({"from_number": "02 98"}, "from_number", "invalid for region AU"),
    ({"from_number": "office"}, "from_number", "not a phone number"),
    ({"from_number": ""}, "from_number", "enter the number"),
    ({"base_url": "http://api.twilio.com"}, "base_url", "use https"),
    ({"base_url": "ftp://x"}, "base_url", "not a web address"),
    ({"region": "ZZ"}, "region", "not a country code"),
    ({"token_env": "TWILIO TOKEN"}, "token_env", "not a variable name"),
    ({"token_env": "", "token_ref": "vault:x"}, "token_ref", "env:VARIABLE or secret:KEY"),
    ({"token_env": "", "token": "abc", "token_ref": "env:X"}, "token_env", "only one"),
    ({"token_env": ""}, "token", "type the auth token"),
])
def test_bad_settings_are_pointed_at_and_nothing_is_saved(ctx, admin, changes, field, words):
    with pytest.raises(ValidationError) as refused:
        sms_settings.save_provider(ctx, admin, form(**changes))
    assert refused.value.field == field and words in str(refused.value)
    assert sms_settings.get_provider(ctx, admin) is None


def test_http_is_allowed_only_for_this_machine(ctx, admin):
    for url in ("http://127.0.0.1:8080", "http://localhost:8080/"):
        saved = sms_settings.save_provider(ctx, admin, form(base_url=url))
        assert saved.base_url == url.rstrip("/")
    assert sms_settings.save_provider(ctx, admin, form(base_url="")).base_url == "https://api.twilio.com"


def test_a_typed_token_goes_to_the_secrets_file_never_the_database(ctx, admin, db_path):
    saved = sms_settings.save_provider(ctx, admin, form(token_env="", token=TOKEN, region="au"))
    assert saved.token_ref == "secret:sms_provider/default"
    assert (saved.from_number, saved.default_region, saved.active) == ("+61412000111", "AU", True)
    files = [db_path, *db_path.parent.glob(db_path.name + ".wal")]
    assert all(TOKEN.encode() not in f.read_bytes() for f in files)
    assert TOKEN in secrets.secrets_file().read_text()
    assert stat.S_IMODE(secrets.secrets_file().stat().st_mode) == 0o600
    # saved again without a token: the reference is kept
    again = sms_settings.save_provider(ctx, admin, form(token_env="", from_number="+61412000222"))
    assert again.token_ref == "secret:sms_provider/default" and again.from_number == "+61412000222"


def test_only_administrators_change_sms_settings_but_senders_may_ask_if_it_is_ready(ctx, admin, operator,
                                                                                    viewer):
    bulk = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    templates = auth.login(ctx, "templates", "templates-demo-1")
    for user in (operator, viewer, bulk):
        with pytest.raises(PermissionDenied):
            sms_settings.save_provider(ctx, user, form())
        with pytest.raises(PermissionDenied):
            sms_settings.get_provider(ctx, user)
    status_now = sms_settings.provider_ready(ctx, bulk)
    assert not status_now.ready and not status_now.may_configure
    assert "No SMS provider is configured" in status_now.message and "Ask an administrator" in status_now.message
    assert "Open SMS and RoboCall settings" in sms_settings.provider_ready(ctx, admin).message
    assert not sms_settings.provider_ready(ctx, viewer).ready
    with pytest.raises(PermissionDenied):
        sms_settings.provider_ready(ctx, templates)

    sms_settings.save_provider(ctx, admin, form(active=False))
    off = sms_settings.provider_ready(ctx, operator)
    assert not off.ready and "switched off" in off.message
    sms_settings.save_provider(ctx, admin, form())
    unreadable = sms_settings.provider_ready(ctx, operator)
    assert unreadable.ready and "cannot read its token" in unreadable.message
    os.environ["TWILIO_TEST_TOKEN"] = TOKEN
    try:
        ready = sms_settings.provider_ready(ctx, operator)
    finally:
        del os.environ["TWILIO_TEST_TOKEN"]
    assert ready.ready and ready.from_number == "+61412000111" and "+61412000111" in ready.message


async def test_send_test_sms_goes_now_through_the_provider(ctx, admin, server, monkeypatch):
    monkeypatch.setenv("TWILIO_TEST_TOKEN", TOKEN)
    sms_settings.save_provider(ctx, admin, form(server))
    result = await sms_settings.send_test_sms(ctx, admin, "0412 345 678")
    assert result.ok and result.sid.startswith("SM")
    [request] = server.requests
    assert request.form["To"] == "+61412345678" and request.form["From"] == "+61412000111"
    assert "Test SMS from commstui, sent by admin" in request.form["Body"]
    with pytest.raises(ValidationError) as landline:
        await sms_settings.send_test_sms(ctx, admin, "02 9876 5432")
    assert landline.value.field == "to" and "not a mobile number" in str(landline.value)
    assert len(server.requests) == 1


async def test_a_token_reference_that_cannot_be_read_is_a_clear_error(ctx, admin, server, monkeypatch):
    monkeypatch.delenv("TWILIO_TEST_TOKEN", raising=False)
    sms_settings.save_provider(ctx, admin, form(server))
    with pytest.raises(NoSmsProvider) as missing:
        await sms_settings.send_test_sms(ctx, admin, "0412 345 678")
    assert str(missing.value) == "SMS provider token: Environment variable TWILIO_TEST_TOKEN is not set."
    sms_settings.save_provider(ctx, admin, form(server, token_env="", token_ref="secret:nobody/saved"))
    with pytest.raises(NoSmsProvider) as absent:
        await sms_settings.send_test_sms(ctx, admin, "0412 345 678")
    assert "No secret named 'nobody/saved'" in str(absent.value)
    assert server.requests == []


async def test_no_provider_at_all_is_said_plainly(ctx, admin):
    with pytest.raises(NoSmsProvider) as none:
        await sms_settings.send_test_sms(ctx, admin, "0412 345 678")
    assert "No active SMS provider" in str(none.value)


# -- the CLI, as a real subprocess ----------------------------------------------------------------------
def sms_cli(*args, **env) -> subprocess.CompletedProcess:
    # until the lead wires `from . import cli_sms` into cli.py, load it beside the CLI
    code = "import commstui.cli_sms, commstui.cli as c; c.main()"
    full_env = {k: v for k, v in os.environ.items() if k not in ("COMMSTUI_DB", "COMMSTUI_PASSWORD")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code, "sms", *map(str, args)], capture_output=True, text=True,
                          timeout=60, env=full_env, stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_cli_sets_shows_and_tests_the_provider(ctx, db_path, server):
    ctx.db.run(lambda con: None)  # the sample database, closed again for the subprocess
    saved = sms_cli("set", "--db", db_path, "--account-sid", SID, "--token-env", "TWILIO_TEST_TOKEN",
                    "--from", "0412 000 111", "--base-url", server.base_url)
    assert saved.returncode == 0, saved.stderr
    assert "from +61412000111, token env:TWILIO_TEST_TOKEN" in saved.stdout and ": active." in saved.stdout

    shown = sms_cli("show", "--db", db_path)
    assert shown.returncode == 0, shown.stderr
    assert f"Account SID: {SID}" in shown.stdout and "From:        +61412000111" in shown.stdout
    assert "NOT readable here: SMS provider token: Environment variable TWILIO_TEST_TOKEN is not set" \
        in shown.stdout
    readable = sms_cli("show", "--db", db_path, TWILIO_TEST_TOKEN=TOKEN)
    assert "env:TWILIO_TEST_TOKEN (readable here)" in readable.stdout and TOKEN not in readable.stdout

    tested = sms_cli("test", "--db", db_path, "--to", "0412 345 678", TWILIO_TEST_TOKEN=TOKEN)
    assert tested.returncode == 0, tested.stderr
    assert tested.stdout.startswith("Accepted by the SMS provider: queued (SM")
    assert server.requests[-1].form["To"] == "+61412345678"

    server.answer(error(400, 21610, "Attempt to send to unsubscribed recipient"))
    refused = one_line_error(sms_cli("test", "--db", db_path, "--to", "0412 345 678", TWILIO_TEST_TOKEN=TOKEN))
    assert refused == "Test SMS failed: HTTP 400, error 21610: Attempt to send to unsubscribed recipient"
    assert one_line_error(sms_cli("test", "--db", db_path, "--to", "0412 345 678")) == (
        "No SMS provider: SMS provider token: Environment variable TWILIO_TEST_TOKEN is not set.")
    assert TOKEN.encode() not in db_path.read_bytes()


def test_cli_refuses_bad_input_in_one_line(db_path):
    line = one_line_error(sms_cli("set", "--db", db_path, "--account-sid", SID, "--token-env", "T",
                                  "--from", "02 98"))
    assert line == ("Invalid input: From number: '02 98' is invalid for region AU (check the digits, or give "
                    "the country code for another country, e.g. +61).")
    line = one_line_error(sms_cli("set", "--db", db_path, "--account-sid", SID, "--ask-token", "--from",
                                  "0412000111"))
    assert "--ask-token needs a terminal; use --token-env VAR instead" in line
    line = one_line_error(sms_cli("set", "--db", db_path, "--account-sid", SID, "--token-env", "T",
                                  "--ask-token", "--from", "0412000111"), code=2)
    assert "not both" in line
    line = one_line_error(sms_cli("set", "--db", db_path, "--account-sid", SID, "--from", "0412000111"))
    assert line == "Invalid input: Token: type the auth token, or give the environment variable that holds it."
    assert one_line_error(sms_cli("show", "--db", db_path / "nope.duckdb")).startswith("No database:")
