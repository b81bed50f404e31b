"""Shared by the batch screen tests: users with the bulk roles, batches generated
through the services (as the wizard would), and the app opened on a batch screen."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from commstui.app import CommsApp
from commstui.domain import Batch
from commstui.services import auth, bulk

from tui_helpers import until

SIZE = (80, 24)
# A1000001 Olivia Bennett (email), A1000002 Rajesh Kumar (no email: a failure when
# emailed), A1000003 "[bold]Mallory[/bold] Tables" (markup in the name, on purpose)
ACCOUNTS = "A1000001 A1000002 A1000003"
BODY = "Dear {{ recipient.name }},\nThe lifts at {{ building.name }} are off on Monday.\nThe office"


def user_with(ctx, admin, username: str, *roles: str):
    """A new user with exactly these roles (no password login needed for the tests)."""
    auth.add_user(ctx, admin, username, f"{username}-pass-1", roles=list(roles),
                  display_name=username.title(), email=f"{username}@commstui.example")
    return auth.get_user(ctx, username)


def sample_user(ctx, username: str):
    """bulk-sender (bulkSend) or bulk-approver (bulkApprove) from the sample data."""
    return auth.get_user(ctx, username)


def make_batch(ctx, user, accounts: str = ACCOUNTS, mode: str = "email", subject: str = "Lift works",
               body: str = BODY, attachment: Path | None = None) -> Batch:
    """A pending batch, generated as the wizard does: select, list recipients, generate."""
    selection = bulk.Selection(mode="accounts", accounts_text=accounts)
    found = bulk.recipients(ctx, user, selection, mode)
    compose = bulk.BulkCompose(subject=subject, text_body=body, attachment=attachment)
    result = bulk.generate(ctx, user, selection, mode, compose, found.recipients, processes=1)
    assert not result.cancelled
    return result.batch


def notice_pdf(path: Path, pages: int = 2) -> Path:
    """A real PDF to attach (fpdf2), each page saying which it is."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=14)
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 10, f"Building notice page {n}")
    pdf.output(str(path))
    return path


async def opened(pilot, screen_type, what: str = "the screen"):
    await until(pilot, lambda: isinstance(pilot.app.screen, screen_type), what=what)
    return pilot.app.screen


def app_for(ctx, user, dispatcher: bool = False) -> CommsApp:
    return CommsApp(ctx, user, run_dispatcher=dispatcher)
