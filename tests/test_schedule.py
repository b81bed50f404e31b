"""Scheduling against a controllable clock (never a sleep): one-off and recurring sends,
DST in the office zone, the missed-run policy, changing one's mind, pausing.

A real DuckDB file, a real capture SMTP server on 127.0.0.1; time is a FakeClock given
to the Dispatcher and `now=` given to the services.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from clocks import FakeClock

from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.domain import MessageStatus, MissedPolicy, OfficeSettings, Repeat, ScheduleRequest
from commstui.services import email, schedule
from commstui.services.errors import PermissionDenied, ValidationError
from commstui.store import messages as messages_store
from commstui.store import notes as notes_store

SYDNEY = ZoneInfo("Australia/Sydney")
DRAFT = dict(to="tess@example.com", subject="Bin day", body="Bins out tonight.")


@pytest.fixture
def office(ctx, admin):
    return schedule.save_office_settings(ctx, admin, OfficeSettings(timezone="Australia/Sydney"))


@pytest.fixture
def customer_id(ctx, admin):
    return ctx.db.run(lambda con: con.execute(
        "select id from customers where account_no = 'A1000001'").fetchone()[0])


def draft():
    return email.EmailDraft(**DRAFT)


def sydney(y, m, d, hh=9, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SYDNEY)


def rows(ctx, customer_id):
    with ctx.db.connect() as con:
        return sorted(messages_store.for_customer(con, customer_id), key=lambda m: m.scheduled_at)


def notes(ctx, customer_id):
    with ctx.db.connect() as con:
        return [n.text for n in notes_store.for_customer(con, customer_id)]


def received(capture):
    """What the capture server got, oldest first."""
    return sorted(read_outbox(capture.outbox), key=lambda c: (c.received_at, c.path.name))


def dispatcher(ctx, clock):
    return Dispatcher(ctx.db, ctx.settings, owner="test-dispatcher", clock=clock, kind="service")


# -- one-off --------------------------------------------------------------------------------

async def test_a_scheduled_email_waits_for_its_time_then_goes_with_that_date(
        ctx, operator, office, customer_id, mail_server, capture):
    now = sydney(2026, 11, 23, 10, 40)
    request = ScheduleRequest(date(2026, 11, 23), time(14, 0))
    message = schedule.schedule_email(ctx, operator, customer_id, draft(), request, now=now)

    assert message.status == "queued" and message.scheduled_at == sydney(2026, 11, 23, 14, 0)
    assert schedule.until(message.scheduled_at, now) == "in 3 h 20 min"
    assert any("scheduled by operator for Mon 23 Nov 2026 14:00 AEDT" in n for n in notes(ctx, customer_id))

    clock = FakeClock(sydney(2026, 11, 23, 13, 59))
    assert await dispatcher(ctx, clock).run_once() == 0      # a minute early: nothing
    assert received(capture) == []
    clock.to(sydney(2026, 11, 23, 14, 0))
    assert await dispatcher(ctx, clock).run_once() == 1
    [got] = received(capture)
    assert got.message_id == message.message_id
    # Date is the scheduled time, so a resend after a crash is the same message
    assert got.parse()["Date"].datetime == sydney(2026, 11, 23, 14, 0)


def test_a_time_in_the_past_is_refused_and_nothing_is_queued(ctx, operator, office, customer_id, mail_server):
    before = len(rows(ctx, customer_id))
    with pytest.raises(ValidationError) as err:
        schedule.schedule_email(ctx, operator, customer_id, draft(),
                                ScheduleRequest(date(2026, 11, 23), time(9, 0)), now=sydney(2026, 11, 23, 9, 30))
    assert err.value.field == "time" and "in the past" in str(err.value)
    assert len(rows(ctx, customer_id)) == before


def test_a_bad_cron_is_explained_at_its_field(ctx, operator, office, customer_id, mail_server):
    with pytest.raises(ValidationError) as err:
        schedule.schedule_email(ctx, operator, customer_id, draft(),
                                ScheduleRequest(date(2027, 1, 1), time(9, 0), Repeat.CRON, "61 9 * * *"))
    assert err.value.field == "cron"


def test_viewers_cannot_schedule_reschedule_or_cancel(ctx, operator, viewer, office, customer_id, mail_server):
    request = ScheduleRequest(date(2027, 1, 1), time(9, 0))
    with pytest.raises(PermissionDenied):
        schedule.schedule_email(ctx, viewer, customer_id, draft(), request)
    with pytest.raises(PermissionDenied):
        schedule.schedule_email_to_account(ctx, viewer, "A1000001", draft(), request)
    message = schedule.schedule_email(ctx, operator, customer_id, draft(), request)
    for attempt in (lambda: schedule.cancel(ctx, viewer, message.id),
                    lambda: schedule.reschedule(ctx, viewer, message.id, request),
                    lambda: schedule.edit_scheduled(ctx, viewer, message.id, draft()),
                    lambda: schedule.set_paused(ctx, viewer, True),
                    lambda: schedule.set_paused(ctx, operator, True)):
        with pytest.raises(PermissionDenied):
            attempt()
    assert rows(ctx, customer_id)[-1].status == "queued"


# -- recurring and DST ---------------------------------------------------------------------------

def test_the_dialog_preview_lists_five_sends_across_a_dst_change():
    # Sydney's clocks go forward on Sun 4 Oct 2026: 09:00 stays 09:00 on the wall
    plan = schedule.preview(ScheduleRequest(date(2026, 10, 2), time(9, 0), Repeat.DAILY), "Australia/Sydney",
                            now=sydney(2026, 10, 1))
    assert plan.ok and plan.description == "every day at 09:00"
    assert [d.strftime("%d %H:%M %Z") for d in plan.upcoming] == [
        "02 09:00 AEST", "03 09:00 AEST", "04 09:00 AEDT", "05 09:00 AEDT", "06 09:00 AEDT"]
    assert [d.astimezone(UTC).hour for d in plan.upcoming] == [23, 23, 22, 22, 22]


def test_a_wall_time_that_happens_twice_fires_once_and_a_missing_one_fires_after_the_gap():
    back = schedule.preview(ScheduleRequest(date(2026, 4, 4), time(2, 30), Repeat.DAILY), "Australia/Sydney",
                            now=sydney(2026, 4, 1))
    assert [d.strftime("%d %H:%M") for d in back.upcoming] == ["04 02:30", "05 02:30", "06 02:30",
                                                                "07 02:30", "08 02:30"]
    forward = schedule.preview(ScheduleRequest(date(2026, 10, 3), time(2, 30), Repeat.DAILY), "Australia/Sydney",
                               now=sydney(2026, 10, 1))
    assert [d.strftime("%d %H:%M") for d in forward.upcoming][:3] == ["03 02:30", "04 03:00", "05 02:30"]


def test_presets_say_what_they_do():
    on = date(2026, 11, 23)  # a Monday
    weekly = schedule.preview(ScheduleRequest(on, time(8, 15), Repeat.WEEKLY), "UTC", now=datetime(2026, 11, 1, tzinfo=UTC))
    monthly = schedule.preview(ScheduleRequest(date(2027, 1, 31), time(8, 15), Repeat.MONTHLY), "UTC",
                               now=datetime(2026, 11, 1, tzinfo=UTC))
    assert weekly.description == "every Monday at 08:15" and weekly.cron == "15 8 * * 1"
    assert {d.weekday() for d in weekly.upcoming} == {0}
    assert "months without that day are skipped" in monthly.description
    assert [d.month for d in monthly.upcoming] == [1, 3, 5, 7, 8]


async def test_each_occurrence_of_a_series_is_its_own_message_sent_at_its_local_time(
        ctx, operator, office, customer_id, mail_server, capture):
    request = ScheduleRequest(date(2026, 10, 2), time(9, 0), Repeat.DAILY)
    first = schedule.schedule_email(ctx, operator, customer_id, draft(), request, now=sydney(2026, 10, 1))
    assert first.series_rule == "0 9 * * *"
    clock = FakeClock(sydney(2026, 10, 2))
    for day in (2, 3, 4, 5):  # across the DST change on the 4th
        clock.to(sydney(2026, 10, day))
        assert await dispatcher(ctx, clock).run_once() == 1
        # the next occurrence is already queued (visible in the Emails tab)
    series = [m for m in rows(ctx, customer_id) if m.series_id == first.series_id]
    assert [m.status for m in series] == ["sent"] * 4 + ["queued"]
    assert [m.scheduled_at.astimezone(SYDNEY).strftime("%d %H:%M") for m in series] == [
        "02 09:00", "03 09:00", "04 09:00", "05 09:00", "06 09:00"]
    assert len({m.message_id for m in series}) == 5
    assert [r.parse()["Date"].datetime.astimezone(SYDNEY).hour for r in received(capture)] == [9, 9, 9, 9]


async def test_cancelling_the_whole_series_stops_it_and_keeps_the_log(
        ctx, operator, office, customer_id, mail_server, capture):
    first = schedule.schedule_email(ctx, operator, customer_id, draft(),
                                    ScheduleRequest(date(2026, 10, 2), time(9, 0), Repeat.WEEKLY),
                                    now=sydney(2026, 10, 1))
    clock = FakeClock(sydney(2026, 10, 2))
    await dispatcher(ctx, clock).run_once()
    upcoming = [m for m in rows(ctx, first.customer_id) if m.series_id == first.series_id and m.status == "queued"]
    assert len(upcoming) == 1
    schedule.cancel(ctx, operator, upcoming[0].id, whole_series=True)
    clock.to(sydney(2026, 12, 31))
    assert await dispatcher(ctx, clock).run_once() == 0
    statuses = [m.status for m in rows(ctx, customer_id) if m.series_id == first.series_id]
    assert statuses == ["sent", "cancelled"]
    assert len(received(capture)) == 1
    assert any("cancelled by operator" in n and "whole series" in n for n in notes(ctx, customer_id))


def test_a_sent_email_can_no_longer_be_changed(ctx, operator, office, customer_id, mail_server):
    message = email.send_email(ctx, operator, customer_id, draft())
    ctx.db.run(lambda con: con.execute("update messages set status = 'sent' where id = ?", [message.id]))
    with pytest.raises(ValidationError, match="accepted by mail server"):
        schedule.cancel(ctx, operator, message.id)


async def test_reschedule_and_edit_change_what_goes_and_when(ctx, operator, office, customer_id, mail_server, capture):
    message = schedule.schedule_email(ctx, operator, customer_id, draft(),
                                      ScheduleRequest(date(2027, 3, 1), time(9, 0)), now=sydney(2026, 11, 23))
    schedule.reschedule(ctx, operator, message.id, ScheduleRequest(date(2027, 3, 2), time(16, 30)),
                        now=sydney(2026, 11, 23))
    schedule.edit_scheduled(ctx, operator, message.id, email.EmailDraft(
        to="tess@example.com, ops@example.com", subject="Bin day moved", body="Wednesday now."))
    clock = FakeClock(sydney(2027, 3, 1, 9, 0))
    assert await dispatcher(ctx, clock).run_once() == 0
    clock.to(sydney(2027, 3, 2, 16, 30))
    assert await dispatcher(ctx, clock).run_once() == 1
    [got] = received(capture)
    assert got.subject == "Bin day moved"
    assert set(got.rcpt_tos) == {"tess@example.com", "ops@example.com"}


# -- missed runs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("policy, late, expected", [
    (MissedPolicy.HOLD, timedelta(minutes=30), "sent"),     # within the grace: just send
    (MissedPolicy.HOLD, timedelta(hours=3), "held"),
    (MissedPolicy.SKIP, timedelta(hours=3), "missed"),
    (MissedPolicy.SEND, timedelta(days=2), "sent"),
])
async def test_the_missed_run_policy_decides_what_a_late_message_does(
        ctx, admin, operator, customer_id, mail_server, capture, policy, late, expected):
    schedule.save_office_settings(ctx, admin, OfficeSettings(timezone="Australia/Sydney", missed_policy=policy,
                                                             grace_minutes=60))
    message = schedule.schedule_email(ctx, operator, customer_id, draft(),
                                      ScheduleRequest(date(2027, 2, 1), time(9, 0)), now=sydney(2026, 11, 23))
    clock = FakeClock(sydney(2027, 2, 1) + late)  # the dispatcher was down until now
    await dispatcher(ctx, clock).run_once()
    after = [m for m in rows(ctx, customer_id) if m.id == message.id][0]
    assert after.status == expected
    assert len(received(capture)) == (1 if expected == "sent" else 0)
    if expected != "sent":
        assert "Missed its time" in after.last_error
        assert any("missed its time" in n for n in notes(ctx, customer_id))


async def test_a_held_message_waits_in_needs_attention_until_an_operator_sends_it(
        ctx, operator, office, customer_id, mail_server, capture):
    message = schedule.schedule_email(ctx, operator, customer_id, draft(),
                                      ScheduleRequest(date(2027, 2, 1), time(9, 0)), now=sydney(2026, 11, 23))
    clock = FakeClock(sydney(2027, 2, 1, 15, 0))
    await dispatcher(ctx, clock).run_once()
    assert [m.id for m in schedule.needs_attention(ctx, operator)] == [message.id]
    status = schedule.dispatcher_status(ctx, operator, now=clock.now)
    assert status.needs_attention == 1

    schedule.send_held_now(ctx, operator, message.id)
    clock.now = datetime.now(UTC) + timedelta(seconds=1)
    await dispatcher(ctx, clock).run_once()
    assert schedule.needs_attention(ctx, operator) == []
    assert len(received(capture)) == 1


async def test_a_series_after_downtime_sends_only_its_latest_occurrence_and_counts_the_rest(
        ctx, admin, operator, customer_id, mail_server, capture):
    schedule.save_office_settings(ctx, admin, OfficeSettings(timezone="Australia/Sydney",
                                                             missed_policy=MissedPolicy.SEND))
    first = schedule.schedule_email(ctx, operator, customer_id, draft(),
                                    ScheduleRequest(date(2027, 2, 1), time(9, 0), Repeat.DAILY),
                                    now=sydney(2026, 11, 23))
    clock = FakeClock(sydney(2027, 2, 1))
    await dispatcher(ctx, clock).run_once()          # the 1st goes on time; the 2nd is queued
    clock.to(sydney(2027, 2, 6, 12, 0))              # down from the 1st to the 6th at noon
    await dispatcher(ctx, clock).run_once()
    series = [m for m in rows(ctx, customer_id) if m.series_id == first.series_id]
    sent = [m.scheduled_at.astimezone(SYDNEY).day for m in series if m.status == "sent"]
    # the 2nd was already queued, so it goes late (policy: send); the 3rd-5th are passed
    # over, counted, not sent in a burst; the 6th is the latest and goes; the 7th waits
    assert sent == [1, 2, 6]
    assert [m.scheduled_at.astimezone(SYDNEY).day for m in series if m.status == "queued"] == [7]
    assert any("3 occurrence(s) passed" in n for n in notes(ctx, customer_id))
    assert len(received(capture)) == 3


# -- the dispatcher's controls ---------------------------------------------------------------

async def test_pausing_stops_every_dispatcher_from_claiming_until_resumed(
        ctx, admin, operator, customer_id, mail_server, capture):
    email.send_email(ctx, operator, customer_id, draft())
    schedule.set_paused(ctx, admin, True)
    clock = FakeClock(datetime.now(UTC) + timedelta(seconds=5))
    d = dispatcher(ctx, clock)
    assert await d.run_once() == 0 and d.paused_by == "admin"
    status = schedule.dispatcher_status(ctx, operator, now=clock.now)
    assert status.paused and status.paused_by == "admin" and status.queued == 1 and status.due_next_hour == 1
    schedule.set_paused(ctx, admin, False)
    assert await dispatcher(ctx, clock).run_once() == 1
    assert len(received(capture)) == 1


async def test_an_idle_dispatcher_sleeps_until_the_next_due_time_capped_by_the_recheck_interval(
        ctx, operator, office, customer_id, mail_server):
    now = datetime.now(UTC)
    schedule.schedule_email(ctx, operator, customer_id, draft(),
                            ScheduleRequest(*_local(now + timedelta(minutes=3))))
    clock = FakeClock(now)
    d = Dispatcher(ctx.db, ctx.settings.model_copy(update={"dispatch_interval": 600}), clock=clock)
    assert await d.run_batch() == 0
    assert 120 < d._idle_seconds() <= 180          # sleeps until it is due, not a poll
    d2 = Dispatcher(ctx.db, ctx.settings.model_copy(update={"dispatch_interval": 5}), clock=clock)
    await d2.run_batch()
    assert d2._idle_seconds() == 5                 # but looks again for other processes' work


def _local(at: datetime) -> tuple:
    local = at.astimezone(SYDNEY)
    return local.date(), local.time().replace(second=0, microsecond=0)


def test_dispatchers_are_seen_while_they_run(ctx, operator):
    status = schedule.dispatcher_status(ctx, operator)
    assert status.dispatchers == ()
    assert MessageStatus.HELD.label == "needs attention"


# -- who did not get it ------------------------------------------------------------------------

async def test_who_did_not_get_it_is_one_query_and_4xx_recipients_are_retried_alone(
        ctx, admin, operator, office, customer_id):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from smtp_servers import ScriptedHandler, ScriptedServer
    from commstui.services import mail_settings
    from commstui.services.mail_settings import MailServerForm

    handler = ScriptedHandler(refuse={"gone@example.org": "550 5.1.1 mailbox gone",
                                      "busy@example.org": "452 4.2.2 mailbox full, try later"})
    with ScriptedServer(handler) as server:
        mail_settings.save_server(ctx, admin, MailServerForm(host="127.0.0.1", port=server.port, security="none",
                                                             from_addr="office@commstui.example"))
        message = email.send_email(ctx, operator, customer_id, email.EmailDraft(
            to="tess@example.com, gone@example.org, busy@example.org", subject="Notice", body="x"))
        clock = FakeClock(datetime.now(UTC) + timedelta(seconds=2))
        await dispatcher(ctx, clock).run_once()

        record = schedule.delivery_record(ctx, operator, message.id)
        by_address = {r.address: r.outcome for r in record.recipients}
        assert by_address == {"tess@example.com": "accepted", "gone@example.org": "refused",
                              "busy@example.org": "pending"}
        assert record.message.status == "queued" and record.message.pending_rcpts == ("busy@example.org",)
        [missing] = schedule.undelivered(ctx, operator)
        assert (missing.address, missing.outcome, missing.reason) == ("gone@example.org", "refused",
                                                                      "550 5.1.1 mailbox gone")

        del handler.refuse["busy@example.org"]            # the mailbox has room again
        clock.now += timedelta(seconds=61)
        await dispatcher(ctx, clock).run_once()
        # the retry went to busy@ only, with the same Message-ID
        assert [r.rcpt_tos for r in handler.accepted] == [("tess@example.com",), ("busy@example.org",)]
        assert len({r.message_id for r in handler.accepted}) == 1
        record = schedule.delivery_record(ctx, operator, message.id)
        assert {r.address: r.outcome for r in record.recipients}["busy@example.org"] == "accepted"
        assert record.message.status == "sent" and len(record.attempts) == 2
