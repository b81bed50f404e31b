"""Set my password (F2 on the login screen): no login needed, it is the way in.

Step 1: the username, Enter emails a code (the answer is the same whether or not the
account exists). Step 2: the code, the new password twice, Ctrl+S sets it. F3 goes from
one step to the other (e.g. "I have a code" from an earlier email); nothing typed is lost.
Each problem is shown under its field. Success dismisses with the username to log in
with; Esc dismisses with None. The service decides everything (services/activation.py).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from ..services import activation
from ..services.errors import ServiceError, ValidationError
from ..widgets.status_line import StatusLine

FIELDS = ("username", "code", "password", "repeat")
ASK_HELP = "We email a code to the address on your account. Already have a code? Press F3."


class UsernameField(Input):
    # the footer shows what Enter does here
    BINDINGS = [Binding("enter", "submit", "Email me a code")]


class SetPasswordScreen(Screen[str | None]):
    CSS_PATH = "set_password.tcss"
    AUTO_FOCUS = None   # on_mount focuses the username, or the code when a username is given

    BINDINGS = [
        Binding("escape", "back", "Back to login", tooltip="Return to the login screen"),
        Binding("f3", "have_code", "I have a code", tooltip="Type a code you were emailed earlier"),
        Binding("f3", "ask_again", "Ask for a code", tooltip="Back to the username, to email a new code"),
        Binding("ctrl+s", "set_password", "Set password", tooltip="Set the new password with the code"),
        Binding("tab", "app.focus_next", "Next field", priority=True, show=False),
    ]

    class CodeRequested(Message):
        pass

    class PasswordSet(Message):
        def __init__(self, username: str) -> None:
            super().__init__()
            self.username = username

    def __init__(self, username: str = "") -> None:
        super().__init__()
        self._username = username
        self.step = 1
        self.busy = False

    def compose(self) -> ComposeResult:
        yield StatusLine("Set my password", dispatcher=False)
        with Vertical(id="sp-form") as form:
            form.border_title = "Set my password"
            with Vertical(id="sp-ask"):
                yield Label("Username", classes="field-label")
                yield UsernameField(self._username, id="sp-username", max_length=320,
                                    placeholder="your username (customers: your email)")
                yield Static("", id="sp-username-problem", classes="problem", markup=False)
                yield Static(ASK_HELP, id="sp-ask-help", markup=False)
            with Vertical(id="sp-set"):
                yield Static("", id="sp-for", markup=False)
                yield Label("Code from the email", classes="field-label")
                yield Input(id="sp-code", placeholder="XXXX-XXXX", max_length=20)
                yield Static("", id="sp-code-problem", classes="problem", markup=False)
                yield Label("New password", classes="field-label")
                yield Input(id="sp-password", password=True, placeholder="at least 8 characters")
                yield Static("", id="sp-password-problem", classes="problem", markup=False)
                yield Label("Repeat the new password", classes="field-label")
                yield Input(id="sp-repeat", password=True, placeholder="the same again")
                yield Static("", id="sp-repeat-problem", classes="problem", markup=False)
            yield Static("", id="sp-status", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._show_step(1)

    # -- the two steps ------------------------------------------------------------------
    def _show_step(self, step: int, sent: bool = False) -> None:
        self.step = step
        self.query_one("#sp-ask").display = step == 1
        self.query_one("#sp-set").display = step == 2
        if step == 2:
            username = self.query_one("#sp-username", Input).value.strip()
            lines = [activation.SENT] if sent else []
            lines.append(f"Username: {username}")
            self.query_one("#sp-for", Static).update("\n".join(lines))
            self.query_one("#sp-code", Input).focus()
        else:
            self.query_one("#sp-username", Input).focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "have_code":
            return self.step == 1
        if action in ("ask_again", "set_password"):
            return self.step == 2
        return True

    def action_have_code(self) -> None:
        if self._username_missing():
            return
        self._show_step(2)

    def action_ask_again(self) -> None:
        self._show_step(1)

    def action_back(self) -> None:
        self.dismiss(None)

    def _username_missing(self) -> bool:
        if self.query_one("#sp-username", Input).value.strip():
            return False
        self._show_problems({"username": "Enter your username first (a customer's username is their email "
                                         "address)."})
        return True

    # -- step 1: email me a code ----------------------------------------------------------
    @on(Input.Submitted, "#sp-username")
    def _ask(self) -> None:
        if self.busy or self._username_missing():
            return
        self._start("Asking for a code…")
        self._request(self.query_one("#sp-username", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="set-password")
    def _request(self, username: str) -> None:
        activation.request_code(self.app.ctx, username)
        self.post_message(self.CodeRequested())

    @on(CodeRequested)
    def _requested(self) -> None:
        # nobody may be logged in anywhere: this session's dispatcher sends the code
        self.app.ensure_dispatching()
        self._finish("")
        self._show_step(2, sent=True)

    # -- step 2: set the password ------------------------------------------------------------
    @on(Input.Submitted, "#sp-code")
    def _code_entered(self) -> None:
        self.query_one("#sp-password", Input).focus()

    @on(Input.Submitted, "#sp-password")
    def _password_entered(self) -> None:
        self.query_one("#sp-repeat", Input).focus()

    @on(Input.Submitted, "#sp-repeat")
    def action_set_password(self) -> None:
        if self.busy or self.step != 2:
            return
        self._start("Checking…")
        self._set(*(self.query_one(f"#sp-{name}", Input).value for name in FIELDS))

    @work(thread=True, exclusive=True, exit_on_error=False, group="set-password")
    def _set(self, username: str, code: str, password: str, repeat: str) -> None:
        self.post_message(self.PasswordSet(activation.set_password(self.app.ctx, username, code, password, repeat)))

    @on(PasswordSet)
    def _password_set(self, message: PasswordSet) -> None:
        self._finish("")
        self.dismiss(message.username)

    # -- busy, problems ------------------------------------------------------------------------
    def _start(self, status: str) -> None:
        self.busy = True
        self._show_problems({})
        self._status(status)

    def _finish(self, status: str) -> None:
        self.busy = False
        self._status(status)

    def _status(self, text: str) -> None:
        status = self.query_one("#sp-status", Static)
        status.update(text)
        status.display = bool(text)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        self._finish("")
        if isinstance(error, activation.PasswordNotSet):
            self._show_problems(error.problems)
        elif isinstance(error, ValidationError) and error.field in FIELDS:
            self._show_problems({error.field: str(error)})
        elif isinstance(error, ServiceError) or getattr(error, "title", None):
            self._status(str(error))   # e.g. the database stayed busy
        else:
            self.app.show_error(error)

    def _show_problems(self, problems: dict[str, str]) -> None:
        """Each problem under its field (an empty dict clears them); the first field gets the focus."""
        for name in FIELDS:
            problem = self.query_one(f"#sp-{name}-problem", Static)
            problem.update(problems.get(name, ""))
            problem.display = name in problems
        if "username" in problems and self.step != 1:
            self._show_step(1)
        first = next((name for name in FIELDS if name in problems), None)
        if first is not None:
            self.query_one(f"#sp-{first}", Input).focus()
