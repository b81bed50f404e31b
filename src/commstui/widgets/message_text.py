"""How a message's state and times read to an operator: the status words, the due
time in the office time zone, the repeat rule. Shared by the Emails tab, Needs
attention and the delivery record, so the three say the same thing the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text

from ..domain import Message, MessageStatus
from ..services.schedule import until
from .format import DASH

STATUS_STYLE = {
    "sent": "green", "failed": "red", "cancelled": "dim", "missed": "dim",
    "queued": "yellow", "sending": "yellow", "held": "bold magenta",
    "scheduled": "cyan", "retrying": "yellow",
}

# a due time closer than this shows no countdown (it is going), and makes the Emails tab
# look every second
SOON_SECONDS = 60


def utcnow() -> datetime:
    return datetime.now(UTC)


def office_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_label(name: str) -> str:
    """A short name for a zone, for a column heading: "Sydney", "UTC"."""
    return name.rsplit("/", 1)[-1].replace("_", " ")


def short_time(at: datetime | None, zone: ZoneInfo) -> str:
    """'14 Jul 09:00' in the office zone (the year and zone are in the detail)."""
    if at is None:
        return DASH
    return _aware(at).astimezone(zone).strftime("%d %b %H:%M")


def long_time(at: datetime | None, zone: ZoneInfo) -> str:
    """'Mon 14 Jul 2025 09:00 AEST (UTC+10:00)' in the office zone."""
    if at is None:
        return DASH
    local = _aware(at).astimezone(zone)
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()} (UTC{sign}{hours:02d}:{mins:02d})"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def state(message: Message) -> str:
    """The word for where a message is: scheduled, retrying, queued, sending, held, sent, ..."""
    if message.status == MessageStatus.QUEUED:
        if message.attempts > 0:
            return "retrying"
        if message.is_scheduled:
            return "scheduled"
    return message.status


def state_label(message: Message) -> str:
    key = state(message)
    if key in ("scheduled", "retrying"):
        return key
    try:
        return MessageStatus(key).label
    except ValueError:
        return key


def status_text(message: Message, now: datetime) -> Text:
    """'scheduled in 3 h 20 min', 'retrying in 5 min', 'accepted by mail server', ..."""
    key = state(message)
    label = state_label(message)
    if message.status == MessageStatus.QUEUED and message.due_at is not None:
        if (_aware(message.due_at) - now).total_seconds() >= SOON_SECONDS:
            label += " " + until(_aware(message.due_at), now)
    return Text(label, style=STATUS_STYLE.get(key, ""))


def shown_time(message: Message) -> datetime | None:
    """The time a log line stands for: when it was sent, else when it is (was) due."""
    return message.sent_at or message.scheduled_at or message.due_at
