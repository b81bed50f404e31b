"""A generated batch from then on: approval (nothing goes before it), results with the
error report, and the two dashboards — emails not yet accepted, letters not yet posted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..delivery.email import html_to_text
from ..domain import Batch, BatchResults, BatchStatus, Channel, Permission, RecipientKind, User
from ..store import batches as store
from ..store import letter_files
from ..store import notes as notes_store
from .context import Context, require, require_any
from .errors import PermissionDenied, ServiceError, ValidationError


def list_batches(ctx: Context, user: User, status: str | None = None, limit: int = 200) -> list[Batch]:
    require_any(user, Permission.BULK_SEND, Permission.BULK_APPROVE)
    with ctx.db.connect() as con:
        return store.list_batches(con, status, limit)


def get_batch(ctx: Context, user: User, batch_id: int) -> Batch:
    require_any(user, Permission.BULK_SEND, Permission.BULK_APPROVE)
    with ctx.db.connect() as con:
        return store.get(con, batch_id)


# -- approval -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    channel: str
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class ApprovalSummary:
    batch: Batch
    samples: list[Sample]
    failures: int
    may_decide: bool
    why_not: str | None      # why this user may not approve it


def _refusal(user: User, batch: Batch) -> ServiceError | None:
    """Why this user may not decide this batch now (the error to raise), or None."""
    if not user.can(Permission.BULK_APPROVE):
        return PermissionDenied(f"{user.username} is not allowed to approve bulk sends (role bulkApprove).")
    if batch.created_by == user.username and not user.is_admin:
        return PermissionDenied("You generated this batch: another approver must release it (administrators "
                                "may approve their own).")
    if batch.status != BatchStatus.PENDING:
        return ServiceError(f"Batch {batch.id} is {BatchStatus(batch.status).label}, not pending approval.")
    return None


def approval_summary(ctx: Context, user: User, batch_id: int) -> ApprovalSummary:
    require_any(user, Permission.BULK_SEND, Permission.BULK_APPROVE)
    with ctx.db.connect() as con:
        batch = store.get(con, batch_id)
        # what the approver reads is what a text-only mail reader would show
        samples = [Sample(channel, ", ".join(to or ()), subject, html_to_text(body) if is_html else body)
                   for channel, to, subject, body, is_html in store.sample_messages(con, batch_id)]
        failed = len(store.failures(con, batch_id))
    refusal = _refusal(user, batch)
    return ApprovalSummary(batch, samples, failed, refusal is None, str(refusal) if refusal else None)


def _decide(ctx: Context, user: User, batch_id: int, approve: bool, comment: str) -> Batch:
    require(user, Permission.BULK_APPROVE)
    comment = " ".join((comment or "").split())
    if not approve and not comment:
        raise ValidationError("Say why the batch is rejected: the sender reads the comment.", "comment")

    def decide(con):
        batch = store.get(con, batch_id)
        refusal = _refusal(user, batch)
        if refusal is not None:
            raise refusal
        now = datetime.now(UTC)
        if approve:
            store.decide(con, batch_id, status=BatchStatus.APPROVED, by=user.username, comment=comment)
            store.release(con, batch_id, now)
        else:
            store.decide(con, batch_id, status=BatchStatus.REJECTED, by=user.username, comment=comment)
            store.drop_pending(con, batch_id, f"batch rejected by {user.username}: {comment}")
        return store.get(con, batch_id)

    batch = ctx.db.run(decide)
    if batch.status == BatchStatus.REJECTED:
        letter_files.remove_batch(ctx.db.path, batch_id)  # never printed
    return batch


def approve(ctx: Context, user: User, batch_id: int, comment: str = "") -> Batch:
    """Release a pending batch: its emails and texts are due now, its letters wait to be posted."""
    return _decide(ctx, user, batch_id, True, comment)


def reject(ctx: Context, user: User, batch_id: int, comment: str) -> Batch:
    """Nothing of the batch is sent; its messages stay in the log as cancelled."""
    return _decide(ctx, user, batch_id, False, comment)


# -- results --------------------------------------------------------------------------------
def results(ctx: Context, user: User, batch_id: int) -> BatchResults:
    require_any(user, Permission.BULK_SEND, Permission.BULK_APPROVE)
    with ctx.db.connect() as con:
        batch = store.get(con, batch_id)
        succeeded, waiting, _failed, cancelled = store.outcome_counts(con, batch_id)
        failures = store.failures(con, batch_id)
    return BatchResults(batch, succeeded, waiting, len(failures), tuple(failures), cancelled)


def error_report(ctx: Context, user: User, batch_id: int, out: Path) -> Path:
    """Print Error Report: every recipient who got nothing, and why, as a PDF."""
    from ..delivery.pdfs import error_report as report_pdf

    found = results(ctx, user, batch_id)
    batch = found.batch
    rows = [[f.account_no or "", f.linked_account_no or "", RecipientKind(f.kind).label, f.name,
             Channel(f.channel).value, f.destination or "", f.reason] for f in found.failures]
    subtitle = [f"Batch {batch.id}: {batch.title}",
                f"Generated by {batch.created_by}; {BatchStatus(batch.status).label}",
                f"Succeeded {found.succeeded:,} · waiting {found.waiting:,} · failed {found.failed:,}"]
    data = report_pdf("Bulk send error report", subtitle,
                      ["Account No", "Linked Account No", "Type", "Name", "Channel", "Destination", "Error"], rows)
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


# -- Undelivered Emails ------------------------------------------------------------------------
@dataclass(frozen=True)
class UnsentEmail:
    message_id: int
    batch_id: int
    account_no: str | None
    name: str
    to: str
    state: str              # queued | retrying | sending | failed | needs attention
    attempts: int
    due_at: datetime
    reason: str | None


def _state(status: str, attempts: int) -> str:
    if status == "queued":
        return "retrying" if attempts else "queued"
    return {"held": "needs attention"}.get(status, status)


def undelivered_emails(ctx: Context, user: User, batch_id: int | None = None, limit: int = 2000) -> list[UnsentEmail]:
    require(user, Permission.BULK_SEND)
    with ctx.db.connect() as con:
        rows = store.unsent_emails(con, batch_id, limit)
    return [UnsentEmail(mid, bid, acc, name or "", to or "", _state(status, attempts), attempts, due, reason)
            for mid, bid, acc, name, to, status, attempts, due, reason in rows]


def retry_emails(ctx: Context, user: User, message_ids: Sequence[int]) -> int:
    """Due again now (a failed one starts a fresh retry lifetime)."""
    require(user, Permission.BULK_SEND)
    return ctx.db.run(lambda con: store.retry_now(con, message_ids, datetime.now(UTC)))


def cancel_emails(ctx: Context, user: User, message_ids: Sequence[int]) -> int:
    require(user, Permission.BULK_SEND)
    return ctx.db.run(lambda con: store.cancel_unsent(con, message_ids, f"cancelled by {user.username}"))


# -- Undelivered Posted Mail --------------------------------------------------------------------
@dataclass(frozen=True)
class UnpostedLetter:
    message_id: int
    batch_id: int
    account_no: str | None
    name: str
    address: str
    pages: int
    created_at: datetime
    attachment_pages: int = 0     # printed after the letter

    @property
    def printed_pages(self) -> int:
        return self.pages + self.attachment_pages


def unposted_letters(ctx: Context, user: User, batch_id: int | None = None,
                     limit: int = 5000) -> list[UnpostedLetter]:
    require(user, Permission.BULK_SEND)
    with ctx.db.connect() as con:
        rows = store.unposted_letters(con, batch_id, limit)
    return [UnpostedLetter(mid, bid, acc, name or "", address or "", pages, at, extra)
            for mid, bid, acc, name, address, pages, at, extra in rows]


def print_letters(ctx: Context, user: User, message_ids: Sequence[int], out: Path) -> tuple[Path, int]:
    """One PDF of the letters, in the order given, each followed by its batch's attachment."""
    from ..delivery.pdfs import write_print_batch

    require(user, Permission.BULK_SEND)
    if not message_ids:
        raise ValidationError("Select the letters to print first.", "letters")
    with ctx.db.connect() as con:
        letters = store.letter_files(con, message_ids)
        contents = {aid: store.attachment_content(con, aid) for aid in {a for _, _, a in letters if a is not None}}
    if not letters:
        raise ValidationError("None of the selected letters exists any more.", "letters")
    attachments = {aid for _, _, aid in letters}
    if len(attachments) > 1:
        raise ValidationError("The selected letters come from batches with different attachments: print one "
                              "batch at a time (filter by batch).", "letters")
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_print_batch(out, (letter_files.read(ctx.db.path, name) for _, name, _ in letters),
                      contents.get(attachments.pop()))
    return out, len(letters)


def mark_posted(ctx: Context, user: User, message_ids: Sequence[int]) -> int:
    """Letters go from unposted to posted; each posted letter leaves a note on the account."""
    require(user, Permission.BULK_SEND)

    def post(con):
        done = store.mark_posted(con, message_ids, user.username, datetime.now(UTC))
        notes_store.add_many(con, [(cid, user.username, f"Letter posted: {subject}")
                                   for _, cid, subject in done if cid is not None])
        return len(done)

    return ctx.db.run(post)
