"""The demo's capture SMS server: a real TwilioProvider sends an SMS and a RoboCall to it
over HTTP on 127.0.0.1, and both are filed in outbox/texts/ and read back; a wrong token,
a wrong account, a bad request each get Twilio's shaped answer and nothing is filed."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from commstui.delivery.sms import TwilioProvider
from commstui.delivery.sms_capture import DEMO_ACCOUNT_SID, SmsCaptureServer, read_texts

TOKEN = "demo-token-Xq81"
OLIVIA, LANDLINE, FROM = "+61412345001", "+61298765432", "+61400000000"


@pytest.fixture
def server(tmp_path):
    with SmsCaptureServer(tmp_path / "outbox", token=TOKEN) as running:
        yield running


def provider(server, token: str = TOKEN, account: str = DEMO_ACCOUNT_SID) -> TwilioProvider:
    return TwilioProvider(server.base_url, account, token, FROM, timeout=5)


async def test_an_sms_and_a_call_from_the_real_provider_are_filed_newest_first(server, tmp_path):
    async with provider(server) as client:
        sms = await client.send_sms(OLIVIA, "Water off Tuesday 9-11am.\nSorry for the bother.")
        call = await client.call(LANDLINE, "Fire alarm test at noon. Bring <nothing> & relax.")

    assert sms.ok and sms.outcome == "sent" and sms.sid.startswith("SM") and sms.message == "queued"
    assert call.ok and call.sid.startswith("CA") and sms.status == call.status == 201
    texts = read_texts(tmp_path / "outbox")
    assert [t.kind for t in texts] == ["robocall", "sms"]  # newest first
    got_call, got_sms = texts
    assert (got_sms.sid, got_sms.channel, got_sms.to, got_sms.from_number) == (sms.sid, "SMS", OLIVIA, FROM)
    assert got_sms.body == "Water off Tuesday 9-11am.\nSorry for the bother." and got_sms.twiml is None
    # a call is filed as what it says, with the TwiML it was given kept beside it
    assert (got_call.sid, got_call.channel, got_call.to) == (call.sid, "RoboCall", LANDLINE)
    assert got_call.body == "Fire alarm test at noon. Bring <nothing> & relax."
    assert "&lt;nothing&gt; &amp; relax" in got_call.twiml
    assert got_call.received_at >= got_sms.received_at and got_sms.received_at.tzinfo is not None
    files = sorted(p.name for p in (tmp_path / "outbox" / "texts").iterdir())
    assert len(files) == 2 and all(name.endswith(".json") for name in files)  # no partial files left


async def test_a_wrong_token_or_account_gets_twilios_401_and_nothing_is_filed(server, tmp_path):
    async with provider(server, token="not-the-token") as client:
        refused = await client.send_sms(OLIVIA, "hello")
    async with provider(server, account="AC_someone_else") as client:
        stranger = await client.call(OLIVIA, "hello")

    for result in (refused, stranger):
        assert not result.ok and result.status == 401 and result.credentials_refused and result.code == 20003
        assert result.message.startswith("HTTP 401, error 20003: Authenticate")
    assert read_texts(tmp_path / "outbox") == []


def test_bad_requests_get_twilio_shaped_errors(server, tmp_path):
    url = f"{server.base_url}/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}"
    auth = (DEMO_ACCOUNT_SID, TOKEN)
    with httpx.Client(auth=auth, timeout=5) as client:
        no_body = client.post(f"{url}/Messages.json", data={"To": OLIVIA, "From": FROM, "Body": " "})
        no_to = client.post(f"{url}/Messages.json", data={"From": FROM, "Body": "hi"})
        broken = client.post(f"{url}/Calls.json", data={"To": OLIVIA, "From": FROM, "Twiml": "<Response><Say>"})
        elsewhere = client.post(f"{server.base_url}/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}/Faxes.json",
                                data={"To": OLIVIA})
        huge = client.post(f"{url}/Messages.json", content=b"x" * (64 * 1024 + 1))
        looked = client.get(f"{url}/Messages.json")

    answers = {name: (r.status_code, r.json()["code"]) for name, r in
               dict(no_body=no_body, no_to=no_to, broken=broken, elsewhere=elsewhere, huge=huge,
                    looked=looked).items()}
    assert answers == {"no_body": (400, 21602), "no_to": (400, 21604), "broken": (400, 12100),
                       "elsewhere": (404, 20404), "huge": (413, 20001), "looked": (405, 20004)}
    assert no_body.json()["message"] == "Message body is required."
    assert read_texts(tmp_path / "outbox") == []


def test_it_listens_on_loopback_only(server):
    assert server._server.server_address[0] == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass
    other = _outward_address()
    if other is not None:  # a machine with only loopback has nothing else to try
        with pytest.raises(OSError):
            socket.create_connection((other, server.port), timeout=2).close()


def _outward_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_each_run_has_its_own_token_and_stopping_frees_the_port(tmp_path):
    first = SmsCaptureServer(tmp_path / "outbox")
    second = SmsCaptureServer(tmp_path / "outbox")
    try:
        assert first.token != second.token and len(first.token) >= 20
    finally:
        second.stop()  # never started: just closes the socket
    with first:
        port = first.port
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free again


def test_a_half_written_file_is_never_read(tmp_path):
    folder = tmp_path / "outbox" / "texts"
    folder.mkdir(parents=True)
    (folder / "20260302T090000000000-000001.json.part").write_text('{"sid": "SM1", "kin')
    (folder / "20260302T090100000000-000002.json").write_text(json.dumps({
        "sid": "SM2", "kind": "sms", "to": OLIVIA, "from": FROM, "body": "hi",
        "received_at": "2026-03-02T09:01:00+00:00"}))
    assert [t.sid for t in read_texts(tmp_path / "outbox")] == ["SM2"]


async def test_a_text_it_cannot_file_is_answered_500_so_the_sender_tries_again(server, tmp_path):
    server.texts.rmdir()
    server.texts.touch()  # a file where the folder was: nothing can be written there
    async with provider(server) as client:
        result = await client.send_sms(OLIVIA, "hello")

    assert not result.ok and result.temporary and result.status == 500
    assert "Could not file the message" in result.message
