"""Adding or editing one user: name, email, (a first password when adding), roles and
group roles as checklists, assigned company codes and the portal account. Ctrl+S saves;
a refusal is shown under the field it is about, and that field gets the focus.

Also the two small dialogs about passwords: set or generate a new one, and show a
generated one once.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, SelectionList, Static
from textual.worker import Worker, WorkerState

from ..services import users
from ..services.users import UserAccount, UserForm, UserOptions
from ..widgets.form_errors import explain_failure

FIELDS = ("username", "display_name", "email", "password", "roles", "group_roles", "companies", "portal_account")


class EditorLoaded(Message):
    def __init__(self, options: UserOptions, account: UserAccount | None) -> None:
        super().__init__()
        self.options, self.account = options, account


class UserSaved(Message):
    def __init__(self, account: UserAccount, password: str | None) -> None:
        super().__init__()
        self.account, self.password = account, password


class UserEditorScreen(ModalScreen[tuple[UserAccount, str | None] | None]):
    """username None: add a user. Dismisses with (account, generated password or None)."""

    CSS_PATH = "user_editor.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+s", "save", "Save", tooltip="Save this user")]

    def __init__(self, username: str | None) -> None:
        super().__init__()
        self.username = username
        self.options: UserOptions | None = None
        self.account: UserAccount | None = None
        self.busy = False

    @property
    def adding(self) -> bool:
        return self.username is None

    @property
    def ready(self) -> bool:
        return self.options is not None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="user-dialog") as dialog:
            dialog.border_title = Text("Add user" if self.adding else f"User {self.username}")  # literal, never markup
            # the dialog scrolls and covers the footer at 80x24: the keys stay in sight here
            dialog.border_subtitle = "Tab next field · Ctrl+S save · Esc cancel"
            if self.adding:
                yield from self._field("username", "Username (one word, used to log in)",
                                       Input(id="user-username", max_length=120))
            yield from self._field("display_name", "Name", Input(id="user-display_name", max_length=120))
            yield from self._field("email", "Email (optional)",
                                   Input(id="user-email", placeholder="name@example.com", max_length=320))
            if self.adding:
                yield from self._field("password", "Password", Input(
                    id="user-password", password=True, placeholder="empty: generate one, shown once"))
            yield from self._field("roles", "Roles", SelectionList[str](id="user-roles"))
            yield from self._field("group_roles", "Group roles", SelectionList[str](id="user-group_roles"))
            yield from self._field("companies", "Companies (codes, for the crm roles)",
                                   Input(id="user-companies", placeholder="e.g. ACME WATT"))
            yield from self._field("portal_account", "Portal account (customer role)",
                                   Input(id="user-portal_account", placeholder="e.g. A1000001", max_length=40))
            yield Static("Loading…", id="user-problem", markup=False)
            with Horizontal(id="user-buttons"):
                yield Button("Save (Ctrl+S)", id="user-save", variant="primary", compact=True, disabled=True)
                yield Button("Cancel (Esc)", id="user-cancel", compact=True)

    @staticmethod
    def _field(name: str, label: str, widget) -> ComposeResult:
        yield Label(label)
        yield widget
        yield Static("", id=f"user-{name}-error", classes="field-error", markup=False)

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.select_on_focus = False   # the values arrive after the focus: never half-selected
        for error in self.query(".field-error"):
            error.display = False
        first = "#user-username" if self.adding else "#user-display_name"
        self.query_one(first, Input).focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="user-load")
    def _load(self) -> None:
        ctx, actor = self.app.ctx, self.app.user
        options = users.options(ctx, actor)
        account = None if self.username is None else users.get_user(ctx, actor, self.username)
        self.post_message(EditorLoaded(options, account))

    @on(EditorLoaded)
    def _loaded(self, message: EditorLoaded) -> None:
        self.options, self.account = message.options, message.account
        a = message.account
        roles = self.query_one("#user-roles", SelectionList)
        roles.add_options([(r, r, a is not None and r in a.roles) for r in message.options.roles])
        groups = self.query_one("#user-group_roles", SelectionList)
        groups.add_options([(Text(f"{g.name} ({', '.join(g.roles)})"), g.name, a is not None and g.name in a.group_roles)
                            for g in message.options.group_roles])
        if a is not None:
            self.query_one("#user-display_name", Input).value = a.display_name
            self.query_one("#user-email", Input).value = a.email or ""
            self.query_one("#user-companies", Input).value = " ".join(a.companies)
            self.query_one("#user-portal_account", Input).value = a.portal_account or ""
            for box in self.query(Input):
                box.action_end()
        known = ", ".join(code for code, _ in message.options.companies)
        self.query_one("#user-companies", Input).tooltip = f"Known codes: {known}" if known else None
        self.query_one("#user-problem", Static).update("")
        self.query_one("#user-save", Button).disabled = False

    # -- saving ----------------------------------------------------------------------------
    def form(self) -> UserForm:
        def value(name: str) -> str:
            found = self.query(f"#user-{name}")
            return found.first(Input).value if found else ""

        return UserForm(
            username=value("username"), display_name=value("display_name"), email=value("email"),
            password=value("password"),
            roles=tuple(self.query_one("#user-roles", SelectionList).selected),
            group_roles=tuple(self.query_one("#user-group_roles", SelectionList).selected),
            companies=value("companies"), portal_account=value("portal_account"))

    @on(Button.Pressed, "#user-save")
    def action_save(self) -> None:
        if self.options is None or self.busy:
            return
        self.busy = True
        self._show_problem(None, "")
        self.query_one("#user-save", Button).disabled = True
        self.query_one("#user-problem", Static).update("Saving…")
        self._save(self.form())

    @work(thread=True, exclusive=True, exit_on_error=False, group="user-save")
    def _save(self, form: UserForm) -> None:
        ctx, actor = self.app.ctx, self.app.user
        if self.username is None:
            added = users.add_user(ctx, actor, form)
            self.post_message(UserSaved(added.account, added.password))
        else:
            self.post_message(UserSaved(users.save_user(ctx, actor, self.username, form), None))

    @on(UserSaved)
    def _saved(self, message: UserSaved) -> None:
        verb = "Added" if self.adding else "Saved"
        self.app.notify(f"{verb} {message.account.username}.", title="Users", markup=False, timeout=4)
        self.dismiss((message.account, message.password))

    def _show_problem(self, field: str | None, text: str) -> None:
        for error in self.query(".field-error"):
            error.display = False
        target = self.query(f"#user-{field}-error") if field in FIELDS else None
        if target:
            widget = target.first(Static)
            widget.update(text)
            widget.display = True
            self.query_one(f"#user-{field}").focus()
            widget.scroll_visible()
            self.query_one("#user-problem", Static).update("Please check the field marked above.")
        else:
            self.query_one("#user-problem", Static).update(text)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#user-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self.busy = False
        self.query_one("#user-save", Button).disabled = self.options is None
        explain_failure(self.app, event.worker.error, self._show_problem)


# -- passwords ------------------------------------------------------------------------------
class PasswordReset(Message):
    def __init__(self, password: str | None) -> None:
        super().__init__()
        self.password = password


class PasswordResetScreen(ModalScreen[bool]):
    """Type a new password, or leave it empty to generate one; a generated one is then
    shown here once. Also clears a lock. Dismisses with True when the password changed."""

    CSS_PATH = "user_editor.tcss"
    BINDINGS = [Binding("escape", "close", "Close"), Binding("ctrl+s", "reset", "Set password")]

    def __init__(self, username: str) -> None:
        super().__init__()
        self.username = username
        self.done = False
        self.generated: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="password-dialog") as dialog:
            dialog.border_title = Text(f"New password for {self.username}")
            yield Label("New password (at least 8 characters)")
            yield Input(id="password-new", password=True, placeholder="empty: generate one")
            yield Static("", id="password-problem", markup=False)
            with Horizontal(id="password-buttons"):
                yield Button("Set password (Ctrl+S)", id="password-set", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="password-cancel", compact=True)

    @on(Input.Submitted, "#password-new")
    @on(Button.Pressed, "#password-set")
    def action_reset(self) -> None:
        if self.done:
            self.dismiss(True)
            return
        self.query_one("#password-set", Button).disabled = True
        self.query_one("#password-problem", Static).update("Setting…")
        self._reset(self.query_one("#password-new", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="password-reset")
    def _reset(self, password: str) -> None:
        self.post_message(PasswordReset(users.reset_password(self.app.ctx, self.app.user, self.username, password)))

    @on(PasswordReset)
    def _was_reset(self, message: PasswordReset) -> None:
        self.done = True
        self.generated = message.password
        self.query_one("#password-new", Input).display = False
        self.query_one(Label).display = False
        self.query_one("#password-cancel", Button).display = False
        done = self.query_one("#password-set", Button)
        done.label, done.disabled = "Done (Enter)", False
        done.focus()
        problem = self.query_one("#password-problem", Static)
        problem.add_class("-done")
        if message.password:
            problem.update(_shown_once(self.username, message.password))
        else:
            problem.update(f"The password of {self.username} is changed, and any lock is cleared.")

    @on(Button.Pressed, "#password-cancel")
    def action_close(self) -> None:
        self.dismiss(self.done)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        self.query_one("#password-set", Button).disabled = False
        explain_failure(self.app, event.worker.error, self._show_problem)

    def _show_problem(self, field: str | None, text: str) -> None:
        self.query_one("#password-problem", Static).update(text)
        if text:
            self.query_one("#password-new", Input).focus()


def _shown_once(username: str, password: str) -> Text:
    text = Text(f"The new password of {username} is\n\n    ")
    text.append(password, "bold")
    text.append("\n\nGive it to them now: it is not shown again. They can log in with it at once.")
    return text


class PasswordShownScreen(ModalScreen[None]):
    """A generated first password, shown once after adding a user."""

    CSS_PATH = "user_editor.tcss"
    BINDINGS = [Binding("escape,enter", "close", "Done")]

    def __init__(self, username: str, password: str) -> None:
        super().__init__()
        self.username, self.password = username, password

    def compose(self) -> ComposeResult:
        with Vertical(id="password-dialog") as dialog:
            dialog.border_title = Text(f"Password for {self.username}")
            yield Static(_shown_once(self.username, self.password), id="password-shown", classes="-done")
            with Horizontal(id="password-buttons"):
                yield Button("Done (Enter)", id="password-done", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#password-done", Button).focus()

    @on(Button.Pressed, "#password-done")
    def action_close(self) -> None:
        self.dismiss(None)
