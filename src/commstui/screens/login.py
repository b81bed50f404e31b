"""Log in: username, password, Enter. Wrong passwords and lockouts are explained under the form.
F2 "Set my password" opens SetPasswordScreen (a new account, or a forgotten password); when
a password is set there, its username comes back here, ready to log in."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from ..domain import User
from ..services import auth
from ..services.errors import LoginFailed
from ..widgets.status_line import StatusLine
from .set_password import SetPasswordScreen

HINT = "Enter logs in · Tab next field · Ctrl+Q quits"
SET_PASSWORD_HINT = "No password yet, or forgot it? F2: Set my password"


class LoginField(Input):
    # the footer shows what Enter does here
    BINDINGS = [Binding("enter", "submit", "Log in")]


class LoginScreen(Screen):
    CSS_PATH = "login.tcss"
    AUTO_FOCUS = None  # focus is chosen in on_mount: the first empty field

    BINDINGS = [
        Binding("tab", "app.focus_next", "Next field", priority=True),
        Binding("f2", "set_password", "Set my password",
                tooltip="New account or forgotten password: get a code by email and choose a password"),
    ]

    class LoggedIn(Message):
        def __init__(self, user: User) -> None:
            super().__init__()
            self.user = user

    class Refused(Message):
        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    def __init__(self, username: str = "") -> None:
        super().__init__()
        self._username = username
        self._busy = False

    def compose(self) -> ComposeResult:
        yield StatusLine("Log in")
        with Vertical(id="login-form") as form:
            form.border_title = "Log in to commstui"
            yield Label("Username", classes="field-label")
            yield LoginField(self._username, id="username", placeholder="your username")
            yield Label("Password", classes="field-label")
            yield LoginField(id="password", password=True, placeholder="your password")
            yield Static("", id="login-error", markup=False)
            yield Static("", id="login-notice", markup=False)
            yield Static(HINT, id="login-hint", markup=False)
            yield Static(SET_PASSWORD_HINT, id="login-set-password", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        username = self.query_one("#username", Input)
        (self.query_one("#password", Input) if username.value else username).focus()

    @on(Input.Submitted, "#username")
    def _username_entered(self) -> None:
        password = self.query_one("#password", Input)
        if password.value:
            self.action_submit()
        else:
            password.focus()

    @on(Input.Submitted, "#password")
    def _password_entered(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        if self._busy:
            return
        username = self.query_one("#username", Input).value
        password = self.query_one("#password", Input).value
        self._busy = True
        self._show_error("")
        self._show_notice("")
        self.query_one("#login-hint", Static).update("Checking…")
        self._log_in(username, password)

    @work(thread=True, exclusive=True, exit_on_error=False, group="login")
    def _log_in(self, username: str, password: str) -> None:
        try:
            user = auth.login(self.app.ctx, username, password)
        except LoginFailed as exc:
            self.post_message(self.Refused(str(exc)))
            return
        except Exception:
            self.post_message(self.Refused(""))  # the app's error toast says what happened
            raise
        self.post_message(self.LoggedIn(user))

    @on(Refused)
    def _refused(self, message: Refused) -> None:
        self._busy = False
        self.query_one("#login-hint", Static).update(HINT)
        self._show_error(message.reason)
        password = self.query_one("#password", Input)
        password.value = ""
        password.focus()

    @on(LoggedIn)
    def _logged_in(self, message: LoggedIn) -> None:
        self.app.login_succeeded(message.user)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.show_error(event.worker.error)

    # -- Set my password ---------------------------------------------------------
    def action_set_password(self) -> None:
        if self._busy:
            return
        self.app.push_screen(SetPasswordScreen(self.query_one("#username", Input).value.strip()),
                             self._password_set)

    def _password_set(self, username: str | None) -> None:
        if username is None:   # went back without setting one
            return
        self.query_one("#username", Input).value = username
        password = self.query_one("#password", Input)
        password.value = ""
        password.focus()
        self._show_error("")
        self._show_notice("Password set. Log in with it now.")

    def _show_notice(self, text: str) -> None:
        notice = self.query_one("#login-notice", Static)
        notice.update(text)
        notice.display = bool(text)

    def _show_error(self, text: str) -> None:
        error = self.query_one("#login-error", Static)
        error.update(text)
        error.display = bool(text)
