"""SMS/robocall: the provider settings, and claiming and recording queued texts.

The provider row keeps a token reference (env:/secret:), never the token. Texts
are message rows with channel 'sms' or 'robocall'; they are claimed with a lease
exactly like emails (store/messages.claim) but by their own sender, so neither
takes the other's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..domain import SmsProvider

TEXT_CHANNELS = ("sms", "robocall")
_PROVIDER_COLS = ("id, name, kind, base_url, account_sid, token_ref, from_number, default_region, "
                  "verify_tls, active")


# -- the provider ---------------------------------------------------------------------------
def active_provider(con) -> SmsProvider | None:
    row = con.execute(f"select {_PROVIDER_COLS} from sms_providers where active order by id limit 1").fetchone()
    return SmsProvider(*row) if row else None


def get_provider(con, name: str) -> SmsProvider | None:
    row = con.execute(f"select {_PROVIDER_COLS} from sms_providers where name = ?", [name]).fetchone()
    return SmsProvider(*row) if row else None


def first_provider(con) -> SmsProvider | None:
    row = con.execute(f"select {_PROVIDER_COLS} from sms_providers order by active desc, id limit 1").fetchone()
    return SmsProvider(*row) if row else None


def put_provider(con, *, name: str, base_url: str, account_sid: str, token_ref: str | None,
                 from_number: str, default_region: str, verify_tls: bool, active: bool,
                 kind: str = "twilio") -> int:
    """Insert or update by name; an active provider makes every other one inactive."""
    if active:
        con.execute("update sms_providers set active = false where name <> ?", [name])
    values = [kind, base_url, account_sid, token_ref, from_number, default_region, verify_tls, active]
    existing = con.execute("select id from sms_providers where name = ?", [name]).fetchone()
    if existing:
        con.execute(
            "update sms_providers set kind = ?, base_url = ?, account_sid = ?, token_ref = ?, from_number = ?, "
            "default_region = ?, verify_tls = ?, active = ?, updated_at = current_timestamp where id = ?",
            [*values, existing[0]])
        return existing[0]
    return con.execute(
        "insert into sms_providers (kind, base_url, account_sid, token_ref, from_number, default_region, "
        "verify_tls, active, name) values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning id", [*values, name]).fetchone()[0]


# -- texts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueuedText:
    """A claimed SMS or robocall: what the sender needs, nothing more."""

    id: int
    channel: str                  # sms | robocall
    customer_id: int | None       # whose account gets the note
    to: str | None                # the E.164 number (to_addrs[0])
    subject: str
    body: str
    attempts: int                 # including the one it was claimed for
    created_by: str
    first_tried_at: datetime | None  # retries stop at this + the office's lifetime

    @property
    def label(self) -> str:
        return "SMS" if self.channel == "sms" else "RoboCall"


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None else None


def claim_texts(con, owner: str, now: datetime, lease_until: datetime, limit: int) -> list[QueuedText]:
    """Take up to `limit` due texts (or ones whose sender's lease ran out) in one statement."""
    rows = con.execute(
        """
        update messages set status = 'sending', lease_owner = ?, lease_expires_at = ?,
               attempts = attempts + 1
        where id in (
            select id from messages
            where channel in ('sms', 'robocall')
              and ((status = 'queued' and due_at <= ?)
                   or (status = 'sending' and lease_expires_at < ?))
            order by due_at, id limit ?)
        returning id, channel, customer_id, to_addrs[1], subject, body, attempts, created_by, due_at
        """,
        [owner, lease_until, now, now, limit]).fetchall()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    # the first attempt of each (a text claimed for its first try has none yet)
    first = dict(con.execute(
        "select message_id, timezone('UTC', min(finished_at)) from message_attempts "
        "where list_contains(?, message_id) group by message_id", [ids]).fetchall())
    texts = [QueuedText(r[0], r[1], r[2], r[3], r[4] or "", r[5] or "", r[6], r[7], _utc(first.get(r[0])))
             for r in rows]
    return sorted(texts, key=lambda t: t.id)


@dataclass(frozen=True)
class TextOutcome:
    """What happened to one claimed text, ready to be written."""

    text: QueuedText
    outcome: str                 # sent | retry | failed
    reply: str                   # the provider's words (or ours)
    finished_at: datetime
    attempt_outcome: str         # as message_attempts says: sent | temporary | permanent
    retry_at: datetime | None = None
    note: str | None = None      # for the customer's account


def record_outcomes(con, owner: str, outcomes: list[TextOutcome], author: str = "dispatcher") -> list[int]:
    """Write outcomes of texts we still hold the lease on (one taken over by another sender after
    our lease ran out is that sender's to record). Returns the ids written."""
    if not outcomes:
        return []
    held = {r[0] for r in con.execute(
        "select id from messages where list_contains(?, id) and status = 'sending' and lease_owner = ?",
        [[o.text.id for o in outcomes], owner]).fetchall()}
    mine = [o for o in outcomes if o.text.id in held]
    if not mine:
        return []
    sent = [o for o in mine if o.outcome == "sent"]
    if sent:
        con.execute(
            """update messages set status = 'sent', server_reply = v.reply, sent_at = v.at, last_error = null,
                      lease_owner = null, lease_expires_at = null
               from (select unnest(?::bigint[]) as id, unnest(?::varchar[]) as reply,
                            unnest(?::timestamptz[]) as at) v
               where messages.id = v.id""",
            [[o.text.id for o in sent], [o.reply for o in sent], [o.finished_at for o in sent]])
    retry = [o for o in mine if o.outcome == "retry"]
    if retry:
        con.execute(
            """update messages set status = 'queued', last_error = v.error, due_at = v.due,
                      lease_owner = null, lease_expires_at = null
               from (select unnest(?::bigint[]) as id, unnest(?::varchar[]) as error,
                            unnest(?::timestamptz[]) as due) v
               where messages.id = v.id""",
            [[o.text.id for o in retry], [o.reply for o in retry], [o.retry_at for o in retry]])
    failed = [o for o in mine if o.outcome == "failed"]
    if failed:
        con.execute(
            """update messages set status = 'failed', last_error = v.error,
                      lease_owner = null, lease_expires_at = null
               from (select unnest(?::bigint[]) as id, unnest(?::varchar[]) as error) v
               where messages.id = v.id""",
            [[o.text.id for o in failed], [o.reply for o in failed]])
    con.execute(
        "insert into message_attempts (message_id, attempt, dispatcher, finished_at, outcome, reply, refused) "
        "select unnest(?::bigint[]), unnest(?::integer[]), ?, unnest(?::timestamptz[]), unnest(?::varchar[]), "
        "unnest(?::varchar[]), []",
        [[o.text.id for o in mine], [o.text.attempts for o in mine], owner, [o.finished_at for o in mine],
         [o.attempt_outcome for o in mine], [o.reply for o in mine]])
    notes = [o for o in mine if o.note and o.text.customer_id is not None]
    if notes:
        con.execute("insert into notes (customer_id, author, text) "
                    "select unnest(?::bigint[]), ?, unnest(?::varchar[])",
                    [[o.text.customer_id for o in notes], author, [o.note for o in notes]])
    return [o.text.id for o in mine]


def release_texts(con, owner: str, ids: list[int] | None = None) -> int:
    """Give back claimed texts that were not attempted (a stop, a throttle): the attempt
    they were claimed for did not happen."""
    rows = con.execute(
        "update messages set status = 'queued', lease_owner = null, lease_expires_at = null, "
        "attempts = greatest(attempts - 1, 0) "
        "where channel in ('sms', 'robocall') and status = 'sending' and lease_owner = ? "
        "and (?::bigint[] is null or list_contains(?::bigint[], id)) returning id",
        [owner, ids, ids]).fetchall()
    return len(rows)


def extend_leases(con, owner: str, until: datetime) -> None:
    con.execute("update messages set lease_expires_at = ? where channel in ('sms', 'robocall') "
                "and status = 'sending' and lease_owner = ?", [until, owner])


def waiting(con, now: datetime) -> tuple[int, datetime | None]:
    """(texts due now, the earliest due time of any queued text)."""
    due, first = con.execute(
        "select count(*) filter (where due_at <= ?), timezone('UTC', min(due_at)) from messages "
        "where channel in ('sms', 'robocall') and status = 'queued'", [now]).fetchone()
    return due, _utc(first)
