"""Bulk send, up to a generated batch: who (buildings, account numbers or filters, plus
owners and contacts), how (preferred delivery or a forced channel), what (a template or
an adhoc message, merged per recipient in jinja2's sandbox), previews, and generation in
chunks into a batch that waits for approval (services.batches takes it from there)."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..config import data_dir
from ..delivery import rendering
from ..delivery.email import html_to_text, new_message_id
from ..delivery.sms import NumberError, is_mobile, normalise_number
from ..domain import (Batch, BatchFailure, BatchStatus, Channel, ChannelMode, Permission, Recipient,
                      RecipientKind, User)
from ..store import batches as store
from ..store import letter_files
from ..store import customers as customers_store
from ..store import mail_servers as mail_store
from ..store import messages as messages_store
from ..store import office as office_store
from ..store import sms as sms_store
from ..store import templates as templates_store
from .context import Context, require, require_any
from .templates import office_today
from .errors import NoMailServer, ServiceError, ValidationError

CHUNK = 5_000            # recipients merged and stored per transaction: nobody waits long on the file
LETTER_CHUNK = 500       # letters stored per transaction
_SPLIT = re.compile(r"[\s,;]+")
_ACCOUNT_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./-]{0,31}$")


# -- who ------------------------------------------------------------------------------
@dataclass
class Selection:
    mode: str = "buildings"              # buildings | accounts | filter
    building_ids: list[int] = field(default_factory=list)
    customer_types: list[str] = field(default_factory=list)   # empty: every type
    accounts_text: str = ""              # accounts mode: numbers separated by spaces, commas or lines
    statuses: list[str] = field(default_factory=list)         # filter mode; empty: any status
    preferred: list[str] = field(default_factory=list)        # filter mode: email | post | sms
    has_email: bool | None = None
    has_mobile: bool | None = None
    include_owners: bool = False
    include_contacts: bool = False


@dataclass(frozen=True)
class AccountProblem:
    line: int
    token: str
    reason: str


@dataclass
class AccountCheck:
    accounts: list[str]                  # valid, active, each once (as stored)
    problems: list[AccountProblem]

    @property
    def summary(self) -> str:
        text = f"{len(self.accounts):,} account(s) found"
        return text + (f"; {len(self.problems):,} left out (see the list)" if self.problems else "")


@dataclass(frozen=True)
class Choices:
    """What the Who step offers."""

    buildings: list            # domain.Building, every brand
    customer_types: list[str]
    statuses: list[str]
    deliveries: list[str]


@dataclass(frozen=True)
class SelectionCount:
    customers: int
    owners: int = 0
    contacts: int = 0

    @property
    def total(self) -> int:
        return self.customers + self.owners + self.contacts


@dataclass
class RecipientList:
    recipients: list[Recipient]

    @property
    def reachable(self) -> list[Recipient]:
        return [r for r in self.recipients if r.problem is None]

    @property
    def unreachable(self) -> list[Recipient]:
        return [r for r in self.recipients if r.problem is not None]

    def by_channel(self) -> dict[str, int]:
        return dict(Counter(r.channel for r in self.recipients if r.problem is None))


def choices(ctx: Context, user: User) -> Choices:
    require(user, Permission.BULK_SEND)
    with ctx.db.connect() as con:
        return Choices(customers_store.buildings(con), customers_store.distinct_values(con, "customer_type"),
                       customers_store.distinct_values(con, "status"), ["email", "post", "sms"])


def check_accounts(ctx: Context, user: User, text: str) -> AccountCheck:
    """Every number pasted is judged: not an account number, listed twice, unknown or inactive."""
    require(user, Permission.BULK_SEND)
    tokens: list[tuple[int, str]] = []
    for line_no, line in enumerate((text or "").splitlines() or [""], start=1):
        tokens.extend((line_no, t) for t in _SPLIT.split(line) if t)
    shaped = [t for _, t in tokens if _ACCOUNT_SHAPE.match(t)]
    with ctx.db.connect() as con:
        known = store.lookup_accounts(con, shaped) if shaped else {}
    accounts: list[str] = []
    problems: list[AccountProblem] = []
    first_line: dict[str, int] = {}
    for line_no, token in tokens:
        key = token.upper()
        if not _ACCOUNT_SHAPE.match(token):
            problems.append(AccountProblem(line_no, token, "not an account number"))
        elif key in first_line:
            problems.append(AccountProblem(line_no, token, f"listed twice (first on line {first_line[key]})"))
        elif key not in known:
            first_line[key] = line_no
            problems.append(AccountProblem(line_no, token, "no customer has this account number"))
        else:
            first_line[key] = line_no
            account_no, status = known[key]
            if status != "active":
                problems.append(AccountProblem(line_no, token, f"the account is {status}"))
            else:
                accounts.append(account_no)
    return AccountCheck(accounts, problems)


def _criteria(ctx: Context, user: User, selection: Selection) -> store.Criteria:
    if selection.mode == "buildings":
        if not selection.building_ids:
            raise ValidationError("Choose at least one building.", "buildings")
        # a building notice goes to current customers
        return store.Criteria(building_ids=selection.building_ids, customer_types=selection.customer_types,
                              statuses=["active"])
    if selection.mode == "accounts":
        found = check_accounts(ctx, user, selection.accounts_text)
        if not found.accounts:
            raise ValidationError("Enter at least one active account number.", "accounts")
        return store.Criteria(account_nos=found.accounts)
    if selection.mode == "filter":
        return store.Criteria(building_ids=selection.building_ids, customer_types=selection.customer_types,
                              statuses=selection.statuses, preferred=selection.preferred,
                              has_email=selection.has_email, has_mobile=selection.has_mobile)
    raise ValidationError(f"Unknown way to choose recipients: {selection.mode!r}.", "mode")


def count(ctx: Context, user: User, selection: Selection) -> SelectionCount:
    """The live count as the selection changes (customers, plus owners and contacts if asked for)."""
    require(user, Permission.BULK_SEND)
    try:
        criteria = _criteria(ctx, user, selection)
    except ValidationError:
        return SelectionCount(0)
    with ctx.db.connect() as con:
        customers, owners, contacts = store.count(con, criteria)
    return SelectionCount(customers, owners if selection.include_owners else 0,
                          contacts if selection.include_contacts else 0)


# -- how ------------------------------------------------------------------------------
_PREFERRED_CHANNEL = {"email": Channel.EMAIL, "post": Channel.LETTER, "sms": Channel.SMS}


def _postal(name: str, l1, l2, city, state, postcode) -> tuple[str, ...]:
    city_line = " ".join(p for p in (city, state, postcode) if p)
    return tuple(p for p in (name, l1, l2, city_line) if p)


def _recipient(row: tuple, mode: str, region: str) -> Recipient:
    (kind, account_no, linked, name, preferred, email, mobile, opt_in, l1, l2, city, state, postcode,
     customer_id, contact_id) = row
    if mode == ChannelMode.PREFERRED:
        channel = Channel.EMAIL if kind == RecipientKind.CONTACT else _PREFERRED_CHANNEL.get(preferred, Channel.EMAIL)
    else:
        channel = Channel(mode)
    destination, problem = None, None
    if channel == Channel.EMAIL:
        destination = email or None
        if not destination:
            problem = ("prefers email but has no email address" if mode == ChannelMode.PREFERRED
                       else "no email address")
    elif channel == Channel.LETTER:
        lines = _postal(name, l1, l2, city, state, postcode)
        destination = ", ".join(lines[1:]) or None
        if len(lines) < 2:
            problem = "no postal address"
    else:
        if not mobile:
            problem = "no mobile number" if channel == Channel.SMS else "no phone number"
        else:
            try:
                destination = normalise_number(mobile, region)
            except NumberError as exc:
                destination, problem = mobile, f"phone number {mobile!r}: {exc}"
            else:
                if channel == Channel.SMS and not is_mobile(destination, region):
                    problem = f"{mobile} is not a mobile number"
                elif channel == Channel.SMS and not opt_in:
                    problem = "not opted in to SMS"
    return Recipient(account_no=account_no, linked_account_no=linked, kind=kind, name=name, channel=channel,
                     destination=destination, customer_id=customer_id, contact_id=contact_id, problem=problem)


def recipients(ctx: Context, user: User, selection: Selection, mode: str | ChannelMode) -> RecipientList:
    """Everyone the send would go to, on which channel; those who cannot be reached say why."""
    require(user, Permission.BULK_SEND)
    mode = ChannelMode(mode)
    criteria = _criteria(ctx, user, selection)
    with ctx.db.connect() as con:
        rows = store.people(con, criteria, selection.include_owners, selection.include_contacts)
        provider = sms_store.active_provider(con)
    region = provider.default_region if provider else "AU"
    return RecipientList([_recipient(row, mode, region) for row in rows])


@dataclass(frozen=True)
class Prerequisite:
    ok: bool
    message: str = ""
    fix: str | None = None        # "mail" | "sms": which settings screen would fix it
    can_fix: bool = False         # this user may open that screen


def prerequisites(ctx: Context, user: User, channels: Sequence[str]) -> list[Prerequisite]:
    """What is missing before the channels can be used (an empty list: nothing)."""
    require(user, Permission.BULK_SEND)
    missing = []
    with ctx.db.connect() as con:
        mail = mail_store.active(con)
        provider = sms_store.active_provider(con)
    admin = user.can(Permission.MAIL_SETTINGS)
    if Channel.EMAIL in channels and mail is None:
        missing.append(Prerequisite(False, "No active mail server is configured: emails cannot be sent.",
                                    "mail", admin))
    wants_texts = [c for c in channels if c in (Channel.SMS, Channel.ROBOCALL)]
    if wants_texts and provider is None:
        missing.append(Prerequisite(False, "No SMS/RoboCall provider is configured: texts and calls cannot "
                                           "be sent.", "sms", admin))
    return missing


# -- what -----------------------------------------------------------------------------
@dataclass
class BulkCompose:
    template_name: str | None = None     # None: an adhoc message
    subject: str = ""
    text_body: str = ""
    html_body: str = ""
    letter_body: str = ""                # empty: letters use the text body
    sms_body: str = ""                   # SMS text / what a RoboCall says
    attachment: Path | None = None       # one PDF, for emails and letters

    def parts(self) -> dict[str, str]:
        return {"subject": self.subject, "text_body": self.text_body, "html_body": self.html_body,
                "letter_body": self.letter_body, "sms_body": self.sms_body}


@dataclass
class ComposeCheck:
    problems: list            # rendering.Problem (part, line, message)
    warnings: list[str]
    attachment: object | None = None   # pdfs.PdfInfo

    @property
    def ok(self) -> bool:
        return not self.problems


def from_template(ctx: Context, user: User, name: str) -> BulkCompose:
    require(user, Permission.BULK_SEND)
    with ctx.db.connect() as con:
        found = templates_store.get_by_name(con, name)
    return BulkCompose(template_name=found.name, subject=found.subject, text_body=found.text_body,
                       html_body=found.html_body, letter_body=found.letter_body, sms_body=found.sms_body)


def _needed(channels: Sequence[str]) -> set[str]:
    channels = set(channels)
    return {"email"} & channels | {"letter"} & channels | ({"text"} if channels & {"sms", "robocall"} else set())


def check_compose(ctx: Context, user: User, compose: BulkCompose, channels: Sequence[str]) -> ComposeCheck:
    """Every problem at once, each at its part and line, before anything is generated."""
    require(user, Permission.BULK_SEND)
    problems = list(rendering.check(compose.parts()))
    warnings: list[str] = []
    needed = _needed(channels)
    Problem = rendering.Problem
    if not compose.subject.strip():
        problems.append(Problem("subject", None, "A subject must be entered."))
    if "email" in needed and not (compose.text_body.strip() or compose.html_body.strip()):
        problems.append(Problem("text_body", None, "Emails need a message (text or HTML)."))
    if "letter" in needed and not (compose.letter_body.strip() or compose.text_body.strip()):
        problems.append(Problem("letter_body", None, "Letters need a letter body (or a text body)."))
    if "text" in needed and not compose.sms_body.strip():
        problems.append(Problem("sms_body", None, "SMS and RoboCall need a message template."))
    info = None
    if compose.attachment is not None:
        info = _check_attachment(ctx, compose.attachment)
        if info.warning:
            warnings.append(info.warning)
        if not needed & {"email", "letter"}:
            warnings.append("The attachment is only sent with emails and letters; SMS and calls ignore it.")
    return ComposeCheck(problems, warnings, info)


def _check_attachment(ctx: Context, path: Path):
    from ..delivery.pdfs import PdfError, check_pdf  # fpdf2/pypdf load only when PDFs are involved

    path = Path(path).expanduser()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValidationError(f"Attachment: cannot read {path}: {exc.strerror or exc}.", "attachment") from None
    limit = int(ctx.settings.attachment_max_mb * 1024 * 1024)
    if size > limit:
        raise ValidationError(f"Attachment: {path.name} is {size / 1048576:.1f} MB; the limit is "
                              f"{ctx.settings.attachment_max_mb:g} MB.", "attachment")
    try:
        return check_pdf(path.read_bytes(), path.name, warn_over=int(ctx.settings.attachment_warn_mb * 1048576),
                         limit=limit)
    except PdfError as exc:
        raise ValidationError(f"Attachment: {exc}", "attachment") from None


def _require_ok(check: ComposeCheck) -> None:
    if check.problems:
        first = check.problems[0]
        where = f" (line {first.line})" if first.line else ""
        raise ValidationError(f"{_PART_LABELS.get(first.part, first.part)}{where}: {first.message}", first.part)


_PART_LABELS = {"subject": "Subject", "text_body": "Message", "html_body": "HTML message",
                "letter_body": "Letter body", "sms_body": "SMS/RoboCall message"}


def office_letterhead(con):
    """The letterhead letters, quotes and invoices carry, from the office settings."""
    from ..delivery.letters import Letterhead

    values = office_store.get_all(con)
    server = mail_store.active(con)
    return Letterhead(
        name=values.get("letterhead_name") or "Customer Communications",
        address_lines=tuple(line for line in (values.get("letterhead_address") or "").splitlines() if line.strip()),
        phone=values.get("letterhead_phone") or "",
        email=values.get("letterhead_email") or (server.from_addr if server else ""))


@dataclass
class LetterheadForm:
    """The office's name and address printed at the top of every letter."""

    name: str = ""
    address_lines: list[str] = field(default_factory=list)
    phone: str = ""
    email: str = ""


def get_letterhead(ctx: Context, user: User) -> LetterheadForm:
    require_any(user, Permission.BULK_SEND, Permission.MAIL_SETTINGS)
    with ctx.db.connect() as con:
        head = office_letterhead(con)
    return LetterheadForm(head.name, list(head.address_lines), head.phone, head.email)


def save_letterhead(ctx: Context, user: User, form: LetterheadForm) -> LetterheadForm:
    require(user, Permission.MAIL_SETTINGS)
    values = {"letterhead_name": form.name, "letterhead_address": "\n".join(form.address_lines),
              "letterhead_phone": form.phone, "letterhead_email": form.email}
    for key, value in values.items():
        if any(ch in value for ch in "\x00\x1b") or (key != "letterhead_address" and "\n" in value):
            raise ValidationError(f"Letterhead: {key.split('_')[1]} must be plain text on one line.", key)
    if len(form.address_lines) > 4:
        raise ValidationError("Letterhead: at most four address lines fit above the window.", "letterhead_address")
    ctx.db.run(lambda con: office_store.put(con, {k: v.strip() or None for k, v in values.items()},
                                            user.username))
    return get_letterhead(ctx, user)


def _merge_row(base: dict, r: Recipient, user: User, today: str) -> dict:
    row = dict(base)
    row.update(recipient_name=r.name, recipient_kind=RecipientKind(r.kind).label,
               recipient_email=r.destination if r.channel == Channel.EMAIL else "",
               recipient_mobile=r.destination if r.channel in (Channel.SMS, Channel.ROBOCALL) else "",
               sender_name=user.display_name, sender_email=user.email or "", today=today)
    return row


# -- previews -------------------------------------------------------------------------
@dataclass(frozen=True)
class EmailPreview:
    headers: list[tuple[str, str]]
    text: str                     # what a text-only mail reader shows
    html: str | None
    attachments: list[tuple[str, int]]   # (file name, bytes)


@dataclass(frozen=True)
class LetterPreview:
    path: Path
    text: str
    pages: int


@dataclass(frozen=True)
class TextPreview:
    text: str
    encoding: str
    characters: int
    segments: int


def _render_one(ctx: Context, user: User, compose: BulkCompose, recipient: Recipient) -> dict[str, str]:
    _require_ok(ComposeCheck(list(rendering.check(compose.parts())), []))
    compiled = rendering.compile_parts(compose.parts())
    with ctx.db.connect() as con:
        base = store.merge_rows(con, [recipient.account_no])[0]
        today = office_today(con)
    try:
        return compiled.render(rendering.context_for(_merge_row(base, recipient, user, today)))
    except rendering.RenderError as exc:
        raise ValidationError(str(exc), "text_body") from None


def preview_email(ctx: Context, user: User, compose: BulkCompose, recipient: Recipient) -> EmailPreview:
    require(user, Permission.BULK_SEND)
    parts = _render_one(ctx, user, compose, recipient)
    with ctx.db.connect() as con:
        server = mail_store.active(con)
    html = parts["html_body"] if compose.html_body.strip() else None
    text = html_to_text(html) if html and not compose.text_body.strip() else parts["text_body"]
    headers = [("From", server.from_addr if server else "(no mail server configured)"),
               ("To", recipient.destination or "(none)"), ("Subject", parts["subject"]),
               ("Message-ID", "(assigned when the batch is generated)")]
    attachments = []
    if compose.attachment is not None:
        info = _check_attachment(ctx, compose.attachment)
        attachments.append((Path(compose.attachment).name, info.size))
    return EmailPreview(headers, text, html, attachments)


def preview_letter(ctx: Context, user: User, compose: BulkCompose, recipient: Recipient,
                   out_dir: Path | None = None) -> LetterPreview:
    """The real PDF for one recipient (attachment appended), written to a file, plus its text."""
    from ..delivery.letters import LetterInput, letter_text, make_letter
    from ..delivery.pdfs import write_print_batch

    require(user, Permission.BULK_SEND)
    parts = _render_one(ctx, user, compose, recipient)
    with ctx.db.connect() as con:
        letterhead = office_letterhead(con)
        today = office_today(con)
        row = store.people(con, store.Criteria(account_nos=[recipient.account_no]), False, False)[0]
    lines = _postal(recipient.name, *row[8:13])
    letter = LetterInput(key=0, recipient_lines=lines, date_text=today, subject=parts["subject"],
                         body=parts["letter_body"] or parts["text_body"])
    pdf, pages = make_letter(letter, letterhead)
    attachment = None
    if compose.attachment is not None:
        _check_attachment(ctx, compose.attachment)
        attachment = Path(compose.attachment).read_bytes()
    out_dir = Path(out_dir) if out_dir else data_dir() / "previews"
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", recipient.account_no or "letter")
    path = out_dir / f"letter-preview-{safe}.pdf"
    write_print_batch(path, [pdf], attachment)
    return LetterPreview(path, letter_text(letter, letterhead), pages)


def preview_text(ctx: Context, user: User, compose: BulkCompose, recipient: Recipient) -> TextPreview:
    require(user, Permission.BULK_SEND)
    text = _render_one(ctx, user, compose, recipient)["sms_body"]
    encoding, characters, segments = rendering.sms_segments(text)
    return TextPreview(text, encoding, characters, segments)


def send_test_to_me(ctx: Context, user: User, compose: BulkCompose, recipient: Recipient) -> str:
    """Queue the email as this recipient would get it, to the user's own address, now."""
    require(user, Permission.BULK_SEND)
    if not user.email:
        raise ValidationError("Your user has no email address to send a test to; ask an administrator "
                              "to add one.", "email")
    parts = _render_one(ctx, user, compose, recipient)
    html = parts["html_body"] if compose.html_body.strip() else None
    content = None
    if compose.attachment is not None:
        info = _check_attachment(ctx, compose.attachment)
        content = (Path(compose.attachment).name, Path(compose.attachment).read_bytes(), info)

    def queue(con):
        server = mail_store.active(con)
        if server is None:
            raise NoMailServer("No active mail server is configured: the test cannot be sent.")
        mid = messages_store.insert(con, message_id=new_message_id(server.from_addr), customer_id=None,
                                    to_addrs=[user.email], subject=f"[TEST] {parts['subject']}",
                                    body=html or parts["text_body"], is_html=bool(html),
                                    created_by=user.username)
        if content:
            name, data, info = content
            aid = store.add_attachment(con, filename=name, content=data, sha256=info.sha256, pages=info.pages,
                                       created_by=user.username)
            store.set_attachment(con, mid, aid)
        return mid

    ctx.db.run(queue)
    return user.email


# -- generate ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    phase: str          # "emails and texts" | "letters"


@dataclass(frozen=True)
class GenerateResult:
    batch: Batch
    failures: list[BatchFailure]
    cancelled: bool = False


class Cancelled(Exception):
    pass


def _failure(r: Recipient, reason: str) -> BatchFailure:
    return BatchFailure(account_no=r.account_no, linked_account_no=r.linked_account_no, kind=r.kind,
                        name=r.name, channel=r.channel, destination=r.destination, reason=reason)


def generate(ctx: Context, user: User, selection: Selection, mode: str | ChannelMode, compose: BulkCompose,
             chosen: Sequence[Recipient], *, progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | None = None, processes: int | None = None) -> GenerateResult:
    """Create a batch of per-recipient messages awaiting approval.

    `chosen` is the review list as the operator left it (unticked rows removed); those with
    a problem are recorded as failures with the reason. Work goes in chunks, each its own
    transaction; cancelling (or an error) leaves the batch cancelled (failed) and none of
    its messages can be sent.
    """
    require(user, Permission.BULK_SEND)
    mode = ChannelMode(mode)
    reachable = [r for r in chosen if r.problem is None]
    channels = sorted({r.channel for r in reachable})
    if not chosen:
        raise ValidationError("No recipients are ticked: nothing to generate.", "recipients")
    check = check_compose(ctx, user, compose, channels or [Channel.EMAIL])
    _require_ok(check)
    missing = prerequisites(ctx, user, channels)
    if missing:
        raise (NoMailServer if missing[0].fix == "mail" else ServiceError)(missing[0].message)
    compiled = rendering.compile_parts(compose.parts())
    attachment = Path(compose.attachment).read_bytes() if compose.attachment is not None else None
    now = datetime.now(UTC)
    failures = [_failure(r, r.problem) for r in chosen if r.problem is not None]

    def start(con):
        attachment_id = None
        if attachment is not None:
            info = check.attachment
            attachment_id = store.add_attachment(con, filename=Path(compose.attachment).name, content=attachment,
                                                 sha256=hashlib.sha256(attachment).hexdigest(),
                                                 pages=getattr(info, "pages", None), created_by=user.username)
        title = compose.subject.strip() or compose.template_name or "Bulk send"
        batch_id = store.create(con, title=title, channel_mode=mode, selection=asdict(selection),
                                template_name=compose.template_name, parts=compose.parts(),
                                attachment_id=attachment_id, created_by=user.username, recipients=len(chosen))
        return batch_id, attachment_id, mail_store.active(con), office_letterhead(con), office_today(con)

    batch_id, attachment_id, server, letterhead, today = ctx.db.run(start)
    from_addr = server.from_addr if server else None
    counts: Counter = Counter()
    total = len(reachable)
    done = 0
    try:
        letters: list = []
        for lo in range(0, total, CHUNK):
            if cancel is not None and cancel.is_set():
                raise Cancelled
            chunk = reachable[lo:lo + CHUNK]

            def merge_and_store(con, chunk=chunk):
                # one transaction per chunk: merging and storing 5,000 holds the file well under a second
                bases = store.merge_rows(con, [r.account_no for r in chunk])
                rows, made, lost = _merge(compiled, chunk, bases, user, today, from_addr)
                ids = store.add_messages(con, batch_id, rows, created_by=user.username,
                                         attachment_id=attachment_id, now=now)
                return rows, ids, made, lost

            rows, ids, made, lost = ctx.db.run(merge_and_store)
            failures.extend(lost)
            for index, channel in enumerate(rows.channel):
                counts[channel] += 1
                if channel == Channel.LETTER:
                    from ..delivery.letters import LetterInput  # fpdf2 loads only for letters

                    letters.append(LetterInput(key=ids[index], recipient_lines=tuple(rows.to_addrs[index]),
                                               date_text=today, subject=rows.subject[index],
                                               body=rows.body[index]))
            done += len(chunk)
            if progress:
                progress(Progress(done, total, "merging"))
        if letters:
            _make_letters(ctx, batch_id, letters, letterhead, progress, cancel, processes)
        ctx.db.run(lambda con: (store.add_failures(con, batch_id, failures),
                                store.finish(con, batch_id, status=BatchStatus.PENDING, counts=counts,
                                             not_generated=len(failures))))
    except Cancelled:
        _abandon(ctx, batch_id, BatchStatus.CANCELLED, "generation was cancelled", failures)
        with ctx.db.connect() as con:
            return GenerateResult(store.get(con, batch_id), failures, cancelled=True)
    except BaseException as exc:
        _abandon(ctx, batch_id, BatchStatus.FAILED, f"generation stopped: {exc}", failures)
        raise
    with ctx.db.connect() as con:
        return GenerateResult(store.get(con, batch_id), failures)


def _merge(compiled, chunk: Sequence[Recipient], bases: list[dict], user: User, today: str,
           from_addr: str | None) -> tuple[store.MessageRows, int, list[BatchFailure]]:
    """Render a chunk of recipients into message columns; a recipient whose merge fails is a failure."""
    rows = store.MessageRows()
    lost: list[BatchFailure] = []
    html_wanted = "html_body" in compiled.parts
    for r, base in zip(chunk, bases):
        try:
            parts = compiled.render(rendering.context_for(_merge_row(base, r, user, today)))
        except rendering.RenderError as exc:
            lost.append(_failure(r, f"the template could not be merged: {exc}"))
            continue
        if r.channel == Channel.EMAIL:
            html = parts["html_body"] if html_wanted else None
            to, body, is_html = [r.destination], html or parts["text_body"], bool(html)
        elif r.channel == Channel.LETTER:
            to = list(_postal(r.name, base["address_line1"], base["address_line2"], base["city"],
                              base["state"], base["postcode"]))
            body, is_html = parts["letter_body"] or parts["text_body"], False
        else:
            to, body, is_html = [r.destination], parts["sms_body"], False
        rows.message_id.append(new_message_id(from_addr))
        rows.customer_id.append(r.customer_id)
        rows.channel.append(str(r.channel))
        rows.to_addrs.append(to)
        rows.subject.append(parts["subject"])
        rows.body.append(body)
        rows.is_html.append(is_html)
        rows.recipient_kind.append(str(r.kind))
        rows.recipient_name.append(r.name)
        rows.contact_id.append(r.contact_id)
    return rows, len(rows), lost


def _make_letters(ctx: Context, batch_id: int, letters: list, letterhead,
                  progress: Callable[[Progress], None] | None, cancel: threading.Event | None,
                  processes: int | None) -> None:
    from ..delivery.letters import make_letters

    made: list[tuple[int, str, int]] = []
    done = 0
    stream = make_letters(iter(letters), letterhead, processes=processes or ctx.settings.letter_processes)
    try:
        for message_id, pdf, pages in stream:
            made.append((message_id, letter_files.write(ctx.db.path, batch_id, message_id, pdf), pages))
            done += 1
            if len(made) >= LETTER_CHUNK:
                ctx.db.run(lambda con, rows=made: store.add_letters(con, rows))
                made = []
                if progress:
                    progress(Progress(done, len(letters), "letters"))
            if cancel is not None and cancel.is_set():
                raise Cancelled
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    if made:
        ctx.db.run(lambda con: store.add_letters(con, made))
    if progress:
        progress(Progress(done, len(letters), "letters"))


def _abandon(ctx: Context, batch_id: int, status: str, why: str, failures: list[BatchFailure]) -> None:
    def abandon(con):
        store.drop_pending(con, batch_id, why)
        store.set_status(con, batch_id, status, error=why)
    ctx.db.run(abandon)
    letter_files.remove_batch(ctx.db.path, batch_id)
