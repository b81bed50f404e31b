"""The dispatcher: claim due messages with a lease, send them, record what happened.

One runs inside every TUI and one can run headless (`commstui dispatch`). The
claim is a single UPDATE so two dispatchers never take the same row; a crashed
dispatcher's lease runs out and its rows are taken again, keeping their
Message-ID (at-least-once, de-duplicable by the receiver).

Shape (after procrastinate's worker): a feeder claims batches into a queue, one
worker per SMTP connection sends (connections are reused), and a recorder writes
outcomes in batches. All database work runs on one thread of its own, so sending
never waits for the file and the file is held only for short transactions.
Before each claim, the same transaction applies the missed-run policy, queues the
next occurrence of recurring series, and reads the office settings and the pause flag.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from time import monotonic

from .. import secrets
from ..config import Settings
from ..domain import MailServer, Message, MessageStatus, MissedPolicy, OfficeSettings
from ..store import batches as batches_store
from ..store import mail_servers as mail_store
from ..store import messages as messages_store
from ..store import notes as notes_store
from ..store import office as office_store
from ..store import series as series_store
from ..store import sms as sms_store
from ..store.db import Database, StoreError
from . import journal as journals
from . import schedules
from .email import (THROTTLE_CODES, FileAttachment, Outcome, SendResult, deliver, envelope_recipients, hang_up,
                    new_message_id, render, smtp_client)

log = logging.getLogger(__name__)

# Outcomes are journaled at once and written to the database in batches, mostly in the
# same transaction as the next claim: every transaction opens the file (~20-40 ms), so
# few big ones keep the bookkeeping off the critical path.
FLUSH_EVERY = 1.0         # seconds between outcome writes when no claim carries them
FLUSH_AT = 2              # ...or as soon as this many claims' worth of outcomes wait
HEARTBEAT_EVERY = 30.0    # seconds between "still here" rows in the dispatchers table
# An idle look opens the file, ~20 ms of CPU (~70 ms after a few idle seconds, caches cold);
# when the file has not changed since our last look and nothing fell due, the idle re-check
# skips it, but looks anyway this often (the heartbeat, and a change a coarse mtime hid).
LOOK_ANYWAY_EVERY = HEARTBEAT_EVERY - 5.0
THROTTLE_MAX = 600.0      # longest pause after repeated "slow down" replies
SKIP_SCAN_LIMIT = 100_000  # bound on counting passed-over occurrences of a series


def utcnow() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=1)
def default_zone() -> str:
    return schedules.system_zone_name()


def retry_delay(attempts: int, backoff: list[int] | tuple[int, ...]) -> timedelta:
    return timedelta(seconds=backoff[min(max(attempts - 1, 0), len(backoff) - 1)])


@dataclass
class Claim:
    server: MailServer | None
    messages: list[messages_store.Outgoing]
    password: str | None = None
    error: str | None = None
    paused_by: str | None = None
    next_due: datetime | None = None
    office: OfficeSettings | None = None
    texts: tuple[int, datetime | None] | None = None  # for on_texts: due now, earliest queued


class Dispatcher:
    def __init__(self, db: Database, settings: Settings, owner: str | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 on_change: Callable[[list[int]], None] | None = None, kind: str = "tui",
                 on_texts: Callable[[int, datetime | None], None] | None = None) -> None:
        # one DuckDB thread: its default of one per core let each mid-drain transaction take
        # a core from the event loop that sends (bench (b): ~4% of throughput)
        self.db = db.single_threaded()
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.kind = kind
        self.clock = clock
        self.on_change = on_change
        # each look at the file also counts the texts waiting and tells the text sender
        # (TextSender.notice): every open costs ~20 ms of CPU, so idle processes share one
        self.on_texts = on_texts
        self.started_at = clock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._low = asyncio.Event()        # the send queue needs topping up
        self._flush_now = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dispatcher-db")
        self._results: list[tuple[messages_store.Outgoing, SendResult, datetime]] = []
        self._oldest_result: float | None = None  # monotonic time the oldest unwritten outcome came
        self._attachments: dict[int, FileAttachment] = {}
        self._unsent: list[int] = []
        self._last_heartbeat: datetime | None = None
        self._next_slot = 0.0              # rate limit: loop time of the next allowed send
        self._cap: int | None = None       # connections allowed after a "slow down"
        self._throttled_until: datetime | None = None
        self._throttle_pause = settings.throttle_pause
        self._office: OfficeSettings | None = None
        self._journal: journals.Journal | None = None
        # journal segments whose outcomes are not committed yet: each write removes only its
        # own (a flush and a claim can be writing different outcomes at the same time)
        self._uncommitted: set = set()
        self._carried: list = []            # segments of outcomes put back after a failed write
        self._lease_renewed: datetime | None = None
        self._next_claim: Claim | None = None  # made with the last outcomes of the batch before
        self._said_goodbye = False           # claims released, heartbeat row gone
        self.sent = 0
        self.failed = 0
        self._tx_sent = self._tx_failed = 0
        self.last_error: str | None = None
        self.paused_by: str | None = None
        self.next_due: datetime | None = None
        self._seen: tuple | None = None      # the file as our last look left it (file_signature)
        self._looked_at: datetime | None = None  # the clock time that look used

    # -- control -------------------------------------------------------------
    def wake(self) -> None:
        """Look for work now (e.g. right after an operator pressed Send)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the sends in flight, give back the rest of the claim, then return from run()."""
        self._stop.set()
        self._wake.set()
        self._low.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def throttled(self) -> bool:
        return self._throttled_until is not None and self.clock() < self._throttled_until

    async def run(self) -> None:
        """Until stop(): send what is due, then sleep until the next due time, a wake(),
        or the re-check interval (work queued by other processes)."""
        woken = True
        try:
            while not self._stop.is_set():
                # clear before looking, not after: a wake() or stop() that arrives while
                # we look must end the wait below instead of being lost
                self._wake.clear()
                handled = 0
                if woken or not await self._nothing_new():
                    try:
                        handled = await self.run_batch()
                    except StoreError as exc:
                        # busy file or similar: note it and try again next round
                        self.last_error = str(exc)
                        log.warning("dispatcher: %s", exc)
                        self._seen = None  # the look did not happen: the next tick looks again
                if handled:
                    woken = True  # more may be due: look again at once
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_seconds())
                    woken = True
                except TimeoutError:
                    woken = False
        finally:
            await self._shutdown()

    async def run_once(self) -> int:
        """Send everything due now, then return how many messages were handled."""
        total = 0
        try:
            while not self._stop.is_set():
                handled = await self.run_batch(finishing=True)
                if not handled:
                    break
                total += handled
        finally:
            await self._shutdown()
        return total

    async def _nothing_new(self) -> bool:
        """An idle re-check need not open the file: we looked recently, nothing we know of
        fell due or stopped holding us back since (next_due counts other dispatchers' leases
        running out; a throttle's end), and nobody wrote to the file."""
        looked, now = self._looked_at, self.clock()
        if (self._next_claim is not None or self._seen is None or looked is None
                or (now - looked).total_seconds() >= LOOK_ANYWAY_EVERY):
            return False
        # "since": what was already due at the look (paused, no mail server) waits for a write
        if any(at is not None and looked <= at <= now for at in (self.next_due, self._throttled_until)):
            return False
        # a stat each of the file and its WAL: in the database thread, off the event loop
        return await self._db(self.db.file_signature) == self._seen

    def _idle_seconds(self) -> float:
        wait = self.settings.dispatch_interval
        now = self.clock()
        if self._throttled_until is not None and self._throttled_until > now:
            return max(0.05, min(wait, (self._throttled_until - now).total_seconds()))
        if self.next_due is not None and not self.paused_by:
            wait = min(wait, (self.next_due - now).total_seconds())
        return max(0.05, wait)

    async def _db(self, fn):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _shutdown(self) -> None:
        try:
            if not (self._said_goodbye and self._next_claim is None and not self._results and not self._unsent):
                await asyncio.shield(self._db(self._release_all))
        except StoreError as exc:  # the lease will run out on its own
            log.warning("dispatcher could not release its claims: %s", exc)
            return  # keep the journal: whoever comes next replays it
        if self._journal is not None and not self._results and not self._uncommitted:
            self._journal.close()
            self._journal = None

    # -- one round -----------------------------------------------------------
    async def run_batch(self, finishing: bool = False) -> int:
        """Claim what is due and send it (topping up while more is due); the number handled.
        finishing (run_once): when nothing more is due, the last write also releases our
        claims and our heartbeat row, so that shutting down needs no transaction of its own."""
        if self.throttled:
            return 0
        claim, self._next_claim = self._next_claim, None
        if claim is not None and not claim.messages and not finishing:
            claim = None  # that look came before a wake() that may have come since: look again
        if claim is None:
            claim = await self._db(partial(self._claim, None, finishing=finishing))
        self.last_error = claim.error
        self.paused_by = claim.paused_by
        self.next_due = claim.next_due
        if claim.texts is not None and self.on_texts:
            try:
                self.on_texts(*claim.texts)
            except Exception:  # the text sender's problem must never stop email
                log.exception("on_texts callback failed")
        if not claim.messages:
            return 0
        return await self._send_batch(claim, finishing)

    def _connections(self, server: MailServer) -> int:
        wanted = max(1, server.concurrency)
        return min(wanted, self._cap) if self._cap else wanted

    def _batch_size(self, server: MailServer | None) -> int:
        size = self.settings.dispatch_batch
        if server is not None and server.rate_per_minute:
            # a claim must be sent well within its lease
            size = min(size, max(1, int(server.rate_per_minute * self.settings.lease_seconds / 120)))
        return size

    async def _send_batch(self, claim: Claim, finishing: bool = False) -> int:
        server = claim.server
        if self._journal is None:
            self._journal = journals.Journal(self.db.path, self.owner)
        self._lease_renewed = self.clock()  # the claim just set the lease
        queue: asyncio.Queue[Message | None] = asyncio.Queue()
        for message in claim.messages:
            queue.put_nowait(message)
        if self.on_change:
            self._changed([m.id for m in claim.messages])
        handled = len(claim.messages)
        throttles_before = self._throttled_until
        # claim more while half a claim is still in hand: the next claim (a transaction,
        # ~100-200 ms for a few thousand rows) must arrive before the workers run dry
        refill_at = max(self._batch_size(server) // 2, self._connections(server))
        workers = [asyncio.create_task(self._worker(i, server, claim.password, queue, refill_at))
                   for i in range(self._connections(server))]
        flusher = asyncio.create_task(self._flush_loop())
        drained = False
        try:
            while not (self._stop.is_set() or self.throttled):
                self._low.clear()
                if queue.qsize() > refill_at:
                    await self._low.wait()
                    continue
                more = await self._exchange(server)
                if more is None:
                    continue  # the file was busy: the outcomes wait for the next try
                self.paused_by = more.paused_by
                if not more.messages:
                    drained = True
                    break
                handled += len(more.messages)
                if self.on_change:
                    self._changed([m.id for m in more.messages])
                for message in more.messages:
                    queue.put_nowait(message)
            for _ in workers:
                queue.put_nowait(None)
            await asyncio.gather(*workers)
            if drained and not (self._stop.is_set() or self.throttled):
                # the last outcomes go with the next round's claim (series, missed runs and
                # all), in one transaction instead of a write, a claim and a release
                self._next_claim = await self._exchange(None, finishing)
        finally:
            flusher.cancel()
            # whatever happens to us, what was sent is written down
            await asyncio.shield(self._flush())
        if self._throttled_until == throttles_before and self._cap:
            self._cap += 1  # a calm batch: open one more connection again
            self._throttle_pause = self.settings.throttle_pause
        return handled

    async def _worker(self, index: int, server: MailServer, password: str | None,
                      queue: asyncio.Queue, refill_at: int) -> None:
        # once per message on the event loop, which is what sends: kept lean
        client = None
        sender = server.from_addr
        paced = bool(server.rate_per_minute)
        clock, journal, stop = self.clock, self._journal, self._stop
        # (the next claim takes them anyway, about once per claim's worth: no extra write for that)
        flush_at = FLUSH_AT * self._batch_size(server)
        try:
            while (message := queue.get_nowait() if queue.qsize() else await queue.get()) is not None:
                if queue.qsize() <= refill_at:
                    self._low.set()
                # (index < the connections the batch started with: only a cap can stop this one)
                if stop.is_set() or self.throttled or (self._cap and index >= self._connections(server)):
                    self._unsent.append(message.id)
                    continue
                if paced:
                    await self._pace(server)
                if client is None:
                    client = smtp_client(server, password, self.settings.smtp_timeout)
                try:
                    data = render(message, sender, self._attachments.get(message.attachment_id)
                                  if message.attachment_id is not None else None)
                except (ValueError, TypeError) as exc:
                    # this row can never become an email (e.g. a line break in a header):
                    # fail it alone, with the reason, and carry on with the others
                    result = SendResult(Outcome.PERMANENT, f"cannot build the email: {exc}")
                else:
                    result = await deliver(client, data, sender, envelope_recipients(message))
                if result.outcome is Outcome.TEMPORARY and client.is_connected:
                    client.close()  # start the next message on a fresh connection
                finished = clock()
                # written down before the next message goes on this connection
                journal.record(message.id, message.attempts, result.outcome.value, result.reply, result.refused,
                               result.code, finished)
                if self._oldest_result is None:
                    self._oldest_result = monotonic()
                self._results.append((message, result, finished))
                if result.code in THROTTLE_CODES:
                    self._throttle(server)
                if len(self._results) >= flush_at:
                    self._flush_now.set()
        finally:
            if client is not None:
                await hang_up(client)

    async def _pace(self, server: MailServer) -> None:
        if not server.rate_per_minute:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 60.0 / server.rate_per_minute
        if slot > now:
            await asyncio.sleep(slot - now)

    def _throttle(self, server: MailServer) -> None:
        """The server said "slow down": fewer connections, and no claims for a while."""
        now = self.clock()
        if self._throttled_until is None or self._throttled_until <= now:
            self._throttled_until = now + timedelta(seconds=self._throttle_pause)
            self._throttle_pause = min(self._throttle_pause * 2, THROTTLE_MAX)
            self._cap = max(1, self._connections(server) // 2)
            log.warning("mail server asked us to slow down: %d connection(s), pausing claims until %s",
                        self._cap, self._throttled_until)
        self._low.set()

    async def _flush_loop(self) -> None:
        # outcomes are written within FLUSH_EVERY of arriving; in a busy batch the claims
        # carry them sooner, so this loop then writes nothing of its own (each write is a
        # transaction that competes with the sending for the CPU)
        while True:
            oldest = self._oldest_result
            wait = FLUSH_EVERY if oldest is None else max(0.0, oldest + FLUSH_EVERY - monotonic())
            try:
                await asyncio.wait_for(self._flush_now.wait(), timeout=wait)
            except TimeoutError:
                if not self._flush_due():
                    continue
            self._flush_now.clear()
            await self._flush()

    def _flush_due(self) -> bool:
        oldest = self._oldest_result
        return (bool(self._unsent) or (oldest is not None and monotonic() - oldest >= FLUSH_EVERY)
                or self._lease_due())

    def _lease_due(self) -> bool:
        return (self._lease_renewed is None
                or (self.clock() - self._lease_renewed).total_seconds() > self.settings.lease_seconds / 3)

    def _take_outcomes(self) -> tuple[list, list[int], bool, list]:
        """Everything waiting to be written, whether the lease wants renewing, and the
        journal segments that may go once these outcomes are committed."""
        renew = self._lease_due()
        results, self._results = self._results, []
        self._oldest_result = None
        unsent, self._unsent = self._unsent, []
        segments, self._carried = self._carried, []
        if results and self._journal is not None:
            segments.extend(self._journal.rotate())
            self._uncommitted.update(segments)
        return results, unsent, renew, segments

    def _outcomes_written(self, results: list, unsent: list[int], renew: bool, segments: list) -> None:
        if renew:
            self._lease_renewed = self.clock()
        for segment in segments:
            segment.unlink(missing_ok=True)
            self._uncommitted.discard(segment)
        if self.on_change:
            self._changed([m.id for m, _, _ in results] + unsent)

    def _put_back(self, results: list, unsent: list[int], segments: list, exc: Exception) -> None:
        # keep them for the next write (their journal segments stay until then); if we
        # never manage, whoever comes next replays the journal
        log.warning("dispatcher could not record outcomes yet: %s", exc)
        if results and self._oldest_result is None:
            self._oldest_result = monotonic()  # the next try in FLUSH_EVERY
        self._results[:0] = results
        self._unsent[:0] = unsent
        self._carried[:0] = segments

    async def _exchange(self, server: MailServer | None, finishing: bool = False) -> Claim | None:
        """Write the outcomes so far and claim more, in one transaction (server None: a new
        round's claim, see _claim)."""
        results, unsent, renew, segments = self._take_outcomes()
        try:
            claim = await self._db(partial(self._claim, server, results, unsent, renew, finishing))
        except StoreError as exc:
            self._put_back(results, unsent, segments, exc)
            return None
        self._outcomes_written(results, unsent, renew, segments)
        return claim

    async def _flush(self) -> None:
        results, unsent, renew, segments = self._take_outcomes()
        if not results and not unsent and not renew:
            self._carried[:0] = segments
            return
        try:
            await self._db(partial(self._record, results, unsent, renew))
        except StoreError as exc:
            self._put_back(results, unsent, segments, exc)
            return
        self._outcomes_written(results, unsent, renew, segments)

    def _changed(self, ids: list[int]) -> None:
        if self.on_change and ids:
            try:
                self.on_change(ids)
            except Exception:  # a UI callback must never stop delivery
                log.exception("on_change callback failed")

    # -- database work (on the dispatcher's own thread) ----------------------
    def _claim(self, same_server: MailServer | None, results: list = (), unsent: list[int] = (),
               renew: bool = False, finishing: bool = False) -> Claim:
        """One transaction: dead dispatchers' journals, office settings, heartbeat, missed runs,
        series, then the claim. With same_server, this tops up a running batch and claims only
        if nothing changed. finishing: if nothing is claimed, also release what we hold and
        remove our heartbeat row (what _release_all does), as run_once is about to return."""
        orphans = journals.orphans(self.db.path) if same_server is None else []
        looked: datetime | None = None

        def claim(con):
            nonlocal looked
            self._tx_sent = self._tx_failed = 0  # counted once the transaction commits
            now = looked = self.clock()
            for orphan in orphans:
                self._replay(con, orphan)
            if results or unsent:
                self._write_outcomes(con, list(results), list(unsent), self.owner)
            office, paused_by = office_store.settings(con, default_zone())
            self._office = office
            if self._last_heartbeat is None or (now - self._last_heartbeat).total_seconds() >= HEARTBEAT_EVERY:
                office_store.heartbeat(con, self.owner, self.kind, self.started_at, now)
                self._last_heartbeat = now
            server = mail_store.active(con)
            if same_server is None:
                self._queue_series(con, now, office, server)
                self._apply_missed_policy(con, now, office)
            result = take(con, now, office, paused_by, server)
            if same_server is None and self.on_texts:
                result.texts = sms_store.waiting(con, now)
            if finishing and not result.messages:
                messages_store.release(con, self.owner)
                office_store.gone(con, self.owner)
            return result

        def take(con, now, office, paused_by, server) -> Claim:
            if paused_by or server is None or (same_server is not None and server != same_server):
                return Claim(server, [], paused_by=paused_by, next_due=messages_store.next_due(con),
                             office=office)
            try:
                # check the password before claiming: a dispatcher that cannot read it
                # (another OS user's 0600 secrets file) must leave the work to one that can
                # instead of burning the messages' attempts
                password = secrets.resolve(server.password_ref)
            except secrets.SecretError as exc:
                return Claim(server, [], error=str(exc), office=office)
            lease_until = now + timedelta(seconds=self.settings.lease_seconds)
            claimed = messages_store.claim_outgoing(con, self.owner, now, lease_until, self._batch_size(server))
            self._load_attachments(con, claimed)
            next_due = None if claimed else messages_store.next_due(con)
            if renew:
                messages_store.extend_lease(con, self.owner, lease_until)  # the batch still running
            return Claim(server, claimed, password, paused_by=paused_by, next_due=next_due, office=office)

        try:
            result = self.db.run(claim)
        except BaseException:
            for orphan in orphans:
                orphan.keep()
            raise
        if same_server is None:
            self._seen, self._looked_at = self.db.file_signature(), looked
        self._count_committed()
        self._said_goodbye = finishing and not result.messages
        for orphan in orphans:
            orphan.remove()
        return result

    def _load_attachments(self, con, claimed: list) -> None:
        """Files the claimed emails carry, read once per dispatcher (a batch shares one)."""
        wanted = {m.attachment_id for m in claimed if m.attachment_id is not None} - self._attachments.keys()
        if wanted:
            for id, (name, kind, data) in batches_store.attachment_files(con, wanted).items():
                self._attachments[id] = FileAttachment(name, kind, data)

    def _replay(self, con, orphan: journals.Orphan) -> None:
        """Write down what a dead dispatcher sent but had not recorded yet, so nobody resends it."""
        wanted = {(e["id"], e["attempt"]): e for e in orphan.entries}
        if not wanted:
            return
        still = messages_store.in_flight(con, orphan.owner, [i for i, _ in wanted])
        results = []
        for message in still:
            entry = wanted.get((message.id, message.attempts))
            if entry is None:
                continue
            results.append((message, SendResult(Outcome(entry["outcome"]), entry["reply"], entry["refused"] or {},
                                                entry.get("code")), journals.entry_time(entry)))
        if results:
            log.warning("recording %d outcome(s) of dispatcher %s, which stopped without writing them",
                        len(results), orphan.owner)
            self._write_outcomes(con, results, [], orphan.owner)

    def _queue_series(self, con, now: datetime, office: OfficeSettings, server: MailServer | None) -> None:
        """Each active series keeps exactly one occurrence queued. Occurrences passed over
        while no dispatcher ran are counted, not queued in a burst: only the latest is queued
        (and then meets the missed-run policy like any late message)."""
        late_before = now - timedelta(minutes=office.grace_minutes)
        for series in series_store.needing_occurrence(con):
            at = series.next_at
            skipped = 0
            if at < late_before:
                for n, later in enumerate(schedules.occurrences(series.cron, at, series.timezone)):
                    if later > now or n >= SKIP_SCAN_LIMIT:
                        break
                    at, skipped = later, skipped + 1
            customer_id, to, cc, bcc, subject, body, is_html, created_by = series_store.content(con, series.id)
            messages_store.insert(
                con, message_id=new_message_id(server.from_addr if server else None), customer_id=customer_id,
                to_addrs=to, cc_addrs=cc, bcc_addrs=bcc, subject=subject, body=body, is_html=is_html,
                created_by=created_by, due_at=at, series_id=series.id)
            series_store.advance(con, series.id, schedules.next_after(series.cron, at, series.timezone), skipped)
            if skipped and customer_id is not None:
                notes_store.add(con, customer_id, "dispatcher",
                                f"Recurring email '{subject or '(no subject)'}': {skipped} occurrence(s) "
                                f"passed while no dispatcher was running and were not sent.")

    def _apply_missed_policy(self, con, now: datetime, office: OfficeSettings) -> None:
        if office.missed_policy is MissedPolicy.SEND:
            return
        late_before = now - timedelta(minutes=office.grace_minutes)
        if office.missed_policy is MissedPolicy.HOLD:
            status, why = MessageStatus.HELD, "Missed its time while no dispatcher was running; held for an operator. Was due "
        else:
            status, why = MessageStatus.MISSED, "Missed its time while no dispatcher was running; skipped. Was due "
        for message in messages_store.apply_missed_policy(con, now, late_before, status.value, why):
            if message.customer_id is not None:
                action = "held for an operator (Needs attention)" if status is MessageStatus.HELD else "skipped"
                notes_store.add(con, message.customer_id, "dispatcher",
                                f"Email '{message.subject or '(no subject)'}' missed its time "
                                f"({message.due_at:%Y-%m-%d %H:%M} UTC) and was {action}.")

    def _record(self, results: list[tuple[messages_store.Outgoing, SendResult, datetime]], unsent: list[int],
                renew: bool = False) -> None:
        def record(con):
            self._tx_sent = self._tx_failed = 0  # counted once the transaction commits
            self._write_outcomes(con, results, unsent, self.owner)
            if renew:
                messages_store.extend_lease(con, self.owner,
                                            self.clock() + timedelta(seconds=self.settings.lease_seconds))

        self.db.run(record)
        self._count_committed()

    def _count_committed(self) -> None:
        # a transaction retried after a write conflict runs its function again:
        # count what the committed run wrote, once
        self.sent += self._tx_sent
        self.failed += self._tx_failed
        self._tx_sent = self._tx_failed = 0

    def _write_outcomes(self, con, results: list[tuple[Message | messages_store.Outgoing, SendResult, datetime]],
                        unsent: list[int], owner: str) -> None:
        office = self._office or OfficeSettings(timezone="UTC")
        lifetime = timedelta(hours=office.lifetime_hours)
        backoff = self.settings.retry_backoff or [60]
        attempts, notes, recipients = [], [], []
        clean_ids, clean_replies, clean_times = [], [], []  # accepted in full: most of a bulk run
        for message, result, finished in results:
            if result.outcome is Outcome.SENT and not result.refused and message.pending_rcpts is None:
                clean_ids.append(message.id)
                clean_replies.append(result.reply)
                clean_times.append(finished)
                continue
            if result.outcome is not Outcome.SENT or result.refused:  # clean sends: add_sent_attempts
                attempts.append((message.id, message.attempts, owner, finished, result.outcome.value,
                                 result.reply, [f"{k}: {v}" for k, v in result.refused.items()]))
            sent_to = [a for a in envelope_recipients(message) if a not in result.refused]
            subject = message.subject or "(no subject)"
            if result.refused or (message.pending_rcpts is not None and result.outcome is Outcome.SENT):
                for address in envelope_recipients(message):
                    reply = result.refused.get(address, result.reply)
                    outcome = ("accepted" if address in sent_to and result.outcome is Outcome.SENT else
                               "deferred" if address in result.deferred else
                               "refused" if address in result.rejected else "pending")
                    recipients.append((message.id, address, message.attempts, outcome, reply, finished))
            if result.outcome is Outcome.SENT and not result.deferred:
                if not result.refused:
                    clean_ids.append(message.id)
                    clean_replies.append(result.reply)
                    clean_times.append(finished)
                    continue
                # some refused for good, the rest accepted: sent, with who did not get it
                refused = "; ".join(f"{k}: {v}" for k, v in result.rejected.items())
                if messages_store.mark_sent(con, message.id, owner,
                                            f"{result.reply} | refused: {refused}", finished):
                    self._tx_sent += 1
                    notes.append((message, f"Email '{subject}' sent to {', '.join(sent_to)} by "
                                  f"{message.created_by} (accepted by the mail server: {result.reply}); "
                                  f"refused by the mail server: {refused}"))
                continue
            if result.outcome is Outcome.SENT:
                # accepted for some; others deferred at RCPT (4xx): those stay owed
                notes.append((message, f"Email '{subject}' sent to {', '.join(sent_to)} by "
                              f"{message.created_by} (accepted by the mail server: {result.reply}); "
                              f"will retry {', '.join(result.deferred)}"))
            if result.outcome is Outcome.PERMANENT:
                if messages_store.mark_failed(con, message.id, owner, result.reply,
                                              result.reply if result.refused else None):
                    self._tx_failed += 1
                    notes.append((message, f"Email '{subject}' to {', '.join(envelope_recipients(message))} "
                                  f"failed: {result.reply}"))
                continue
            # temporary: the whole message (no refusals) or the deferred recipients
            pending = list(result.deferred) if result.refused else None
            deadline = (message.scheduled_at or message.created_at) + lifetime
            if finished >= deadline:
                why = f"gave up after {office.lifetime_hours} h of retries: {result.reply}"
                if messages_store.mark_failed(con, message.id, owner, why):
                    self._tx_failed += 1
                    owed = pending if pending is not None else envelope_recipients(message)
                    notes.append((message, f"Email '{subject}' to {', '.join(owed)} failed: {why}"))
                continue
            wait = retry_delay(message.attempts, backoff)
            if result.throttled:
                wait = timedelta(seconds=self._throttle_pause)
            # after a partial send the reply is a 2xx: the error worth showing is why some wait
            error = ("; ".join(f"{k}: {v}" for k, v in result.deferred.items()) if result.deferred
                     else result.reply)
            messages_store.mark_retry(con, message.id, owner, error, min(finished + wait, deadline), pending)
        messages_store.add_attempts(con, attempts)
        messages_store.add_recipient_outcomes(con, recipients)
        notes_store.add_many(con, [(m.customer_id, m.created_by, text) for m, text in notes
                                   if m.customer_id is not None])
        if clean_ids:
            # their notes are written by the database, from the rows (see add_sent_notes)
            messages_store.add_sent_notes(con, owner, clean_ids, clean_replies)
            done = messages_store.mark_sent_columns(con, owner, clean_ids, clean_replies, clean_times)
            messages_store.add_sent_attempts(con, done, owner)
            self._tx_sent += len(done)
        if unsent:
            messages_store.release(con, owner, unsent, self._throttled_until if self.throttled else None)

    def _release_all(self) -> None:
        def release(con):
            messages_store.release(con, self.owner)
            office_store.gone(con, self.owner)

        self.db.run(release)
