"""Group roles (administrators): named bundles of roles, e.g. Operators = customerView +
customerEdit. A user with a group role has its roles; changing a bundle changes them for
every member at once. a adds one, Enter/e edits the roles of the highlighted one."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, SelectionList, Static
from textual.worker import Worker, WorkerState

from ..domain import ALL_ROLES
from ..services import users
from ..services.users import GroupRole
from ..widgets.format import literal, plural
from ..widgets.status_line import StatusLine
from ..widgets.form_errors import explain_failure


class GroupRolesLoaded(Message):
    def __init__(self, found: list[GroupRole]) -> None:
        super().__init__()
        self.found = found


class GroupRolesScreen(Screen):
    CSS_PATH = "group_roles.tcss"
    AUTO_FOCUS = "#groups-table"
    BINDINGS = [
        Binding("a", "add", "Add", tooltip="A new group role"),
        Binding("e", "edit", "Edit", tooltip="Change the roles of the highlighted group role"),
        Binding("escape", "back", "Back", tooltip="Back to Users"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, GroupRole] = {}
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield StatusLine("Users › Group roles", dispatcher=False)
        yield Static("Loading…", id="groups-count", markup=False)
        table = DataTable(id="groups-table", cursor_type="row", zebra_stripes=True)
        table.add_column("Group role", width=16)
        table.add_column("Roles", width=34)
        table.add_column("Description")
        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.loaded = False
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="groups-load")
    def _load(self) -> None:
        self.post_message(GroupRolesLoaded(users.group_roles(self.app.ctx, self.app.user)))

    @on(GroupRolesLoaded)
    def _loaded(self, message: GroupRolesLoaded) -> None:
        table = self.query_one("#groups-table", DataTable)
        table.clear()
        self.found = {g.name: g for g in message.found}
        for g in message.found:
            table.add_row(literal(g.name), literal(", ".join(g.roles) or "(none)"), literal(g.description or None),
                          key=g.name)
        self.query_one("#groups-count", Static).update(
            plural(len(message.found), "group role") + " — a user with a group role has all its roles.")
        self.loaded = True

    def action_add(self) -> None:
        self.app.push_screen(GroupRoleEditorScreen(None), self._edited)

    @on(DataTable.RowSelected, "#groups-table")
    def action_edit(self) -> None:
        table = self.query_one("#groups-table", DataTable)
        if not table.row_count:
            self.app.notify("There is no group role yet: press a to add one.", severity="warning", timeout=3)
            return
        name = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        self.app.push_screen(GroupRoleEditorScreen(self.found[name]), self._edited)

    def _edited(self, saved: GroupRole | None) -> None:
        if saved is not None:
            self.reload()

    def action_back(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.show_error(event.worker.error)


class GroupRoleSaved(Message):
    def __init__(self, group: GroupRole) -> None:
        super().__init__()
        self.group = group


class GroupRoleEditorScreen(ModalScreen[GroupRole | None]):
    CSS_PATH = "group_roles.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, group: GroupRole | None) -> None:
        super().__init__()
        self.group = group

    def compose(self) -> ComposeResult:
        g = self.group
        with VerticalScroll(id="group-dialog") as dialog:
            dialog.border_title = Text("Add group role" if g is None else f"Group role {g.name}")
            yield Label("Name")
            yield Input(g.name if g else "", id="group-name", max_length=120, disabled=g is not None)
            yield Label("Description")
            yield Input(g.description if g else "", id="group-description", max_length=200)
            yield Label("Roles it grants")
            yield SelectionList[str](*[(r, r, g is not None and r in g.roles) for r in ALL_ROLES], id="group-roles")
            yield Static("", id="group-problem", markup=False)
            with Horizontal(id="group-buttons"):
                yield Button("Save (Ctrl+S)", id="group-save", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="group-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#group-name" if self.group is None else "#group-roles").focus()

    @on(Button.Pressed, "#group-save")
    def action_save(self) -> None:
        self.query_one("#group-problem", Static).update("Saving…")
        self._save(self.query_one("#group-name", Input).value, tuple(self.query_one("#group-roles",
                                                                                     SelectionList).selected),
                   self.query_one("#group-description", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="group-save")
    def _save(self, name: str, roles: tuple[str, ...], description: str) -> None:
        self.post_message(GroupRoleSaved(users.save_group_role(self.app.ctx, self.app.user, name, roles,
                                                               description)))

    @on(GroupRoleSaved)
    def _saved(self, message: GroupRoleSaved) -> None:
        self.app.notify(f"Saved group role {message.group.name}.", title="Group roles", markup=False, timeout=4)
        self.dismiss(message.group)

    @on(Button.Pressed, "#group-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        explain_failure(self.app, event.worker.error, self._show_problem)

    def _show_problem(self, field: str | None, text: str) -> None:
        self.query_one("#group-problem", Static).update(text)
        if field in ("name", "roles"):
            self.query_one(f"#group-{field}").focus()
