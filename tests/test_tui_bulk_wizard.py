"""The Bulk Send wizard at 80x24, driven with the keyboard like an operator: each way of
choosing recipients (buildings, account numbers, limits), each channel (preferred, email,
SMS, RoboCall), cancelling a generation, a template mistake shown at its line, the
prerequisites, and the review list with 100,000 recipients. Every batch made is read back
through services.batches. Real DuckDB files, a real capture SMTP server."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader
from textual.app import App
from textual.widgets import Input, Select, Static, TextArea

from commstui.app import CommsApp
from commstui.config import Settings
from commstui.domain import Channel, Recipient, RecipientKind
from commstui.screens.batches import BatchesScreen
from commstui.screens.bulk_generate import ConfirmGenerate
from commstui.screens.bulk_how import MODES
from commstui.screens.bulk_who import CountAnswered
from commstui.screens.bulk_wizard import BulkWizardScreen
from commstui.screens.mail_settings import MailSettingsScreen
from commstui.services import auth, batches, sms_settings
from commstui.services.bulk import SelectionCount
from commstui.widgets.recipient_list import RecipientTable

from tui_helpers import notifications, static_text, text_of, until

SIZE = (80, 24)
HARB = 1   # building ids in the sample data, in buildings.csv order
HARB_ACTIVE = 17


class Host(App):
    show_error = CommsApp.show_error  # the one place errors are reported

    def __init__(self, ctx, user) -> None:
        super().__init__()
        self.ctx, self.user, self.dispatcher, self.demo_outbox = ctx, user, None, None

    def on_mount(self) -> None:
        self.push_screen(BulkWizardScreen())


@pytest.fixture
def settings() -> Settings:
    # two letter processes, as on the 2-core machines we run on: a pool started from inside the
    # running app (whose stderr is not a real file) is part of what these tests cover
    return Settings(busy_timeout=5.0, dispatch_interval=0.2, smtp_timeout=5.0, letter_processes=2)


@pytest.fixture
def sms_provider(ctx, admin, monkeypatch):
    monkeypatch.setenv("BULK_TEST_SMS_TOKEN", "not-used-here")
    return sms_settings.save_provider(ctx, admin, sms_settings.SmsProviderForm(
        account_sid="AC0123456789", from_number="+61400000000", token_env="BULK_TEST_SMS_TOKEN",
        base_url="http://127.0.0.1:9/"))


async def opened(pilot) -> BulkWizardScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, BulkWizardScreen), what="the wizard")
    screen = pilot.app.screen
    await until(pilot, lambda: screen.who.count is not None, what="the first count")
    return screen


def count_line(screen) -> str:
    return static_text(screen.query_one("#who-count", Static))


async def counted(pilot, screen, expected: str) -> None:
    await until(pilot, lambda: expected in count_line(screen), what=f"the count {expected!r}")


async def next_to(pilot, screen, step: str) -> None:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: screen.step == step and not screen.busy, what=f"the {step} step")
    await pilot.pause()


async def choose_how(pilot, screen, mode: str) -> None:
    radio = screen.query_one("#how-mode")
    radio.focus()
    await pilot.pause()
    for _ in range([m.value for m in MODES].index(mode)):
        await pilot.press("down")
    await pilot.press("enter")
    await until(pilot, lambda: screen.query_one("#step-how").mode.value == mode, what=f"how = {mode}")


async def type_into(pilot, widget_id: str, text: str) -> None:
    pilot.app.screen.query_one(f"#{widget_id}").focus()
    await pilot.pause()
    for line_no, line in enumerate(text.split("\n")):
        if line_no:
            await pilot.press("enter")
        await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in line])


async def generate(pilot, screen) -> None:
    await pilot.press("ctrl+n")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmGenerate), what="the confirmation")
    await pilot.press("y")
    await until(pilot, lambda: screen.result is not None, what="the generation", timeout=60)
    await pilot.pause()


def review_counts(screen) -> str:
    return static_text(screen.query_one("#review-counts", Static))


# -- recipient modes and channels ------------------------------------------------------------
async def test_buildings_by_preferred_delivery_to_a_pending_batch(ctx, admin, mail_server, sms_provider):
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert "Ctrl+N" in text_of(screen.query_one("#wizard-hint"))
        await pilot.press("space")                      # tick the first building (HARB)
        await counted(pilot, screen, f"{HARB_ACTIVE} customers")
        await pilot.press("tab", "tab", "space")        # types, then "Include location owners"
        await counted(pilot, screen, f"{HARB_ACTIVE} customers + 3 owners = 20 recipients")
        await next_to(pilot, screen, "how")
        assert screen.query_one("#step-how").mode.value == "preferred"
        await next_to(pilot, screen, "review")
        table = screen.query_one(RecipientTable)
        assert len(table.recipients) == 20
        assert {r.kind for r in table.recipients} == {"customer", "owner"}
        assert "Ticked: 14 Email · 4 Letter · 2 SMS" in review_counts(screen)
        shown = text_of(table)
        assert "Account No" in shown and "Linked No" in shown and "Channel" in shown
        first = table.recipients[0]
        await pilot.press("space")                      # untick the first row
        await until(pilot, lambda: "Ticked: 13 Email" in review_counts(screen), what="the counts")
        assert not table.ticks[0]
        await next_to(pilot, screen, "compose")
        await pilot.press("tab")
        await type_into(pilot, "subject", "Water off at {{ building.name }}")
        await type_into(pilot, "text-body", "Dear {{ customer.first_name }},\nNo water on Tuesday 9-11am.")
        await type_into(pilot, "sms-body", "Water off {{ building.code }} Tue 9-11")
        assert "GSM-7 · 1 SMS segment" in static_text(screen.query_one("#sms-length", Static))
        await next_to(pilot, screen, "preview")
        await pilot.press("e")
        output = screen.query_one("#preview-output", Static)
        await until(pilot, lambda: "Subject: Water off at Harbourview Towers" in static_text(output),
                    what="the email preview")
        assert "To: " in static_text(output) and "No water on Tuesday" in static_text(output)
        await pilot.press("s")
        await until(pilot, lambda: "Water off HARB Tue 9-11" in static_text(output), what="the SMS preview")
        await pilot.press("l")                          # the real PDF, for the next one who gets a letter
        await until(pilot, lambda: "PDF written to" in static_text(output), what="the letter preview")
        written = Path(re.search(r"PDF written to: (\S+\.pdf)", static_text(output)).group(1))
        letter_text = "".join(page.extract_text() for page in PdfReader(written).pages)
        assert "No water on Tuesday" in letter_text and "1 Wharf Rd" in letter_text
        # the confirmation: No goes back and makes nothing
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, ConfirmGenerate), what="the confirmation")
        asked = static_text(app.screen.query_one("#confirm-text", Static))
        assert "Generate 19 messages" in asked and "13 Emails" in asked and "4 Letters" in asked
        assert "2 SMS" in asked
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, what="back at the preview")
        assert screen.step == "preview" and batches.list_batches(ctx, admin) == []
        await generate(pilot, screen)
        outcome = static_text(screen.query_one("#generate-outcome", Static))
        batch_id = screen.result.batch.id
        assert f"Batch {batch_id} generated: waiting for approval" in outcome
        assert "13 Emails · 4 Letters · 2 SMS" in outcome
    batch = batches.get_batch(ctx, admin, batch_id)
    assert (batch.status, batch.emails, batch.letters, batch.sms, batch.robocalls) == ("pending", 13, 4, 2, 0)
    assert batch.channel_mode == "preferred" and batch.template_name is None
    found = batches.results(ctx, admin, batch_id)
    assert (found.succeeded, found.waiting, found.failed) == (0, 19, 0)
    samples = batches.approval_summary(ctx, admin, batch_id).samples
    assert samples and all(first.name not in s.to for s in samples)


async def test_account_numbers_every_problem_listed_then_a_template_by_email(ctx, admin, mail_server):
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        screen.query_one("#who-mode").focus()
        await pilot.press("right", "enter")             # Account numbers
        await until(pilot, lambda: screen.who.mode == "accounts", what="accounts mode")
        await type_into(pilot, "accounts", "A1000001, A1000004 A1000001\nnot!valid A9999999\nA1000009")
        await pilot.press("ctrl+n")
        box = screen.query_one("#account-problems", Static)
        await until(pilot, lambda: box.display and "left out" in static_text(box), what="the problems")
        listed = static_text(box)
        assert "2 account(s) found; 4 left out" in listed
        assert "line 1: A1000001 — listed twice (first on line 1)" in listed
        assert "line 2: not!valid — not an account number" in listed
        assert "line 2: A9999999 — no customer has this account number" in listed
        assert "line 3: A1000009 — the account is inactive" in listed
        assert screen.step == "who"
        assert any("Ctrl+N again to go on with 2 accounts" in n for n in notifications(app))
        await next_to(pilot, screen, "how")             # the second Ctrl+N goes on without them
        await choose_how(pilot, screen, "email")
        await next_to(pilot, screen, "review")
        table = screen.query_one(RecipientTable)
        assert [r.account_no for r in table.recipients] == ["A1000001", "A1000004"]
        await next_to(pilot, screen, "compose")
        select = screen.query_one("#template", Select)
        await until(pilot, lambda: len(select._options) > 1, what="the templates")
        select.focus()
        await pilot.press("enter", "down", "enter")     # the first saved template
        await until(pilot, lambda: screen.query_one("#subject", Input).value != "", what="the template")
        assert select.value == "Account activation"
        await next_to(pilot, screen, "preview")
        await generate(pilot, screen)
        batch_id = screen.result.batch.id
        assert "O opens the batch" in text_of(screen.query_one("#wizard-hint"))
        await pilot.press("o")                          # on to the batch: results and approval
        await until(pilot, lambda: isinstance(app.screen, BatchesScreen), what="the batches screen")
        assert screen not in app.screen_stack
    batch = batches.get_batch(ctx, admin, batch_id)
    assert (batch.status, batch.emails, batch.template_name) == ("pending", 2, "Account activation")
    assert batches.results(ctx, admin, batch_id).waiting == 2


async def test_limits_by_sms_lists_who_cannot_get_a_text(ctx, admin, sms_provider):
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        screen.query_one("#who-mode").focus()
        await pilot.press("right", "right", "enter")    # Limits (filters)
        await until(pilot, lambda: screen.query_one("#who-filters").display, what="the limits")
        screen.query_one("#buildings").select(HARB)
        screen.query_one("#has-mobile", Select).value = "yes"
        await counted(pilot, screen, "15 customers")    # active (the default status), with a mobile
        await next_to(pilot, screen, "how")
        await choose_how(pilot, screen, "sms")
        await next_to(pilot, screen, "review")
        table = screen.query_one(RecipientTable)
        problems = [r for r in table.recipients if r.problem]
        assert {r.problem for r in problems} == {"not opted in to SMS"} and len(problems) == 7
        assert "7 cannot be reached" in review_counts(screen)
        await pilot.press("p")                          # to the first problem; the line says why
        await until(pilot, lambda: table.current.problem is not None, what="a problem row")
        assert "not opted in to SMS" in static_text(screen.query_one("#review-row", Static))
        await next_to(pilot, screen, "compose")
        assert not screen.query_one("#text-body").display and screen.query_one("#sms-body").display
        await type_into(pilot, "subject", "Lift outage")
        await type_into(pilot, "sms-body", "Lift out of order at {{ building.name }} until Friday.")
        length = screen.query_one("#sms-length", Static)
        assert "GSM-7 · 1 SMS segment" in static_text(length)
        screen.query_one("#sms-body", TextArea).insert(" Sorry ✓")   # a character GSM-7 lacks
        await until(pilot, lambda: "UCS-2" in static_text(length), what="the length as UCS-2")
        await next_to(pilot, screen, "preview")
        await generate(pilot, screen)
        batch_id = screen.result.batch.id
        failures = screen.query_one("#failures")
        assert failures.display and failures.row_count == 7
        assert "7 recipients got nothing" in static_text(screen.query_one("#generate-outcome", Static))
    batch = batches.get_batch(ctx, admin, batch_id)
    assert (batch.status, batch.sms, batch.not_generated) == ("pending", 8, 7)
    found = batches.results(ctx, admin, batch_id)
    assert found.failed == 7 and {f.reason for f in found.failures} == {"not opted in to SMS"}


async def test_robocall_to_a_building(ctx, admin, sms_provider):
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("space")
        await counted(pilot, screen, f"{HARB_ACTIVE} customers")
        await next_to(pilot, screen, "how")
        await choose_how(pilot, screen, "robocall")
        await next_to(pilot, screen, "review")
        assert "Ticked: 15 RoboCall; 2 cannot be reached" in review_counts(screen)
        await next_to(pilot, screen, "compose")
        await type_into(pilot, "subject", "Fire drill")
        await type_into(pilot, "sms-body", "This is {{ company.name }}: fire drill at ten tomorrow.")
        await next_to(pilot, screen, "preview")
        await generate(pilot, screen)
        batch_id = screen.result.batch.id
    batch = batches.get_batch(ctx, admin, batch_id)
    assert (batch.status, batch.robocalls, batch.not_generated) == ("pending", 15, 2)
    assert {f.reason for f in batches.results(ctx, admin, batch_id).failures} == {"no phone number"}


# -- mistakes, prerequisites, cancelling ---------------------------------------------------------
async def test_a_template_mistake_is_shown_at_its_line(ctx, admin, mail_server):
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("space")
        await counted(pilot, screen, f"{HARB_ACTIVE} customers")
        await next_to(pilot, screen, "how")
        await choose_how(pilot, screen, "email")
        await next_to(pilot, screen, "review")
        await next_to(pilot, screen, "compose")
        await type_into(pilot, "subject", "Notice")
        await type_into(pilot, "text-body", "Dear {{ customer.name }},\nA notice.\n{% if %}oops")
        await pilot.press("ctrl+n")
        body = screen.query_one("#text-body", TextArea)
        await until(pilot, lambda: body.has_class("-invalid"), what="the problem shown")
        assert screen.step == "compose"
        assert body.border_subtitle.startswith("line 3:")
        assert body.cursor_location[0] == 2 and app.focused is body
        assert "Message, line 3:" in static_text(screen.query_one("#compose-problems", Static))
        body.text = "Dear {{ customer.name }},\nA notice."
        await next_to(pilot, screen, "preview")
        assert not body.has_class("-invalid")
    assert batches.list_batches(ctx, admin) == []


async def test_one_pdf_attachment_is_checked_and_removable(ctx, admin, mail_server, tmp_path):
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Building rules")
    rules = tmp_path / "rules.pdf"
    pdf.output(str(rules))
    not_pdf = tmp_path / "rules.txt"
    not_pdf.write_text("just text")
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("space")
        await counted(pilot, screen, f"{HARB_ACTIVE} customers")
        await next_to(pilot, screen, "how")
        await choose_how(pilot, screen, "email")
        await next_to(pilot, screen, "review")
        await next_to(pilot, screen, "compose")
        info = screen.query_one("#attachment-info", Static)
        screen.query_one("#attachment", Input).value = str(not_pdf)
        screen.query_one("#attachment").focus()
        await pilot.press("enter")
        await until(pilot, lambda: "not a PDF" in static_text(info), what="the refusal")
        assert screen.query_one("#attachment").has_class("-invalid")
        screen.query_one("#attachment", Input).value = str(rules)
        await pilot.press("enter")
        await until(pilot, lambda: "PDF ok" in static_text(info), what="the PDF accepted")
        assert "1 page" in static_text(info) and "KB" in static_text(info)
        await type_into(pilot, "subject", "Rules")
        await type_into(pilot, "text-body", "See the rules attached.")
        await next_to(pilot, screen, "preview")
        await pilot.press("e")
        output = screen.query_one("#preview-output", Static)
        await until(pilot, lambda: "Attachment: rules.pdf" in static_text(output), what="the attachment listed")
        await pilot.press("escape")
        await until(pilot, lambda: screen.step == "compose", what="back to compose")
        screen.query_one("#remove-attachment").press()
        await until(pilot, lambda: "No attachment" in static_text(info), what="the attachment removed")
        assert screen.composer.value().attachment is None


async def test_missing_mail_server_stops_email_and_offers_the_settings(ctx, admin):
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        banner = static_text(screen.query_one("#wizard-banner", Static))
        assert "No active mail server" in banner and "F2 sets it up" in banner
        await pilot.press("space")
        await counted(pilot, screen, f"{HARB_ACTIVE} customers")
        await next_to(pilot, screen, "how")
        await choose_how(pilot, screen, "email")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: any("Cannot go on yet" in n for n in notifications(app)), what="the refusal")
        assert screen.step == "how"
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, MailSettingsScreen), what="mail settings")


async def test_a_bulk_sender_is_told_to_ask_an_administrator(ctx):
    sender = auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")
    app = Host(ctx, sender)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        banner = static_text(screen.query_one("#wizard-banner", Static))
        assert "ask an administrator" in banner and "F2" not in banner
        await pilot.press("f2")
        await pilot.pause()
        assert app.screen is screen
        assert "Mail settings" not in text_of(screen.query_one("Footer"))


async def test_cancel_during_generation_leaves_nothing_to_send(ctx, admin):
    # letters: merging 2,000 takes well under a second, making their PDFs a minute, and
    # cancelling is honoured after each letter; so Cancel pressed once merging is done
    # always lands while letters are being made
    many = 2_000
    ctx.db.run(lambda con: con.execute(
        "insert into customers (account_no, name, building_id, address_line1, city, state, postcode, search_text) "
        "select 'B' || lpad(i::varchar, 7, '0'), 'Bulk Customer ' || i, ?, i || ' Long Street', 'Pyrmont', "
        "'NSW', '2009', '' from range(?) t(i)", [HARB, many]))
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("space")
        await counted(pilot, screen, f"{HARB_ACTIVE + many:,} customers")
        await next_to(pilot, screen, "how")
        await choose_how(pilot, screen, "letter")
        await next_to(pilot, screen, "review")
        await next_to(pilot, screen, "compose")
        await type_into(pilot, "subject", "Big one")
        screen.query_one("#text-body", TextArea).text = "Hello {{ customer.name }}"
        await next_to(pilot, screen, "preview")
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, ConfirmGenerate), what="the confirmation")
        await pilot.press("y")
        phase = screen.query_one("#generate-phase", Static)
        total = f"{HARB_ACTIVE + many:,} of {HARB_ACTIVE + many:,}"
        await until(pilot, lambda: total in static_text(phase), what="merging done", timeout=60)
        assert "C cancels" in static_text(phase)
        await pilot.press("c")
        await until(pilot, lambda: screen.result is not None, what="the cancelled result", timeout=60)
        assert screen.result.cancelled
        outcome = static_text(screen.query_one("#generate-outcome", Static))
        assert "Generation cancelled" in outcome and "nothing of it will be sent" in outcome
        batch_id = screen.result.batch.id
    batch = batches.get_batch(ctx, admin, batch_id)
    assert batch.status == "cancelled"
    found = batches.results(ctx, admin, batch_id)
    assert (found.succeeded, found.waiting) == (0, 0)
    assert batches.unposted_letters(ctx, admin, batch_id) == []


# -- the live count and the big list -------------------------------------------------------------
async def test_a_late_count_never_overwrites_a_newer_one(ctx, admin):
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("space")
        await counted(pilot, screen, f"{HARB_ACTIVE} customers")
        stale = screen.who.asked - 1
        screen.who.post_message(CountAnswered(stale, SelectionCount(999)))
        await pilot.pause(0.2)
        assert "999" not in count_line(screen) and f"{HARB_ACTIVE} customers" in count_line(screen)


def many_recipients(n: int) -> list[Recipient]:
    return [Recipient(account_no=f"C{i:07d}", linked_account_no=f"C{i:07d}", kind=RecipientKind.CUSTOMER,
                      name=f"Customer {i}", channel=Channel.EMAIL,
                      destination=None if i % 1000 == 999 else f"c{i}@example.com", customer_id=i,
                      problem="no email address" if i % 1000 == 999 else None) for i in range(n)]


async def test_review_of_100k_recipients_stays_responsive(ctx, admin):
    n = 100_000
    people = many_recipients(n)
    app = Host(ctx, admin)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        started = time.perf_counter()
        screen.review.show(people)
        screen.go("review")
        await pilot.pause()
        shown_in = time.perf_counter() - started
        table = screen.query_one(RecipientTable)
        await until(pilot, lambda: app.focused is table, what="the list focused")
        timings: dict[str, float] = {}
        # space unticks one row; then A ticks all (not all were), A unticks all, A ticks all again
        for key in ("end", "pageup", "space", "p", "a", "a", "a", "home"):
            started = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            timings[key] = max(timings.get(key, 0.0), time.perf_counter() - started)
        assert shown_in < 2.0, shown_in
        assert max(timings.values()) < 0.5, timings
        assert len(list(screen.query("*"))) < 200   # a list and a bytearray, not a widget per row
        per_channel, unreachable = table.ticked_counts()
        assert (per_channel["email"], unreachable) == (n - 100, 100)
        assert "99,900 Email; 100 cannot be reached" in review_counts(screen)
        print(f"100k review: shown in {shown_in:.3f}s; keys {({k: round(v, 3) for k, v in timings.items()})}")
