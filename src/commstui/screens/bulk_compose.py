"""Bulk wizard, step 4 "Compose": adhoc or a saved template, subject, the bodies the
channels in play need, one PDF attachment, and every problem shown at its part and line.

Only the parts the chosen channels use are shown: a text body (emails, and letters
without their own body), an optional HTML body (emails), a letter body (letters) and an
SMS/RoboCall message (texts and calls) with its length in SMS segments as you type.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, DataTable, Input, Label, Select, Static, TextArea

from ..domain import Template
from ..services import bulk, templates
from ..services.bulk import BulkCompose
from ..services.errors import ServiceError
from ..widgets.format import clean, plural

ADHOC = "(adhoc)"
# part -> widget id
PART_IDS = {"subject": "subject", "text_body": "text-body", "html_body": "html-body",
            "letter_body": "letter-body", "sms_body": "sms-body"}
PART_LABELS = {"subject": "Subject", "text_body": "Message (plain text)", "html_body": "HTML message (optional)",
               "letter_body": "Letter body (empty: the message above)", "sms_body": "SMS/RoboCall message"}


class PathSuggester(Suggester):
    """Completes a file path as it is typed (Right arrow takes the suggestion)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        typed = Path(value).expanduser()
        folder, prefix = (typed, "") if value.endswith("/") else (typed.parent, typed.name)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return None
        for name in names:
            if name.startswith(prefix) and (prefix.startswith(".") or not name.startswith(".")):
                rest = name[len(prefix):]
                if not rest:
                    continue
                slash = "/" if (folder / name).is_dir() else ""
                return value + rest + slash
        return None


class TemplatesLoaded(TextualMessage):
    def __init__(self, found: list[Template]) -> None:
        super().__init__()
        self.found = found


class TemplateFilled(TextualMessage):
    def __init__(self, compose: BulkCompose) -> None:
        super().__init__()
        self.compose = compose


class AttachmentChecked(TextualMessage):
    def __init__(self, path: str, info: object | None, warnings: list[str], error: str | None) -> None:
        super().__init__()
        self.path, self.info, self.warnings, self.error = path, info, warnings, error


class MergeFieldsHelp(ModalScreen[None]):
    """The merge fields every template sees, with an example of each."""

    BINDINGS = [Binding("escape,f1,q", "close", "Close")]
    DEFAULT_CSS = """
    MergeFieldsHelp { align: center middle; }
    MergeFieldsHelp #fields-dialog { width: 100%; max-width: 100; height: 100%; max-height: 30;
                                     border: round $primary; background: $surface; padding: 0 1; }
    MergeFieldsHelp DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="fields-dialog") as dialog:
            dialog.border_title = "Merge fields: write {{ customer.name }} where the value goes"
            dialog.border_subtitle = "Esc closes"
            yield DataTable(id="fields", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Field", "What it is", "Example")
        for field in templates.field_catalogue():
            table.add_row(field.placeholder, field.description, clean(field.example))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)


def part_area(part: str) -> TextArea:
    area = TextArea(id=PART_IDS[part], soft_wrap=True, show_line_numbers=True, classes="compose-body")
    area.border_title = PART_LABELS[part]
    return area


class ComposeStep(Vertical):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels: list[str] = []
        self.attachment_info: object | None = None
        self._filling = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compose-form"):
            with Horizontal(classes="compose-row"):
                yield Label("Type", classes="compose-label")
                yield Select([("Adhoc message", ADHOC)], id="template", allow_blank=False, value=ADHOC,
                             compact=True)
            with Horizontal(classes="compose-row"):
                yield Label("Subject", classes="compose-label")
                yield Input(id="subject", compact=True, select_on_focus=False,
                            placeholder="e.g. Water shut-off at {{ building.name }}")
            yield part_area("text_body")
            yield part_area("html_body")
            yield part_area("letter_body")
            yield part_area("sms_body")
            yield Static("", id="sms-length")
            with Horizontal(classes="compose-row", id="attachment-row"):
                yield Label("Attach", classes="compose-label")
                yield Input(id="attachment", compact=True, select_on_focus=False, suggester=PathSuggester(),
                            placeholder="optional PDF path (→ completes, Enter checks)")
                yield Button("Remove", id="remove-attachment", compact=True)
            yield Static("", id="attachment-info")
        yield Static("", id="compose-problems")

    def on_mount(self) -> None:
        self.query_one("#compose-problems").display = False

    # -- the channels in play ------------------------------------------------------------
    def set_channels(self, channels: list[str]) -> None:
        """Show the parts these channels use, and the templates that support them all."""
        self.channels = channels
        email, letter = "email" in channels, "letter" in channels
        texts = bool({"sms", "robocall"} & set(channels))
        self.query_one("#text-body").display = email or letter
        self.query_one("#html-body").display = email
        self.query_one("#letter-body").display = letter
        self.query_one("#sms-body").display = texts
        self.query_one("#sms-length").display = texts
        self.query_one("#attachment-row").display = email or letter
        self.query_one("#attachment-info").display = email or letter
        self._load_templates(channels)

    @work(thread=True, exit_on_error=False, group="bulk-templates")
    def _load_templates(self, channels: list[str]) -> None:
        found = templates.list_templates(self.app.ctx, self.app.user)
        self.post_message(TemplatesLoaded([t for t in found if all(t.supports(c) for c in channels)]))

    @on(TemplatesLoaded)
    def _templates_loaded(self, event: TemplatesLoaded) -> None:
        select = self.query_one("#template", Select)
        current = select.value
        options = [("Adhoc message", ADHOC)] + [(clean(t.name), t.name) for t in event.found]
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.value = current if any(v == current for _, v in options) else ADHOC

    def focus_first(self) -> None:
        self.query_one("#template").focus()

    # -- a template fills the fields -------------------------------------------------------
    @on(Select.Changed, "#template")
    def _template_chosen(self, event: Select.Changed) -> None:
        if event.value != ADHOC and isinstance(event.value, str):
            self._fill(event.value)

    @work(thread=True, exit_on_error=False, group="bulk-template-fill")
    def _fill(self, name: str) -> None:
        self.post_message(TemplateFilled(bulk.from_template(self.app.ctx, self.app.user, name)))

    @on(TemplateFilled)
    def _filled(self, event: TemplateFilled) -> None:
        c = event.compose
        self.query_one("#subject", Input).value = c.subject
        for part in ("text_body", "html_body", "letter_body", "sms_body"):
            self.query_one(f"#{PART_IDS[part]}", TextArea).load_text(getattr(c, part))
        self.show_problems([])
        self.notify(f"Template {c.template_name!r} filled in: change anything before you go on.", timeout=4)

    # -- what was written ------------------------------------------------------------------
    def value(self) -> BulkCompose:
        template = self.query_one("#template", Select).value
        path = self.query_one("#attachment", Input).value.strip()
        shown = self.query_one("#attachment-row").display

        def text(part: str) -> str:
            widget = self.query_one(f"#{PART_IDS[part]}", TextArea)
            return widget.text if widget.display else ""

        return BulkCompose(template_name=template if template != ADHOC else None,
                           subject=self.query_one("#subject", Input).value,
                           text_body=text("text_body"), html_body=text("html_body"),
                           letter_body=text("letter_body"), sms_body=text("sms_body"),
                           attachment=Path(path).expanduser() if path and shown else None)

    # -- SMS length as you type ------------------------------------------------------------
    @on(TextArea.Changed, "#sms-body")
    def _sms_typed(self, event: TextArea.Changed) -> None:
        encoding, characters, segments = templates.sms_segments(event.text_area.text)
        self.query_one("#sms-length", Static).update(
            f"{plural(characters, 'character')} · {encoding} · {plural(segments, 'SMS segment')} "
            "(as written; merged values change the length)")

    # -- problems at their part and line -----------------------------------------------------
    def show_problems(self, problems: list) -> None:
        """Mark each part with its first problem (and the line), and list them all below."""
        first: dict[str, object] = {}
        for problem in problems:
            first.setdefault(problem.part, problem)
        for part, widget_id in PART_IDS.items():
            widget = self.query_one(f"#{widget_id}")
            problem = first.get(part)
            widget.set_class(problem is not None, "-invalid")
            if isinstance(widget, TextArea):
                widget.border_subtitle = (f"line {problem.line}: {problem.message}" if problem and problem.line
                                          else (problem.message if problem else ""))
        box = self.query_one("#compose-problems", Static)
        box.display = bool(problems)
        parts: list = []
        for problem in problems:
            label = PART_LABELS.get(problem.part, problem.part).split(" (")[0]
            where = f"{label}, line {problem.line}" if problem.line else label
            parts += [(f"{where}: ", "bold $text-error"), f"{problem.message}\n"]
        box.update(Content.assemble(*parts).rstrip() if parts else "")
        if problems:
            self._go_to(problems[0])

    def _go_to(self, problem) -> None:
        widget = self.query_one(f"#{PART_IDS.get(problem.part, 'subject')}")
        if not widget.display:
            return
        widget.focus()
        if isinstance(widget, TextArea) and problem.line:
            widget.move_cursor((problem.line - 1, 0))
        self.query_one("#compose-form", VerticalScroll).scroll_to_widget(widget, animate=False)

    # -- the attachment --------------------------------------------------------------------
    @on(Input.Submitted, "#attachment")
    def _attachment_entered(self) -> None:
        self.check_attachment()

    def on_descendant_blur(self, event) -> None:
        if getattr(event.widget, "id", None) == "attachment":
            self.check_attachment()

    def check_attachment(self) -> None:
        path = self.query_one("#attachment", Input).value.strip()
        if not path:
            self._show_attachment(None, [], None)
            return
        self._check_attachment(path, list(self.channels))

    @work(thread=True, exit_on_error=False, group="bulk-attachment", exclusive=True)
    def _check_attachment(self, path: str, channels: list[str]) -> None:
        try:
            check = bulk.check_compose(self.app.ctx, self.app.user, BulkCompose(attachment=Path(path).expanduser()),
                                       channels)
        except ServiceError as exc:
            self.post_message(AttachmentChecked(path, None, [], str(exc)))
            return
        except ImportError:
            self.post_message(AttachmentChecked(path, None, [], "PDF attachments are not available in this "
                                                                "version yet."))
            return
        self.post_message(AttachmentChecked(path, check.attachment, check.warnings, None))

    @on(AttachmentChecked)
    def _attachment_checked(self, event: AttachmentChecked) -> None:
        if event.path != self.query_one("#attachment", Input).value.strip():
            return  # the path changed meanwhile
        self._show_attachment(event.info, event.warnings, event.error)

    def _show_attachment(self, info: object | None, warnings: list[str], error: str | None) -> None:
        self.attachment_info = info
        line = self.query_one("#attachment-info", Static)
        self.query_one("#attachment", Input).set_class(error is not None, "-invalid")
        if error:
            line.update(Content.styled(error, "$text-error"))
        elif info is None:
            line.update(Content.styled("No attachment. One PDF may be attached to emails and letters.", "dim"))
        else:
            size = getattr(info, "size", 0)
            pages = getattr(info, "pages", None)
            parts: list = [("PDF ok: ", "bold"), f"{size / 1024:,.0f} KB" if size < 1048576
                           else f"{size / 1048576:.1f} MB"]
            if pages:
                parts.append(f", {plural(pages, 'page')}")
            for warning in warnings:
                parts += ["\n", (f"Warning: {warning}", "$text-warning")]
            line.update(Content.assemble(*parts))

    @on(Button.Pressed, "#remove-attachment")
    def remove_attachment(self) -> None:
        self.query_one("#attachment", Input).value = ""
        self._show_attachment(None, [], None)
