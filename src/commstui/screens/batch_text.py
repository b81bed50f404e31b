"""How a bulk batch reads on the batch screens: its counts, its times, its state.
Shared by the batches list, approval, results and the two dashboards."""

from __future__ import annotations

from datetime import UTC, datetime

from ..domain import Batch, BatchStatus, ChannelMode
from ..services import schedule as schedules
from ..services.errors import PermissionDenied
from ..widgets.format import DASH
from ..widgets.message_text import office_zone, short_time

STATUS_STYLE = {"pending": "bold yellow", "approved": "green", "rejected": "red", "cancelled": "dim",
                "failed": "red", "generating": "cyan"}


def office_zone_name(ctx, user) -> str | None:
    """The office time zone, or None (the host's zone) when it cannot be read."""
    try:
        return schedules.office_zone(ctx, user)
    except PermissionDenied:
        return None


def when(at: datetime | None, zone: str | None) -> str:
    """'23 Nov 15:13' in the office zone (or the host's when it is not known)."""
    if at is None:
        return DASH
    if zone:
        return short_time(at, office_zone(zone))
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone().strftime("%d %b %H:%M")


def status_label(batch: Batch) -> str:
    try:
        return BatchStatus(batch.status).label
    except ValueError:
        return batch.status


def mode_label(batch: Batch) -> str:
    try:
        return ChannelMode(batch.channel_mode).label
    except ValueError:
        return batch.channel_mode


def plural_of(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def counts_text(batch: Batch) -> str:
    """'31 emails · 3 letters · 5 not generated' (channels with none are left out)."""
    parts = [plural_of(n, one, many) for n, one, many in (
        (batch.emails, "email", "emails"), (batch.letters, "letter", "letters"),
        (batch.sms, "SMS", "SMS"), (batch.robocalls, "RoboCall", "RoboCalls")) if n]
    if batch.not_generated:
        parts.append(f"{batch.not_generated:,} not generated")
    return " · ".join(parts) or "nothing generated"


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1048576:.1f} MB"
