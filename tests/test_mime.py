"""What arrives at the mail server: headers and parts, read back from a real
aiosmtpd capture server on 127.0.0.1 after a real dispatch."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest

from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.services import email
from commstui.store import customers as customers_store
from commstui.store import messages as messages_store

TO = "tess.tester@example.com"


@pytest.fixture
def customer_id(ctx) -> int:
    return ctx.db.run(lambda con: customers_store.insert(
        con, account_no="T0000002", name="Tess Tester", email=TO))


def text(part) -> str:
    return part.get_content().replace("\r\n", "\n")  # the wire uses CRLF


async def send(ctx, user, customer_id, capture, **draft):
    queued = email.send_email(ctx, user, customer_id, email.EmailDraft(**{"to": TO, **draft}))
    assert await Dispatcher(ctx.db, ctx.settings).run_once() == 1
    [got] = read_outbox(capture.outbox)
    with ctx.db.connect() as con:
        stored = messages_store.get(con, queued.id)
    return queued, stored, got


async def test_plain_email_headers_envelope_and_single_text_part(ctx, operator, customer_id, capture, mail_server):
    queued, stored, got = await send(
        ctx, operator, customer_id, capture, cc="Site Manager <manager@example.org>",
        bcc="audit@example.org", subject="Lift maintenance on Friday", body="The lift is off 9-11am.\n")
    mime = got.parse()

    # Message-ID is the one given when the row was created, and still the stored one
    assert mime["Message-ID"] == queued.message_id == stored.message_id
    assert queued.message_id.startswith("<") and queued.message_id.endswith("@commstui.example>")
    assert parsedate_to_datetime(mime["Date"]) == stored.created_at.replace(microsecond=0)
    assert mime["From"] == mail_server.from_addr == "office@commstui.example"
    assert got.mail_from == mail_server.from_addr
    assert mime["To"] == TO
    assert mime["Cc"] == "manager@example.org"
    assert mime["Subject"] == "Lift maintenance on Friday"
    # Bcc: in the envelope, never in a header anyone can read
    assert "Bcc" not in mime and b"audit@example.org" not in got.path.read_bytes()
    assert set(got.rcpt_tos) == {TO, "manager@example.org", "audit@example.org"}
    # plain text only: one text/plain part, no multipart
    assert not mime.is_multipart()
    assert mime.get_content_type() == "text/plain"
    assert text(mime) == "The lift is off 9-11am.\n"


async def test_html_email_is_multipart_alternative_with_text_and_html(ctx, operator, customer_id, capture, mail_server):
    body = "<p>Dear Tess,</p><p>The <b>lift</b> is off &amp; back at 11am.<br>Thanks</p>"
    queued, stored, got = await send(ctx, operator, customer_id, capture, subject="Lift", body=body)
    assert stored.is_html
    mime = got.parse()

    assert mime.get_content_type() == "multipart/alternative"
    parts = list(mime.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    plain, html = (text(p) for p in parts)
    assert html.strip() == body
    assert "<" not in plain and "Dear Tess," in plain and "lift is off & back at 11am." in plain
    assert mime["Message-ID"] == queued.message_id
    assert "Bcc" not in mime


async def test_non_ascii_subject_and_body_survive_the_trip(ctx, operator, customer_id, capture, mail_server):
    _, _, got = await send(ctx, operator, customer_id, capture,
                           subject="Café opening — Müller's note", body="Grüße aus Zürich ✓\n")
    mime = got.parse()
    assert mime["Subject"] == "Café opening — Müller's note"
    assert text(mime) == "Grüße aus Zürich ✓\n"


async def test_empty_subject_goes_out_as_an_empty_subject(ctx, operator, customer_id, capture, mail_server):
    _, stored, got = await send(ctx, operator, customer_id, capture, subject="", body="Just a body.")
    assert stored.subject == ""
    assert got.parse()["Subject"] == ""


# -- the dispatcher's fast renderer writes what the email package writes -----------------------

@pytest.mark.parametrize("subject, to, cc", [
    ("Water shut-off", ("tess@example.com",), ()),
    ("Hellø wörld", ("Jané Doé <j@example.com>", "k@example.com"), ("c@example.com",)),
    ("=?utf-8?q?looks_encoded?=", ('"Doe, Jane" <j@example.com>',), ()),
    ("A subject long enough that the email package must fold it over more than one line " * 2,
     ("a@example.com",), ()),
    ("", tuple(f"person{i}@example.com" for i in range(12)), ()),
])
def test_render_gives_the_same_headers_as_the_email_package(subject, to, cc):
    from datetime import UTC, datetime
    from email import policy

    from commstui.delivery.email import build_mime, render
    from commstui.domain import Message

    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    message = Message(7, "<m7@commstui.example>", 1, "email", to, cc, ("hidden@example.com",), subject,
                      "Body text\n", False, "queued", at, 0, "op", at, scheduled_at=at)
    fast = render(message, "office@commstui.example")
    slow = build_mime(message, "office@commstui.example").as_bytes(policy=policy.SMTP)
    assert fast == slow
    assert b"hidden@example.com" not in fast


def test_render_refuses_a_line_break_in_a_header_as_the_email_package_does():
    from datetime import UTC, datetime

    from commstui.delivery.email import render
    from commstui.domain import Message

    at = datetime(2026, 11, 23, tzinfo=UTC)
    for subject in ("Line\r\nBcc: evil@example.com", "Line\u2028break", "Line\x85NEL"):
        message = Message(1, "<m@x>", 1, "email", ("a@example.com",), (), (), subject, "x", False, "queued",
                          at, 0, "op", at)
        with pytest.raises(ValueError):
            render(message, "office@commstui.example")


def test_an_attachment_renders_as_the_email_package_builds_it():
    from datetime import UTC, datetime

    from commstui.delivery.email import FileAttachment, build_mime, render
    from commstui.domain import Message

    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    message = Message(id=1, message_id="<a@b>", customer_id=None, channel="email", to_addrs=("x@example.com",),
                      cc_addrs=(), bcc_addrs=(), subject="Notice", body="<p>Hi</p>", is_html=True, status="queued",
                      due_at=at, attempts=0, created_by="t", created_at=at, scheduled_at=at, attachment_id=3)
    from email import message_from_bytes, policy

    pdf = FileAttachment("notice.pdf", "application/pdf", b"%PDF-1.4 tiny")
    wire = render(message, "office@example.com", pdf)
    built = build_mime(message, "office@example.com", pdf).as_bytes(policy=policy.SMTP)
    import re
    boundary = re.compile(rb"={15}\d+==")   # the email package picks a random MIME boundary
    assert boundary.sub(b"B", wire) == boundary.sub(b"B", built)
    parsed = message_from_bytes(wire, policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert [p.get_filename() for p in parsed.iter_attachments()] == ["notice.pdf"]
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hi</p>"
