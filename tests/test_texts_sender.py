"""The text sender end to end: queued SMS and robocall rows in a real DuckDB file, sent to
the scripted Twilio-shaped server on 127.0.0.1, and what ends up in the file — status,
the provider's id or words, attempts, notes on the account — for every kind of answer."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from commstui.delivery.texts import TextSender
from commstui.services import sms_settings
from commstui.services.sms_settings import SmsProviderForm
from commstui.store import messages as messages_store
from commstui.store import sms as sms_store

from sms_server import SmsServer, error, held, status

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "tok-Unusual-7781-zq"
OLIVIA, ZOE, LANDLINE = "+61412345001", "+61412345004", "+61298765432"


@pytest.fixture
def server():
    with SmsServer(account=SID, token=TOKEN) as running:
        yield running


@pytest.fixture
def provider(ctx, admin, server, monkeypatch):
    monkeypatch.setenv("TWILIO_TEST_TOKEN", TOKEN)
    return sms_settings.save_provider(ctx, admin, SmsProviderForm(
        account_sid=SID, from_number="+61412000111", token_env="TWILIO_TEST_TOKEN", base_url=server.base_url))


def queue_text(ctx, account_no: str, channel: str, to: str | None, body: str, subject: str = "",
               status: str = "queued", due_at: datetime | None = None) -> int:
    def insert(con):
        customer_id = con.execute("select id from customers where account_no = ?", [account_no]).fetchone()[0]
        id = messages_store.insert(con, message_id=f"<text-{time.monotonic_ns()}@test>", customer_id=customer_id,
                                   to_addrs=[to] if to else [], subject=subject, body=body, created_by="admin",
                                   channel=channel, due_at=due_at)
        if status != "queued":
            con.execute("update messages set status = ? where id = ?", [status, id])
        return id

    return ctx.db.run(insert)


def row(ctx, id: int) -> dict:
    with ctx.db.connect() as con:
        cursor = con.execute("select status, attempts, server_reply, last_error, sent_at, due_at, lease_owner "
                             "from messages where id = ?", [id])
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchone()))


def attempts(ctx, id: int) -> list[tuple]:
    with ctx.db.connect() as con:
        return con.execute("select attempt, outcome, reply from message_attempts where message_id = ? "
                           "order by attempt", [id]).fetchall()


def notes_for(ctx, account_no: str) -> list[tuple[str, str]]:
    with ctx.db.connect() as con:
        return con.execute("select n.author, n.text from notes n join customers c on c.id = n.customer_id "
                           "where c.account_no = ? order by n.id", [account_no]).fetchall()


def sender_for(ctx, **options) -> TextSender:
    return TextSender(ctx.db, ctx.settings, timeout=options.pop("timeout", 5), **options)


async def test_queued_sms_and_robocalls_are_sent_and_noted_on_the_account(ctx, provider, server, db_path):
    olivia = queue_text(ctx, "A1000001", "sms", OLIVIA, "Water off Tuesday 9-11am.", subject="Water outage")
    zoe = queue_text(ctx, "A1000004", "sms", ZOE, "Your lift is fixed and running again, thanks for waiting")
    call = queue_text(ctx, "A1000002", "robocall", LANDLINE, "The fire alarm test is at noon.",
                      subject="Fire alarm test")
    pending = queue_text(ctx, "A1000001", "sms", OLIVIA, "not approved yet", status="pending")
    later = queue_text(ctx, "A1000001", "sms", OLIVIA, "tomorrow", due_at=datetime.now(UTC) + timedelta(days=1))
    email = ctx.db.run(lambda con: messages_store.insert(
        con, message_id="<e@test>", customer_id=None, to_addrs=["x@example.com"], created_by="admin"))

    counts = await sender_for(ctx).run_once()

    assert (counts.claimed, counts.sent, counts.failed, counts.retried, counts.problem) == (3, 3, 0, 0, None)
    for id, prefix in ((olivia, "SM"), (zoe, "SM"), (call, "CA")):
        got = row(ctx, id)
        assert got["status"] == "sent" and got["attempts"] == 1 and got["lease_owner"] is None
        assert got["server_reply"].startswith(prefix) and got["server_reply"].endswith(" queued")
        assert got["sent_at"] is not None and got["last_error"] is None
        assert attempts(ctx, id) == [(1, "sent", got["server_reply"])]
    by_to = {r.form["To"]: r for r in server.requests}
    assert set(by_to) == {OLIVIA, ZOE, LANDLINE} and len(server.requests) == 3
    assert by_to[OLIVIA].resource == "Messages.json" and by_to[OLIVIA].form["Body"] == "Water off Tuesday 9-11am."
    assert by_to[OLIVIA].form["From"] == "+61412000111"
    assert by_to[LANDLINE].resource == "Calls.json"
    assert "The fire alarm test is at noon." in by_to[LANDLINE].form["Twiml"]
    assert notes_for(ctx, "A1000001") == [("dispatcher", f"SMS sent to {OLIVIA}: Water outage")]
    assert notes_for(ctx, "A1000004") == [("dispatcher", f"SMS sent to {ZOE}: Your lift is fixed and running "
                                                         f"again, thanks…")]
    assert notes_for(ctx, "A1000002") == [("dispatcher", f"RoboCall placed to {LANDLINE}: Fire alarm test")]
    # what was not theirs to send is untouched
    assert row(ctx, pending)["status"] == "pending" and row(ctx, later)["status"] == "queued"
    assert row(ctx, later)["attempts"] == 0 and row(ctx, email)["status"] == "queued"
    # the credentials never went in the file
    assert all(TOKEN.encode() not in f.read_bytes() for f in [db_path, *db_path.parent.glob("*.wal")])


async def test_a_refusal_fails_the_text_with_twilios_words(ctx, provider, server):
    server.answer_to(OLIVIA, error(400, 21610, "Attempt to send to unsubscribed recipient"))
    refused = queue_text(ctx, "A1000001", "sms", OLIVIA, "Meeting at 6pm in the lobby")
    fine = queue_text(ctx, "A1000004", "sms", ZOE, "Meeting at 6pm in the lobby")

    counts = await sender_for(ctx).run_once()

    assert (counts.sent, counts.failed, counts.retried) == (1, 1, 0)
    got = row(ctx, refused)
    assert got["status"] == "failed" and got["sent_at"] is None
    assert got["last_error"] == "HTTP 400, error 21610: Attempt to send to unsubscribed recipient"
    assert attempts(ctx, refused) == [(1, "permanent", got["last_error"])]
    assert notes_for(ctx, "A1000001") == [("dispatcher", f"SMS to {OLIVIA} failed: HTTP 400, error 21610: "
                                                         "Attempt to send to unsubscribed recipient "
                                                         "(Meeting at 6pm in the lobby)")]
    assert row(ctx, fine)["status"] == "sent"


async def test_a_number_that_cannot_take_the_text_fails_without_asking_the_provider(ctx, provider, server):
    landline = queue_text(ctx, "A1000002", "sms", LANDLINE, "hello")
    nothing = queue_text(ctx, "A1000003", "sms", None, "hello")
    empty = queue_text(ctx, "A1000004", "robocall", ZOE, "   ")

    counts = await sender_for(ctx).run_once()

    assert counts.failed == 3 and server.requests == []
    assert "not a mobile number" in row(ctx, landline)["last_error"]
    assert "not a phone number" in row(ctx, nothing)["last_error"]
    assert row(ctx, empty)["last_error"] == "nothing to say: the message is empty"
    assert notes_for(ctx, "A1000003") == [("dispatcher", "SMS to (no number) failed: '' is not a phone number "
                                                         "(hello)")]


async def test_too_many_requests_retries_later_and_gives_the_rest_back(ctx, provider, server):
    server.answer(status(429))
    first = queue_text(ctx, "A1000001", "sms", OLIVIA, "one", due_at=datetime.now(UTC) - timedelta(minutes=3))
    others = [queue_text(ctx, "A1000004", "sms", ZOE, text) for text in ("two", "three")]
    now = datetime.now(UTC)
    clock = [now]
    sender = sender_for(ctx, concurrency=1, clock=lambda: clock[0])

    counts = await sender.run_once()

    assert (counts.claimed, counts.retried, counts.released, counts.sent) == (3, 1, 2, 0)
    assert "asked us to slow down" in counts.problem and "HTTP 429" in counts.problem
    got = row(ctx, first)
    assert got["status"] == "queued" and got["attempts"] == 1 and got["last_error"].startswith("HTTP 429")
    assert got["due_at"] == now + timedelta(seconds=ctx.settings.retry_backoff[0])
    assert attempts(ctx, first) == [(1, "temporary", got["last_error"])]
    for id in others:  # not tried: as if never claimed
        assert (row(ctx, id)["status"], row(ctx, id)["attempts"], row(ctx, id)["lease_owner"]) == ("queued", 0, None)
    assert len(server.requests) == 1

    clock[0] = now + timedelta(seconds=ctx.settings.retry_backoff[0])
    counts = await sender_for(ctx, clock=lambda: clock[0]).run_once()
    assert counts.sent == 3
    assert row(ctx, first)["attempts"] == 2 and [a[1] for a in attempts(ctx, first)] == ["temporary", "sent"]


async def test_server_errors_are_retried_until_the_lifetime_then_failed(ctx, provider, server):
    server.default = status(503)
    id = queue_text(ctx, "A1000001", "sms", OLIVIA, "Storm warning")
    start = datetime.now(UTC)
    clock = [start]
    backoff = ctx.settings.retry_backoff

    await sender_for(ctx, clock=lambda: clock[0]).run_once()
    assert row(ctx, id)["status"] == "queued" and row(ctx, id)["due_at"] == start + timedelta(seconds=backoff[0])

    clock[0] = start + timedelta(hours=47, minutes=58)  # still within the 48 h lifetime
    await sender_for(ctx, clock=lambda: clock[0]).run_once()
    got = row(ctx, id)
    # the next try is capped at the deadline: the lifetime counts from the first try
    assert got["status"] == "queued" and got["due_at"] == start + timedelta(hours=48)

    clock[0] = start + timedelta(hours=48)
    counts = await sender_for(ctx, clock=lambda: clock[0]).run_once()
    got = row(ctx, id)
    assert counts.failed == 1 and got["status"] == "failed" and got["attempts"] == 3
    assert got["last_error"] == "gave up after 48 h of retries: HTTP 503, error 20500: Service Unavailable"
    assert notes_for(ctx, "A1000001")[-1][1].startswith(f"SMS to {OLIVIA} failed: gave up after 48 h")
    assert [a[1] for a in attempts(ctx, id)] == ["temporary"] * 3


async def test_without_an_active_provider_texts_stay_queued(ctx, admin, server, monkeypatch):
    id = queue_text(ctx, "A1000001", "sms", OLIVIA, "hello")
    counts = await sender_for(ctx).run_once()
    assert counts.claimed == 0 and counts.waiting == 1
    assert counts.problem.startswith("No active SMS provider: 1 due text(s) stay queued")
    monkeypatch.setenv("TWILIO_TEST_TOKEN", TOKEN)
    sms_settings.save_provider(ctx, admin, SmsProviderForm(
        account_sid=SID, from_number="+61412000111", token_env="TWILIO_TEST_TOKEN", base_url=server.base_url,
        active=False))
    counts = await sender_for(ctx).run_once()
    assert counts.claimed == 0 and "No active SMS provider" in counts.problem
    assert (row(ctx, id)["status"], row(ctx, id)["attempts"]) == ("queued", 0)
    assert server.requests == [] and attempts(ctx, id) == []


async def test_an_unreadable_token_leaves_texts_queued_and_says_why(ctx, provider, server, monkeypatch):
    monkeypatch.delenv("TWILIO_TEST_TOKEN")
    id = queue_text(ctx, "A1000001", "sms", OLIVIA, "hello")
    counts = await sender_for(ctx).run_once()
    assert counts.claimed == 0
    assert counts.problem == ("SMS provider token: Environment variable TWILIO_TEST_TOKEN is not set; "
                              "1 due text(s) stay queued.")
    assert (row(ctx, id)["status"], row(ctx, id)["attempts"]) == ("queued", 0) and server.requests == []


async def test_a_refused_login_is_retried_not_failed(ctx, provider, server, monkeypatch):
    monkeypatch.setenv("TWILIO_TEST_TOKEN", "an-old-token")
    ids = [queue_text(ctx, "A1000001", "sms", OLIVIA, f"text {n}") for n in range(3)]
    counts = await sender_for(ctx, concurrency=1).run_once()
    assert (counts.retried, counts.failed, counts.released) == (1, 0, 2)
    assert counts.problem.startswith("The SMS provider refused our credentials: HTTP 401, error 20003: "
                                     "Authenticate (check the account SID and auth token")
    assert [row(ctx, id)["status"] for id in ids] == ["queued"] * 3
    assert [row(ctx, id)["attempts"] for id in ids] == [1, 0, 0]


async def test_a_dead_senders_claim_is_taken_over_once_its_lease_runs_out(ctx, provider, server):
    id = queue_text(ctx, "A1000001", "sms", OLIVIA, "hello")
    now = datetime.now(UTC)
    ctx.db.run(lambda con: sms_store.claim_texts(con, "dead-sender", now, now + timedelta(seconds=300), 10))
    assert (await sender_for(ctx).run_once()).claimed == 0  # still leased
    later = now + timedelta(seconds=301)
    counts = await sender_for(ctx, clock=lambda: later).run_once()
    assert counts.sent == 1
    got = row(ctx, id)
    assert got["status"] == "sent" and got["attempts"] == 2 and got["lease_owner"] is None
    # the dead sender's late word is not written over the new owner's
    stale = sms_store.TextOutcome(sms_store.QueuedText(id, "sms", None, OLIVIA, "", "hello", 1, "admin", None),
                                  "failed", "late", later, "permanent")
    assert ctx.db.run(lambda con: sms_store.record_outcomes(con, "dead-sender", [stale])) == []
    assert row(ctx, id)["status"] == "sent"


async def test_sends_run_four_at_a_time_on_one_provider_connection_pool(ctx, provider, server):
    server.default = held()
    ids = [queue_text(ctx, "A1000001", "sms", OLIVIA, f"text {n}") for n in range(10)]
    task = asyncio.create_task(sender_for(ctx).run_once())
    deadline = time.monotonic() + 10
    while not server.started(4):
        assert time.monotonic() < deadline, "four sends did not start"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    assert server.in_flight == 4  # the fifth waits for a free slot
    server.release()
    counts = await asyncio.wait_for(task, 20)
    assert counts.sent == 10 and server.most_in_flight == 4
    assert len({r.conn for r in server.requests}) <= 4  # connections are reused
    assert all(row(ctx, id)["status"] == "sent" for id in ids)


async def test_run_picks_up_new_texts_and_stops_gracefully(ctx, provider, server):
    stop = asyncio.Event()
    sender = sender_for(ctx, concurrency=1)
    task = asyncio.create_task(sender.run(stop))
    await asyncio.sleep(0.1)
    server.answer(held())
    ids = [queue_text(ctx, "A1000001", "sms", OLIVIA, f"text {n}") for n in range(3)]
    sender.wake()
    deadline = time.monotonic() + 10
    while not server.started(1):
        assert time.monotonic() < deadline, "the sender did not pick up the new texts"
        await asyncio.sleep(0.01)
    stop.set()           # while the first is in flight
    await asyncio.sleep(0.1)
    assert not task.done()  # it waits for the send in flight
    server.release()
    await asyncio.wait_for(task, 10)
    statuses = [(row(ctx, id)["status"], row(ctx, id)["attempts"], row(ctx, id)["lease_owner"]) for id in ids]
    assert statuses == [("sent", 1, None), ("queued", 0, None), ("queued", 0, None)]
    assert len(server.requests) == 1 and sender.totals.sent == 1


async def test_beside_a_dispatcher_the_sender_learns_of_new_texts_from_its_looks(ctx, provider, server):
    """One look at the file per interval serves both senders: the email dispatcher's look
    counts the texts waiting and wakes the text sender, which no longer looks on its own."""
    from commstui.delivery.dispatcher import Dispatcher

    sender = sender_for(ctx)
    looks = []
    real_claim = sender._claim
    sender._claim = lambda *a: (looks.append(1), real_claim(*a))[1]
    dispatcher = Dispatcher(ctx.db, ctx.settings.model_copy(update={"dispatch_interval": 0.05}),
                            on_texts=sender.notice)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(sender.run(stop))]
    try:
        await asyncio.sleep(0.5)  # ten of the dispatcher's intervals
        assert sender._idle_seconds() >= 60 and len(looks) <= 2
        # another program queues a text: nobody calls wake(), the dispatcher's look sees it
        queued = queue_text(ctx, "A1000001", "sms", OLIVIA, "Water off Tuesday")
        deadline = time.monotonic() + 10
        while row(ctx, queued)["status"] != "sent":
            assert time.monotonic() < deadline, "the text queued elsewhere was not sent"
            await asyncio.sleep(0.05)
    finally:
        dispatcher.stop()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
