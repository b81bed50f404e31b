"""The text sender: claim due SMS and robocall messages, hand them to the provider,
record what happened.

It runs beside the email dispatcher (in the TUI and in `commstui dispatch`) and
shares its rules (DESIGN.md): a claim is one UPDATE with a lease, so several
senders never take the same text and a crashed one's texts are taken again;
outcomes are written in batches; temporary failures (429, 5xx, timeouts, dropped
connections) are retried with the configured backoff until the office's retry
lifetime has passed since the first try, then failed; permanent ones fail at once
with the provider's words. Every text sent or failed leaves a note on the account.

Without an active provider (or with a token it cannot read) nothing is claimed:
queued texts stay queued, untouched, and the counts say why.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import partial

from .. import secrets
from ..config import Settings
from ..domain import OfficeSettings, SmsProvider
from ..store import office as office_store
from ..store import sms as sms_store
from ..store.db import Database, StoreError
from ..store.sms import QueuedText, TextOutcome
from . import schedules
from .sms import NumberError, Provider, SmsResult, TwilioProvider, normalise_number

log = logging.getLogger(__name__)

CONCURRENCY = 4        # requests to the provider at once
CLAIM_SIZE = 100       # texts per claim (the lease is renewed with every write while they go)
# Every transaction opens the file (~100 ms for a write here), so outcomes are written
# with the next claim, or mid-claim every FLUSH_EVERY seconds / RECORD_AT outcomes.
FLUSH_EVERY = 2.0
RECORD_AT = 200
PROVIDER_TIMEOUT = 15.0
MAX_ROUNDS = 1000      # run_once: a bound on claims in one call
WATCHED_RECHECK = 60.0  # seconds between our own looks while a dispatcher's looks notice for us
NOTE_WORDS = 8         # a note quotes the subject, or this many words of the text


def utcnow() -> datetime:
    return datetime.now(UTC)


ProviderFactory = Callable[[SmsProvider, str | None], Provider]


@dataclass
class TextCounts:
    claimed: int = 0
    sent: int = 0          # accepted by the provider
    retried: int = 0       # back in the queue for a later try
    failed: int = 0
    released: int = 0      # claimed but not tried (stopping, or the provider said slow down)
    waiting: int = 0       # due texts left queued because nothing could send them
    problem: str | None = None  # why texts could not go (no provider, unreadable token, refused login, ...)

    def add(self, other: "TextCounts") -> None:
        for f in fields(self):
            if f.name != "problem":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.problem = other.problem or self.problem

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed

    def summary(self) -> str:
        text = (f"{self.sent} sent (accepted by the SMS provider), {self.failed} failed, "
                f"{self.retried} to retry later")
        if self.waiting:
            text += f", {self.waiting} waiting"
        return text + (f". {self.problem}" if self.problem else "")


@dataclass
class _Claim:
    provider: SmsProvider | None = None
    token: str | None = None
    texts: list[QueuedText] | None = None
    office: OfficeSettings | None = None
    problem: str | None = None
    waiting: int = 0
    next_due: datetime | None = None


def summary_of(text: QueuedText) -> str:
    """What a note quotes: the subject, else the first words of the text."""
    if text.subject.strip():
        return " ".join(text.subject.split())
    words = text.body.split()
    return " ".join(words[:NOTE_WORDS]) + ("…" if len(words) > NOTE_WORDS else "")


class TextSender:
    def __init__(self, db: Database, settings: Settings, provider_factory: ProviderFactory | None = None,
                 owner: str | None = None, clock: Callable[[], datetime] | None = None,
                 concurrency: int = CONCURRENCY, claim_size: int = CLAIM_SIZE,
                 timeout: float = PROVIDER_TIMEOUT) -> None:
        self.db = db
        self.settings = settings
        self.timeout = timeout
        self.provider_factory = provider_factory or self._twilio
        # its own lease owner, never the email dispatcher's: each gives back only its own claims
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:texts:{uuid.uuid4().hex[:6]}"
        self.clock = clock or utcnow
        self.concurrency = max(1, concurrency)
        self.claim_size = max(1, claim_size)
        self.totals = TextCounts()
        self.next_due: datetime | None = None
        self.problem: str | None = None
        self._provider: Provider | None = None
        self._provider_key: tuple | None = None
        self._pending: list[TextOutcome] = []
        self._unsent: list[int] = []
        self._write_lock = asyncio.Lock()
        self._last_write = time.monotonic()
        self._paused_until: datetime | None = None
        self._wake = asyncio.Event()
        self._watched = False  # an email dispatcher's looks tell us of new texts (notice)

    def _twilio(self, provider: SmsProvider, token: str | None) -> Provider:
        return TwilioProvider(provider.base_url, provider.account_sid, token, provider.from_number,
                              verify_tls=provider.verify_tls, timeout=self.timeout)

    def wake(self) -> None:
        """Look for work now (e.g. right after a batch was approved)."""
        self._wake.set()

    def notice(self, due: int, first: datetime | None) -> None:
        """What the email dispatcher beside us saw of the texts in its own look at the file
        (Dispatcher(on_texts=...)): texts due now wake us; otherwise we keep sleeping, and
        look on our own only every WATCHED_RECHECK (leases run out, a missed notice)."""
        self._watched = True
        if due:
            self.wake()
        elif first is not None and (self.next_due is None or first < self.next_due):
            self.wake()  # a look sets next_due: we then sleep until it, not the later time

    @property
    def paused(self) -> bool:
        return self._paused_until is not None and self.clock() < self._paused_until

    # -- the two ways to run -----------------------------------------------------------
    async def run_once(self) -> TextCounts:
        """Send every text due now; return what happened (and, if nothing could go, why)."""
        counts = TextCounts()
        try:
            for _ in range(MAX_ROUNDS):
                got = await self._round()
                counts.add(got)
                if got.claimed < self.claim_size or got.problem or self.paused:
                    break
        finally:
            await self._shutdown()
        return counts

    async def run(self, stop_event: asyncio.Event) -> None:
        """Until stop_event is set: send what is due, then sleep until the next due text,
        a wake(), or the re-check interval (work queued by other processes). On stop, the
        sends in flight finish and unsent claims are given back."""
        try:
            while not stop_event.is_set():
                self._wake.clear()
                try:
                    got = await self._round(stop_event)
                except StoreError as exc:  # a busy file: say so and try again next round
                    log.warning("text sender: %s", exc)
                    self.problem = str(exc)
                    got = TextCounts()
                if got.claimed and not self.paused:
                    continue  # the next claim writes this round's outcomes
                await self._flush()  # nothing more soon: write them now
                await self._idle(stop_event)
        finally:
            await self._shutdown()

    def _idle_seconds(self) -> float:
        wait = self.settings.dispatch_interval
        if self._watched:
            wait = max(wait, WATCHED_RECHECK)
        now = self.clock()
        if self.paused:
            wait = min(wait, (self._paused_until - now).total_seconds())
        elif self.next_due is not None:
            wait = min(wait, (self.next_due - now).total_seconds())
        return max(0.05, wait)

    async def _idle(self, stop_event: asyncio.Event) -> None:
        waiters = [asyncio.create_task(stop_event.wait()), asyncio.create_task(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=self._idle_seconds(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    # -- one round -----------------------------------------------------------------------
    async def _round(self, stop_event: asyncio.Event | None = None) -> TextCounts:
        counts = TextCounts()
        if self.paused:
            await self._flush()
            counts.problem = self.problem
            return counts
        async with self._write_lock:
            # the last round's outcomes go in the same transaction as this claim
            outcomes, unsent = self._take()
            try:
                claim = await asyncio.to_thread(self._claim, outcomes, unsent)
            except BaseException:
                self._put_back(outcomes, unsent)
                raise
            self._last_write = time.monotonic()
        self.next_due = claim.next_due
        self.problem = counts.problem = claim.problem
        counts.waiting = claim.waiting
        texts = claim.texts or []
        counts.claimed = len(texts)
        if not texts:
            return counts
        provider = await self._provider_for(claim.provider, claim.token)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(text: QueuedText) -> None:
            async with gate:
                if (stop_event is not None and stop_event.is_set()) or self.paused:
                    self._unsent.append(text.id)
                    counts.released += 1
                    return
                result = await self._attempt(provider, claim.provider, text)
                outcome = self._decide(text, result, self.clock(), claim.office)
                self._pending.append(outcome)
                self._count(counts, outcome)
                if result.throttled or result.credentials_refused:
                    self._pause(result)
                    counts.problem = self.problem
                if len(self._pending) >= RECORD_AT or time.monotonic() - self._last_write >= FLUSH_EVERY:
                    await self._flush()

        try:
            await asyncio.gather(*(one(t) for t in texts))
        except BaseException:
            # whatever happens to us, what was sent is written down
            await asyncio.shield(self._flush())
            raise
        self.totals.add(counts)
        return counts

    def _claim(self, outcomes: list[TextOutcome] = (), unsent: list[int] = ()) -> _Claim:
        def claim(con) -> _Claim:
            self._write(con, list(outcomes), list(unsent))
            now = self.clock()
            office, paused_by = office_store.settings(con, schedules.system_zone_name())
            due, first = sms_store.waiting(con, now)
            if paused_by:
                return _Claim(problem=f"Dispatching is paused (by {paused_by}); texts wait.",
                              waiting=due, next_due=first, office=office)
            provider = sms_store.active_provider(con)
            if provider is None:
                return _Claim(problem=f"No active SMS provider: {due} due text(s) stay queued until one "
                                      f"is set up (commstui sms set, or SMS settings).",
                              waiting=due, next_due=first, office=office)
            try:
                # read before claiming: a sender that cannot read the token leaves the texts
                # to one that can, instead of burning their attempts
                token = secrets.resolve(provider.token_ref)
            except secrets.SecretError as exc:
                return _Claim(provider, problem=f"SMS provider token: {token_problem(exc)}; {due} due "
                                                f"text(s) stay queued.", waiting=due, next_due=first,
                              office=office)
            lease_until = now + timedelta(seconds=self.settings.lease_seconds)
            texts = sms_store.claim_texts(con, self.owner, now, lease_until, self.claim_size)
            next_due = None if texts else first
            return _Claim(provider, token, texts, office, next_due=next_due)

        return self.db.run(claim)

    async def _provider_for(self, row: SmsProvider, token: str | None) -> Provider:
        key = (row, token)
        if self._provider is None or self._provider_key != key:
            await self._close_provider()
            self._provider = self.provider_factory(row, token)
            self._provider_key = key
        return self._provider

    async def _attempt(self, provider: Provider, row: SmsProvider, text: QueuedText) -> SmsResult:
        if not text.body.strip():
            return SmsResult(False, False, message="nothing to say: the message is empty")
        try:
            number = normalise_number(text.to or "", row.default_region, sms=text.channel == "sms")
        except NumberError as exc:
            return SmsResult(False, False, message=str(exc))
        try:
            if text.channel == "sms":
                return await provider.send_sms(number, text.body)
            return await provider.call(number, text.body)
        except Exception as exc:  # a provider bug must not stop the others; the text is tried again
            log.exception("SMS provider failed on message %s", text.id)
            return SmsResult(False, True, message=f"{type(exc).__name__}: {exc}")

    def _decide(self, text: QueuedText, result: SmsResult, finished: datetime,
                office: OfficeSettings | None) -> TextOutcome:
        to = text.to or "(no number)"
        verb = "sent to" if text.channel == "sms" else "placed to"
        if result.ok:
            reply = f"{result.sid} {result.message}".strip()
            return TextOutcome(text, "sent", reply, finished, "sent",
                               note=f"{text.label} {verb} {to}: {summary_of(text)}")
        failed_note = f"{text.label} to {to} failed: {{}} ({summary_of(text)})"
        temporary = result.temporary or result.credentials_refused  # a refused login is ours to fix
        if not temporary:
            return TextOutcome(text, "failed", result.message, finished, "permanent",
                               note=failed_note.format(result.message))
        lifetime_hours = (office or OfficeSettings(timezone="UTC")).lifetime_hours
        deadline = (text.first_tried_at or finished) + timedelta(hours=lifetime_hours)
        if finished >= deadline:
            why = f"gave up after {lifetime_hours} h of retries: {result.message}"
            return TextOutcome(text, "failed", why, finished, "temporary", note=failed_note.format(why))
        backoff = self.settings.retry_backoff or [60]
        wait = timedelta(seconds=backoff[min(max(text.attempts - 1, 0), len(backoff) - 1)])
        if result.throttled:
            wait = max(wait, timedelta(seconds=self.settings.throttle_pause))
        return TextOutcome(text, "retry", result.message, finished, "temporary",
                           retry_at=min(finished + wait, deadline))

    @staticmethod
    def _count(counts: TextCounts, outcome: TextOutcome) -> None:
        if outcome.outcome == "sent":
            counts.sent += 1
        elif outcome.outcome == "retry":
            counts.retried += 1
        else:
            counts.failed += 1

    def _pause(self, result: SmsResult) -> None:
        """Slow down (429) or stop for a while (credentials refused): the texts not yet
        tried are given back, untouched, instead of all failing the same way."""
        self._paused_until = self.clock() + timedelta(seconds=self.settings.throttle_pause)
        if result.credentials_refused:
            self.problem = f"The SMS provider refused our credentials: {result.message}"
        else:
            self.problem = f"The SMS provider asked us to slow down: {result.message}"
        log.warning("text sender paused until %s: %s", self._paused_until, self.problem)

    # -- writing down ------------------------------------------------------------------------
    def _take(self) -> tuple[list[TextOutcome], list[int]]:
        outcomes, self._pending = self._pending, []
        unsent, self._unsent = self._unsent, []
        return outcomes, unsent

    def _put_back(self, outcomes: list[TextOutcome], unsent: list[int]) -> None:
        # kept for the next write; if that never comes, the lease runs out and
        # the texts are sent again (at-least-once, like email)
        self._pending[:0] = outcomes
        self._unsent[:0] = unsent

    def _write(self, con, outcomes: list[TextOutcome], unsent: list[int]) -> None:
        if outcomes:
            sms_store.record_outcomes(con, self.owner, outcomes)
        if unsent:
            sms_store.release_texts(con, self.owner, unsent)
        if outcomes or unsent:
            # still sending the rest of a claim: keep the lease
            sms_store.extend_leases(con, self.owner, self.clock() + timedelta(seconds=self.settings.lease_seconds))

    async def _flush(self) -> None:
        """Write waiting outcomes and give back unsent claims now."""
        async with self._write_lock:
            outcomes, unsent = self._take()
            if not outcomes and not unsent:
                return
            try:
                await asyncio.to_thread(self.db.run, partial(self._write, outcomes=outcomes, unsent=unsent))
            except StoreError as exc:
                log.warning("text sender could not record outcomes yet: %s", exc)
                self._put_back(outcomes, unsent)
                return
            self._last_write = time.monotonic()

    async def _close_provider(self) -> None:
        provider, self._provider, self._provider_key = self._provider, None, None
        if provider is not None:
            try:
                await provider.aclose()
            except Exception:  # closing must never hide what happened before
                log.exception("closing the SMS provider failed")

    async def _shutdown(self) -> None:
        async def finish() -> None:
            await self._flush()
            try:
                await asyncio.to_thread(self.db.run, partial(sms_store.release_texts, owner=self.owner))
            except StoreError as exc:  # the lease runs out on its own
                log.warning("text sender could not give back its claims: %s", exc)
            await self._close_provider()

        await asyncio.shield(finish())


def token_problem(exc: secrets.SecretError) -> str:
    """secrets.resolve words its errors for the mail server password; say it for the SMS token."""
    return str(exc).replace(" (mail server password)", "")
