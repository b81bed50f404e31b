"""The demo sends SMS and RoboCall with no setup: start_demo configures its capture SMS
server as the active provider, a bulk SMS and a bulk RoboCall generated and approved
through the services go out through the real text sender and land in the demo's texts
outbox; `commstui demo` says where, and a dispatcher sharing the demo's config dir
sends texts too."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from commstui.config import Settings, config_dir
from commstui.delivery.sms_capture import read_texts
from commstui.delivery.texts import TextSender
from commstui.services import auth, batches, bulk, demo, sms_settings
from commstui.services.context import Context
from commstui.services.demo import start_demo

OLIVIA, SIOBHAN = "+61412345001", "+61412345006"


@pytest.fixture
def session(tmp_path):
    running = start_demo(tmp_path / "demo", Settings(busy_timeout=5.0))
    try:
        yield running
    finally:
        running.stop()


def send_bulk(ctx, user, accounts: str, mode: str, text: str) -> int:
    """Generate a bulk send through the service and approve it; returns how many were released."""
    selection = bulk.Selection(mode="accounts", accounts_text=accounts)
    found = bulk.recipients(ctx, user, selection, mode)
    assert [r.problem for r in found.recipients] == [None] * len(found.recipients), found.recipients
    result = bulk.generate(ctx, user, selection, mode, bulk.BulkCompose(subject="Lift notice", sms_body=text),
                           found.recipients)
    batches.approve(ctx, user, result.batch.id)
    return len(found.recipients)


async def test_a_bulk_sms_and_robocall_reach_the_demos_texts_outbox(session):
    ctx, admin = session.ctx, session.admin
    status = sms_settings.provider_ready(ctx, admin)
    assert status.ready and status.from_number == "+61400000000", status
    # the token went to the secrets file in the config dir, never into the database
    provider = sms_settings.get_provider(ctx, admin)
    assert provider.base_url == session.sms_capture.base_url and provider.token_ref.startswith("secret:")
    assert session.sms_capture.token in (config_dir() / "secrets.json").read_text()
    assert session.sms_capture.token.encode() not in session.db_path.read_bytes()
    assert session.texts_outbox == session.outbox / "texts" and read_texts(session.outbox) == []

    assert send_bulk(ctx, admin, "A1000001", "sms", "Lift off Monday, {{ customer.first_name }}.") == 1
    assert send_bulk(ctx, admin, "A1000006", "robocall", "The lift at {{ building.name }} is off Monday.") == 1
    counts = await TextSender(ctx.db, ctx.settings, timeout=5).run_once()

    assert (counts.sent, counts.failed, counts.problem) == (2, 0, None), counts
    texts = {t.kind: t for t in demo.texts(session.outbox)}
    assert set(texts) == {"sms", "robocall"} and session.captured_texts() == 2
    assert (texts["sms"].to, texts["sms"].from_number, texts["sms"].body) == (
        OLIVIA, "+61400000000", "Lift off Monday, Olivia.")
    assert texts["robocall"].to == SIOBHAN and texts["robocall"].body.startswith("The lift at ")
    assert "<Say>" in texts["robocall"].twiml
    # the provider's id the sender recorded is the one the capture server gave
    with ctx.db.connect() as con:
        replies = dict(con.execute("select channel, server_reply from messages where channel in "
                                   "('sms', 'robocall') and status = 'sent'").fetchall())
    assert replies["sms"].startswith(texts["sms"].sid) and replies["robocall"].startswith(texts["robocall"].sid)
    assert session.captured() == 0  # texts are not emails


def test_stopping_the_demo_stops_both_capture_servers(tmp_path):
    running = start_demo(tmp_path / "demo", Settings(busy_timeout=5.0))
    mail, sms = running.capture.port, running.sms_capture.port
    running.stop()
    for port in (mail, sms):
        with socket.socket() as probe:
            probe.settimeout(2)
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


# -- `commstui demo` as a real process ----------------------------------------------------------
def commstui() -> list[str]:
    exe = Path(sys.executable).with_name("commstui")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "commstui"]


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("COMMSTUI_PASSWORD", "COMMSTUI_DB",
                                                              "COMMSTUI_DEBUG")}
    return {**clean, **extra}


def test_the_demo_command_serves_sms_and_a_dispatcher_with_its_config_sends_texts(tmp_path):
    folder = tmp_path / "demo"
    stop = tmp_path / "stop-demo"
    process = subprocess.Popen([*commstui(), "demo", "--dir", str(folder), "--no-tui", "--until-file", str(stop),
                                "--hold", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env(), stdin=subprocess.DEVNULL)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        ready = lines.get(timeout=60)
        assert ready.startswith("Demo ready:"), ready
        assert re.search(r"capture mail server 127\.0\.0\.1:\d+; capture SMS server 127\.0\.0\.1:\d+;", ready)

        db = folder / "demo.duckdb"
        ctx = Context.open(db, Settings(busy_timeout=10.0))
        admin = auth.login(ctx, "admin", "admin-demo-1")
        send_bulk(ctx, admin, "A1000001", "sms", "Hello from the demo, {{ customer.first_name }}.")
        # the headless dispatcher reads the demo's token from the demo's own config dir
        dispatched = subprocess.run([*commstui(), "dispatch", "--once", "--db", str(db)], capture_output=True,
                                    text=True, timeout=60, stdin=subprocess.DEVNULL,
                                    env=env(COMMSTUI_CONFIG_DIR=str(folder / "config")))
        assert dispatched.returncode == 0, dispatched.stderr
        assert "Texts: 1 sent (accepted by the SMS provider)" in dispatched.stdout, dispatched.stdout
        [text] = read_texts(folder / "outbox")
        assert (text.kind, text.to, text.body) == ("sms", OLIVIA, "Hello from the demo, Olivia.")
        assert process.poll() is None
    finally:
        stop.touch()
        process.wait(timeout=30)
    err = process.stderr.read()
    assert process.returncode == 0, err
    assert "Demo stopped" in err and "0 emails captured, 1 text or call" in err


def test_the_texts_outbox_of_a_demo_folder_is_read_newest_first(session):
    async def send_two() -> None:
        from commstui.delivery.sms import TwilioProvider

        provider = sms_settings.get_provider(session.ctx, session.admin)
        async with TwilioProvider(provider.base_url, provider.account_sid, session.sms_capture.token,
                                  provider.from_number) as client:
            assert (await client.send_sms(OLIVIA, "first")).ok
            assert (await client.call(SIOBHAN, "second")).ok

    asyncio.run(send_two())
    assert [t.body for t in demo.texts(session.outbox)] == ["second", "first"]
