"""Messages: a durable row first, then a send. Claims use a lease so several
dispatchers can share one file and a crashed one's work is taken over."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from ..domain import Message
from .db import NotFound

# a sensitive message's body (a one-time code) goes to its recipient only: the dispatcher
# reads it (_SEND_COLS, _OUTGOING_COLS); every other reader gets this instead
SENSITIVE_BODY = "(hidden: it holds a one-time code for the recipient only)"
_BASE = (
    "m.id, m.message_id, m.customer_id, m.channel, m.to_addrs, m.cc_addrs, m.bcc_addrs, m.subject, "
    f"case when m.sensitive then '{SENSITIVE_BODY}' else m.body end, "   # what screens and the CLI read
    "m.is_html, m.status, m.due_at, m.attempts, m.created_by, m.created_at, m.last_error, "
    "m.server_reply, m.sent_at"
)
_COLS = _BASE + ", c.account_no, m.scheduled_at, m.series_id, s.cron, m.pending_rcpts, m.attachment_id"
_FROM = (" from messages m left join customers c on c.id = m.customer_id "
         "left join series s on s.id = m.series_id ")
# what a dispatcher needs: no joins (a claim must stay cheap on a big file), and times as
# naive UTC (converting timestamptz through pytz costs more than the rest of the row)
_SEND_COLS = (
    "m.id, m.message_id, m.customer_id, m.channel, m.to_addrs, m.cc_addrs, m.bcc_addrs, m.subject, "
    "m.body, m.is_html, m.status, timezone('UTC', m.due_at), m.attempts, m.created_by, "
    "timezone('UTC', m.created_at), m.last_error, m.server_reply, timezone('UTC', m.sent_at), null, "
    "timezone('UTC', m.scheduled_at), m.series_id, null, m.pending_rcpts, m.attachment_id"
)
_UTC_COLS = (11, 14, 17, 19)


def _sent_message(row) -> Message:
    """A row selected with _SEND_COLS."""
    row = list(row)
    for i in _UTC_COLS:
        if row[i] is not None:
            row[i] = row[i].replace(tzinfo=UTC)
    return _message(row)


def _message(row) -> Message:
    row = list(row)
    for i in (4, 5, 6):
        row[i] = tuple(row[i] or ())
    if row[22] is not None:
        row[22] = tuple(row[22])
    return Message(*row)


def insert(con, *, message_id: str, customer_id: int | None, to_addrs, cc_addrs=(), bcc_addrs=(),
           subject: str = "", body: str = "", is_html: bool = False, created_by: str,
           due_at: datetime | None = None, channel: str = "email", series_id: int | None = None) -> int:
    return con.execute(
        "insert into messages (message_id, customer_id, channel, to_addrs, cc_addrs, bcc_addrs, subject, "
        "body, is_html, created_by, due_at, scheduled_at, series_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "coalesce(?, current_timestamp), coalesce(?, current_timestamp), ?) returning id",
        [message_id, customer_id, channel, list(to_addrs), list(cc_addrs), list(bcc_addrs), subject,
         body, is_html, created_by, due_at, due_at, series_id],
    ).fetchone()[0]


def mark_sensitive(con, id: int) -> None:
    """Its body is for the recipient only (see SENSITIVE_BODY)."""
    con.execute("update messages set sensitive = true where id = ?", [id])


def update_content(con, id: int, *, to_addrs, cc_addrs, bcc_addrs, subject: str, body: str,
                   is_html: bool) -> bool:
    """Change a message that has not started to go; False if it has (or is gone)."""
    row = con.execute(
        "update messages set to_addrs = ?, cc_addrs = ?, bcc_addrs = ?, subject = ?, body = ?, is_html = ? "
        "where id = ? and status in ('queued', 'held') and attempts = 0 returning id",
        [list(to_addrs), list(cc_addrs), list(bcc_addrs), subject, body, is_html, id]).fetchone()
    return row is not None


def move(con, id: int, due_at: datetime) -> bool:
    """Reschedule a message that has not started to go (a held one goes back to queued)."""
    row = con.execute(
        "update messages set due_at = ?, scheduled_at = ?, status = 'queued', last_error = null "
        "where id = ? and status in ('queued', 'held') and attempts = 0 returning id",
        [due_at, due_at, id]).fetchone()
    return row is not None


def cancel(con, id: int, note: str) -> bool:
    row = con.execute(
        "update messages set status = 'cancelled', last_error = ? "
        "where id = ? and status in ('queued', 'held') and attempts = 0 returning id", [note, id]).fetchone()
    return row is not None


def cancel_series(con, series_id: int, note: str) -> list[int]:
    rows = con.execute(
        "update messages set status = 'cancelled', last_error = ? "
        "where series_id = ? and status in ('queued', 'held') and attempts = 0 returning id",
        [note, series_id]).fetchall()
    return [r[0] for r in rows]


def release_held(con, id: int, now: datetime) -> bool:
    """Send a held message now: due now, and its scheduled time moved so the policy passes it."""
    row = con.execute(
        "update messages set status = 'queued', due_at = ?, scheduled_at = ?, last_error = null "
        "where id = ? and status = 'held' returning id", [now, now, id]).fetchone()
    return row is not None


def held(con, limit: int = 500) -> list[Message]:
    rows = con.execute(f"select {_COLS} {_FROM} where m.status = 'held' order by m.due_at, m.id limit ?",
                       [limit]).fetchall()
    return [_message(r) for r in rows]


def apply_missed_policy(con, now: datetime, late_before: datetime, status: str, why: str) -> list[Message]:
    """Never-tried queued messages due before `late_before` become `status` (held or missed)."""
    rows = con.execute(
        f"""update messages set status = ?, last_error = ? || strftime(due_at, '%Y-%m-%d %H:%M UTC')
            where channel = 'email' and status = 'queued' and attempts = 0 and due_at < ?
            returning {_SEND_COLS.replace('m.', '')}""",
        [status, why, late_before]).fetchall()
    return [_sent_message(r) for r in rows]


def get(con, id: int) -> Message:
    row = con.execute(f"select {_COLS} {_FROM} where m.id = ?", [id]).fetchone()
    if row is None:
        raise NotFound(f"No message {id}")
    return _message(row)


def for_customer(con, customer_id: int, limit: int = 200) -> list[Message]:
    rows = con.execute(
        f"select {_COLS} {_FROM} where m.customer_id = ? order by m.created_at desc, m.id desc limit ?",
        [customer_id, limit],
    ).fetchall()
    return [_message(r) for r in rows]


def recent(con, limit: int = 200, account_no: str | None = None) -> list[Message]:
    where, params = "", []
    if account_no:
        where, params = "where c.account_no = ?", [account_no]
    rows = con.execute(
        f"select {_COLS} {_FROM} {where} order by m.created_at desc, m.id desc limit ?", [*params, limit]
    ).fetchall()
    return [_message(r) for r in rows]


# a claim takes due emails only (never other channels, never batches awaiting approval),
# or emails whose sender's lease ran out
_CLAIMABLE = """
    select id from messages
    where channel = 'email'
      and ((status = 'queued' and due_at <= ?)
           or (status = 'sending' and lease_expires_at < ?))
    order by due_at, id limit ?"""


def _take(con, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[int]:
    """Lease up to `limit` claimable rows to owner; their ids. (Three statements in the claim's
    transaction instead of one UPDATE ... RETURNING: measured here, DuckDB's RETURNING made a
    claim of 2,000 rows cost ~30 ms; selecting the ids, updating and reading back ~10 ms.)"""
    ids = [r[0] for r in con.execute(_CLAIMABLE, [now, now, limit]).fetchall()]
    if ids:
        con.execute("update messages set status = 'sending', lease_owner = ?, lease_expires_at = ?, "
                    "attempts = attempts + 1 where id in (select unnest(?::bigint[]))", [owner, lease_until, ids])
    return ids


def claim(con, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[Message]:
    """Take up to `limit` due emails (or ones whose sender's lease ran out), oldest due first."""
    ids = _take(con, owner, now, lease_until, limit)
    if not ids:
        return []
    rows = con.execute(f"select {_SEND_COLS} from messages m where m.id in (select unnest(?::bigint[])) "
                       "order by m.due_at, m.id", [ids]).fetchall()
    return [_sent_message(r) for r in rows]


class Outgoing(NamedTuple):
    """A claimed email as the dispatcher sends it: only what the wire and the bookkeeping
    need, straight from the claim's row. The dispatcher's database thread shares the GIL
    with the sends, and a Message per row (times converted, tuples copied) cost it ~12 ms
    per 2,000 rows; this costs ~1 ms. Quacks like a Message for email.render,
    envelope_recipients and the outcome writer."""

    id: int
    message_id: str
    customer_id: int | None
    to_addrs: list[str]
    cc_addrs: list[str] | None       # None when empty (see _OUTGOING_COLS)
    bcc_addrs: list[str] | None
    subject: str
    body: str
    is_html: bool
    attempts: int
    created_by: str
    scheduled_utc: datetime          # naive UTC: the time chosen (or written), the Date header
    pending_rcpts: list[str] | None  # None: the whole envelope is still to go
    attachment_id: int | None        # a stored file sent with it (see store.batches.attachment_file)

    @property
    def scheduled_at(self) -> datetime:
        return self.scheduled_utc.replace(tzinfo=UTC)

    created_at = scheduled_at


# empty Cc/Bcc come back as None, not []: a list is an object the garbage collector tracks,
# and a claim's rows live long enough (until sent) to be promoted; fewer of them, fewer
# full collections (measured here: one of ~45 ms per 10,000 messages, with the GIL held)
_OUTGOING_COLS = ("id, message_id, customer_id, to_addrs, nullif(cc_addrs, []::varchar[]), "
                  "nullif(bcc_addrs, []::varchar[]), subject, body, is_html, attempts, created_by, "
                  "timezone('UTC', coalesce(scheduled_at, created_at)), pending_rcpts, attachment_id")


def claim_outgoing(con, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[Outgoing]:
    """claim(), for the dispatcher's hot path: the same rows, as Outgoing, oldest due first."""
    ids = _take(con, owner, now, lease_until, limit)
    if not ids:
        return []
    rows = con.execute(f"select {_OUTGOING_COLS} from messages where id in (select unnest(?::bigint[])) "
                       "order by due_at, id", [ids]).fetchall()
    new = tuple.__new__  # what Outgoing._make does, without its per-row Python call
    return [new(Outgoing, row) for row in rows]


def mark_sent_many(con, owner: str, rows: list[tuple[int, str, datetime]]) -> list[int]:
    """(id, reply, sent_at) for messages accepted in full; returns the ids whose lease we still
    held (a message whose lease was taken over is the new owner's to record)."""
    if not rows:
        return []
    return mark_sent_columns(con, owner, *(list(col) for col in zip(*rows)))


def mark_sent_columns(con, owner: str, ids: list[int], replies: list[str], times: list[datetime]) -> list[int]:
    """mark_sent_many with its rows given as columns (the dispatcher collects them so)."""
    # Three statements, not one UPDATE ... RETURNING: in DuckDB both RETURNING and writing
    # the list column pending_rcpts take a slow path (~45 ms per 2,000 rows against ~10 ms),
    # and pending_rcpts is null already on nearly every row sent in full.
    done = [r[0] for r in con.execute(
        "select id from messages where id in (select unnest(?::bigint[])) and lease_owner = ? order by id",
        [ids, owner]).fetchall()]
    if not done:
        return []
    con.execute("update messages set pending_rcpts = null "
                "where id in (select unnest(?::bigint[])) and lease_owner = ? and pending_rcpts is not null",
                [ids, owner])
    con.execute(
        """update messages set status = 'sent', server_reply = v.reply, sent_at = v.sent_time, last_error = null,
                  lease_owner = null, lease_expires_at = null
           from (select unnest(?::bigint[]) as id, unnest(?::varchar[]) as reply,
                        unnest(?::timestamptz[]) as sent_time) v
           where messages.id = v.id and messages.lease_owner = ?""",
        [ids, replies, times, owner])
    return done


def add_sent_notes(con, owner: str, ids: list[int], replies: list[str]) -> None:
    """The account note of each message about to be marked sent in full, in order:
    "Email '<subject>' sent to <its envelope> by <who> (accepted by the mail server: <reply>)".
    Call before mark_sent_many (it clears pending_rcpts); like it, skips rows whose lease
    the owner lost. Written by the database: for a claim of 2,000 the text building and the
    parameter passing cost the dispatcher's thread ~4 ms of GIL that the sends wait for."""
    if not ids:
        return
    con.execute(
        """insert into notes (customer_id, author, text)
           select m.customer_id, m.created_by,
                  'Email ''' || coalesce(nullif(m.subject, ''), '(no subject)') || ''' sent to '
                  || array_to_string(list_filter(m.rcpts, lambda a, i: list_position(m.rcpts, a) = i), ', ')
                  || ' by ' || m.created_by || ' (accepted by the mail server: ' || v.reply || ')'
           from (select unnest(?::bigint[]) as id, unnest(?::varchar[]) as reply,
                        unnest(range(1, ? + 1)) as n) v
           join (select id, customer_id, created_by, subject, lease_owner,
                        coalesce(pending_rcpts, list_concat(to_addrs, cc_addrs, bcc_addrs)) as rcpts
                 from messages) m on m.id = v.id
           where m.lease_owner = ? and m.customer_id is not null
           order by v.n""", [ids, replies, len(ids), owner])


def add_sent_attempts(con, ids: list[int], dispatcher: str) -> None:
    """The attempt rows of messages just marked sent, copied from the rows themselves
    (a bulk send passes only their ids, not 2,000 replies and times again)."""
    if ids:
        con.execute(
            "insert into message_attempts (message_id, attempt, dispatcher, finished_at, outcome, reply, refused) "
            "select m.id, m.attempts, ?, m.sent_at, 'sent', m.server_reply, [] from messages m "
            "join (select unnest(?::bigint[]) as id) v on v.id = m.id", [dispatcher, ids])


def mark_sent(con, id: int, owner: str, reply: str, sent_at: datetime) -> bool:
    """Record acceptance; False if our lease was lost to another dispatcher meanwhile."""
    return bool(mark_sent_many(con, owner, [(id, reply, sent_at)]))


def mark_retry(con, id: int, owner: str, error: str, retry_at: datetime,
               pending_rcpts: list[str] | None = None, reply: str | None = None) -> bool:
    """Back to queued for another attempt at retry_at; pending_rcpts narrows the envelope
    to who is still owed it (after a partial attempt)."""
    row = con.execute(
        "update messages set status = 'queued', last_error = ?, due_at = ?, "
        "pending_rcpts = coalesce(?, pending_rcpts), server_reply = coalesce(?, server_reply), "
        "lease_owner = null, lease_expires_at = null where id = ? and lease_owner = ? returning id",
        [error, retry_at, pending_rcpts, reply, id, owner],
    ).fetchone()
    return row is not None


def mark_failed(con, id: int, owner: str, error: str, reply: str | None = None,
                sent_at: datetime | None = None) -> bool:
    row = con.execute(
        "update messages set status = 'failed', last_error = ?, server_reply = coalesce(?, server_reply), "
        "sent_at = coalesce(?, sent_at), lease_owner = null, lease_expires_at = null "
        "where id = ? and lease_owner = ? returning id",
        [error, reply, sent_at, id, owner],
    ).fetchone()
    return row is not None


def release(con, owner: str, ids: list[int] | None = None, due_at: datetime | None = None) -> int:
    """Give back claimed messages not attempted (graceful shutdown, a throttled batch):
    the attempt they were claimed for did not happen."""
    rows = con.execute(
        "update messages set status = 'queued', lease_owner = null, lease_expires_at = null, "
        "due_at = coalesce(?, due_at), attempts = greatest(attempts - 1, 0) "
        "where status = 'sending' and lease_owner = ? and (? is null or list_contains(?, id)) returning id",
        [due_at, owner, ids, ids],
    ).fetchall()
    return len(rows)


def extend_lease(con, owner: str, until: datetime) -> None:
    con.execute("update messages set lease_expires_at = ? where status = 'sending' and lease_owner = ?",
                [until, owner])


def add_attempts(con, rows: list[tuple]) -> None:
    """(message_id, attempt, dispatcher, finished_at, outcome, reply, refused[list]) rows, at once."""
    if not rows:
        return
    cols = list(zip(*rows))
    con.execute(
        "insert into message_attempts (message_id, attempt, dispatcher, finished_at, outcome, reply, refused) "
        "select unnest(?::bigint[]), unnest(?::integer[]), unnest(?::varchar[]), unnest(?::timestamptz[]), "
        "unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[][])",
        [list(c) for c in cols])


def attempts(con, id: int) -> list[tuple]:
    """(attempt, dispatcher, finished_at, outcome, reply, refused) oldest first."""
    return con.execute(
        "select attempt, dispatcher, finished_at, outcome, reply, refused from message_attempts "
        "where message_id = ? order by finished_at, id", [id]).fetchall()


def add_recipient_outcomes(con, rows: list[tuple]) -> None:
    """(message_id, address, attempt, outcome, reply, at) rows."""
    if not rows:
        return
    cols = list(zip(*rows))
    con.execute(
        "insert into recipient_outcomes (message_id, address, attempt, outcome, reply, recorded_at) "
        "select unnest(?::bigint[]), unnest(?::varchar[]), unnest(?::integer[]), unnest(?::varchar[]), "
        "unnest(?::varchar[]), unnest(?::timestamptz[])", [list(c) for c in cols])


def recipient_outcomes(con, id: int) -> list[tuple]:
    """(address, attempt, outcome, reply, at), oldest first."""
    return con.execute(
        "select address, attempt, outcome, reply, recorded_at from recipient_outcomes where message_id = ? "
        "order by recorded_at, attempt", [id]).fetchall()


def undelivered(con, since: datetime | None = None, limit: int = 1000) -> list[tuple]:
    """Who did not get what, and why: (message id, account no, address, outcome, reason, subject, when)
    for every recipient refused for good at RCPT, and every recipient of a failed message."""
    return con.execute(
        """select * from (
             select r.message_id, c.account_no, r.address, 'refused', r.reply, m.subject, r.recorded_at
             from recipient_outcomes r join messages m on m.id = r.message_id
             left join customers c on c.id = m.customer_id
             where r.outcome = 'refused' and (?::timestamptz is null or r.recorded_at >= ?)
             union all
             select m.id, c.account_no,
                    unnest(coalesce(m.pending_rcpts, list_concat(m.to_addrs, m.cc_addrs, m.bcc_addrs))),
                    'failed', m.last_error, m.subject, m.due_at
             from messages m left join customers c on c.id = m.customer_id
             where m.status = 'failed' and (?::timestamptz is null or m.due_at >= ?))
           order by 7 desc, 1, 3 limit ?""", [since, since, since, since, limit]).fetchall()


def next_due(con) -> datetime | None:
    """When an email next becomes claimable: the earliest queued due time, or the earliest
    lease (another dispatcher's) running out."""
    return con.execute(
        "select least(min(due_at) filter (where status = 'queued'), "
        "             min(lease_expires_at) filter (where status = 'sending')) "
        "from messages where channel = 'email' and status in ('queued', 'sending')"
    ).fetchone()[0]



def dispatch_counts(con, now: datetime, hour_later: datetime, day_ago: datetime) -> tuple:
    """(queued, due within the hour, retrying, failed in the last day, held, next due) in one scan,
    over everything a dispatcher sends: emails, SMS and RoboCalls (letters are posted by people)."""
    return con.execute(
        """select count(*) filter (where status in ('queued', 'sending')),
                  count(*) filter (where status = 'queued' and due_at <= ?),
                  count(*) filter (where status = 'queued' and attempts > 0),
                  count(*) filter (where status = 'failed' and coalesce(sent_at, due_at) >= ?),
                  count(*) filter (where status = 'held'),
                  min(due_at) filter (where status = 'queued')
           from messages where channel in ('email', 'sms', 'robocall')
             and status in ('queued', 'sending', 'failed', 'held')""",
        [hour_later, day_ago]).fetchone()



def in_flight(con, owner: str, ids: list[int]) -> list[Message]:
    """Of these, the messages still being sent under owner's claim."""
    rows = con.execute(f"select {_SEND_COLS} from messages m where m.status = 'sending' and m.lease_owner = ? "
                       "and list_contains(?, m.id)", [owner, ids]).fetchall()
    return [_sent_message(r) for r in rows]
