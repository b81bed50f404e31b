"""Templates: list, read, save (checked part by part, at the line), delete, and preview
against a real customer. Bulk senders may read and preview templates; only the
templates permission may change them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..delivery import rendering
from ..delivery import schedules as rules
from ..delivery.rendering import PART_LABELS, PARTS, Field, Problem
from ..domain import Permission, Template, User
from ..store import office as office_store
from ..store import templates as templates_store
from ..store.db import NotFound
from .context import Context, require, require_any
from .errors import ValidationError

__all__ = ["TemplateDraft", "Problem", "Field", "PARTS", "PART_LABELS", "list_templates", "get_template",
           "save_template", "delete_template", "preview", "check", "field_catalogue", "sms_segments"]

NAME_MAX = 80
DESCRIPTION_MAX = 200
PART_MAX = 100_000   # characters in one part: a letter is a few thousand


@dataclass
class TemplateDraft:
    """What the editor (or a script) hands over; id None means a new template."""

    name: str = ""
    description: str = ""
    subject: str = ""
    text_body: str = ""
    html_body: str = ""
    letter_body: str = ""
    sms_body: str = ""
    id: int | None = None

    def parts(self) -> dict[str, str]:
        return {part: getattr(self, part) for part in PARTS}

    @classmethod
    def of(cls, template: Template) -> "TemplateDraft":
        return cls(name=template.name, description=template.description, id=template.id,
                   **{part: getattr(template, part) for part in PARTS})


def field_catalogue() -> tuple[Field, ...]:
    """The merge fields every template sees, with a description and an example."""
    return rendering.FIELDS


def check(parts: dict[str, str]) -> list[Problem]:
    """Every syntax error and unknown field in the parts, each at its line (pure: no data)."""
    return rendering.check(parts)


def sms_segments(text: str) -> tuple[str, int, int]:
    """(encoding, characters, segments) of an SMS text."""
    return rendering.sms_segments(text)


def list_templates(ctx: Context, user: User, channel: str | None = None) -> list[Template]:
    """Every template, or those with a body for the channel (email, letter, sms, robocall)."""
    require_any(user, Permission.TEMPLATES, Permission.BULK_SEND)
    with ctx.db.connect() as con:
        found = templates_store.list_all(con)
    return [t for t in found if channel is None or t.supports(channel)]


def get_template(ctx: Context, user: User, key: int | str) -> Template:
    """A template by id (an int) or by name (a str, any letter case)."""
    require_any(user, Permission.TEMPLATES, Permission.BULK_SEND)
    with ctx.db.connect() as con:
        if isinstance(key, int):
            return templates_store.get(con, key)
        found = templates_store.find_by_name(con, key)
        if found is None:
            names = ", ".join(t.name for t in templates_store.list_all(con)) or "none yet"
            raise ValidationError(f"No template named {key.strip()!r}. Templates: {names}.", "template")
        return found


def validate(draft: TemplateDraft) -> TemplateDraft:
    """The draft tidied, or ValidationError at the first thing wrong (field = the part)."""
    name = " ".join(draft.name.split())
    if not name:
        raise ValidationError("Name: give the template a name, e.g. \"Water shut-off notice\".", "name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"Name: at most {NAME_MAX} characters.", "name")
    description = " ".join(draft.description.split())
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(f"Description: at most {DESCRIPTION_MAX} characters.", "description")
    parts = {part: (getattr(draft, part) or "").replace("\r\n", "\n") for part in PARTS}
    parts["subject"] = parts["subject"].strip()
    if "\n" in parts["subject"]:
        raise ValidationError("Subject: one line only.", "subject")
    for part, text in parts.items():
        if len(text) > PART_MAX:
            raise ValidationError(f"{PART_LABELS[part]}: at most {PART_MAX:,} characters.", part)
    if not any(parts[p].strip() for p in rendering.BODIES):
        raise ValidationError("Write at least one body: text or HTML for email, a letter body, or an SMS.",
                              "text_body")
    problems = rendering.check(parts)
    if problems:
        first = problems[0]
        more = len(problems) - 1
        raise ValidationError(str(first) + (f" ({more} more below)" if more else ""), first.part)
    return TemplateDraft(name=name, description=description, id=draft.id, **parts)


def save_template(ctx: Context, user: User, draft: TemplateDraft) -> Template:
    """Create (id None) or change a template. The name must be unique and every part valid."""
    require(user, Permission.TEMPLATES)
    clean = validate(draft)
    values = {k: v for k, v in asdict(clean).items() if k not in ("id", "name")}

    def save(con):
        same_name = templates_store.find_by_name(con, clean.name)
        if same_name is not None and same_name.id != clean.id:
            raise ValidationError(f"Name: there is already a template called {same_name.name!r}; "
                                  "choose another name or edit that one.", "name")
        if clean.id is None:
            template_id = templates_store.insert(con, clean.name, user.username, **values)
        else:
            templates_store.update(con, clean.id, clean.name, user.username, **values)
            template_id = clean.id
        return templates_store.get(con, template_id)

    return ctx.db.run(save)


def delete_template(ctx: Context, user: User, template_id: int) -> None:
    require(user, Permission.TEMPLATES)
    if not ctx.db.run(lambda con: templates_store.delete(con, template_id)):
        raise NotFound(f"No template with id {template_id}; it may have been deleted already.")


def office_today(con) -> str:
    """Today's date as merge fields print it ("23 November 2026"), in the office zone."""
    zone = office_store.settings(con, rules.system_zone_name())[0].timezone
    try:
        now = datetime.now(ZoneInfo(zone))
    except (KeyError, ValueError):
        now = datetime.now().astimezone()
    return rendering.today_text(now.date())


def preview(ctx: Context, user: User, parts: dict[str, str], customer_id: int | None = None, *,
            account_no: str | None = None) -> dict[str, str]:
    """Every part rendered for a real customer (by id, by account number, or else the first
    account), as that customer would get it, sent by this user today. The dict has every
    part ("" where empty) and "account_no": the account it was rendered for.

    A problem in a part raises ValidationError naming the part and line (field = the part)."""
    require_any(user, Permission.TEMPLATES, Permission.BULK_SEND)
    if account_no is not None and not account_no.strip():
        account_no = None
    try:
        compiled = rendering.compile_parts(parts)
    except rendering.TemplateError as exc:
        raise ValidationError(str(exc), exc.problems[0].part) from None
    with ctx.db.connect() as con:
        try:
            row = templates_store.merge_row(con, customer_id=customer_id, account_no=account_no)
        except NotFound as exc:
            raise ValidationError(f"Preview for: {exc}", "preview_account") from None
        today = office_today(con)
    row.update(recipient_name=row["name"], recipient_kind="customer", recipient_email=row["email"],
               recipient_mobile=row["mobile"], sender_name=user.display_name, sender_email=user.email or "",
               today=today)
    try:
        rendered = compiled.render(rendering.context_for(row))
    except rendering.RenderError as exc:
        raise ValidationError(str(exc), exc.part) from None
    rendered["account_no"] = row["account_no"]
    return rendered
