"""Scheduled and recurring emails, the office's time settings, and the dispatcher's
controls: what the Schedule dialog, the Emails tab, Needs attention and the
status line call. Every time shown to an operator is in the office time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..delivery import schedules as rules
from ..delivery.email import all_recipients, new_message_id
from ..domain import (Attempt, DeliveryRecord, DispatcherStatus, Message, MessageStatus, MissedPolicy,
                      OfficeSettings, Permission, RecipientOutcome, Repeat, ScheduleRequest, Undelivered, User)
from ..store import customers as customers_store
from ..store import mail_servers as mail_store
from ..store import messages as messages_store
from ..store import notes as notes_store
from ..store import office as office_store
from ..store import series as series_store
from .context import Context, require, require_any
from .email import EmailDraft, check_draft, for_account
from .errors import NoMailServer, ValidationError

RuleError = rules.RuleError
WEEKDAYS = rules.WEEKDAYS
system_zone_name = rules.system_zone_name


@dataclass(frozen=True)
class SchedulePreview:
    """What the dialog shows before saving: the first send and the next ones, or why not."""

    first: datetime | None                 # aware, in the office zone
    upcoming: list[datetime] = field(default_factory=list)  # the first five sends, first included
    description: str = ""                  # "every Monday at 09:00"
    cron: str | None = None
    error: str | None = None
    error_field: str | None = None         # "date" | "time" | "cron"

    @property
    def ok(self) -> bool:
        return self.error is None


def preview(request: ScheduleRequest, tz: str, now: datetime | None = None) -> SchedulePreview:
    """Check a request without saving it: the past is refused, a bad cron is explained."""
    now = now or datetime.now(UTC)
    try:
        upcoming = rules.first_and_next(request, tz)
        cron = rules.cron_for(request)
    except RuleError as exc:
        field_name = "cron" if request.repeat is Repeat.CRON else "date"
        return SchedulePreview(None, error=str(exc), error_field=field_name)
    first = upcoming[0]
    if first <= now:
        return SchedulePreview(first, upcoming, rules.describe(request), cron,
                               error=f"{first:%a %d %b %Y %H:%M} {first.tzname()} is in the past: "
                                     "choose a later time.",
                               error_field="time")
    return SchedulePreview(first, upcoming, rules.describe(request), cron)


def until(due: datetime, now: datetime | None = None) -> str:
    """'in 3 h 20 min', 'in 2 days 4 h', 'now', '5 min ago' — how operators read a due time."""
    now = now or datetime.now(UTC)
    seconds = int((due - now).total_seconds())
    ago = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "now" if not ago else "just now"
    minutes = seconds // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        parts = [f"{days} day{'s' if days != 1 else ''}"] + ([f"{hours} h"] if hours else [])
    elif hours:
        parts = [f"{hours} h"] + ([f"{minutes} min"] if minutes else [])
    else:
        parts = [f"{minutes} min"]
    text = " ".join(parts)
    return f"{text} ago" if ago else f"in {text}"


def in_zone(at: datetime, tz: str | ZoneInfo) -> datetime:
    return at.astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))


def request_for(message: Message, tz: str | ZoneInfo) -> ScheduleRequest:
    """What the Schedule dialog starts from for an existing email: its time, its rule."""
    return rules.request_for(in_zone(message.scheduled_at or message.due_at, tz), message.series_rule)


def rule_text(message: Message, tz: str | ZoneInfo) -> str | None:
    """A series' rule in the dialog's words ("every Monday at 09:00"), or None."""
    return rules.describe(request_for(message, tz)) if message.series_rule else None


# -- office settings --------------------------------------------------------------------
def _office(con) -> tuple[OfficeSettings, str | None]:
    return office_store.settings(con, rules.system_zone_name())


def office_zone(ctx: Context, user: User) -> str:
    """The office time zone, for showing times: anyone logged in may read it."""
    require_any(user, *Permission)
    with ctx.db.connect() as con:
        return _office(con)[0].timezone


def get_office_settings(ctx: Context, user: User) -> OfficeSettings:
    """Time zone, missed-run policy, grace and lifetime. Anyone who can see customers may read."""
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return _office(con)[0]


def save_office_settings(ctx: Context, user: User, settings: OfficeSettings) -> OfficeSettings:
    """Administrators only. An unknown zone, a negative grace or lifetime is refused."""
    require(user, Permission.MAIL_SETTINGS)
    name = (settings.timezone or "").strip()
    try:
        rules.zone(name)
    except RuleError as exc:
        raise ValidationError(f"Time zone: {exc}", "timezone") from None
    try:
        policy = MissedPolicy(settings.missed_policy)
    except ValueError:
        raise ValidationError("Missed runs: choose hold, send or skip.", "missed_policy") from None
    grace, lifetime = _whole(settings.grace_minutes, "grace_minutes", "Grace"), \
        _whole(settings.lifetime_hours, "lifetime_hours", "Retry lifetime")
    if lifetime < 1:
        raise ValidationError("Retry lifetime: at least 1 hour.", "lifetime_hours")

    def save(con):
        office_store.put(con, {"timezone": name, "missed_policy": policy.value, "grace_minutes": str(grace),
                               "lifetime_hours": str(lifetime)}, user.username)
        return _office(con)[0]

    return ctx.db.run(save)


def _whole(value, field_name: str, label: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationError(f"{label}: {value!r} is not a whole number.", field_name) from None
    if number < 0:
        raise ValidationError(f"{label}: cannot be negative.", field_name)
    return number


# -- scheduling ---------------------------------------------------------------------------
def _plan(con, request: ScheduleRequest, now: datetime | None) -> tuple[OfficeSettings, SchedulePreview]:
    office = _office(con)[0]
    plan = preview(request, office.timezone, now)
    if not plan.ok:
        raise ValidationError(plan.error, plan.error_field or "time")
    return office, plan


def schedule_email(ctx: Context, user: User, customer_id: int, draft: EmailDraft,
                   request: ScheduleRequest, now: datetime | None = None) -> Message:
    """Queue an email for a time (and, with a repeat rule, a series). Needs customerEdit.

    Raises ValidationError (field "time"/"cron"/an address field) for a time in the
    past, a bad rule or a bad draft. Returns the first occurrence.
    """
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    checked = check_draft(draft)

    def queue(con):
        office, plan = _plan(con, request, now)
        customers_store.get(con, customer_id)
        server = mail_store.active(con)
        if server is None:
            raise NoMailServer("No active mail server is configured: emails cannot be sent yet.")
        series_id = None
        if plan.cron:
            series_id = series_store.insert(
                con, customer_id=customer_id, to_addrs=checked.to, cc_addrs=checked.cc, bcc_addrs=checked.bcc,
                subject=checked.subject, body=checked.body, is_html=checked.is_html, cron=plan.cron,
                timezone=office.timezone, next_at=plan.upcoming[1].astimezone(UTC), created_by=user.username)
        mid = messages_store.insert(
            con, message_id=new_message_id(server.from_addr), customer_id=customer_id,
            to_addrs=checked.to, cc_addrs=checked.cc, bcc_addrs=checked.bcc, subject=checked.subject,
            body=checked.body, is_html=checked.is_html, created_by=user.username,
            due_at=plan.first.astimezone(UTC), series_id=series_id)
        when = f"{plan.first:%a %d %b %Y %H:%M} {plan.first.tzname()}"
        text = (f"Email '{checked.subject or '(no subject)'}' scheduled by {user.username} for {when}"
                + (f", repeating {plan.description}" if plan.cron else ""))
        notes_store.add(con, customer_id, user.username, text)
        return messages_store.get(con, mid)

    return ctx.db.run(queue)


def schedule_email_to_account(ctx: Context, user: User, account_no: str, draft: EmailDraft,
                              request: ScheduleRequest) -> Message:
    """The CLI's way in: by account number, To defaulting to the customer's email."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    return schedule_email(ctx, user, *for_account(ctx, account_no, draft), request)


def _changeable(con, message_id: int) -> Message:
    message = messages_store.get(con, message_id)
    if not message.can_change:
        raise ValidationError(
            f"This email is {MessageStatus(message.status).label} and can no longer be changed.", "status")
    return message


def reschedule(ctx: Context, user: User, message_id: int, request: ScheduleRequest,
               now: datetime | None = None) -> Message:
    """Move a not-yet-sent message; for a series occurrence the series takes the new rule
    (or, with Repeat.NONE, stops after this one)."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)

    def move(con):
        message = _changeable(con, message_id)
        office, plan = _plan(con, request, now)
        messages_store.move(con, message.id, plan.first.astimezone(UTC))
        if message.series_id is not None:
            if plan.cron:
                series_store.set_rule(con, message.series_id, plan.cron, office.timezone,
                                      plan.upcoming[1].astimezone(UTC))
            else:
                series_store.stop(con, message.series_id, user.username, now or datetime.now(UTC))
        elif plan.cron:
            # a one-off that now repeats becomes the first occurrence of a new series
            series_id = series_store.insert(
                con, customer_id=message.customer_id, to_addrs=message.to_addrs, cc_addrs=message.cc_addrs,
                bcc_addrs=message.bcc_addrs, subject=message.subject, body=message.body,
                is_html=message.is_html, cron=plan.cron, timezone=office.timezone,
                next_at=plan.upcoming[1].astimezone(UTC), created_by=user.username)
            con.execute("update messages set series_id = ? where id = ?", [series_id, message.id])
        if message.customer_id is not None:
            notes_store.add(con, message.customer_id, user.username,
                            f"Email '{message.subject or '(no subject)'}' rescheduled by {user.username} to "
                            f"{plan.first:%a %d %b %Y %H:%M} {plan.first.tzname()}"
                            + (f", repeating {plan.description}" if plan.cron else ""))
        return messages_store.get(con, message.id)

    return ctx.db.run(move)


def edit_scheduled(ctx: Context, user: User, message_id: int, draft: EmailDraft) -> Message:
    """Change recipients/subject/body of a not-yet-sent message (and the rest of its series)."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    checked = check_draft(draft)

    def edit(con):
        message = _changeable(con, message_id)
        content = dict(to_addrs=checked.to, cc_addrs=checked.cc, bcc_addrs=checked.bcc,
                       subject=checked.subject, body=checked.body, is_html=checked.is_html)
        messages_store.update_content(con, message.id, **content)
        if message.series_id is not None:
            series_store.update_content(con, message.series_id, **content)
        if message.customer_id is not None:
            notes_store.add(con, message.customer_id, user.username,
                            f"Scheduled email '{checked.subject or '(no subject)'}' edited by {user.username}")
        return messages_store.get(con, message.id)

    return ctx.db.run(edit)


def cancel(ctx: Context, user: User, message_id: int, whole_series: bool = False) -> Message:
    """Cancel before it fires; it stays in the log as cancelled. whole_series stops the series."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    at = datetime.now(UTC)

    def cancel_it(con):
        message = _changeable(con, message_id)
        why = f"cancelled by {user.username} at {at:%Y-%m-%d %H:%M} UTC"
        if whole_series and message.series_id is not None:
            series_store.stop(con, message.series_id, user.username, at)
            messages_store.cancel_series(con, message.series_id, why)
            what = "Recurring email"
        else:
            messages_store.cancel(con, message.id, why)
            what = "Email"
        if message.customer_id is not None:
            notes_store.add(con, message.customer_id, user.username,
                            f"{what} '{message.subject or '(no subject)'}' {why}"
                            + (" (the whole series)" if whole_series and message.series_id else ""))
        return messages_store.get(con, message.id)

    return ctx.db.run(cancel_it)


def send_held_now(ctx: Context, user: User, message_id: int) -> Message:
    """An operator's answer to a held message: send it now after all."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)

    def release(con):
        message = messages_store.get(con, message_id)
        if not messages_store.release_held(con, message.id, datetime.now(UTC)):
            raise ValidationError(f"This email is {MessageStatus(message.status).label}, not held.", "status")
        if message.customer_id is not None:
            notes_store.add(con, message.customer_id, user.username,
                            f"Held email '{message.subject or '(no subject)'}' released by {user.username} "
                            "to be sent now")
        return messages_store.get(con, message.id)

    return ctx.db.run(release)


def needs_attention(ctx: Context, user: User, limit: int = 500) -> list[Message]:
    """Held messages (missed their time while no dispatcher ran), oldest first."""
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return messages_store.held(con, limit)


def undelivered(ctx: Context, user: User, since: datetime | None = None, limit: int = 1000) -> list[Undelivered]:
    """Every recipient who did not get a message, newest first, with the reason: refused at
    RCPT while others got it, or the whole message failed (5xx, or retries ran out)."""
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        return [Undelivered(*row) for row in messages_store.undelivered(con, since, limit)]


def delivery_record(ctx: Context, user: User, message_id: int) -> DeliveryRecord:
    """The message, every attempt (time, dispatcher, reply) and each recipient's outcome."""
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        message = messages_store.get(con, message_id)
        attempts = tuple(Attempt(a, d, at, o, r, tuple(refused or ()))
                         for a, d, at, o, r, refused in messages_store.attempts(con, message_id))
        outcomes = messages_store.recipient_outcomes(con, message_id)
    return DeliveryRecord(message, attempts, tuple(_recipients(message, outcomes)))


def _recipients(message: Message, outcomes: list[tuple]) -> list[RecipientOutcome]:
    """Each envelope recipient's latest word; recipients never refused share the message's fate."""
    latest: dict[str, RecipientOutcome] = {}
    for address, _attempt, outcome, reply, at in outcomes:
        latest[address] = RecipientOutcome(address, outcome, reply, at)
    pending = set(message.pending_rcpts or ())
    found = []
    for address in all_recipients(message):
        known = latest.get(address)
        if address in pending and message.status != MessageStatus.FAILED:
            found.append(RecipientOutcome(address, "pending", known.reply if known else None,
                                          known.at if known else None))
        elif known is not None and (known.outcome in ("refused", "accepted") or message.status == "sent"):
            found.append(known if known.outcome != "deferred" else
                         RecipientOutcome(address, "accepted", message.server_reply, message.sent_at))
        elif message.status == MessageStatus.SENT:
            found.append(RecipientOutcome(address, "accepted", message.server_reply, message.sent_at))
        elif message.status == MessageStatus.FAILED:
            found.append(RecipientOutcome(address, "failed", message.last_error, None))
        else:
            found.append(RecipientOutcome(address, MessageStatus(message.status).label, message.last_error, None))
    return found


# -- the dispatcher, seen and steered from any terminal --------------------------------------
def dispatcher_status(ctx: Context, user: User, now: datetime | None = None) -> DispatcherStatus:
    require(user, Permission.CUSTOMER_VIEW)
    now = now or datetime.now(UTC)
    with ctx.db.connect() as con:
        _, paused_by = _office(con)
        queued, soon, retrying, failing, held, next_due = messages_store.dispatch_counts(
            con, now, now + timedelta(hours=1), now - timedelta(hours=24))
        seen = office_store.dispatchers(con, now - timedelta(minutes=2))
    return DispatcherStatus(paused=paused_by is not None, paused_by=paused_by, queued=queued,
                            due_next_hour=soon, retrying=retrying, failing=failing, needs_attention=held,
                            next_due=next_due, dispatchers=tuple(seen))


def set_paused(ctx: Context, user: User, paused: bool) -> DispatcherStatus:
    """Administrators: pause stops new claims everywhere (every TUI and the service);
    sends already in flight finish."""
    require(user, Permission.MAIL_SETTINGS)
    ctx.db.run(lambda con: office_store.put(con, {"paused_by": user.username if paused else None},
                                            user.username))
    return dispatcher_status(ctx, user)
