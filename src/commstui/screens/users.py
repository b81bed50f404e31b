"""Users (administrators): everyone who logs in, with their effective roles, group roles
and whether they are active or locked. From here: add (a), edit (Enter/e), reset a
password (p), unlock (u), deactivate or reactivate (d, asks first), group roles (g) and
the audit log (l). The services check the permission and the lockout guards; a refusal
is shown as a toast and nothing changes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from ..services import users
from ..services.errors import PermissionDenied
from ..services.users import UserAccount
from ..widgets.format import literal, plural
from ..widgets.status_line import StatusLine
from .confirm import ConfirmScreen

DEBOUNCE_SECONDS = 0.15
COLUMNS = (("Username", 13), ("Name", 15), ("Roles", 17), ("Groups", 10), ("Active", 6), ("Locked", 6))
SHORT_ROLES = {"administrator": "admin", "superuser": "super"}


def roles_text(account: UserAccount) -> str:
    """Effective roles, administrators first, in short words."""
    ordered = sorted(account.effective_roles, key=lambda r: (r not in SHORT_ROLES, r))
    return ", ".join(SHORT_ROLES.get(r, r) for r in ordered) or "(none)"


class UsersLoaded(Message):
    def __init__(self, generation: int, accounts: list[UserAccount]) -> None:
        super().__init__()
        self.generation, self.accounts = generation, accounts


class UserChanged(Message):
    """A change went through: say so, and show the list again."""

    def __init__(self, notice: str, username: str) -> None:
        super().__init__()
        self.notice, self.username = notice, username


class UsersScreen(Screen):
    CSS_PATH = "users.tcss"
    AUTO_FOCUS = "#users-table"

    BINDINGS = [
        Binding("a", "add", "Add", tooltip="Add a user"),
        Binding("e", "edit", "Edit", tooltip="Roles, group roles, companies, portal account"),
        Binding("p", "reset_password", "Password", tooltip="Set or generate a new password"),
        Binding("u", "unlock", "Unlock", tooltip="Clear the lock after too many wrong passwords"),
        Binding("d", "toggle_active", "On/off", tooltip="Deactivate or reactivate (asks first)"),
        Binding("g", "group_roles", "Groups", tooltip="Group roles: named bundles of roles"),
        Binding("l", "audit_log", "Log", tooltip="Who changed what, and when"),
        Binding("slash", "focus_search", "Search", show=False, tooltip="Type a username or name"),
        Binding("escape", "clear_or_back", "Back", tooltip="Clear the search; pressed again, go back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, UserAccount] = {}
        self.loaded = False     # the table answers the current search (tests wait on it)
        self._generation = 0
        self._debounce: Timer | None = None
        self._select: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine("Users", dispatcher=False)
        search = Input(id="users-search", placeholder="username or name — results as you type")
        search.border_title = "Search"
        yield search
        yield Static("Loading users…", id="users-count", markup=False)
        table = DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
        for label, width in COLUMNS:
            table.add_column(label, key=label, width=width)
        yield table
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()

    # -- loading ---------------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        self._generation += 1
        self.loaded = False
        self._select = select or self.current_username()
        self._load(self._generation, self.query_one("#users-search", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="users-load")
    def _load(self, generation: int, text: str) -> None:
        self.post_message(UsersLoaded(generation, users.list_users(self.app.ctx, self.app.user, text)))

    @on(UsersLoaded)
    def _loaded(self, message: UsersLoaded) -> None:
        if message.generation != self._generation:
            return
        table = self.query_one("#users-table", DataTable)
        table.clear()
        self.accounts = {a.username: a for a in message.accounts}
        now = datetime.now(UTC)
        for a in message.accounts:
            dim = "" if a.active else "dim"
            table.add_row(literal(a.username, dim), literal(a.display_name, dim), literal(roles_text(a), dim),
                          literal(", ".join(a.group_roles) or "—", dim),
                          Text("yes") if a.active else Text("no", "bold red"),
                          Text("locked", "bold yellow") if a.locked(now) else Text("—", "dim"), key=a.username)
        if self._select in self.accounts:
            table.move_cursor(row=table.get_row_index(self._select))
        search = self.query_one("#users-search", Input).value.strip()
        count = len(message.accounts)
        if search:
            text = plural(count, "match", "matches") if count else "No user matches. Esc clears the search."
        else:
            text = plural(count, "user")
        self.query_one("#users-count", Static).update(text)
        self.loaded = True

    @on(Input.Changed, "#users-search")
    def _typed(self) -> None:
        self.loaded = False
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, lambda: self.reload())

    @on(Input.Submitted, "#users-search")
    def _submitted(self) -> None:
        self.query_one("#users-table", DataTable).focus()

    def current_username(self) -> str | None:
        table = self.query_one("#users-table", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value

    def _current(self) -> UserAccount | None:
        account = self.accounts.get(self.current_username() or "")
        if account is None:
            self.app.notify("Choose a user in the list first.", severity="warning", timeout=3)
        return account

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "focus_search":
            return not isinstance(self.focused, Input)
        return True

    def action_focus_search(self) -> None:
        self.query_one("#users-search", Input).focus()

    def action_clear_or_back(self) -> None:
        search = self.query_one("#users-search", Input)
        if search.value:
            search.value = ""
            search.focus()
        elif len(self.app.screen_stack) > 2:   # never back onto the blank default screen
            self.app.pop_screen()

    def action_add(self) -> None:
        from .user_editor import UserEditorScreen

        self.app.push_screen(UserEditorScreen(None), self._edited)

    @on(DataTable.RowSelected, "#users-table")
    def action_edit(self) -> None:
        from .user_editor import UserEditorScreen

        account = self._current()
        if account is not None:
            self.app.push_screen(UserEditorScreen(account.username), self._edited)

    def _edited(self, result) -> None:
        from .user_editor import PasswordShownScreen

        if result is None:
            return
        account, password = result
        self.reload(select=account.username)
        if password:
            self.app.push_screen(PasswordShownScreen(account.username, password))

    def action_reset_password(self) -> None:
        from .user_editor import PasswordResetScreen

        account = self._current()
        if account is not None:
            self.app.push_screen(PasswordResetScreen(account.username), lambda _: self.reload())

    def action_unlock(self) -> None:
        account = self._current()
        if account is not None:
            self._unlock(account.username)

    @work(thread=True, exclusive=True, exit_on_error=False, group="users-change")
    def _unlock(self, username: str) -> None:
        users.unlock(self.app.ctx, self.app.user, username)
        self.post_message(UserChanged(f"{username} is unlocked and may log in again.", username))

    def action_toggle_active(self) -> None:
        account = self._current()
        if account is None:
            return
        if account.active:
            question = (f"Deactivate {account.username} ({account.display_name})? They can no longer log in; "
                        "their roles and history are kept, and you can reactivate them later.")
            title, yes = "Deactivate user", "Deactivate"
        else:
            question = f"Reactivate {account.username} ({account.display_name})? They can log in again."
            title, yes = "Reactivate user", "Reactivate"

        def answered(go: bool | None) -> None:
            if go:
                self._set_active(account.username, not account.active)

        self.app.push_screen(ConfirmScreen(title, question, yes=yes, no="Keep as is"), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="users-change")
    def _set_active(self, username: str, active: bool) -> None:
        users.set_active(self.app.ctx, self.app.user, username, active)
        self.post_message(UserChanged(f"{username} is {'reactivated' if active else 'deactivated'}.", username))

    @on(UserChanged)
    def _changed(self, message: UserChanged) -> None:
        self.app.notify(message.notice, title="Users", markup=False, timeout=4)
        self.reload(select=message.username)

    def action_group_roles(self) -> None:
        from .group_roles import GroupRolesScreen

        self.app.push_screen(GroupRolesScreen(), lambda _: self.reload())

    def action_audit_log(self) -> None:
        from .audit_log import AuditLogScreen

        self.app.push_screen(AuditLogScreen())

    def on_screen_resume(self) -> None:
        if self.loaded:   # back from group roles or the log: bundles may have changed
            self.reload()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, PermissionDenied) and event.worker.group == "users-load":
            self.query_one("#users-count", Static).update(f"{error} Users are managed by administrators.")
            self.loaded = True
        self.app.show_error(error)
