"""Bulk send through the services, over the sample data in a real DuckDB file: choosing
recipients three ways, who cannot be reached and why, generation into a pending batch,
approval rules, delivery to a real SMTP server after approval, and the email dashboard."""

from __future__ import annotations

import threading

import pytest

from commstui.delivery.dispatcher import Dispatcher
from commstui.domain import LOCAL_ADMIN, BatchStatus, MessageStatus
from commstui.services import auth, batches, bulk
from commstui.services.errors import NoMailServer, PermissionDenied, ServiceError, ValidationError
from commstui.store import notes as notes_store

LIFT = bulk.BulkCompose(subject="Lift works at {{ building.name }}",
                        text_body="Dear {{ recipient.name }},\n\nThe lift at {{ building.name }} is off on Monday.\n"
                                  "Account {{ customer.account_no }}.",
                        sms_body="Lift at {{ building.name }} off Monday. Acc {{ customer.account_no }}")


def building_id(ctx, code: str) -> int:
    return next(b.id for b in bulk.choices(ctx, LOCAL_ADMIN).buildings if b.code == code)


@pytest.fixture
def sender(ctx):
    return auth.login(ctx, "bulk-sender", "bulk-sender-demo-1")


@pytest.fixture
def sms_provider(ctx, admin, monkeypatch):
    """An active SMS provider (nothing is sent to it in these tests)."""
    from commstui.services import sms_settings

    monkeypatch.setenv("TEST_SMS_TOKEN", "not-a-real-token")
    return sms_settings.save_provider(ctx, admin, sms_settings.SmsProviderForm(
        account_sid="AC123", from_number="+61400000000", token_env="TEST_SMS_TOKEN",
        base_url="http://127.0.0.1:9"))


@pytest.fixture
def approver(ctx):
    return auth.login(ctx, "bulk-approver", "bulk-approver-demo-1")


def harbour(ctx, **options) -> bulk.Selection:
    return bulk.Selection(mode="buildings", building_ids=[building_id(ctx, "HARB")], **options)


def generate(ctx, user, selection, mode="email", compose=LIFT, **kwargs):
    found = bulk.recipients(ctx, user, selection, mode)
    return bulk.generate(ctx, user, selection, mode, compose, found.recipients, **kwargs)


def messages_of(ctx, batch_id):
    with ctx.db.connect() as con:
        return con.execute("select id, channel, status, to_addrs, subject, body, recipient_kind, customer_id "
                           "from messages where batch_id = ? order by id", [batch_id]).fetchall()


# -- who ------------------------------------------------------------------------------
def test_pasted_account_numbers_are_each_judged_with_line_and_reason(ctx, sender):
    check = bulk.check_accounts(ctx, sender, "A1000001, a1000004;A1000009\n\nZZ999 A1000001\n<b>")

    assert check.accounts == ["A1000001", "A1000004"]  # lower case typed, stored form returned
    assert [(p.line, p.token, p.reason) for p in check.problems] == [
        (1, "A1000009", "the account is inactive"),
        (3, "ZZ999", "no customer has this account number"),
        (3, "A1000001", "listed twice (first on line 1)"),
        (4, "<b>", "not an account number"),
    ]


def test_buildings_count_active_customers_and_optionally_owners_and_contacts(ctx, sender):
    plain = bulk.count(ctx, sender, harbour(ctx))
    both = bulk.count(ctx, sender, harbour(ctx, include_owners=True, include_contacts=True))

    # 19 HARB customers in the sample, 2 inactive; 3 with owners, 3 contacts flagged (one is not)
    # plus Olivia's address contact (additional communication on)
    assert plain == bulk.SelectionCount(17)
    assert both == bulk.SelectionCount(17, 3, 4)
    assert bulk.count(ctx, sender, harbour(ctx, customer_types=["commercial"])).customers == 2


def test_filters_narrow_by_delivery_and_contact_details(ctx, sender):
    selection = bulk.Selection(mode="filter", statuses=["active"], preferred=["post"], has_email=False)
    found = bulk.recipients(ctx, sender, selection, "preferred")

    assert found.recipients and all(r.channel == "letter" for r in found.recipients)
    assert {r.account_no for r in found.recipients} >= {"A1000002", "A1000020", "A1000058"}


def test_who_cannot_be_reached_is_listed_with_the_reason_not_dropped(ctx, sender):
    by_email = {r.account_no: r for r in bulk.recipients(ctx, sender, harbour(ctx), "email").recipients}
    by_sms = {r.account_no: r for r in bulk.recipients(ctx, sender, harbour(ctx), "sms").recipients}
    preferred = {r.account_no: r for r in bulk.recipients(ctx, sender, harbour(ctx), "preferred").recipients}

    assert by_email["A1000002"].problem == "no email address"
    assert by_sms["A1000002"].problem == "not opted in to SMS"
    assert by_sms["A1000001"].problem is None and by_sms["A1000001"].destination == "+61412345001"
    assert preferred["A1000002"].channel == "letter" and preferred["A1000002"].problem is None
    assert preferred["A1000002"].destination == "Apt 804, 1 Wharf Rd, Pyrmont NSW 2009"
    assert len(by_email) == len(by_sms) == 17


def test_owners_and_contacts_are_their_own_rows_with_the_location_account(ctx, sender):
    found = bulk.recipients(ctx, sender, harbour(ctx, include_owners=True, include_contacts=True), "email")
    rajesh = [(r.kind, r.account_no, r.linked_account_no, r.name, r.problem) for r in found.recipients
              if r.account_no == "A1000002"]

    # the owner gets it even though the customer has no email (seed 004)
    assert rajesh == [("customer", "A1000002", "A1000002", "Rajesh Kumar", "no email address"),
                      ("owner", "A1000002", "A1000025", "Amelia Hart-Davies", None),
                      ("contact", "A1000002", None, "Anita Kumar", None)]


# -- compose ----------------------------------------------------------------------------
def test_template_problems_are_found_at_their_part_and_line_before_generating(ctx, sender, mail_server):
    typo = bulk.BulkCompose(subject="Hello", text_body="Dear {{ customer.name }},\n\n{{ customer.nmae }}\n")
    [problem] = bulk.check_compose(ctx, sender, typo, ["email"]).problems
    assert (problem.part, problem.line) == ("text_body", 3)
    assert "did you mean customer.name" in problem.message

    broken = bulk.BulkCompose(subject="Hello", text_body="Dear {{ customer.name }},\n\n{% if %}")
    [problem] = bulk.check_compose(ctx, sender, broken, ["email"]).problems
    assert (problem.part, problem.line) == ("text_body", 3)
    with pytest.raises(ValidationError) as err:
        generate(ctx, sender, harbour(ctx), compose=broken)
    assert "line" in str(err.value) and err.value.field == "text_body"
    with ctx.db.connect() as con:
        assert con.execute("select count(*) from batches").fetchone()[0] == 0


def test_each_channel_needs_its_own_body_and_a_subject(ctx, sender):
    check = bulk.check_compose(ctx, sender, bulk.BulkCompose(text_body="Hi"), ["email", "sms"])
    assert {p.part for p in check.problems} == {"subject", "sms_body"}


def test_no_mail_server_is_said_before_anything_is_generated(ctx, sender):
    [missing] = bulk.prerequisites(ctx, sender, ["email", "letter"])
    assert "No active mail server" in missing.message and missing.fix == "mail" and not missing.can_fix
    with pytest.raises(NoMailServer):
        generate(ctx, sender, harbour(ctx))


def test_email_preview_is_the_merge_for_the_chosen_recipient(ctx, sender, mail_server):
    rajesh_owner = next(r for r in bulk.recipients(ctx, sender, harbour(ctx, include_owners=True), "email").recipients
                        if r.kind == "owner")
    preview = bulk.preview_email(ctx, sender, LIFT, rajesh_owner)

    assert dict(preview.headers)["To"] == "amelia.hartdavies@example.com"
    assert dict(preview.headers)["Subject"] == "Lift works at Harbourview Towers"
    assert preview.text.startswith("Dear Amelia Hart-Davies,")
    assert "Account A1000002." in preview.text  # the location's account, not the owner's


# -- generate ---------------------------------------------------------------------------
def test_generation_makes_a_pending_batch_with_failures_and_nothing_sent(ctx, sender, mail_server):
    result = generate(ctx, sender, harbour(ctx, include_owners=True, include_contacts=True))
    batch = result.batch

    assert batch.status == BatchStatus.PENDING and batch.created_by == "bulk-sender"
    assert batch.recipients == 24 and batch.emails == 21 and batch.not_generated == 3
    assert {f.account_no: f.reason for f in result.failures} == {
        "A1000002": "no email address", "A1000006": "no email address", "A1000020": "no email address"}
    rows = messages_of(ctx, batch.id)
    assert len(rows) == 21 and {r[2] for r in rows} == {MessageStatus.PENDING}
    olivia = next(r for r in rows if r[3] == ["olivia.bennett@example.com"])
    assert olivia[4] == "Lift works at Harbourview Towers" and olivia[5].startswith("Dear Olivia Bennett,")


async def test_nothing_is_sent_before_approval_and_everything_after(ctx, sender, approver, mail_server, capture):
    batch = generate(ctx, sender, harbour(ctx)).batch
    dispatcher = Dispatcher(ctx.db, ctx.settings)

    assert await dispatcher.run_once() == 0
    assert not list(capture.outbox.glob("*"))

    approved = batches.approve(ctx, approver, batch.id, "Checked the wording")
    assert approved.status == BatchStatus.APPROVED and approved.decided_by == "bulk-approver"
    assert approved.decision_comment == "Checked the wording" and approved.decided_at is not None
    sent = 0
    for _ in range(5):
        sent += await dispatcher.run_once()
        if sent >= batch.emails:
            break
    assert sent == batch.emails == 14
    assert len(list(capture.outbox.glob("*.eml"))) == 14

    results = batches.results(ctx, sender, batch.id)
    assert (results.succeeded, results.waiting, results.failed) == (14, 0, 3)
    with ctx.db.connect() as con:
        olivia_id = con.execute("select id from customers where account_no = 'A1000001'").fetchone()[0]
        notes = notes_store.for_customer(con, olivia_id)
    assert any("Lift works at Harbourview Towers" in n.text for n in notes)


def test_the_creator_cannot_approve_their_own_batch_unless_administrator(ctx, mail_server, admin):
    auth.add_user(ctx, LOCAL_ADMIN, "both", "long-enough-pw", ["bulkSend", "bulkApprove"])
    both = auth.login(ctx, "both", "long-enough-pw")
    mine = generate(ctx, both, harbour(ctx)).batch

    with pytest.raises(PermissionDenied, match="another approver"):
        batches.approve(ctx, both, mine.id)
    assert batches.approval_summary(ctx, both, mine.id).may_decide is False
    assert batches.get_batch(ctx, both, mine.id).status == BatchStatus.PENDING

    own = generate(ctx, admin, harbour(ctx)).batch
    assert batches.approve(ctx, admin, own.id).status == BatchStatus.APPROVED


def test_a_sender_may_not_approve_and_an_approver_may_not_generate(ctx, sender, approver, mail_server):
    batch = generate(ctx, sender, harbour(ctx)).batch
    with pytest.raises(PermissionDenied):
        batches.approve(ctx, sender, batch.id)
    with pytest.raises(PermissionDenied):
        generate(ctx, approver, harbour(ctx))


def test_rejecting_needs_a_comment_and_cancels_every_message(ctx, sender, approver, mail_server):
    batch = generate(ctx, sender, harbour(ctx)).batch
    with pytest.raises(ValidationError):
        batches.reject(ctx, approver, batch.id, "  ")

    rejected = batches.reject(ctx, approver, batch.id, "Wrong building")
    assert rejected.status == BatchStatus.REJECTED and rejected.decision_comment == "Wrong building"
    assert {r[2] for r in messages_of(ctx, batch.id)} == {MessageStatus.CANCELLED}
    with pytest.raises(ServiceError, match="rejected"):
        batches.approve(ctx, approver, batch.id)


def test_cancelling_generation_leaves_nothing_that_can_be_sent(ctx, sender, mail_server):
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        cancel.set()

    bulk_chunk = bulk.CHUNK
    bulk.CHUNK = 5
    try:
        result = generate(ctx, sender, harbour(ctx), progress=progress, cancel=cancel)
    finally:
        bulk.CHUNK = bulk_chunk
    assert result.cancelled and result.batch.status == BatchStatus.CANCELLED
    assert seen and seen[0].done == 5
    assert {r[2] for r in messages_of(ctx, result.batch.id)} == {MessageStatus.CANCELLED}


# -- the email dashboard ------------------------------------------------------------------
def test_undelivered_emails_can_be_retried_or_cancelled(ctx, sender, approver, mail_server):
    batch = generate(ctx, sender, harbour(ctx)).batch
    batches.approve(ctx, approver, batch.id)
    waiting = batches.undelivered_emails(ctx, sender, batch.id)
    assert len(waiting) == 14 and {w.state for w in waiting} == {"queued"}

    first, second = waiting[0].message_id, waiting[1].message_id
    ctx.db.run(lambda con: con.execute("update messages set status = 'failed', last_error = '550 no such user' "
                                       "where id = ?", [first]))
    failed = next(w for w in batches.undelivered_emails(ctx, sender, batch.id) if w.message_id == first)
    assert failed.state == "failed" and failed.reason == "550 no such user"

    assert batches.retry_emails(ctx, sender, [first]) == 1
    assert batches.cancel_emails(ctx, sender, [second]) == 1
    now = {w.message_id: w.state for w in batches.undelivered_emails(ctx, sender, batch.id)}
    assert now[first] == "queued" and second not in now
    with pytest.raises(PermissionDenied):
        batches.cancel_emails(ctx, approver, [first])


# -- letters, the posted-mail dashboard and the error report ------------------------------
def _pdf_text(path_or_bytes) -> list[str]:
    import io

    from pypdf import PdfReader

    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return [page.extract_text() for page in PdfReader(source).pages]


@pytest.fixture
def notice_pdf(tmp_path):
    """A real one-page PDF to attach, with its own recognisable text."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(text="ATTACHED BUILDING NOTICE")
    path = tmp_path / "notice.pdf"
    path.write_bytes(bytes(pdf.output()))
    return path


def test_preferred_delivery_makes_letters_that_print_with_the_attachment(ctx, sender, approver, mail_server,
                                                                         sms_provider, notice_pdf, tmp_path):
    compose = bulk.BulkCompose(subject="Lift works at {{ building.name }}", text_body=LIFT.text_body,
                               letter_body="Dear {{ recipient.name }},\n\nThe lift at {{ building.name }} is off "
                                           "on Monday.\nAccount {{ customer.account_no }}.",
                               sms_body=LIFT.sms_body, attachment=notice_pdf)
    result = generate(ctx, sender, harbour(ctx), mode="preferred", compose=compose)
    batch = result.batch
    # 17 active: 12 prefer email, 3 post, 2 SMS (Siobhán and Aroha)
    assert (batch.emails, batch.letters, batch.sms, batch.not_generated) == (12, 3, 2, 0), batch
    assert batch.attachment.filename == "notice.pdf" and batch.attachment.pages == 1

    # letters wait for approval too, then for the post
    assert batches.unposted_letters(ctx, sender, batch.id) == []
    batches.approve(ctx, approver, batch.id)
    letters = batches.unposted_letters(ctx, sender, batch.id)
    # HARB customers who prefer post (Priya and the dental group are inactive)
    assert sorted(x.account_no for x in letters) == ["A1000002", "A1000015", "A1000020"]
    rajesh = next(x for x in letters if x.account_no == "A1000002")
    assert rajesh.address == "Apt 804, 1 Wharf Rd, Pyrmont NSW 2009" and rajesh.pages == 1

    path, count = batches.print_letters(ctx, sender, [x.message_id for x in letters], tmp_path / "print.pdf")
    pages = _pdf_text(path)
    assert count == 3 and len(pages) == 6  # each letter followed by the attachment
    assert "Rajesh Kumar" in pages[0] and "Apt 804" in pages[0] and "Pyrmont NSW 2009" in pages[0]
    assert "Dear Rajesh Kumar," in pages[0] and "The lift at Harbourview Towers is off on Monday." in pages[0]
    assert "Account A1000002." in pages[0]
    assert "ATTACHED BUILDING NOTICE" in pages[1] and "ATTACHED BUILDING NOTICE" in pages[5]

    assert batches.mark_posted(ctx, sender, [rajesh.message_id]) == 1
    assert batches.mark_posted(ctx, sender, [rajesh.message_id]) == 0  # posted once
    assert len(batches.unposted_letters(ctx, sender, batch.id)) == 2
    with ctx.db.connect() as con:
        notes = notes_store.for_customer(con, rajesh_id := con.execute(
            "select id from customers where account_no = 'A1000002'").fetchone()[0])
    assert any(n.text == "Letter posted: Lift works at Harbourview Towers" for n in notes), rajesh_id
    assert batches.results(ctx, sender, batch.id).succeeded == 1


def test_letter_preview_is_the_real_pdf_written_to_a_file(ctx, sender, mail_server, notice_pdf, tmp_path):
    rajesh = next(r for r in bulk.recipients(ctx, sender, harbour(ctx), "letter").recipients
                  if r.account_no == "A1000002")
    compose = bulk.BulkCompose(subject="Lift", text_body="Dear {{ recipient.name }}, the lift is off.",
                               attachment=notice_pdf)
    preview = bulk.preview_letter(ctx, sender, compose, rajesh, out_dir=tmp_path)

    pages = _pdf_text(preview.path)
    assert preview.path.parent == tmp_path and preview.pages == 1 and len(pages) == 2
    assert "Dear Rajesh Kumar, the lift is off." in pages[0] and "ATTACHED BUILDING NOTICE" in pages[1]
    assert "Rajesh Kumar" in preview.text and "Apt 804" in preview.text and "the lift is off" in preview.text


def test_a_file_that_is_not_a_pdf_is_refused_with_a_clear_message(ctx, sender, tmp_path):
    fake = tmp_path / "minutes.pdf"
    fake.write_bytes(b"PK\x03\x04 this is really a zip")
    with pytest.raises(ValidationError) as err:
        bulk.check_compose(ctx, sender, bulk.BulkCompose(subject="x", text_body="y", attachment=fake), ["email"])
    assert err.value.field == "attachment" and "minutes.pdf is not a PDF" in str(err.value)


def test_an_attachment_over_the_limit_is_refused_and_a_big_one_warned(ctx, sender, notice_pdf, tmp_path):
    huge = tmp_path / "huge.pdf"
    with open(huge, "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    with pytest.raises(ValidationError, match=r"huge.pdf is 50.0 MB; the limit is 25 MB"):
        bulk.check_compose(ctx, sender, bulk.BulkCompose(subject="x", text_body="y", attachment=huge), ["email"])

    ctx.settings = ctx.settings.model_copy(update={"attachment_warn_mb": 0.0001})
    check = bulk.check_compose(ctx, sender, bulk.BulkCompose(subject="x", text_body="y", attachment=notice_pdf),
                               ["email"])
    assert check.ok and check.warnings and "MB" in check.warnings[0]


def test_the_error_report_lists_who_got_nothing_and_why(ctx, sender, mail_server, sms_provider, tmp_path):
    batch = generate(ctx, sender, harbour(ctx), mode="sms").batch
    path = batches.error_report(ctx, sender, batch.id, tmp_path / "errors.pdf")

    text = "\n".join(_pdf_text(path))
    assert "Bulk send error report" in text and f"Batch {batch.id}" in text
    assert "A1000002" in text and "Rajesh Kumar" in text and "not opted in to SMS" in text
    assert "no mobile number" in text or "A1000020" in text


async def test_a_batch_attachment_goes_with_every_email(ctx, sender, approver, mail_server, capture, notice_pdf):
    from commstui.delivery.capture import read_outbox

    compose = bulk.BulkCompose(subject=LIFT.subject, text_body=LIFT.text_body, attachment=notice_pdf)
    batch = generate(ctx, sender, harbour(ctx), compose=compose).batch
    batches.approve(ctx, approver, batch.id)
    dispatcher = Dispatcher(ctx.db, ctx.settings)
    sent = 0
    for _ in range(5):
        sent += await dispatcher.run_once()
        if sent >= batch.emails:
            break

    received = [m.parse() for m in read_outbox(capture.outbox)]
    assert len(received) == batch.emails == 14
    for mail in received:
        [part] = list(mail.iter_attachments())
        assert part.get_filename() == "notice.pdf" and part.get_content_type() == "application/pdf"
        assert part.get_content() == notice_pdf.read_bytes()
        assert mail.get_body(("plain",)).get_content().startswith("Dear ")


def test_letters_are_files_beside_the_database_and_go_when_a_batch_is_rejected(ctx, sender, approver, mail_server,
                                                                               tmp_path):
    from commstui.store import letter_files
    from commstui.store.db import NotFound

    compose = bulk.BulkCompose(subject="Lift", text_body="Dear {{ recipient.name }}, the lift is off.")
    rejected = generate(ctx, sender, harbour(ctx), mode="letter", compose=compose).batch
    kept = generate(ctx, sender, harbour(ctx), mode="letter", compose=compose).batch
    folder = letter_files.folder(ctx.db.path)
    assert len(list((folder / f"batch-{rejected.id}").glob("*.pdf"))) == rejected.letters == 17

    batches.reject(ctx, approver, rejected.id, "Wrong wording")
    assert not (folder / f"batch-{rejected.id}").exists()
    assert len(list((folder / f"batch-{kept.id}").glob("*.pdf"))) == 17

    batches.approve(ctx, approver, kept.id)
    first = batches.unposted_letters(ctx, sender, kept.id)[0]
    (folder / f"batch-{kept.id}" / f"{first.message_id}.pdf").unlink()
    with pytest.raises(NotFound, match="missing"):
        batches.print_letters(ctx, sender, [first.message_id], tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
