"""The dispatcher against scripted mail servers on 127.0.0.1: what each SMTP answer
does to the message row, the account's notes, retries and leases.

Time is a FakeClock passed to Dispatcher(clock=...), never a sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from clocks import FakeClock

from commstui.delivery.capture import free_port
from commstui.delivery.dispatcher import Dispatcher
from commstui.domain import OfficeSettings
from commstui.services import email, mail_settings, schedule
from commstui.services.mail_settings import MailServerForm
from commstui.store import customers as customers_store
from commstui.store import messages as messages_store
from commstui.store import notes as notes_store

from smtp_servers import DROP, ScriptedHandler, ScriptedServer

TESS = "tess.tester@example.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def customer_id(ctx) -> int:
    return ctx.db.run(lambda con: customers_store.insert(
        con, account_no="T0000001", name="Tess Tester", email=TESS, mobile="0412 345 678"))


def use_server(ctx, admin, port: int) -> None:
    mail_settings.save_server(ctx, admin, MailServerForm(
        host="127.0.0.1", port=port, security="none", from_addr="office@commstui.example"))


@pytest.fixture
def server(request, ctx, admin):
    """A ScriptedServer configured as the active mail server; parametrize the handler indirectly."""
    handler = getattr(request, "param", None) or ScriptedHandler()
    with ScriptedServer(handler) as srv:
        use_server(ctx, admin, srv.port)
        yield srv


def queue(ctx, user, customer_id, to=TESS, subject="Water shut-off", **kw):
    return email.send_email(ctx, user, customer_id, email.EmailDraft(to=to, subject=subject,
                                                                     body="Tuesday 9-11am.", **kw))


def row(ctx, id):
    with ctx.db.connect() as con:
        return messages_store.get(con, id)


def lease(ctx, id):
    with ctx.db.connect() as con:
        return con.execute("select lease_owner, lease_expires_at from messages where id = ?", [id]).fetchone()


def notes(ctx, customer_id):
    with ctx.db.connect() as con:
        return notes_store.for_customer(con, customer_id)


def dispatcher(ctx, clock, **overrides) -> Dispatcher:
    owner = overrides.pop("owner", None)
    return Dispatcher(ctx.db, ctx.settings.model_copy(update=overrides), clock=clock, owner=owner)


async def until(condition, timeout: float = 5.0, what: str = "condition"):
    """Poll a cheap condition (run in a thread if it touches the database) with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(condition)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# -- 2xx ---------------------------------------------------------------------------

async def test_accepted_message_is_sent_with_the_reply_kept_and_a_note(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    changed: list[list[int]] = []
    d = Dispatcher(ctx.db, ctx.settings, clock=clock, on_change=changed.append)

    assert await d.run_once() == 1

    [got] = server.handler.received
    assert got.rcpt_tos == (TESS,)
    assert got.message_id == queued.message_id
    sent = row(ctx, queued.id)
    assert sent.status == "sent"
    assert "Ok: queued as TEST" in sent.server_reply
    assert sent.sent_at == clock.now
    assert sent.attempts == 1 and sent.last_error is None
    assert lease(ctx, queued.id) == (None, None)
    [note] = notes(ctx, customer_id)
    assert note.text.startswith(f"Email 'Water shut-off' sent to {TESS} by admin")
    assert "Ok: queued as TEST" in note.text
    assert d.sent == 1 and d.failed == 0
    assert [queued.id] in changed  # the UI hears about the row it should refresh


# -- 5xx ---------------------------------------------------------------------------

@pytest.mark.parametrize("server", [ScriptedHandler(data_replies=["554 5.7.1 Message rejected as spam"])],
                         indirect=True)
async def test_5xx_at_data_fails_at_once_with_the_servers_words(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock)

    assert await d.run_once() == 1

    failed = row(ctx, queued.id)
    assert failed.status == "failed"
    assert failed.attempts == 1
    assert "554 5.7.1 Message rejected as spam" in failed.last_error
    assert failed.sent_at is None
    [note] = notes(ctx, customer_id)
    assert "failed" in note.text and "554 5.7.1 Message rejected as spam" in note.text
    assert d.failed == 1
    # permanent means permanent: a day later nothing is retried
    clock.advance(days=1)
    assert await d.run_once() == 0
    assert len(server.handler.received) == 1


@pytest.mark.parametrize("server", [ScriptedHandler(refuse={TESS: "550 5.1.1 <tess.tester@example.com>: no such user"})],
                         indirect=True)
async def test_every_recipient_refused_with_5xx_fails_naming_the_address(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)

    await dispatcher(ctx, clock).run_once()

    failed = row(ctx, queued.id)
    assert failed.status == "failed"
    assert TESS in failed.last_error and "550 5.1.1" in failed.last_error and "no such user" in failed.last_error
    assert server.handler.received == []


# -- 4xx, dropped and refused connections ------------------------------------------

@pytest.mark.parametrize("server", [
    ScriptedHandler(data_replies=["451 4.3.0 Mailbox temporarily unavailable"]),
    ScriptedHandler(data_replies=["421 4.7.0 Too busy, closing connection"]),
    ScriptedHandler(data_replies=[DROP]),
], ids=["451", "421", "dropped"], indirect=True)
async def test_temporary_failure_requeues_with_backoff_and_the_retry_keeps_the_message_id(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock)
    first_try = clock.now

    assert await d.run_once() == 1

    retry = row(ctx, queued.id)
    assert retry.status == "queued"
    assert retry.attempts == 1
    assert retry.due_at == first_try + timedelta(seconds=60)
    assert retry.last_error
    reply = server.handler.received[0].reply
    if reply != DROP:
        assert reply in retry.last_error
    assert lease(ctx, queued.id) == (None, None)
    assert notes(ctx, customer_id) == []  # nothing happened yet worth a note

    clock.advance(seconds=59)
    assert await d.run_once() == 0  # not due yet
    clock.advance(seconds=1)
    assert await d.run_once() == 1

    sent = row(ctx, queued.id)
    assert sent.status == "sent" and sent.attempts == 2 and sent.last_error is None
    first, second = server.handler.received
    assert first.message_id == second.message_id == queued.message_id
    assert first.parse()["Date"] == second.parse()["Date"]
    assert len(notes(ctx, customer_id)) == 1


def short_lifetime(ctx, admin, hours: int = 1) -> None:
    office = schedule.get_office_settings(ctx, admin)
    schedule.save_office_settings(ctx, admin, OfficeSettings(
        timezone=office.timezone, missed_policy=office.missed_policy, grace_minutes=office.grace_minutes,
        lifetime_hours=hours))


async def test_connection_refused_backs_off_then_fails_at_the_end_of_the_lifetime(ctx, admin, customer_id, clock):
    use_server(ctx, admin, free_port())  # nobody listens there
    short_lifetime(ctx, admin)
    queued = queue(ctx, admin, customer_id)
    deadline = row(ctx, queued.id).scheduled_at + timedelta(hours=1)
    d = dispatcher(ctx, clock)

    await d.run_once()
    first = row(ctx, queued.id)
    assert (first.status, first.attempts) == ("queued", 1)
    assert first.due_at == clock.now + timedelta(seconds=60)
    assert "refused" in first.last_error.lower() or "connect" in first.last_error.lower()

    clock.advance(seconds=60)
    await d.run_once()
    second = row(ctx, queued.id)
    assert (second.status, second.attempts) == ("queued", 2)
    assert second.due_at == clock.now + timedelta(seconds=300)  # backoff grows

    while row(ctx, queued.id).status == "queued":
        clock.now = row(ctx, queued.id).due_at
        assert clock.now <= deadline  # no retry is planned past the lifetime
        await d.run_once()
    last = row(ctx, queued.id)
    assert last.status == "failed" and clock.now == deadline
    assert first.last_error in last.last_error  # the connect error, kept for the operator
    [note] = notes(ctx, customer_id)
    assert "failed" in note.text
    clock.advance(days=1)
    assert await d.run_once() == 0


@pytest.mark.parametrize("server", [ScriptedHandler(default="451 4.3.0 Try again later")], indirect=True)
async def test_4xx_every_time_fails_at_the_end_of_the_lifetime_each_try_with_the_same_message_id(
        ctx, admin, customer_id, server, clock):
    short_lifetime(ctx, admin)
    queued = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock, retry_backoff=[1200])

    for _ in range(10):
        await d.run_once()
        current = row(ctx, queued.id)
        if current.status != "queued":
            break
        clock.now = current.due_at

    final = row(ctx, queued.id)
    assert final.status == "failed" and final.attempts == 4  # +0, +20 min, +40 min, then the 1 h mark
    assert "451 4.3.0 Try again later" in final.last_error
    assert [r.message_id for r in server.handler.received] == [queued.message_id] * 4
    assert d.failed == 1


# -- recipients --------------------------------------------------------------------

@pytest.mark.parametrize("server", [ScriptedHandler(refuse={"gone@example.org": "550 5.1.1 mailbox gone"})],
                         indirect=True)
async def test_partial_rcpt_refusal_sends_to_the_rest_and_records_who_was_refused(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id, to=f"{TESS}, gone@example.org", cc="boss@example.org")

    await dispatcher(ctx, clock).run_once()

    [got] = server.handler.received
    assert set(got.rcpt_tos) == {TESS, "boss@example.org"}
    sent = row(ctx, queued.id)
    assert sent.status == "sent"
    assert "gone@example.org" in sent.server_reply and "550 5.1.1 mailbox gone" in sent.server_reply


# -- several dispatchers, leases ---------------------------------------------------

async def test_two_dispatchers_on_one_file_send_every_message_exactly_once(ctx, admin, customer_id, server, clock):
    queued = [queue(ctx, admin, customer_id, subject=f"Notice {i}") for i in range(40)]
    clock.now = datetime.now(UTC) + timedelta(seconds=1)  # all 40 are due
    alpha = dispatcher(ctx, clock, owner="alpha", dispatch_batch=5)
    beta = dispatcher(ctx, clock, owner="beta", dispatch_batch=5)

    handled = await asyncio.gather(alpha.run_once(), beta.run_once())

    assert sum(handled) == 40
    got = Counter(r.message_id for r in server.handler.received)
    assert got == Counter(m.message_id for m in queued)  # each exactly once
    assert {row(ctx, m.id).status for m in queued} == {"sent"}
    assert alpha.sent + beta.sent == 40
    assert len(notes(ctx, customer_id)) == 40


async def test_a_claim_whose_lease_expired_is_taken_over_and_sent_with_the_same_message_id(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    # a dispatcher on another machine claimed it, then died
    ctx.db.run(lambda con: con.execute(
        "update messages set status = 'sending', lease_owner = 'crashed-host:4242', attempts = 1, "
        "lease_expires_at = ? where id = ?", [clock.now - timedelta(minutes=1), queued.id]))

    d = dispatcher(ctx, clock, owner="survivor")
    assert await d.run_once() == 1

    [got] = server.handler.received
    assert got.message_id == queued.message_id
    sent = row(ctx, queued.id)
    assert sent.status == "sent" and sent.attempts == 2
    assert lease(ctx, queued.id) == (None, None)


async def test_a_live_lease_is_left_alone(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    ctx.db.run(lambda con: con.execute(
        "update messages set status = 'sending', lease_owner = 'busy-host:1', attempts = 1, "
        "lease_expires_at = ? where id = ?", [clock.now + timedelta(minutes=4), queued.id]))

    assert await dispatcher(ctx, clock).run_once() == 0
    assert server.handler.received == []
    assert row(ctx, queued.id).status == "sending"


# -- the long-running loop ---------------------------------------------------------

async def test_run_sends_wakes_on_demand_and_stops_promptly(ctx, admin, customer_id, server, clock):
    first = queue(ctx, admin, customer_id, subject="first")
    recorded = asyncio.Event()

    def on_change(ids):  # called on the loop; tells us the moment the first outcome is written
        if first.id in ids and row(ctx, first.id).status == "sent":
            recorded.set()

    d = Dispatcher(ctx.db, ctx.settings.model_copy(update={"dispatch_interval": 60}), clock=clock,
                   on_change=on_change)  # idle waits are long: only wake() and stop() can end them
    task = asyncio.create_task(d.run())
    try:
        await asyncio.wait_for(recorded.wait(), timeout=5)
        # the dispatcher is now looking for more work (and finding none); an operator
        # presses Send meanwhile: the wake() must not be lost
        second = queue(ctx, admin, customer_id, subject="second")
        woken = time.monotonic()
        d.wake()
        await until(lambda: row(ctx, second.id).status == "sent", what="second message sent after wake()")
        assert time.monotonic() - woken < 5

        third = queue(ctx, admin, customer_id, subject="third")
        d.wake()
        d.stop()  # a stop right after a wake: the loop ends promptly either way
        stopping = time.monotonic()
        await asyncio.wait_for(task, timeout=5)
        assert time.monotonic() - stopping < 1.0
    finally:
        task.cancel()
    assert row(ctx, third.id).status in ("queued", "sent")
    assert lease(ctx, third.id) == (None, None)
    assert len(server.handler.received) in (2, 3)


async def test_an_idle_dispatcher_stops_promptly(ctx, admin, customer_id, server, clock):
    sent = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock, dispatch_interval=60)
    task = asyncio.create_task(d.run())
    try:
        await until(lambda: row(ctx, sent.id).status == "sent", what="message sent")
        stopping = time.monotonic()
        d.stop()
        await asyncio.wait_for(task, timeout=5)
        assert time.monotonic() - stopping < 1.0
    finally:
        task.cancel()


class CountingLooks:
    """Counts the idle dispatcher's looks at the file (each one opens it)."""

    def __init__(self, d: Dispatcher) -> None:
        self.n = 0
        real = d._claim

        def counted(*args, **kwargs):
            if args[0] is None:  # a new round's look, not a mid-batch top-up
                self.n += 1
            return real(*args, **kwargs)

        d._claim = counted


async def test_an_idle_dispatcher_does_not_open_an_unchanged_file_but_sees_any_write(
        ctx, admin, customer_id, server, clock):
    d = dispatcher(ctx, clock, dispatch_interval=0.05)
    looks = CountingLooks(d)
    task = asyncio.create_task(d.run())
    try:
        await until(lambda: looks.n >= 1, what="the first look")
        await asyncio.sleep(1.0)  # twenty idle re-checks, and nothing changed
        assert looks.n <= 2
        # another program queues an email (no wake() reaches us): its write is seen
        other = queue(ctx, admin, customer_id, subject="from another program")
        await until(lambda: row(ctx, other.id).status == "sent", what="the other program's email sent")
    finally:
        d.stop()
        await asyncio.wait_for(task, timeout=5)


async def test_an_idle_dispatcher_takes_over_a_lease_when_it_runs_out_without_any_write(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    ctx.db.run(lambda con: con.execute(
        "update messages set status = 'sending', lease_owner = 'crashed-host:4242', attempts = 1, "
        "lease_expires_at = ? where id = ?", [clock.now + timedelta(minutes=2), queued.id]))
    d = dispatcher(ctx, clock, dispatch_interval=0.05)
    looks = CountingLooks(d)
    task = asyncio.create_task(d.run())
    try:
        await until(lambda: looks.n >= 1, what="the first look")
        await asyncio.sleep(0.5)
        assert server.handler.received == [] and looks.n <= 2
        clock.advance(minutes=3)  # the dead dispatcher's lease runs out; the file does not change
        await until(lambda: row(ctx, queued.id).status == "sent", what="the expired claim taken over")
    finally:
        d.stop()
        await asyncio.wait_for(task, timeout=5)
    assert [m.message_id for m in server.handler.received] == [queued.message_id]


@pytest.mark.parametrize("server", [ScriptedHandler(mail_replies=["421 4.7.0 Slow down"])], indirect=True)
async def test_after_a_throttle_has_ended_an_idle_dispatcher_again_leaves_the_file_alone(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock, dispatch_interval=0.05)
    looks = CountingLooks(d)
    task = asyncio.create_task(d.run())
    try:
        await until(lambda: d.throttled, what="the 421 to slow the dispatcher down")
        clock.advance(minutes=5)  # the pause and the message's retry time pass
        await until(lambda: row(ctx, queued.id).status == "sent", what="the deferred email sent")
        await asyncio.sleep(0.3)  # the last outcome written, the file still
        settled = looks.n
        await asyncio.sleep(0.5)  # ten idle re-checks
        assert looks.n - settled <= 1, "an ended throttle kept the dispatcher opening the file"
    finally:
        d.stop()
        await asyncio.wait_for(task, timeout=5)


@pytest.mark.parametrize("server", [ScriptedHandler(hold=True)], indirect=True)
async def test_stop_during_a_send_finishes_it_and_leaves_no_claim_behind(ctx, admin, customer_id, server, clock):
    queued = [queue(ctx, admin, customer_id, subject=f"Notice {i}") for i in range(3)]
    d = dispatcher(ctx, clock, owner="stopping", dispatch_interval=60)
    task = asyncio.create_task(d.run())
    try:
        assert await asyncio.to_thread(server.handler.entered.wait, 5), "the server never saw DATA"
        d.stop()
        server.handler.release()
        await asyncio.wait_for(task, timeout=5)
    finally:
        task.cancel()

    rows = [row(ctx, m.id) for m in queued]
    assert rows[0].status == "sent"  # the one in flight is recorded, not forgotten
    for m, r in zip(queued, rows):
        assert r.status in ("sent", "queued"), r
        assert lease(ctx, m.id)[0] is None  # nothing is left claimed by a stopped dispatcher
        if r.status == "queued":
            assert r.attempts == 0  # a released claim did not use up an attempt


@pytest.mark.parametrize("server", [ScriptedHandler(hold=True)], indirect=True)
async def test_cancelling_run_mid_send_releases_the_claim(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock, owner="cancelled", smtp_timeout=2)
    task = asyncio.create_task(d.run())
    assert await asyncio.to_thread(server.handler.entered.wait, 5), "the server never saw DATA"
    task.cancel()
    server.handler.release()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)

    released = row(ctx, queued.id)
    assert released.status == "queued" and released.attempts == 0
    assert lease(ctx, queued.id) == (None, None)


async def test_a_message_that_cannot_be_built_fails_alone_and_the_dispatcher_carries_on(
        ctx, admin, customer_id, server, clock):
    # a row written by an older version or another tool: U+2028 is a line break to
    # Python's email package, which refuses it in a header
    bad_id = ctx.db.run(lambda con: messages_store.insert(
        con, message_id="<broken@commstui.example>", customer_id=customer_id, to_addrs=[TESS],
        subject="Line\u2028break", body="x", created_by="admin"))
    good = queue(ctx, admin, customer_id, subject="fine")
    d = dispatcher(ctx, clock)

    await d.run_once()

    bad = row(ctx, bad_id)
    assert bad.status == "failed"
    assert bad.last_error
    assert lease(ctx, bad_id) == (None, None)
    assert row(ctx, good.id).status == "sent"


# -- the attempt record ------------------------------------------------------------

@pytest.mark.parametrize("server", [ScriptedHandler(
    refuse={"gone@example.org": "550 5.1.1 mailbox gone"},
    data_replies=["451 4.3.0 Mailbox temporarily unavailable"])], indirect=True)
async def test_every_attempt_is_kept_with_its_time_dispatcher_and_reply(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id, to=f"{TESS}, gone@example.org")
    d = dispatcher(ctx, clock, owner="disp-A")
    first_at = clock.now
    await d.run_once()
    clock.advance(seconds=60)
    await d.run_once()

    with ctx.db.connect() as con:
        tries = messages_store.attempts(con, queued.id)
    assert [(t[0], t[1], t[3]) for t in tries] == [(1, "disp-A", "temporary"), (2, "disp-A", "sent")]
    assert tries[0][2] == first_at and tries[1][2] == first_at + timedelta(seconds=60)
    assert "451 4.3.0" in tries[0][4]
    assert tries[1][4].startswith("2.0.0")
    assert tries[1][5] == ["gone@example.org: 550 5.1.1 mailbox gone"]


def test_a_file_from_the_first_release_is_upgraded_and_keeps_its_messages(tmp_path, settings):
    import duckdb

    from commstui.services.context import Context
    from commstui.store.db import migrations, schema_version

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(migrations()[0][2])  # the schema as release 1 made it
    con.execute("insert into schema_migrations (version, name) values (1, '001_initial.sql')")
    con.execute("insert into messages (message_id, to_addrs, created_by) values ('<m1@x>', ['a@b.c'], 'admin')")
    con.close()

    ctx = Context.open(path, settings)
    with ctx.db.connect() as con:
        assert schema_version(con) == migrations()[-1][0] >= 2
        assert con.execute("select message_id from messages").fetchall() == [("<m1@x>",)]
        assert messages_store.attempts(con, 1) == []
    assert "002_message_attempts.sql" in ctx.db.applied_migrations


# -- the outcome journal -------------------------------------------------------------

def test_a_write_removes_only_the_journal_of_the_outcomes_it_committed(ctx, admin, customer_id, server, clock):
    """A flush and a claim can each be writing outcomes at the same time; the first to
    commit must not remove the journal of the other's. Killed in between, the next
    dispatcher replays the second's outcome instead of sending that message again."""
    import os

    from commstui.delivery import journal as journals
    from commstui.delivery.email import Outcome, SendResult

    ids = {queue(ctx, admin, customer_id, subject=f"Notice {n}").id for n in range(2)}
    first = dispatcher(ctx, clock, owner="first")
    first_claim = first._claim(None)
    assert {m.id for m in first_claim.messages} == ids
    first._journal = journals.Journal(ctx.db.path, first.owner)
    accepted = SendResult(Outcome.SENT, "250 2.0.0 queued", {}, 250)

    def sent(message):
        first._journal.record(message.id, message.attempts, "sent", accepted.reply, {}, 250, clock())
        first._results.append((message, accepted, clock()))

    one, two = first_claim.messages
    sent(one)
    flush = first._take_outcomes()
    sent(two)
    exchange = first._take_outcomes()
    first._record(*flush[:3])
    first._outcomes_written(*flush)
    os.close(first._journal._lock_fd)  # killed before the exchange committed

    second = dispatcher(ctx, clock, owner="second")
    assert second._claim(None).messages == []  # nothing left to send: the journal said sent
    assert {row(ctx, id).status for id in ids} == {"sent"}
    assert journals.orphans(ctx.db.path) == []


@pytest.mark.parametrize("server", [ScriptedHandler(latency=400)], indirect=True)
async def test_outcomes_reach_the_database_within_a_second_or_so_while_the_batch_still_runs(
        ctx, admin, customer_id, server):
    """With a slow relay no claim comes along to carry the outcomes, so the flush does: an
    email accepted early in a long batch shows as sent long before the batch ends."""
    from commstui.delivery.dispatcher import FLUSH_EVERY

    ids = [queue(ctx, admin, customer_id, subject=f"Notice {n}").id for n in range(8)]
    d = Dispatcher(ctx.db, ctx.settings)
    mail_settings.save_server(ctx, admin, MailServerForm(host="127.0.0.1", port=server.port, security="none",
                                                         from_addr="office@commstui.example", concurrency=1))
    task = asyncio.create_task(d.run_once())
    started = time.monotonic()
    await until(lambda: any(row(ctx, i).status == "sent" for i in ids), timeout=FLUSH_EVERY + 3,
                what="the first outcome written")
    assert not task.done(), "the batch (8 x 0.4 s on one connection) should still be running"
    assert time.monotonic() - started < FLUSH_EVERY + 2.5
    assert await task == 8
