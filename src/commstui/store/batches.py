"""Bulk batches: who a selection reaches, the batch row, its messages in chunks,
its failures, approval, and the two dashboards (unsent emails, unposted letters)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..domain import Attachment, Batch, BatchFailure
from .addresses import ACTIVE_CONTACT
from .db import NotFound


@dataclass
class Criteria:
    """Which customers a bulk send is about (the store's half of services.bulk.Selection)."""

    building_ids: Sequence[int] = ()
    customer_types: Sequence[str] = ()
    statuses: Sequence[str] = ()
    preferred: Sequence[str] = ()
    has_email: bool | None = None
    has_mobile: bool | None = None
    account_nos: Sequence[str] | None = None   # exact accounts (already validated)
    ids: Sequence[int] | None = None

    def where(self) -> tuple[str, list]:
        parts, params = ["true"], []
        for column, values in (("c.building_id", self.building_ids), ("c.customer_type", self.customer_types),
                               ("c.status", self.statuses), ("c.preferred_delivery", self.preferred)):
            if values:
                parts.append(f"{column} in (select unnest(?))")
                params.append(list(values))
        if self.has_email is not None:
            parts.append("(coalesce(c.email, '') <> '') = ?")
            params.append(self.has_email)
        if self.has_mobile is not None:
            parts.append("(coalesce(c.mobile, '') <> '') = ?")
            params.append(self.has_mobile)
        if self.account_nos is not None:
            parts.append("c.account_no in (select unnest(?::varchar[]))")
            params.append(list(self.account_nos))
        if self.ids is not None:
            parts.append("c.id in (select unnest(?::bigint[]))")
            params.append(list(self.ids))
        return " and ".join(parts), params


def count(con, criteria: Criteria) -> tuple[int, int, int]:
    """(customers, owners, contacts) the criteria reach: contacts flagged for notices plus the
    additional contacts of service addresses whose toggle is on."""
    where, params = criteria.where()
    row = con.execute(
        f"""with chosen as (select c.id, c.owner_id from customers c where {where})
        select (select count(*) from chosen),
               (select count(*) from chosen where owner_id is not null),
               (select count(*) from contacts k join chosen on chosen.id = k.customer_id
                where k.receives_notices and k.active)
             + (select count(*) from chosen join service_addresses a on a.customer_id = chosen.id
                join address_contacts k on k.address_id = a.id where {ACTIVE_CONTACT})""",
        params).fetchone()
    return row[0], row[1], row[2]


def lookup_accounts(con, tokens: Sequence[str]) -> dict[str, tuple[str, str]]:
    """upper(account) -> (account_no as stored, status) for the tokens that exist."""
    rows = con.execute(
        "select upper(account_no), account_no, status from customers "
        "where upper(account_no) in (select upper(unnest(?::varchar[])))", [list(tokens)]).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


# one row per possible recipient: (kind, account_no, linked_account_no, name, preferred,
# email, mobile, sms_opt_in, address lines..., customer_id for the note, contact_id).
# Contacts are the customer's contacts flagged for notices, then the additional contacts
# of their service addresses that receive now (linked to the customer's own account; their
# postal address is the service address; contact_id stays null: it names a `contacts` row).
_PEOPLE = """
with chosen as (select c.* from customers c where {where})
select 'customer', c.account_no, c.account_no, c.name, c.preferred_delivery, c.email, c.mobile,
       c.sms_opt_in, c.address_line1, c.address_line2, c.city, c.state, c.postcode, c.id, null::bigint,
       c.account_no as k1, 0 as k2, 0 as k3
from chosen c
{owners}
{contacts}
order by k1, k2, k3
"""
_OWNERS = """
union all
select 'owner', c.account_no, o.account_no, o.name, o.preferred_delivery, o.email, o.mobile,
       o.sms_opt_in, o.address_line1, o.address_line2, o.city, o.state, o.postcode, o.id, null,
       c.account_no, 1, o.id
from chosen c join customers o on o.id = c.owner_id
"""
_CONTACTS = """
union all
select 'contact', c.account_no, null, k.name, 'email', k.email, k.mobile,
       k.sms_opt_in, c.address_line1, c.address_line2, c.city, c.state, c.postcode, c.id, k.id,
       c.account_no, 2, k.id
from chosen c join contacts k on k.customer_id = c.id
where k.receives_notices and k.active
union all
select 'contact', c.account_no, c.account_no, k.name, 'email', k.email, k.phone,
       false, a.address_line1, a.address_line2, a.city, a.state, a.postcode, c.id, null,
       c.account_no, 3, k.id
from chosen c join service_addresses a on a.customer_id = c.id join address_contacts k on k.address_id = a.id
where {active}
"""


def people(con, criteria: Criteria, owners: bool, contacts: bool) -> list[tuple]:
    where, params = criteria.where()
    sql = _PEOPLE.format(where=where, owners=_OWNERS if owners else "",
                         contacts=_CONTACTS.format(active=ACTIVE_CONTACT) if contacts else "")
    return [r[:15] for r in con.execute(sql, params).fetchall()]


# what a template may use, for a set of (customer at the location, recipient) pairs
_MERGE = """
select w.i, c.account_no, c.name, c.customer_type, c.status, coalesce(c.email, ''), coalesce(c.mobile, ''),
       c.preferred_delivery, coalesce(b.code, ''), coalesce(b.name, ''), coalesce(br.name, ''),
       coalesce(b.address, ''), coalesce(c.address_line1, ''), coalesce(c.address_line2, ''),
       coalesce(c.city, ''), coalesce(c.state, ''), coalesce(c.postcode, ''),
       coalesce(co.code, ''), coalesce(co.name, '')
from (select unnest(?::bigint[]) as i, unnest(?::varchar[]) as acc) w
join customers c on c.account_no = w.acc
left join buildings b on b.id = c.building_id
left join brands br on br.id = b.brand_id
left join companies co on co.id = c.company_id
"""
MERGE_KEYS = ("account_no", "name", "customer_type", "status", "email", "mobile", "preferred_delivery",
              "building_code", "building_name", "brand", "building_address", "address_line1",
              "address_line2", "city", "state", "postcode", "company_code", "company_name")


def merge_rows(con, account_nos: Sequence[str]) -> list[dict]:
    """The customer/building/company fields for each account (in the order given; repeats allowed)."""
    rows = con.execute(_MERGE, [list(range(len(account_nos))), list(account_nos)]).fetchall()
    found: list[dict | None] = [None] * len(account_nos)
    for row in rows:
        found[row[0]] = dict(zip(MERGE_KEYS, row[1:]))
    missing = [account_nos[i] for i, r in enumerate(found) if r is None]
    if missing:
        raise NotFound(f"No customer with account number {missing[0]!r}")
    return found  # type: ignore[return-value]


# -- attachments ------------------------------------------------------------------
def add_attachment(con, *, filename: str, content: bytes, sha256: str, pages: int | None,
                   created_by: str, content_type: str = "application/pdf") -> int:
    return con.execute(
        "insert into attachments (filename, content_type, size, sha256, pages, content, created_by) "
        "values (?, ?, ?, ?, ?, ?, ?) returning id",
        [filename, content_type, len(content), sha256, pages, content, created_by]).fetchone()[0]


def attachment(con, id: int) -> Attachment:
    row = con.execute("select id, filename, size, sha256, pages, content_type from attachments where id = ?",
                      [id]).fetchone()
    if row is None:
        raise NotFound(f"No attachment {id}")
    return Attachment(*row)


def attachment_files(con, ids) -> dict[int, tuple[str, str, bytes]]:
    """id -> (file name, content type, bytes) for the dispatcher to attach."""
    rows = con.execute("select id, filename, content_type, content from attachments "
                       "where id in (select unnest(?::bigint[]))", [list(ids)]).fetchall()
    return {r[0]: (r[1], r[2], bytes(r[3])) for r in rows}


def attachment_content(con, id: int) -> bytes:
    row = con.execute("select content from attachments where id = ?", [id]).fetchone()
    if row is None:
        raise NotFound(f"No attachment {id}")
    return bytes(row[0])


# -- batches ------------------------------------------------------------------------
_BATCH_COLS = ("b.id, b.title, b.status, b.channel_mode, b.created_by, b.created_at, b.template_name, "
               "b.subject, b.text_body, b.html_body, b.letter_body, b.sms_body, b.attachment_id, "
               "b.generated_at, b.recipients, b.emails, b.letters, b.sms, b.robocalls, b.not_generated, "
               "b.decided_by, b.decided_at, b.decision_comment, b.error, b.selection")


def _batch(con, row) -> Batch:
    values = list(row)
    attachment_id = values.pop(12)
    found = attachment(con, attachment_id) if attachment_id is not None else None
    (bid, title, status, mode, by, at, template, subject, text, html, letter, sms, generated_at,
     recipients, emails, letters, sms_n, robocalls, not_generated, decided_by, decided_at, comment,
     error, selection) = values
    return Batch(id=bid, title=title, status=status, channel_mode=mode, created_by=by, created_at=at,
                 template_name=template, subject=subject, text_body=text, html_body=html,
                 letter_body=letter, sms_body=sms, attachment=found, generated_at=generated_at,
                 recipients=recipients, emails=emails, letters=letters, sms=sms_n, robocalls=robocalls,
                 not_generated=not_generated, decided_by=decided_by, decided_at=decided_at,
                 decision_comment=comment, error=error, selection=selection)


def create(con, *, title: str, channel_mode: str, selection: dict, template_name: str | None,
           parts: dict[str, str], attachment_id: int | None, created_by: str, recipients: int) -> int:
    return con.execute(
        "insert into batches (title, channel_mode, selection, template_name, subject, text_body, html_body, "
        "letter_body, sms_body, attachment_id, created_by, recipients) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning id",
        [title, channel_mode, json.dumps(selection), template_name, parts.get("subject", ""),
         parts.get("text_body", ""), parts.get("html_body", ""), parts.get("letter_body", ""),
         parts.get("sms_body", ""), attachment_id, created_by, recipients]).fetchone()[0]


def get(con, id: int) -> Batch:
    row = con.execute(f"select {_BATCH_COLS} from batches b where b.id = ?", [id]).fetchone()
    if row is None:
        raise NotFound(f"No batch {id}")
    return _batch(con, row)


def list_batches(con, status: str | None = None, limit: int = 200) -> list[Batch]:
    where, params = ("where b.status = ?", [status]) if status else ("", [])
    rows = con.execute(f"select {_BATCH_COLS} from batches b {where} order by b.id desc limit ?",
                       [*params, limit]).fetchall()
    return [_batch(con, r) for r in rows]


def finish(con, id: int, *, status: str, counts: dict[str, int], not_generated: int,
           error: str | None = None) -> None:
    con.execute(
        "update batches set status = ?, generated_at = current_timestamp, emails = ?, letters = ?, sms = ?, "
        "robocalls = ?, not_generated = ?, error = ? where id = ?",
        [status, counts.get("email", 0), counts.get("letter", 0), counts.get("sms", 0),
         counts.get("robocall", 0), not_generated, error, id])


def decide(con, id: int, *, status: str, by: str, comment: str) -> None:
    con.execute("update batches set status = ?, decided_by = ?, decided_at = current_timestamp, "
                "decision_comment = ? where id = ?", [status, by, comment, id])


def set_status(con, id: int, status: str, error: str | None = None) -> None:
    con.execute("update batches set status = ?, error = coalesce(?, error) where id = ?", [status, error, id])


@dataclass
class MessageRows:
    """Columns of a chunk of batch messages, filled row by row and inserted in one statement."""

    message_id: list[str] = field(default_factory=list)
    customer_id: list[int] = field(default_factory=list)
    channel: list[str] = field(default_factory=list)
    to_addrs: list[list[str]] = field(default_factory=list)
    subject: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    is_html: list[bool] = field(default_factory=list)
    recipient_kind: list[str] = field(default_factory=list)
    recipient_name: list[str] = field(default_factory=list)
    contact_id: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.message_id)


def add_messages(con, batch_id: int, rows: MessageRows, *, created_by: str, attachment_id: int | None,
                 now: datetime) -> list[int]:
    """Insert a chunk as 'pending' (nothing goes before approval); returns their ids in order."""
    if not len(rows):
        return []
    found = con.execute(
        """insert into messages (message_id, customer_id, channel, to_addrs, subject, body, is_html, status,
               created_by, created_at, due_at, scheduled_at, batch_id, attachment_id, recipient_kind,
               recipient_name, contact_id)
           select message_id, customer_id, channel, to_addrs, subject, body, is_html, 'pending', ?, ?, ?, ?, ?, ?,
                  recipient_kind, recipient_name, contact_id
           from (select unnest(?::varchar[]) as message_id, unnest(?::bigint[]) as customer_id,
                        unnest(?::varchar[]) as channel, unnest(?::varchar[][]) as to_addrs,
                        unnest(?::varchar[]) as subject, unnest(?::varchar[]) as body,
                        unnest(?::boolean[]) as is_html, unnest(?::varchar[]) as recipient_kind,
                        unnest(?::varchar[]) as recipient_name, unnest(?::bigint[]) as contact_id)
           returning id""",
        [created_by, now, now, now, batch_id, attachment_id, rows.message_id, rows.customer_id, rows.channel,
         rows.to_addrs, rows.subject, rows.body, rows.is_html, rows.recipient_kind, rows.recipient_name,
         rows.contact_id]).fetchall()
    return [r[0] for r in found]


def add_letters(con, rows: Sequence[tuple[int, str, int]]) -> None:
    """(message id, file name in the letters folder, pages) for generated letters."""
    if rows:
        ids, files, pages = (list(c) for c in zip(*rows))
        con.execute("insert into letters (message_id, file, pages) "
                    "select unnest(?::bigint[]), unnest(?::varchar[]), unnest(?::integer[])", [ids, files, pages])


def add_failures(con, batch_id: int, failures: Sequence[BatchFailure]) -> None:
    if not failures:
        return
    cols = list(zip(*[(f.account_no, f.linked_account_no, f.kind, f.name, f.channel, f.destination, f.reason)
                      for f in failures]))
    con.execute(
        "insert into batch_failures select ?, unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[]), "
        "unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[])",
        [batch_id, *[list(c) for c in cols]])


def release(con, batch_id: int, now: datetime) -> int:
    """Approval: the batch's messages become due now."""
    return con.execute("update messages set status = 'queued', due_at = ?, scheduled_at = ? "
                       "where batch_id = ? and status = 'pending' returning id",
                       [now, now, batch_id]).fetchall().__len__()


def drop_pending(con, batch_id: int, why: str) -> int:
    """Rejected or cancelled: its messages stay in the log as cancelled, never sent."""
    return len(con.execute("update messages set status = 'cancelled', last_error = ? "
                           "where batch_id = ? and status = 'pending' returning id", [why, batch_id]).fetchall())


_SUCCEEDED = "('sent', 'posted')"
_WAITING = "('pending', 'queued', 'sending', 'held')"


def outcome_counts(con, batch_id: int) -> tuple[int, int, int, int]:
    """(succeeded, waiting, failed, cancelled messages) of a batch."""
    row = con.execute(
        f"""select count(*) filter (where status in {_SUCCEEDED}),
                   count(*) filter (where status in {_WAITING}),
                   count(*) filter (where status in ('failed', 'missed')),
                   count(*) filter (where status = 'cancelled')
            from messages where batch_id = ?""", [batch_id]).fetchone()
    return row[0], row[1], row[2], row[3]


def failures(con, batch_id: int, limit: int = 10_000) -> list[BatchFailure]:
    """Recipients nothing was generated for, then messages that failed, with the reason."""
    rows = con.execute(
        """select account_no, linked_account_no, kind, name, channel, destination, reason, null
           from batch_failures where batch_id = ?
           union all
           select c.account_no, case when m.recipient_kind = 'contact' then null else c.account_no end,
                  coalesce(m.recipient_kind, 'customer'), coalesce(m.recipient_name, c.name), m.channel,
                  array_to_string(m.to_addrs, ', '), coalesce(m.last_error, m.server_reply, 'failed'), m.id
           from messages m left join customers c on c.id = m.customer_id
           where m.batch_id = ? and m.status in ('failed', 'missed')
           limit ?""", [batch_id, batch_id, limit]).fetchall()
    return [BatchFailure(*r) for r in rows]


def sample_messages(con, batch_id: int, limit: int = 3) -> list[tuple]:
    """A few generated messages per channel for the approver: (channel, to, subject, body, is_html)."""
    return con.execute(
        """select channel, to_addrs, subject, body, is_html from (
             select *, row_number() over (partition by channel order by id) as n
             from messages where batch_id = ?) where n <= ? order by channel, id""",
        [batch_id, limit]).fetchall()


# -- dashboards ---------------------------------------------------------------------
def unsent_emails(con, batch_id: int | None, limit: int) -> list[tuple]:
    """Batch emails not (yet) accepted: queued, retrying, sending or failed; newest first."""
    where, params = ("and m.batch_id = ?", [batch_id]) if batch_id is not None else ("", [])
    return con.execute(
        f"""select m.id, m.batch_id, c.account_no, coalesce(m.recipient_name, c.name),
                   array_to_string(m.to_addrs, ', '), m.status, m.attempts, m.due_at,
                   coalesce(m.last_error, m.server_reply)
            from messages m left join customers c on c.id = m.customer_id
            where m.channel = 'email' and m.batch_id is not null
              and m.status in ('queued', 'sending', 'failed', 'held') {where}
            order by m.status = 'failed' desc, m.id desc limit ?""", [*params, limit]).fetchall()


def unposted_letters(con, batch_id: int | None, limit: int) -> list[tuple]:
    where, params = ("and m.batch_id = ?", [batch_id]) if batch_id is not None else ("", [])
    return con.execute(
        f"""select m.id, m.batch_id, c.account_no, coalesce(m.recipient_name, c.name),
                   array_to_string(m.to_addrs[2:], ', '), l.pages, m.created_at, coalesce(a.pages, 0)
            from messages m join letters l on l.message_id = m.id
            left join customers c on c.id = m.customer_id
            left join attachments a on a.id = m.attachment_id
            where m.channel = 'letter' and m.status = 'queued' {where}
            order by m.batch_id, m.id limit ?""", [*params, limit]).fetchall()


def letter_files(con, ids: Sequence[int]) -> list[tuple[int, str, int | None]]:
    """(message id, letter file name, attachment id) in the order asked for."""
    rows = con.execute(
        "select m.id, l.file, m.attachment_id from messages m join letters l on l.message_id = m.id "
        "where m.id in (select unnest(?::bigint[]))", [list(ids)]).fetchall()
    by_id = {r[0]: r for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def mark_posted(con, ids: Sequence[int], by: str, now: datetime) -> list[tuple[int, int | None, str]]:
    """Letters still unposted among ids become posted; returns (id, customer id, first address line)."""
    return con.execute(
        "update messages set status = 'posted', sent_at = ?, posted_by = ? "
        "where id in (select unnest(?::bigint[])) and channel = 'letter' and status = 'queued' "
        "returning id, customer_id, subject", [now, by, list(ids)]).fetchall()


def retry_now(con, ids: Sequence[int], now: datetime) -> int:
    """Failed or waiting batch emails are due again now (a fresh lifetime starts from here)."""
    return len(con.execute(
        "update messages set status = 'queued', due_at = ?, last_error = null, "
        # a manual retry starts a fresh retry lifetime (it is measured from scheduled_at)
        "scheduled_at = case when status = 'failed' then ? else scheduled_at end "
        "where id in (select unnest(?::bigint[])) and channel = 'email' and status in ('failed', 'queued', 'held') "
        "returning id", [now, now, list(ids)]).fetchall())


def cancel_unsent(con, ids: Sequence[int], why: str) -> int:
    return len(con.execute(
        "update messages set status = 'cancelled', last_error = ? "
        "where id in (select unnest(?::bigint[])) and status in ('queued', 'held', 'failed', 'pending') "
        "returning id", [why, list(ids)]).fetchall())


def set_attachment(con, message_id: int, attachment_id: int) -> None:
    con.execute("update messages set attachment_id = ? where id = ?", [attachment_id, message_id])
