"""`commstui demo`: a throwaway database with the sample data, and a local
capture mail server configured as the active one, so the whole flow works on a
laptop with no mail server and no setup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..delivery.capture import LOOPBACK, CapturedMessage, CaptureServer, read_outbox
from ..domain import User
from . import auth, mail_settings, setup
from .context import Context
from .mail_settings import MailServerForm

# documented in README.md (Demo users) and sample_data/users.json
DEMO_ADMIN = "admin"
DEMO_ADMIN_PASSWORD = "admin-demo-1"
DEMO_FROM = "office@commstui.example"
DEMO_SERVER_NAME = "demo capture"


@dataclass
class Demo:
    directory: Path
    ctx: Context
    capture: CaptureServer
    admin: User

    @property
    def db_path(self) -> Path:
        return self.ctx.db.path

    @property
    def outbox(self) -> Path:
        return self.capture.outbox

    def captured(self) -> int:
        return len(read_outbox(self.outbox))

    def stop(self) -> None:
        self.capture.stop()


def start_demo(directory: Path, settings: Settings | None = None) -> Demo:
    """Create (or reuse) the demo database in `directory`, load the sample data,
    start the capture server and make it the active mail server."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ctx = Context.open(directory / "demo.duckdb", settings)
    setup.init(ctx, sample=True)
    admin = auth.login(ctx, DEMO_ADMIN, DEMO_ADMIN_PASSWORD)
    capture = CaptureServer(directory / "outbox").start()
    try:
        # a fresh port each run, so the saved server is updated every time
        mail_settings.save_server(ctx, admin, MailServerForm(
            host=LOOPBACK, port=capture.port, security="none", from_addr=DEMO_FROM,
            name=DEMO_SERVER_NAME))
    except BaseException:
        capture.stop()
        raise
    return Demo(directory=directory, ctx=ctx, capture=capture, admin=admin)


def outbox(directory: Path) -> list[CapturedMessage]:
    """What the demo's capture server received, newest first. No permission check:
    it is the demo's own folder of .eml files, not the database."""
    return read_outbox(directory)
