"""The template editor: name, description, subject and one tab per body (text, HTML,
letter, SMS), a Preview tab rendered for a real customer, and the field catalogue (F4)
to insert a merge field at the cursor.

Problems are found as you type (after a short pause) and listed with their part and
line; the tab of a part with a problem is marked. Save asks services.templates, which
checks everything again and refuses at the part and line.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Button, Footer, Input, Label, Static, TabbedContent, TabPane, TextArea

from ..domain import Template
from ..services import templates
from ..services.errors import ServiceError, ValidationError
from ..services.templates import Problem, TemplateDraft
from ..widgets.field_catalogue import FieldCatalogue
from ..widgets.format import clean
from ..widgets.status_line import StatusLine

CHECK_AFTER = 0.35   # seconds of quiet typing before the parts are checked and previewed
BODY_TABS = {"text_body": "Text", "html_body": "HTML", "letter_body": "Letter", "sms_body": "SMS"}
INPUTS = ("name", "description", "subject")
LINE = re.compile(r"\bline (\d+)\b")


class Checked(TextualMessage):
    """What the worker found: problems, and the preview when there were none."""

    def __init__(self, serial: int, problems: list[Problem], shown: dict[str, str] | None,
                 error: ServiceError | None) -> None:
        super().__init__()
        self.serial, self.problems, self.shown, self.error = serial, problems, shown, error


class TemplateSaved(TextualMessage):
    def __init__(self, template: Template) -> None:
        super().__init__()
        self.template = template


class SaveRefused(TextualMessage):
    def __init__(self, error: ServiceError) -> None:
        super().__init__()
        self.error = error


class TemplateConfirm(ModalScreen[bool]):
    """A yes/no question: dismisses True for yes."""

    CSS_PATH = "template_editor.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("left,right", "app.focus_next", "Move", show=False),
    ]

    def __init__(self, title: str, text: str, *, yes: str = "Yes (y)", no: str = "No (n)",
                 danger: bool = False) -> None:
        super().__init__()
        self.title_text, self.text, self.yes, self.no, self.danger = title, text, yes, no, danger

    def compose(self) -> ComposeResult:
        with Vertical(id="template-confirm") as dialog:
            dialog.border_title = self.title_text
            yield Static(self.text, id="confirm-text", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(self.yes, id="yes", variant="error" if self.danger else "primary", compact=True)
                yield Button(self.no, id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class FieldPicker(ModalScreen[str | None]):
    """F4: the merge fields; dismisses with the chosen field's name."""

    CSS_PATH = "template_editor.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", tooltip="Insert nothing")]

    def compose(self) -> ComposeResult:
        with Vertical(id="field-dialog") as dialog:
            dialog.border_title = "Insert a merge field"
            dialog.border_subtitle = "Enter inserts · Esc closes"
            yield FieldCatalogue(templates.field_catalogue(), id="catalogue")

    def on_mount(self) -> None:
        self.query_one("#field-filter", Input).focus()

    @on(FieldCatalogue.Picked)
    def _picked(self, event: FieldCatalogue.Picked) -> None:
        self.dismiss(event.name or None)


class TemplateEditorScreen(Screen[Template | None]):
    """Dismisses with the saved Template, or None when left without saving."""

    CSS_PATH = "template_editor.tcss"
    AUTO_FOCUS = None

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="Check and save the template"),
        Binding("f4", "insert_field", "Insert field", tooltip="Pick a merge field to insert at the cursor"),
        Binding("f2", "next_part", "Next part", tooltip="Show the next tab: Text, HTML, Letter, SMS, Preview"),
        Binding("f3", "preview", "Preview", tooltip="Show the template rendered for a customer"),
        Binding("escape", "back", "Back", tooltip="Leave the editor (asks first if you changed something)"),
    ]

    def __init__(self, template: Template | None = None, *, read_only: bool = False) -> None:
        super().__init__()
        self.template = template
        self.read_only = read_only
        self._initial = TemplateDraft.of(template) if template else TemplateDraft()
        self.problems: list[Problem] = []
        self.shown: dict[str, str] | None = None   # the last preview
        self.preview_error: str = ""
        self.saving = False
        self.checks_done = 0                        # for tests: results that arrived
        self._serial = 0
        self._check_timer: Timer | None = None
        self._last_part: str = "text_body"          # where F4 inserts

    @property
    def heading(self) -> str:
        if self.template is None:
            return "Templates › New template"
        verb = "View" if self.read_only else "Edit"
        return f"Templates › {verb}: {clean(self.template.name)}"

    # -- layout ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(self.heading, dispatcher=False)
        with Vertical(id="editor-fields"):
            for name, label, placeholder in (
                    ("name", "Name", "e.g. Water shut-off notice"),
                    ("description", "Description", "what it is for (shown in the list)"),
                    ("subject", "Subject", "e.g. Notice for {{ building.name }}: planned maintenance")):
                with Horizontal(classes="editor-row"):
                    yield Label(label, classes="editor-label", id=f"{name}-label")
                    yield Input(getattr(self._initial, name), id=name, compact=True, placeholder=placeholder,
                                select_on_focus=False, disabled=self.read_only)
        with TabbedContent(id="parts", initial="text_body-pane"):
            for part, title in BODY_TABS.items():
                with TabPane(title, id=f"{part}-pane"):
                    if part == "sms_body":
                        yield Static("", id="sms-info", markup=False)
                    yield TextArea(getattr(self._initial, part), id=part, soft_wrap=True, tab_behavior="focus",
                                   show_line_numbers=True, read_only=self.read_only,
                                   placeholder=_PLACEHOLDERS[part])
            with TabPane("Preview", id="preview-pane"):
                with Horizontal(id="preview-for"):
                    yield Label("For account", classes="editor-label")
                    yield Input("", id="preview_account", compact=True, placeholder="first account",
                                select_on_focus=False)
                    yield Static("", id="preview-note", markup=False)
                with VerticalScroll(id="preview-scroll"):
                    yield Static("", id="preview", markup=False)
        yield Static("", id="problems", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#name" if not self.read_only else "#text_body").focus()
        self._check_soon(0.0)

    # -- the draft -------------------------------------------------------------------
    def draft(self) -> TemplateDraft:
        values = {name: self.query_one(f"#{name}", Input).value for name in INPUTS}
        values.update({part: self.query_one(f"#{part}", TextArea).text for part in BODY_TABS})
        return TemplateDraft(id=self.template.id if self.template else None, **values)

    def is_changed(self) -> bool:
        return self.draft() != self._initial

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self, event) -> None:
        widget_id = getattr(event, "input", None) or getattr(event, "text_area", None)
        if widget_id is not None and widget_id.id in ("name", "description"):
            widget_id.remove_class("-invalid")
            self.query_one(f"#{widget_id.id}-label", Label).remove_class("-invalid")
            return
        self._check_soon(CHECK_AFTER)

    def on_descendant_focus(self, event) -> None:
        widget = event.widget
        if widget.id in BODY_TABS or widget.id == "subject":
            self._last_part = widget.id

    # -- checking and previewing (debounced, in a thread) ----------------------------
    def _check_soon(self, delay: float) -> None:
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(max(delay, 0.01), self._check_now)

    def _check_now(self) -> None:
        self._check_timer = None
        self._serial += 1
        account = self.query_one("#preview_account", Input).value.strip() or None
        self._check(self._serial, self.draft().parts(), account)

    @work(thread=True, exclusive=True, exit_on_error=False, group="template-check")
    def _check(self, serial: int, parts: dict[str, str], account: str | None) -> None:
        problems = templates.check(parts)
        shown, error = None, None
        if not problems:
            try:
                shown = templates.preview(self.app.ctx, self.app.user, parts, account_no=account)
            except ServiceError as exc:
                error = exc
        self.post_message(Checked(serial, problems, shown, error))

    @on(Checked)
    def _checked(self, event: Checked) -> None:
        if event.serial != self._serial:
            return  # typed again meanwhile: a newer check is on its way
        self.checks_done += 1
        self.problems = event.problems
        self._mark_parts(event.problems)
        self._show_problems(event.problems)
        self.preview_error = ""
        if event.error is not None:
            self.preview_error = str(event.error)
            self.query_one("#preview", Static).update(Text(f"No preview: {event.error}", style="bold red"))
            self.query_one("#preview-note", Static).update("")
            if isinstance(event.error, ValidationError) and event.error.field in (*BODY_TABS, "subject"):
                self._show_problems([], str(event.error))
        elif event.shown is not None:
            self.shown = event.shown
            self._show_preview(event.shown)
        elif event.problems:
            first = event.problems[0]
            self.query_one("#preview-note", Static).update("")
            self.query_one("#preview", Static).update(
                Text(f"No preview until the problems are fixed: {first}", style="bold red"))
        self._show_sms_info()

    def _mark_parts(self, problems: list[Problem]) -> None:
        bad = {p.part for p in problems}
        tabs = self.query_one("#parts", TabbedContent)
        for part, title in BODY_TABS.items():
            tabs.get_tab(f"{part}-pane").label = f"{title} ✗" if part in bad else title
            self.query_one(f"#{part}", TextArea).set_class(part in bad, "-invalid")
        self.query_one("#subject", Input).set_class("subject" in bad, "-invalid")
        self.query_one("#subject-label", Label).set_class("subject" in bad, "-invalid")

    def _show_problems(self, problems: list[Problem], extra: str = "") -> None:
        shown = self.query_one("#problems", Static)
        lines = [f"✗ {p}" for p in problems[:3]]
        if len(problems) > 3:
            lines[-1] += f"  (+{len(problems) - 3} more)"
        if extra:
            lines.insert(0, f"✗ {extra}")
        shown.update(Text("\n".join(lines[:3])))
        shown.set_class(bool(lines), "-error")
        if not lines:
            shown.update(Text("✓ No problems found." if not self.read_only else "Read only: you may view "
                              "and preview templates but not change them."))

    def _show_preview(self, shown: dict[str, str]) -> None:
        self.query_one("#preview-note", Static).update(f"shown for {shown.get('account_no', '')}")
        text = Text()

        def section(title: str, body: str) -> None:
            text.append(f"── {title} ", style="bold")
            text.append("─" * max(0, 60 - len(title)) + "\n", style="dim")
            text.append(clean(body, multiline=True) if body else "", style="")
            text.append("\n" if not body.endswith("\n") else "")

        text.append("Subject: ", style="bold")
        text.append((clean(shown["subject"]) if shown.get("subject") else "(none)") + "\n")
        for part, title in (("text_body", "Email text"), ("html_body", "Email HTML (source)"),
                            ("letter_body", "Letter"), ("sms_body", "SMS / RoboCall")):
            if shown.get(part):
                if part == "sms_body":
                    encoding, chars, segments = templates.sms_segments(shown[part])
                    title += f" · {encoding}, {chars} characters, {segments} segment{'s' if segments != 1 else ''}"
                section(title, shown[part])
        if not any(shown.get(p) for p in BODY_TABS):
            text.append("(no body yet: write one in Text, HTML, Letter or SMS)\n", style="dim")
        self.query_one("#preview", Static).update(text)

    def _show_sms_info(self) -> None:
        source = self.query_one("#sms_body", TextArea).text
        info = self.query_one("#sms-info", Static)
        if not source.strip():
            info.update("SMS and RoboCall text; leave empty if this template is not for SMS.")
            return
        rendered = (self.shown or {}).get("sms_body") if not self.problems else None
        if rendered:
            encoding, chars, segments = templates.sms_segments(rendered)
            where = f"for {self.shown.get('account_no', '')}"
        else:
            encoding, chars, segments = templates.sms_segments(source)
            where = "as written"
        info.update(f"{where}: {encoding}, {chars} characters, {segments} segment{'s' if segments != 1 else ''}"
                    + (" (GSM-7 fits 160 in one, 153 per part)" if encoding == "GSM-7" else
                       " (UCS-2 fits 70 in one, 67 per part)"))

    # -- insert a field -------------------------------------------------------------------
    def action_insert_field(self) -> None:
        if self.read_only:
            return
        target = self._last_part

        def chosen(name: str | None) -> None:
            if name:
                self.insert_field(name, target)

        self.app.push_screen(FieldPicker(), chosen)

    def insert_field(self, name: str, part: str) -> None:
        text = "{{ " + name + " }}"
        if part == "subject":
            field = self.query_one("#subject", Input)
            field.insert_text_at_cursor(text)
            field.focus()
            return
        self.query_one("#parts", TabbedContent).active = f"{part}-pane"
        area = self.query_one(f"#{part}", TextArea)
        area.insert(text)
        area.focus()

    # -- tabs -------------------------------------------------------------------------------
    def action_next_part(self) -> None:
        tabs = self.query_one("#parts", TabbedContent)
        order = [f"{p}-pane" for p in BODY_TABS] + ["preview-pane"]
        tabs.active = order[(order.index(tabs.active) + 1) % len(order)] if tabs.active in order else order[0]
        self._focus_tab(tabs.active)

    def action_preview(self) -> None:
        tabs = self.query_one("#parts", TabbedContent)
        tabs.active = "preview-pane"
        self._focus_tab("preview-pane")

    def _focus_tab(self, pane: str) -> None:
        if pane == "preview-pane":
            self.query_one("#preview_account", Input).focus()
        else:
            self.query_one(f"#{pane.removesuffix('-pane')}", TextArea).focus()

    # -- save ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "insert_field") and self.read_only:
            return False
        if action == "save" and self.saving:
            return None
        return True

    def action_save(self) -> None:
        if self.read_only or self.saving:
            return
        self.saving = True
        self.refresh_bindings()
        self._save(self.draft())

    @work(thread=True, exclusive=True, exit_on_error=False, group="template-save")
    def _save(self, draft: TemplateDraft) -> None:
        try:
            saved = templates.save_template(self.app.ctx, self.app.user, draft)
        except ServiceError as exc:
            self.post_message(SaveRefused(exc))
            return
        self.post_message(TemplateSaved(saved))

    @on(TemplateSaved)
    def _saved(self, event: TemplateSaved) -> None:
        self.saving = False
        self.app.notify(f"{event.template.name} is saved.", title="Template saved", markup=False)
        self.dismiss(event.template)

    @on(SaveRefused)
    def _refused(self, event: SaveRefused) -> None:
        self.saving = False
        self.refresh_bindings()
        error = event.error
        self.point_at(getattr(error, "field", None), str(error))
        self.notify(str(error), title=f"Not saved: {error.title.lower()}", severity="error", timeout=10,
                    markup=False)

    def point_at(self, field: str | None, message: str) -> None:
        """Show a refusal at its field: the tab, the line (selected), the message."""
        self._show_problems([], message)
        if field in INPUTS:
            widget = self.query_one(f"#{field}", Input)
            widget.add_class("-invalid")
            self.query_one(f"#{field}-label", Label).add_class("-invalid")
            widget.focus()
        elif field in BODY_TABS:
            self.query_one("#parts", TabbedContent).active = f"{field}-pane"
            area = self.query_one(f"#{field}", TextArea)
            area.add_class("-invalid")
            area.focus()
            line = LINE.search(message)
            if line:
                row = min(int(line.group(1)), area.document.line_count) - 1
                area.select_line(row)
                area.scroll_cursor_visible(center=True)
        elif field == "preview_account":
            self.action_preview()

    def on_worker_state_changed(self, event) -> None:
        error = event.worker.error
        if error is None:
            return
        if event.worker.group == "template-save":
            self.saving = False
            self.refresh_bindings()
        self.app.show_error(error)

    # -- leaving -------------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.read_only or not self.is_changed():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(TemplateConfirm("Discard your changes?",
                                             "What you changed in this template will be lost.",
                                             yes="Discard (y)", no="Keep editing (n)", danger=True), answered)


_PLACEHOLDERS = {
    "text_body": "The email, as plain text. F4 inserts a merge field, e.g. Dear {{ customer.first_name }},",
    "html_body": "Optional: the email as HTML (merge values are escaped here).",
    "letter_body": "The letter (the address block and date are added for you). Empty: letters use the text.",
    "sms_body": "Optional: the SMS (and what a RoboCall says).",
}
