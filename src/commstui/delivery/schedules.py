"""Repeat rules: presets and raw cron expressions, read in the office's time zone.

croniter does the calendar arithmetic. Two DST details are ours to decide:
- a wall time that does not exist (02:30 on the spring-forward night) fires at
  the first valid minute after it (croniter gives 03:00);
- a wall time that happens twice (02:30 on the fall-back night) fires once, on
  its first pass; croniter would give both.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter

from ..domain import Repeat, ScheduleRequest

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class RuleError(ValueError):
    """A repeat rule that cannot be used; the message says why, for the operator."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RuleError(f"Unknown time zone {name!r}: use an IANA name such as Europe/London.") from exc


def system_zone_name() -> str:
    """The machine's own IANA zone name (the default office time zone)."""
    try:
        import tzlocal
        return tzlocal.get_localzone_name() or "UTC"
    except Exception:  # no zone configured on the host: UTC is the honest answer
        return "UTC"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def cron_for(request: ScheduleRequest) -> str | None:
    """The cron expression a request stands for (None: it does not repeat)."""
    m, h = request.at.minute, request.at.hour
    match request.repeat:
        case Repeat.NONE:
            return None
        case Repeat.DAILY:
            return f"{m} {h} * * *"
        case Repeat.WEEKLY:
            return f"{m} {h} * * {(request.on.weekday() + 1) % 7}"  # cron: 0 = Sunday
        case Repeat.MONTHLY:
            return f"{m} {h} {request.on.day} * *"
        case Repeat.CRON:
            return check_cron(request.cron)
    raise RuleError(f"Unknown repeat {request.repeat!r}")


def check_cron(expr: str) -> str:
    expr = " ".join((expr or "").split())
    if not expr:
        raise RuleError("Type a cron expression, e.g. '0 9 * * 1-5' (09:00 on weekdays).")
    if len(expr.split()) != 5:
        raise RuleError("A cron expression has five fields: minute hour day-of-month month weekday.")
    try:
        croniter(expr)
    except (CroniterBadCronError, CroniterNotAlphaError, ValueError, KeyError) as exc:
        raise RuleError(f"Not a valid cron expression: {exc}") from exc
    return expr


def describe(request: ScheduleRequest) -> str:
    at = request.at.strftime("%H:%M")
    match request.repeat:
        case Repeat.NONE:
            return "once"
        case Repeat.DAILY:
            return f"every day at {at}"
        case Repeat.WEEKLY:
            return f"every {WEEKDAYS[request.on.weekday()]} at {at}"
        case Repeat.MONTHLY:
            extra = " (months without that day are skipped)" if request.on.day > 28 else ""
            return f"every month on the {_ordinal(request.on.day)} at {at}{extra}"
    return f"cron '{request.cron.strip()}'"


def request_for(local: datetime, cron: str | None) -> ScheduleRequest:
    """The request a scheduled time (in the office zone) and rule stand for: a preset when
    the rule is one, so the dialog reopens on it and the rule reads in words."""
    on, at = local.date(), local.time().replace(second=0, microsecond=0, tzinfo=None)
    if not cron:
        return ScheduleRequest(on, at)
    cron = " ".join(cron.split())
    for repeat in (Repeat.DAILY, Repeat.WEEKLY, Repeat.MONTHLY):
        preset = ScheduleRequest(on, at, repeat)
        if cron_for(preset) == cron:
            return preset
    return ScheduleRequest(on, at, Repeat.CRON, cron)


def occurrences(cron: str, after: datetime, tz: str | ZoneInfo) -> Iterator[datetime]:
    """Occurrences strictly after `after`, as aware datetimes in the office zone."""
    z = zone(tz) if isinstance(tz, str) else tz
    it = croniter(cron, after.astimezone(z))
    last_wall: datetime | None = None
    while True:
        try:
            at = it.get_next(datetime)
        except CroniterBadDateError as exc:  # e.g. "30 2 31 2 *": never happens
            raise RuleError("This rule never fires.") from exc
        wall = at.replace(tzinfo=None)
        if last_wall is not None and wall <= last_wall:
            continue  # the second pass of a repeated (fall-back) hour
        last_wall = wall
        yield at.astimezone(z)


def next_after(cron: str, after: datetime, tz: str | ZoneInfo) -> datetime:
    return next(occurrences(cron, after, tz))


def local_datetime(on: date, at: time, tz: str | ZoneInfo) -> datetime:
    """The office-zone instant for a wall date and time; a time skipped by DST moves forward."""
    z = zone(tz) if isinstance(tz, str) else tz
    naive = datetime.combine(on, at.replace(second=0, microsecond=0, tzinfo=None))
    # the round trip through UTC moves a wall time inside a spring-forward gap past
    # the gap (PEP 495); a repeated fall-back time means its first pass (fold=0)
    return naive.replace(tzinfo=z).astimezone(UTC).astimezone(z)


def first_and_next(request: ScheduleRequest, tz: str | ZoneInfo, count: int = 5) -> list[datetime]:
    """The first `count` send times a request gives (one, if it does not repeat).

    The chosen date and time is the first send; a repeat rule whose own times do
    not include it (a cron expression) starts at its first time from then on.
    """
    z = zone(tz) if isinstance(tz, str) else tz
    start = local_datetime(request.on, request.at, z)
    cron = cron_for(request)
    if cron is None:
        return [start]
    if request.repeat is Repeat.CRON:
        return _take(occurrences(cron, start - timedelta(minutes=1), z), count)
    return [start, *_take(occurrences(cron, start, z), count - 1)]


def _take(it: Iterator[datetime], n: int) -> list[datetime]:
    return [next(it) for _ in range(n)]
