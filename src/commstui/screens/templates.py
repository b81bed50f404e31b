"""Templates: the saved jinja2 templates, which channels each covers, and the way into
the editor. Users with the templates permission create, edit and delete; bulk senders
may open one to read and preview it."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..domain import Channel, Permission, Template
from ..services import templates
from ..services.errors import ServiceError
from ..widgets.format import clean, plural
from ..widgets.status_line import StatusLine
from .template_editor import TemplateConfirm, TemplateEditorScreen


def channels_of(template: Template) -> str:
    """Email / Letter / SMS: the channels a template has a body for."""
    found = [label for channel, label in ((Channel.EMAIL, "Email"), (Channel.LETTER, "Letter"),
                                          (Channel.SMS, "SMS")) if template.supports(channel)]
    return " / ".join(found) or "—"


class TemplatesLoaded(TextualMessage):
    def __init__(self, found: list[Template]) -> None:
        super().__init__()
        self.found = found


class TemplatesRefused(TextualMessage):
    def __init__(self, error: ServiceError) -> None:
        super().__init__()
        self.error = error


class TemplateDeleted(TextualMessage):
    def __init__(self, template: Template) -> None:
        super().__init__()
        self.template = template


class TemplatesScreen(Screen):
    CSS_PATH = "templates.tcss"

    BINDINGS = [
        Binding("n", "new", "New", tooltip="Write a new template"),
        Binding("e", "edit", "Edit", tooltip="Edit the highlighted template"),
        # Enter on a row edits (or views): the table's own Enter posts RowSelected
        Binding("v", "view", "View", tooltip="Read and preview the highlighted template"),
        Binding("d", "delete", "Delete", tooltip="Delete the highlighted template (asks first)"),
        Binding("escape", "back", "Back", tooltip="Leave Templates"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.found: list[Template] = []
        self.loaded = False
        self.refused: str | None = None
        self._select_after_load: int | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine("Templates", dispatcher=False)
        yield Static("", id="templates-access", markup=False)
        table = DataTable(id="templates-table", cursor_type="row", zebra_stripes=True)
        table.add_column("Name", key="name", width=26)
        table.add_column("Channels", key="channels", width=20)
        # a fixed width: measured from the rows, it came out header-wide in some runs
        table.add_column("Description", key="description", width=29)
        yield table
        yield Static("", id="templates-hint", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#templates-access", Static).display = False
        self.query_one("#templates-table", DataTable).focus()
        self.load()

    def may_edit(self) -> bool:
        user = self.app.user
        return user is not None and user.can(Permission.TEMPLATES)

    # -- loading ------------------------------------------------------------------------
    def load(self, select: int | None = None) -> None:
        self._select_after_load = select
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="templates-load")
    def _load(self) -> None:
        try:
            found = templates.list_templates(self.app.ctx, self.app.user)
        except ServiceError as exc:
            self.post_message(TemplatesRefused(exc))
            return
        self.post_message(TemplatesLoaded(found))

    @on(TemplatesLoaded)
    def _loaded(self, event: TemplatesLoaded) -> None:
        self.found = event.found
        self.loaded = True
        table = self.query_one("#templates-table", DataTable)
        table.clear()
        for template in event.found:
            table.add_row(Text(clean(template.name), no_wrap=True, overflow="ellipsis"),
                          channels_of(template),
                          Text(clean(template.description or ""), no_wrap=True, overflow="ellipsis"),
                          key=str(template.id))
        if self._select_after_load is not None:
            for index, template in enumerate(event.found):
                if template.id == self._select_after_load:
                    table.move_cursor(row=index)
        self._show_hint()
        self.refresh_bindings()

    @on(TemplatesRefused)
    def _refused(self, event: TemplatesRefused) -> None:
        self.loaded = True
        self.refused = str(event.error)
        access = self.query_one("#templates-access", Static)
        access.update(f"⚠ {event.error} Ask an administrator for the templates role.")
        access.display = True
        self.query_one("#templates-table", DataTable).display = False
        self.query_one("#templates-hint", Static).update("")
        self.refresh_bindings()

    def _show_hint(self) -> None:
        count = plural(len(self.found), "template")
        if not self.found:
            text = "No templates yet. Press n to write one." if self.may_edit() else "No templates yet."
        elif self.may_edit():
            text = f"{count}. Enter or e edits, n writes a new one, d deletes."
        else:
            text = f"{count}. Enter or v opens one to read and preview; changing them needs the templates role."
        self.query_one("#templates-hint", Static).update(text)

    def current(self) -> Template | None:
        table = self.query_one("#templates-table", DataTable)
        if not self.found or table.cursor_row is None or not 0 <= table.cursor_row < len(self.found):
            return None
        return self.found[table.cursor_row]

    # -- actions -------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("new", "edit", "delete"):
            if not self.may_edit() or self.refused:
                return False
            if action != "new" and self.current() is None:
                return None
        if action == "view":
            if self.may_edit() or self.refused:
                return False
            return True if self.current() is not None else None
        return True

    def action_new(self) -> None:
        if self.may_edit():
            self.app.push_screen(TemplateEditorScreen(None), self._editor_closed)

    def action_edit(self) -> None:
        template = self.current()
        if template is not None and self.may_edit():
            self.app.push_screen(TemplateEditorScreen(template), self._editor_closed)

    def action_view(self) -> None:
        template = self.current()
        if template is not None:
            self.app.push_screen(TemplateEditorScreen(template, read_only=not self.may_edit()),
                                 self._editor_closed)

    @on(DataTable.RowSelected, "#templates-table")
    def _row_chosen(self) -> None:
        # Enter on a row: the table takes the key before the screen's binding does
        if self.may_edit():
            self.action_edit()
        else:
            self.action_view()

    def _editor_closed(self, saved: Template | None) -> None:
        self.load(select=saved.id if saved is not None else None)

    def action_delete(self) -> None:
        template = self.current()
        if template is None or not self.may_edit():
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(template)

        self.app.push_screen(TemplateConfirm(f"Delete {clean(template.name)}?",
                                     "The template is removed for everyone. Batches already generated "
                                     "from it keep their own copy of the text.",
                                     yes="Delete (y)", no="Keep it (n)", danger=True), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="templates-delete")
    def _delete(self, template: Template) -> None:
        templates.delete_template(self.app.ctx, self.app.user, template.id)
        self.post_message(TemplateDeleted(template))

    @on(TemplateDeleted)
    def _deleted(self, event: TemplateDeleted) -> None:
        self.notify(f"{event.template.name} is deleted.", title="Template deleted", markup=False)
        self.load()

    def on_worker_state_changed(self, event) -> None:
        error = event.worker.error
        if error is not None:
            self.app.show_error(error)
            if event.worker.group == "templates-delete":
                self.load()

    def action_back(self) -> None:
        self.dismiss()
