"""The core path without a UI: queue an email, dispatch it, read it back from the server."""

from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.services import customers, email


async def test_queued_email_reaches_the_server_and_leaves_a_note(ctx, admin, capture, mail_server):
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    queued = email.send_email(ctx, admin, olivia.id, email.EmailDraft(
        to=olivia.email, bcc="audit@example.org", subject="Water shut-off", body="Tuesday 9-11am."))
    assert queued.status == "queued"

    assert await Dispatcher(ctx.db, ctx.settings).run_once() == 1

    [got] = read_outbox(capture.outbox)
    assert got.message_id == queued.message_id
    assert got.subject == "Water shut-off"
    assert set(got.rcpt_tos) == {olivia.email, "audit@example.org"}
    assert "Bcc" not in got.parse()
    account = customers.account(ctx, admin, olivia.id)
    assert account.messages[0].status == "sent"
    assert account.messages[0].server_reply.startswith("2.0.0")
    assert "Water shut-off" in account.notes[0].text and "by admin" in account.notes[0].text
