"""`commstui demo`: a throwaway database with the sample data, a local capture
mail server and a local capture SMS server configured as the active ones, so the
whole flow (email, SMS, RoboCall) works on a laptop with no accounts and no setup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..delivery.capture import LOOPBACK, CapturedMessage, CaptureServer, read_outbox
from ..delivery.sms_capture import DEMO_ACCOUNT_SID, CapturedText, SmsCaptureServer, read_texts
from ..domain import User
from . import auth, mail_settings, setup, sms_settings
from .context import Context
from .mail_settings import MailServerForm
from .sms_settings import SmsProviderForm

__all__ = ["CapturedMessage", "CapturedText", "Demo", "start_demo", "outbox", "texts"]

# documented in README.md (Demo users) and sample_data/users.json
DEMO_ADMIN = "admin"
DEMO_ADMIN_PASSWORD = "admin-demo-1"
DEMO_FROM = "office@commstui.example"
DEMO_SERVER_NAME = "demo capture"
DEMO_SMS_FROM = "+61400000000"


@dataclass
class Demo:
    directory: Path
    ctx: Context
    capture: CaptureServer
    sms_capture: SmsCaptureServer
    admin: User

    @property
    def db_path(self) -> Path:
        return self.ctx.db.path

    @property
    def outbox(self) -> Path:
        return self.capture.outbox

    @property
    def texts_outbox(self) -> Path:
        """Where the capture SMS server files texts and calls (inside the outbox)."""
        return self.sms_capture.texts

    def captured(self) -> int:
        return len(read_outbox(self.outbox))

    def captured_texts(self) -> int:
        return len(read_texts(self.outbox))

    def stop(self) -> None:
        try:
            self.sms_capture.stop()
        finally:
            self.capture.stop()


def start_demo(directory: Path, settings: Settings | None = None) -> Demo:
    """Create (or reuse) the demo database in `directory`, load the sample data,
    start the capture servers and make them the active mail server and SMS provider.

    The SMS token is new each run and saved to the secrets file in the config dir
    (`commstui demo` points COMMSTUI_CONFIG_DIR at the demo's own folder), so a
    dispatcher started with the same config dir can send texts too."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ctx = Context.open(directory / "demo.duckdb", settings)
    setup.init(ctx, sample=True)
    admin = auth.login(ctx, DEMO_ADMIN, DEMO_ADMIN_PASSWORD)
    capture = CaptureServer(directory / "outbox").start()
    sms_capture = None
    try:
        # a fresh port each run, so the saved server is updated every time
        mail_settings.save_server(ctx, admin, MailServerForm(
            host=LOOPBACK, port=capture.port, security="none", from_addr=DEMO_FROM,
            name=DEMO_SERVER_NAME))
        sms_capture = SmsCaptureServer(capture.outbox).start()
        sms_settings.save_provider(ctx, admin, SmsProviderForm(
            account_sid=DEMO_ACCOUNT_SID, from_number=DEMO_SMS_FROM, token=sms_capture.token,
            base_url=sms_capture.base_url, region="AU"))
    except BaseException:
        if sms_capture is not None:
            sms_capture.stop()
        capture.stop()
        raise
    return Demo(directory=directory, ctx=ctx, capture=capture, sms_capture=sms_capture, admin=admin)


def outbox(directory: Path) -> list[CapturedMessage]:
    """What the demo's capture server received, newest first. No permission check:
    it is the demo's own folder of .eml files, not the database."""
    return read_outbox(directory)


def texts(directory: Path) -> list[CapturedText]:
    """The texts and calls the demo's capture SMS server received (in `directory`/texts),
    newest first. No permission check, as for `outbox`."""
    return read_texts(directory)
