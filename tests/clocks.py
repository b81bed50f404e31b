"""A clock the tests move by hand: passed to Dispatcher(clock=...) instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        # by default a minute ahead of the database clock: what a test queues now is due
        # (and well inside the missed-run grace)
        self.now = now if now is not None else datetime.now(UTC) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)

    def to(self, at: datetime) -> None:
        self.now = at.astimezone(UTC)
