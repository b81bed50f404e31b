"""Snapshots at 80x24 of Compose (a bad address pointed at), Mail settings and the Demo outbox
(emails and an SMS).

Deterministic: fixed data, UTC, a fixed config path on screen, no blinking cursors.
Update after a deliberate change with: pytest tests/test_snapshots_compose.py --snapshot-update
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Input, TextArea

from commstui.app import CommsApp
from commstui.screens.compose import ComposeScreen
from commstui.screens.demo_outbox import DemoOutboxScreen
from commstui.screens.mail_settings import MailSettingsScreen
from commstui.services import customers, mail_settings
from commstui.services.mail_settings import MailServerForm


SIZE = (80, 24)


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class Host(App):
    show_error = CommsApp.show_error  # the one place errors are reported

    def __init__(self, ctx, user, screen, outbox: Path | None = None) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher, self.demo_outbox = ctx, user, None, outbox
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def still_cursors(app: App) -> None:
    for widget in app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


def test_compose_with_a_bad_address(snap_compare, ctx, admin, mail_server):
    mallory = customers.get_by_account(ctx, admin, "A1000003")
    screen = ComposeScreen(mallory)

    async def run_before(pilot) -> None:
        await until(pilot, lambda: screen.server_ready is not None)
        screen.query_one("#to", Input).value = "mallory@example.com, bob@"
        screen.query_one("#subject", Input).value = "Water shut-off on Tuesday"
        screen.query_one("#body", TextArea).text = "Dear Mallory,\n\nThe water is off from 9 to 11am."
        screen.query_one("#to", Input).focus()
        await pilot.press("tab")  # leaving To points at the bad address
        await pilot.pause()
        still_cursors(pilot.app)

    assert snap_compare(Host(ctx, admin, screen), terminal_size=SIZE, run_before=run_before)


def test_mail_settings(snap_compare, ctx, admin, monkeypatch):
    mail_settings.save_server(ctx, admin, MailServerForm(
        host="smtp.example.com", port=587, security="starttls", from_addr="office@commstui.example",
        username="office", password_env="SMTP_PASSWORD"))
    monkeypatch.setenv("COMMSTUI_CONFIG_DIR", "/home/operator/.config/commstui")  # shown in the hint
    screen = MailSettingsScreen()

    async def run_before(pilot) -> None:
        await until(pilot, lambda: screen.loaded)
        still_cursors(pilot.app)

    assert snap_compare(Host(ctx, admin, screen), terminal_size=SIZE, run_before=run_before)


def write_captured(outbox: Path, n: int, received: str, subject: str, to: str, body: str,
                   rcpt: list[str], attachment: bool = False) -> None:
    """A message as the capture server files it, with a fixed time."""
    outbox.mkdir(parents=True, exist_ok=True)
    stem = f"{received.replace('-', '').replace(':', '')[:15]}000000-{n:06d}"
    boundary = "==boundary=="
    headers = (f"Message-ID: <{n}.fixed@commstui.example>\r\nDate: Mon, 02 Mar 2026 09:0{n}:00 +0000\r\n"
               f"From: office@commstui.example\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n")
    if attachment:
        eml = (headers + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
               f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
               f"--{boundary}\r\nContent-Type: application/pdf\r\n"
               f'Content-Disposition: attachment; filename="notice.pdf"\r\n'
               f"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--{boundary}--\r\n")
    else:
        eml = headers + f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    (outbox / f"{stem}.eml").write_bytes(eml.encode())
    (outbox / f"{stem}.json").write_text(json.dumps({
        "mail_from": "office@commstui.example", "rcpt_tos": rcpt, "received_at": f"{received}+00:00"}))


def write_captured_text(outbox: Path, n: int, received: str, kind: str, to: str, body: str) -> None:
    """A text or call as the capture SMS server files it, with a fixed time and id."""
    folder = outbox / "texts"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{received.replace('-', '').replace(':', '')[:15]}000000-{n:06d}"
    (folder / f"{stem}.json").write_text(json.dumps({
        "sid": f"{'SM' if kind == 'sms' else 'CA'}{n:032x}", "kind": kind, "to": to, "from": "+61400000000",
        "body": body, "twiml": None, "received_at": f"{received}+00:00"}))


@pytest.fixture
def outbox(tmp_path) -> Path:
    folder = tmp_path / "outbox"
    write_captured(folder, 1, "2026-03-02T09:01:00", "Welcome to Harbour View", "olivia.bennett@example.com",
                   "Welcome!", ["olivia.bennett@example.com"])
    write_captured(folder, 2, "2026-03-02T09:02:00", "[bold]Lift[/bold] maintenance", "mallory@example.com",
                   "The lift is off on Monday.\n[red]Not red[/red]",
                   ["mallory@example.com", "audit@example.org"],
                   attachment=True)
    write_captured_text(folder, 3, "2026-03-02T09:01:30", "sms", "+61412345001",
                        "Lift off Monday at Harbour View, Olivia. Sorry for the trouble.")
    return folder


def test_demo_outbox(snap_compare, ctx, admin, outbox, utc):
    screen = DemoOutboxScreen(outbox)

    async def run_before(pilot) -> None:
        await until(pilot, lambda: screen.read_once)

    assert snap_compare(Host(ctx, admin, screen, outbox), terminal_size=SIZE, run_before=run_before)


def test_demo_outbox_message(snap_compare, ctx, admin, outbox, utc):
    screen = DemoOutboxScreen(outbox)

    async def run_before(pilot) -> None:
        await until(pilot, lambda: screen.read_once)
        await pilot.press("enter")
        await until(pilot, lambda: getattr(pilot.app.screen, "parsed", None) is not None)

    assert snap_compare(Host(ctx, admin, screen, outbox), terminal_size=SIZE, run_before=run_before)
