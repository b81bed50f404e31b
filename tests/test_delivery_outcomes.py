"""Every delivery outcome issue 3 names, against a real aiosmtpd on 127.0.0.1 and a
real DuckDB file: what the message row, the customer's log and notes, and the
delivery record (every attempt, every recipient) say afterwards.

2xx sent (reply kept); 4xx / timeouts / dropped connections retried with backoff
until the office lifetime, then failed; 5xx failed at once with the server's
words; recipients refused at RCPT recorded one by one while the rest are sent
(a 4xx at RCPT keeps that recipient pending for a retry with the same
Message-ID); 421/454 defer without failing anybody; concurrency and connection
reuse. Time is stepped with the dispatcher's clock, never slept.
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
from commstui.delivery.email import new_message_id
from commstui.domain import OfficeSettings
from commstui.services import customers, email, mail_settings, schedule
from commstui.services.mail_settings import MailServerForm
from commstui.store import customers as customers_store
from commstui.store import messages as messages_store

from smtp_servers import DROP, DROP_MID, STALL, ScriptedHandler, ScriptedServer

TESS = "tess.tester@example.com"
ZOE = "zoe.second@example.org"
GONE = "gone@example.org"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def customer_id(ctx) -> int:
    return ctx.db.run(lambda con: customers_store.insert(
        con, account_no="T0000001", name="Tess Tester", email=TESS, mobile="0412 345 678"))


def use_server(ctx, admin, port: int, concurrency: int = 1, rate_per_minute: int = 0) -> None:
    mail_settings.save_server(ctx, admin, MailServerForm(
        host="127.0.0.1", port=port, security="none", from_addr="office@commstui.example",
        concurrency=concurrency, rate_per_minute=rate_per_minute))


@pytest.fixture
def server(request, ctx, admin):
    """A ScriptedServer as the active mail server (one connection, so scripted replies
    meet messages in order); parametrize the handler indirectly."""
    handler = getattr(request, "param", None) or ScriptedHandler()
    with ScriptedServer(handler) as srv:
        use_server(ctx, admin, srv.port)
        yield srv


def queue(ctx, user, customer_id, to=TESS, subject="Water shut-off", **kw):
    return email.send_email(ctx, user, customer_id, email.EmailDraft(to=to, subject=subject,
                                                                     body="Tuesday 9-11am.", **kw))


def queue_many(ctx, customer_id, n: int, to=TESS) -> list:
    """n emails to one customer in one transaction (queueing them one by one costs a file open each)."""

    def insert(con):
        ids = [messages_store.insert(con, message_id=new_message_id("office@commstui.example"),
                                     customer_id=customer_id, to_addrs=[to], subject=f"Notice {i}",
                                     body="Tuesday 9-11am.", created_by="admin") for i in range(n)]
        return [messages_store.get(con, id) for id in ids]

    return ctx.db.run(insert)


def dispatcher(ctx, clock, owner="disp-A", **overrides) -> Dispatcher:
    return Dispatcher(ctx.db, ctx.settings.model_copy(update=overrides), owner=owner, clock=clock,
                      kind="service")


def row(ctx, id):
    with ctx.db.connect() as con:
        return messages_store.get(con, id)


def lease(ctx, id):
    with ctx.db.connect() as con:
        return con.execute("select lease_owner, lease_expires_at from messages where id = ?", [id]).fetchone()


def record(ctx, admin, id):
    return schedule.delivery_record(ctx, admin, id)


def final_outcomes(rec) -> dict[str, object]:
    """Each recipient's latest outcome (a record may list one per attempt)."""
    latest: dict[str, object] = {}
    for r in rec.recipients:
        latest[r.address] = r
    return latest


def server_words(handler) -> str | None:
    """The first 4xx/5xx the server answered (MAIL, RCPT or DATA), if it answered at all."""
    replies = [c[3] for c in handler.commands] + [r.reply for r in handler.received]
    return next((r for r in replies if r[:1] in "45"), None)


def log_of(ctx, admin, customer_id, id):
    """The message as the customer's log (Details > Messages) shows it."""
    [m] = [m for m in customers.messages(ctx, admin, customer_id) if m.id == id]
    return m


def notes_of(ctx, admin, customer_id) -> list[str]:
    return [n.text for n in customers.notes(ctx, admin, customer_id)]


# -- 2xx -----------------------------------------------------------------------------

async def test_2xx_is_sent_with_the_reply_kept_one_attempt_and_a_note(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)

    assert await dispatcher(ctx, clock).run_once() == 1

    [got] = server.handler.received
    assert got.rcpt_tos == (TESS,) and got.message_id == queued.message_id
    sent = log_of(ctx, admin, customer_id, queued.id)
    assert sent.status == "sent" and sent.sent_at == clock.now
    assert "Ok: queued as TEST" in sent.server_reply
    assert sent.last_error is None and sent.pending_rcpts is None
    assert lease(ctx, queued.id) == (None, None)
    [note] = notes_of(ctx, admin, customer_id)
    assert f"sent to {TESS}" in note and "Ok: queued as TEST" in note

    rec = record(ctx, admin, queued.id)
    [attempt] = rec.attempts
    assert (attempt.attempt, attempt.dispatcher, attempt.finished_at, attempt.outcome) == (
        1, "disp-A", clock.now, "sent")
    assert "Ok: queued as TEST" in attempt.reply and attempt.refused == ()
    assert final_outcomes(rec)[TESS].outcome == "accepted"


# -- 5xx: failed at once ----------------------------------------------------------------

@pytest.mark.parametrize("server", [
    ScriptedHandler(data_replies=["554 5.7.1 Message rejected as spam"]),
    ScriptedHandler(data_replies=["550 5.7.0 Policy violation: relaying denied"]),
], ids=["554", "550"], indirect=True)
async def test_5xx_at_data_fails_at_once_with_the_servers_words(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock)
    words = server.handler.data_replies[0]

    assert await d.run_once() == 1

    failed = log_of(ctx, admin, customer_id, queued.id)
    assert failed.status == "failed" and failed.attempts == 1 and failed.sent_at is None
    assert words in failed.last_error
    [note] = notes_of(ctx, admin, customer_id)
    assert "failed" in note and words in note
    [attempt] = record(ctx, admin, queued.id).attempts
    assert attempt.outcome == "permanent" and words in attempt.reply
    # permanent means permanent: a day later nothing is retried
    clock.advance(days=1)
    assert await d.run_once() == 0
    assert len(server.handler.received) == 1


@pytest.mark.parametrize("server", [ScriptedHandler(mail_replies=["553 5.7.1 Sender address rejected"])],
                         indirect=True)
async def test_5xx_at_mail_from_fails_at_once(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)

    await dispatcher(ctx, clock).run_once()

    failed = row(ctx, queued.id)
    assert failed.status == "failed"
    assert "553 5.7.1 Sender address rejected" in failed.last_error
    assert server.handler.received == []


# -- 4xx, timeouts, dropped connections: retried with the same Message-ID ----------------

@pytest.mark.parametrize("server", [
    ScriptedHandler(data_replies=["451 4.3.0 Mailbox temporarily unavailable"]),
    ScriptedHandler(data_replies=["452 4.3.1 Insufficient system storage"]),
    ScriptedHandler(data_replies=[DROP]),
    ScriptedHandler(data_replies=[DROP_MID]),
    ScriptedHandler(data_replies=[STALL], stall_seconds=5),
    ScriptedHandler(rcpt_replies=["450 4.2.1 Mailbox busy, try later"]),
    ScriptedHandler(mail_replies=["451 4.3.2 System not accepting messages"]),
], ids=["451", "452", "dropped-after-data", "dropped-mid-data", "stalled", "450-rcpt", "451-mail"],
    indirect=True)
async def test_temporary_failure_is_retried_after_the_first_backoff_with_the_same_message(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock, smtp_timeout=1.0)  # a stall outlasts the client's patience
    first_try = clock.now

    started = time.monotonic()
    assert await d.run_once() == 1
    assert time.monotonic() - started < 4, "a stalled server must cost one client timeout, not more"

    retry = log_of(ctx, admin, customer_id, queued.id)
    assert retry.status == "queued" and retry.attempts == 1
    assert retry.due_at == first_try + timedelta(seconds=60)
    assert retry.last_error and retry.sent_at is None
    words = server_words(server.handler)
    if words:
        assert words in retry.last_error  # the server's own words
    assert lease(ctx, queued.id) == (None, None)
    assert notes_of(ctx, admin, customer_id) == []  # nothing worth a note yet
    [attempt] = record(ctx, admin, queued.id).attempts
    assert attempt.outcome == "temporary" and attempt.finished_at == first_try and attempt.reply
    assert all(r.outcome not in ("refused", "failed") for r in record(ctx, admin, queued.id).recipients)

    clock.advance(seconds=59)
    assert await d.run_once() == 0  # not due yet
    clock.advance(seconds=1)
    assert await d.run_once() == 1

    sent = log_of(ctx, admin, customer_id, queued.id)
    assert sent.status == "sent" and sent.attempts == 2 and sent.last_error is None
    accepted = server.handler.accepted
    assert [r.message_id for r in accepted] == [queued.message_id]
    tried = [r for r in server.handler.received if r.message_id]
    assert {r.message_id for r in tried} == {queued.message_id}  # a resend is the same message
    if len(tried) == 2:
        assert tried[0].parse()["Date"] == tried[1].parse()["Date"]
    assert [a.outcome for a in record(ctx, admin, queued.id).attempts] == ["temporary", "sent"]
    assert len(notes_of(ctx, admin, customer_id)) == 1


async def test_connection_refused_is_temporary(ctx, admin, customer_id, clock):
    use_server(ctx, admin, free_port())  # nobody listens there
    queued = queue(ctx, admin, customer_id)

    await dispatcher(ctx, clock).run_once()

    retry = row(ctx, queued.id)
    assert (retry.status, retry.attempts) == ("queued", 1)
    assert retry.due_at == clock.now + timedelta(seconds=60)
    assert "refused" in retry.last_error.lower() or "connect" in retry.last_error.lower()


async def walk_retries(ctx, admin, d, clock, id, limit: int = 40):
    """Run the dispatcher at each due time until the message is final; [(attempt time, due next)]."""
    steps = []
    tried = 0
    for _ in range(limit * 2):
        await d.run_once()
        current = row(ctx, id)
        if current.status != "queued":
            return steps, current
        if current.attempts == tried:  # not tried this time (a pause after "slow down"): time passes
            clock.advance(minutes=1)
            continue
        tried = current.attempts
        steps.append((clock.now, current.due_at))
        clock.now = current.due_at
    raise AssertionError(f"still queued after {limit} attempts")


@pytest.mark.parametrize("server", [ScriptedHandler(default="451 4.3.0 Try again later")], indirect=True)
async def test_4xx_every_time_backs_off_exponentially_capped_then_fails_after_48_hours(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    scheduled = row(ctx, queued.id).scheduled_at
    deadline = scheduled + timedelta(hours=48)  # the default office lifetime

    steps, final = await walk_retries(ctx, admin, dispatcher(ctx, clock), clock, queued.id)

    waits = [(due - tried).total_seconds() for tried, due in steps]
    backoff = ctx.settings.retry_backoff
    assert backoff[:4] == [60, 300, 900, 3600]  # 1 min, 5 min, 15 min, 1 h, ... (the defaults)
    expected = backoff + [backoff[-1]] * len(waits)
    # the last wait may be cut short so the final try lands on the deadline, not past it
    assert waits[:-1] == expected[:len(waits) - 1]
    assert 0 < waits[-1] <= expected[len(waits) - 1]
    assert all(due <= deadline for _, due in steps), "no retry is planned past the lifetime"
    assert final.status == "failed"
    assert "451 4.3.0 Try again later" in final.last_error  # the last reply, for the operator
    assert final.attempts == len(steps) + 1 == len(server.handler.received)
    assert clock.now == deadline  # the last try is at the end of the lifetime, not before or after
    assert {r.message_id for r in server.handler.received} == {queued.message_id}
    rec = record(ctx, admin, queued.id)
    assert [a.attempt for a in rec.attempts] == list(range(1, final.attempts + 1))
    assert [a.outcome for a in rec.attempts] == ["temporary"] * final.attempts
    assert all("451 4.3.0" in a.reply for a in rec.attempts)
    notes = notes_of(ctx, admin, customer_id)
    assert len(notes) == 1 and "failed" in notes[0] and "451 4.3.0 Try again later" in notes[0]


@pytest.mark.parametrize("server", [ScriptedHandler(default="450 4.2.0 Mailbox busy")], indirect=True)
async def test_office_lifetime_and_backoff_are_configurable(ctx, admin, customer_id, server, clock):
    office = schedule.get_office_settings(ctx, admin)
    schedule.save_office_settings(ctx, admin, OfficeSettings(
        timezone=office.timezone, missed_policy=office.missed_policy, grace_minutes=office.grace_minutes,
        lifetime_hours=1))
    queued = queue(ctx, admin, customer_id)
    scheduled = row(ctx, queued.id).scheduled_at
    d = dispatcher(ctx, clock, retry_backoff=[600, 1200])

    steps, final = await walk_retries(ctx, admin, d, clock, queued.id)

    waits = [(due - tried).total_seconds() for tried, due in steps]
    assert waits[:2] == [600, 1200]
    assert set(waits[2:-1]) <= {1200}
    assert final.status == "failed" and "450 4.2.0 Mailbox busy" in final.last_error
    assert all(due <= scheduled + timedelta(hours=1) for _, due in steps)
    assert clock.now == scheduled + timedelta(hours=1)


# -- recipients refused at RCPT -------------------------------------------------------------

@pytest.mark.parametrize("server", [ScriptedHandler(refuse={GONE: "550 5.1.1 <gone@example.org>: mailbox gone"})],
                         indirect=True)
async def test_a_recipient_refused_with_5xx_is_recorded_and_the_rest_are_sent(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id, to=f"{TESS}, {GONE}", cc=ZOE)

    await dispatcher(ctx, clock).run_once()

    [got] = server.handler.received
    assert set(got.rcpt_tos) == {TESS, ZOE}
    sent = log_of(ctx, admin, customer_id, queued.id)
    assert sent.status == "sent"
    assert sent.pending_rcpts in (None, ())
    rec = record(ctx, admin, queued.id)
    outcomes = final_outcomes(rec)
    assert outcomes[GONE].outcome == "refused"
    assert "550 5.1.1" in outcomes[GONE].reply and "mailbox gone" in outcomes[GONE].reply
    assert outcomes[TESS].outcome == outcomes[ZOE].outcome == "accepted"
    [attempt] = rec.attempts
    assert attempt.outcome == "sent"
    assert attempt.refused == (f"{GONE}: 550 5.1.1 <gone@example.org>: mailbox gone",)
    # nobody is retried: a 5xx refusal is final
    clock.advance(hours=2)
    assert await dispatcher(ctx, clock).run_once() == 0
    assert len(server.handler.received) == 1


@pytest.mark.parametrize("server", [ScriptedHandler(refuse={TESS: "550 5.1.1 <tess.tester@example.com>: no such user"})],
                         indirect=True)
async def test_every_recipient_refused_with_5xx_fails_naming_each(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)

    await dispatcher(ctx, clock).run_once()

    failed = log_of(ctx, admin, customer_id, queued.id)
    assert failed.status == "failed"
    assert TESS in failed.last_error and "550 5.1.1" in failed.last_error and "no such user" in failed.last_error
    assert final_outcomes(record(ctx, admin, queued.id))[TESS].outcome == "refused"
    assert server.handler.received == []


@pytest.mark.parametrize("server", [ScriptedHandler(refuse={ZOE: ["452 4.5.3 Too many recipients, try later"]})],
                         indirect=True)
async def test_a_recipient_deferred_with_452_stays_pending_and_only_they_get_the_retry(
        ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id, to=f"{TESS}, {ZOE}")
    d = dispatcher(ctx, clock)
    first_try = clock.now

    await d.run_once()

    [first] = server.handler.received
    assert first.rcpt_tos == (TESS,)  # Tess has it already
    waiting = log_of(ctx, admin, customer_id, queued.id)
    assert waiting.status == "queued"
    assert waiting.pending_rcpts == (ZOE,)
    assert waiting.due_at == first_try + timedelta(seconds=60)
    rec = record(ctx, admin, queued.id)
    outcomes = final_outcomes(rec)
    assert outcomes[TESS].outcome == "accepted"
    assert outcomes[ZOE].outcome in ("deferred", "pending") and "452 4.5.3" in outcomes[ZOE].reply

    clock.advance(seconds=60)
    await d.run_once()

    first, second = server.handler.received
    assert second.rcpt_tos == (ZOE,)  # not Tess again
    assert second.message_id == first.message_id == queued.message_id
    done = log_of(ctx, admin, customer_id, queued.id)
    assert done.status == "sent" and done.pending_rcpts in (None, ())
    rec = record(ctx, admin, queued.id)
    assert {a: o.outcome for a, o in final_outcomes(rec).items()} == {TESS: "accepted", ZOE: "accepted"}
    assert [a.outcome for a in rec.attempts][-1] == "sent"
    assert len(rec.attempts) == 2
    assert not any("failed" in n for n in notes_of(ctx, admin, customer_id))


@pytest.mark.parametrize("server", [ScriptedHandler(refuse={
    GONE: "550 5.1.1 mailbox gone", ZOE: ["452 4.5.3 Too many recipients", "452 4.5.3 Too many recipients"]})],
    indirect=True)
async def test_refused_deferred_and_accepted_recipients_in_one_message(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id, to=f"{TESS}, {GONE}", bcc=ZOE)
    d = dispatcher(ctx, clock)

    await d.run_once()          # Tess accepted, Gone refused, Zoe deferred
    clock.advance(seconds=60)
    await d.run_once()          # Zoe deferred again
    clock.advance(seconds=300)
    await d.run_once()          # Zoe accepted

    envelopes = [r.rcpt_tos for r in server.handler.received]
    assert envelopes == [(TESS,), (ZOE,)]
    assert {r.message_id for r in server.handler.received} == {queued.message_id}
    done = row(ctx, queued.id)
    assert done.status == "sent"
    rec = record(ctx, admin, queued.id)
    outcomes = final_outcomes(rec)
    assert {a: o.outcome for a, o in outcomes.items()} == {TESS: "accepted", GONE: "refused", ZOE: "accepted"}
    assert "550 5.1.1 mailbox gone" in outcomes[GONE].reply
    assert len(rec.attempts) == 3
    # who did not get it, and why: one query
    with ctx.db.connect() as con:
        missing = [r for r in messages_store.undelivered(con) if r[0] == queued.id]
    assert [(r[2], r[3]) for r in missing] == [(GONE, "refused")]


@pytest.mark.parametrize("server", [ScriptedHandler(refuse={TESS: ["452 4.5.3 Too many recipients"]})],
                         indirect=True)
async def test_every_recipient_deferred_retries_the_whole_message(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id)
    d = dispatcher(ctx, clock)

    await d.run_once()
    assert row(ctx, queued.id).status == "queued"
    assert server.handler.received == []
    clock.advance(seconds=60)
    await d.run_once()

    [got] = server.handler.received
    assert got.rcpt_tos == (TESS,) and got.message_id == queued.message_id
    assert row(ctx, queued.id).status == "sent"


@pytest.mark.parametrize("server", [ScriptedHandler(refuse={ZOE: "452 4.5.3 Too many recipients"})],
                         indirect=True)
async def test_a_recipient_deferred_until_the_lifetime_fails_alone(ctx, admin, customer_id, server, clock):
    queued = queue(ctx, admin, customer_id, to=f"{TESS}, {ZOE}")

    steps, final = await walk_retries(ctx, admin, dispatcher(ctx, clock), clock, queued.id)

    assert [r.rcpt_tos for r in server.handler.received] == [(TESS,)]  # Tess got it once, Zoe never
    assert final.status == "failed"
    assert "452 4.5.3" in final.last_error
    outcomes = final_outcomes(record(ctx, admin, queued.id))
    assert outcomes[TESS].outcome == "accepted"
    assert outcomes[ZOE].outcome == "failed" and "452 4.5.3" in outcomes[ZOE].reply
    with ctx.db.connect() as con:
        missing = [r for r in messages_store.undelivered(con) if r[0] == queued.id]
    assert [r[2] for r in missing] == [ZOE]  # Tess is not listed as someone who missed out


# -- 421 / 454: slow down and defer, never fail anybody -----------------------------------

@pytest.mark.parametrize("server", [
    ScriptedHandler(mail_replies=["421 4.7.0 Too many connections, slow down"]),
    ScriptedHandler(data_replies=["421 4.7.0 Too busy, closing connection"]),
    ScriptedHandler(data_replies=["454 4.7.0 Temporary rate limit, try later"]),
    ScriptedHandler(rcpt_replies=["421 4.7.0 Service shutting down"]),
], ids=["421-mail", "421-data", "454-data", "421-rcpt"], indirect=True)
async def test_throttling_defers_without_failing_recipients(ctx, admin, customer_id, server, clock):
    queued = [queue(ctx, admin, customer_id, to=f"{TESS}, {ZOE}", subject=f"Notice {i}") for i in range(3)]
    d = dispatcher(ctx, clock)

    await d.run_once()

    for m in queued:
        current = row(ctx, m.id)
        assert current.status in ("queued", "sent"), current
        rec = record(ctx, admin, m.id)
        assert all(r.outcome not in ("refused", "failed") for r in rec.recipients), rec.recipients
    assert d.throttled, "a 421/454 must make the dispatcher slow down"
    throttled = row(ctx, queued[0].id)
    assert throttled.status == "queued" and throttled.due_at > clock.now
    assert server_words(server.handler) in throttled.last_error  # the server's words, for the operator
    assert record(ctx, admin, queued[0].id).attempts[0].outcome == "temporary"

    for _ in range(6):  # later on, everything goes, each message once
        clock.advance(minutes=15)
        await d.run_once()
    assert {row(ctx, m.id).status for m in queued} == {"sent"}
    assert Counter(server.handler.accepted_ids()) == Counter(m.message_id for m in queued)
    assert all(set(r.rcpt_tos) == {TESS, ZOE} for r in server.handler.accepted)


async def test_421_makes_the_dispatcher_use_fewer_connections(ctx, admin, customer_id, clock):
    """Four connections allowed; the server answers one MAIL FROM with 421: the dispatcher
    stops claiming for a while, then goes on over fewer connections at once, and nothing fails."""
    handler = ScriptedHandler(mail_replies=["421 4.7.0 Too many connections from your host"], latency=30)
    with ScriptedServer(handler) as srv:
        use_server(ctx, admin, srv.port, concurrency=4)
        queued = queue_many(ctx, customer_id, 40)
        d = dispatcher(ctx, clock)
        await d.run_once()
        assert d.throttled  # it heard "slow down"
        assert await d.run_once() == 0  # ...and claims nothing more until the pause is over
        left = sum(1 for m in queued if row(ctx, m.id).status == "queued")
        assert left, "the 421 came too late to matter; make the batch bigger"
        handler.max_open_connections = handler.open_connections
        clock.advance(minutes=15)
        await d.run_once()
        after = handler.max_open_connections

    assert {row(ctx, m.id).status for m in queued} == {"sent"}
    assert Counter(handler.accepted_ids()) == Counter(m.message_id for m in queued)
    assert after <= 2, f"{after} connections at once right after a 421 (4 allowed): it did not slow down"
    assert not any(r.outcome in ("refused", "failed") for m in queued for r in record(ctx, admin, m.id).recipients)


# -- pacing: connections reused, concurrency and rate per mail server ----------------------

@pytest.mark.parametrize("concurrency", [1, 3])
async def test_concurrency_is_the_servers_and_connections_are_reused(ctx, admin, customer_id, clock, concurrency):
    handler = ScriptedHandler(latency=20)
    with ScriptedServer(handler) as srv:
        use_server(ctx, admin, srv.port, concurrency=concurrency)
        queued = queue_many(ctx, customer_id, 30)
        assert await dispatcher(ctx, clock).run_once() == 30

    assert Counter(handler.accepted_ids()) == Counter(m.message_id for m in queued)
    assert handler.max_open_connections <= concurrency
    assert handler.connections <= concurrency  # reused, not one per message
    if concurrency > 1:
        assert handler.max_open_connections >= 2  # really in parallel
    per_connection = Counter(r.conn for r in handler.received)
    assert sum(per_connection.values()) == 30 and len(per_connection) <= concurrency


async def test_rate_per_minute_spaces_the_sends(ctx, admin, customer_id, clock):
    handler = ScriptedHandler()
    with ScriptedServer(handler) as srv:
        use_server(ctx, admin, srv.port, concurrency=4, rate_per_minute=600)  # one every 0.1 s
        queued = queue_many(ctx, customer_id, 12)
        task = asyncio.create_task(dispatcher(ctx, clock).run_once())
        started = time.monotonic()
        await asyncio.wait_for(task, timeout=30)
        took = time.monotonic() - started

    assert Counter(handler.accepted_ids()) == Counter(m.message_id for m in queued)
    times = sorted(r.at for r in handler.received)
    # 600 a minute: whatever burst is allowed, twelve cannot all go in the first half second
    assert times[-1] - times[0] >= 0.5 or took >= 0.5
    # and no ten of them within any 0.5 s window
    assert max(sum(1 for t in times if s <= t < s + 0.5) for s in times) <= 7
