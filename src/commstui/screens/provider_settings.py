"""What the mail server and the SMS provider settings screens share: one form an
administrator fills in, saves in a thread worker, and tests with a real send.

Each screen keeps its own fields, words and service calls; this module keeps the
flow: refuse someone who may not change settings, load, save (pointing at the
field a ValidationError names), save unsaved changes before a test, and show the
outcome in one line under the form. A credential is typed here (it goes to the
0600 secrets file, never into the database) or named by an environment variable.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static, Switch

from ..domain import Permission
from ..secrets import secrets_file
from ..services.errors import ServiceError, ValidationError
from ..widgets.status_line import StatusLine


def form_input(widget_id: str, **options) -> Input:
    # no select-all on focus: tabbing to a field and typing must not wipe a saved value
    return Input(id=widget_id, compact=True, select_on_focus=False, **options)


def variable_of(ref: str | None) -> str:
    """The environment variable a saved credential reference names ("" for a saved secret)."""
    ref = ref or ""
    return ref[4:] if ref.startswith("env:") else ""


def settings_bindings(send_test: str, test_tooltip: str, leaving: str) -> list[Binding]:
    """Save, test and leave; the test and leaving described in the screen's own words."""
    return [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="Save these settings"),
        Binding("ctrl+t", "send_test", send_test, priority=True, tooltip=test_tooltip),
        Binding("escape", "back", "Back", tooltip=f"Leave {leaving} (unsaved changes are dropped)"),
    ]


class SettingsLoaded(TextualMessage):
    def __init__(self, saved: Any) -> None:
        super().__init__()
        self.saved = saved


class SettingsSaved(TextualMessage):
    def __init__(self, saved: Any, then_test: str | None) -> None:
        super().__init__()
        self.saved, self.then_test = saved, then_test


class SaveRefused(TextualMessage):
    def __init__(self, error: ServiceError) -> None:
        super().__init__()
        self.error = error


class ProviderSettingsScreen(Screen):
    """Settings for one outside service messages go through, and a test send.

    A subclass gives its words (the class attributes below), its fields
    (compose_fields, form, form_of) and its service calls (fetch, store,
    send_test, report_test, action_send_test).
    """

    AUTO_FOCUS = None  # on_mount focuses the first field (or Back, for someone who may not change settings)
    HEADING: ClassVar[str]        # the status line: "Mail settings"
    WHAT: ClassVar[str]           # in the refusal: "Mail server settings are for administrators"
    KIND: ClassVar[str]           # "email": "Send test email", "Test email failed"
    FIELD_IDS: ClassVar[dict[str, str]]  # service field name -> widget id
    NEW: ClassVar[Any]            # the form for settings not saved yet
    FIRST_FIELD: ClassVar[str]    # widget id focused on opening
    SECRET: ClassVar[str]         # the credential: form field and widget id; its variable is "<SECRET>_env"
    SAVED_SECRET: ClassVar[str]   # its placeholder once saved; {ref} is the reference
    ACTIVE_ON: ClassVar[str]
    ACTIVE_OFF: ClassVar[str]
    UNVERIFIED: ClassVar[str]     # the warning when certificates are not checked
    NOT_SET_UP: ClassVar[str]
    NOT_ACTIVE: ClassVar[str]
    TEST_REFUSED_TIMEOUT: ClassVar[float] = 8

    def __init__(self) -> None:
        super().__init__()
        self.current: Any = None  # the settings as saved; None until the first save
        self.saved = self.NEW     # the form as saved, to tell unsaved changes
        self.busy = False
        self.loaded = False  # the saved settings are on screen (or access was refused)

    # -- what a subclass gives ----------------------------------------------------------
    def compose_fields(self) -> ComposeResult:
        raise NotImplementedError

    def form(self) -> Any:
        """The form as it stands on screen."""
        raise NotImplementedError

    def form_of(self, saved: Any) -> Any:
        """What the form shows for saved settings (the credential itself is never shown)."""
        raise NotImplementedError

    def show_fields(self, form: Any) -> None:
        raise NotImplementedError

    def secret_ref(self, saved: Any) -> str | None:
        raise NotImplementedError

    def fetch(self) -> Any:
        """The saved settings, or None (runs in a thread)."""
        raise NotImplementedError

    def store(self, form: Any) -> Any:
        """Save the form; the saved settings (runs in a thread; a ServiceError refuses)."""
        raise NotImplementedError

    def saved_words(self, saved: Any, state: str) -> tuple[str, str]:
        """The notice and the result line once saved."""
        raise NotImplementedError

    def sending_words(self, to: str, saved: Any) -> str:
        raise NotImplementedError

    async def send_test(self, to: str, saved: Any) -> Any:
        raise NotImplementedError

    def report_test(self, to: str, result: Any) -> None:
        raise NotImplementedError

    # -- the form's frame ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(self.HEADING)
        with VerticalScroll(id="settings-form"):
            yield Static("", id="settings-access", markup=False)
            yield from self.compose_fields()
            yield Static("", id="test-result", markup=False)
        with Horizontal(id="settings-buttons"):
            yield Button("Save  ^S", id="save", variant="primary", compact=True)
            yield Button(f"Send test {self.KIND}  ^T", id="send-test", compact=True)
            yield Button("Back  Esc", id="back", compact=True)
        yield Footer(compact=True)

    def _row(self, label: str, widget: Widget, note: str = "") -> ComposeResult:
        with Horizontal(classes="settings-row", id=f"{widget.id}-row"):
            yield Label(label, classes="settings-label", id=f"{widget.id}-label")
            yield widget
            if note:
                yield Label(note, classes="settings-note")
        yield Static("", classes="settings-error", id=f"{widget.id}-error", markup=False)

    def _secret_rows(self, label: str, env_example: str) -> ComposeResult:
        """The credential typed here, where it is kept, and the variable that may name it instead."""
        yield from self._row(label, form_input(self.SECRET, password=True))
        yield Static(f"stored in {secrets_file()} (mode 0600), not in the database",
                     id=f"{self.SECRET}-hint", classes="settings-hint", markup=False)
        yield from self._row("or env var", form_input(f"{self.SECRET}-env",
                                                      placeholder=f"environment variable, e.g. {env_example}"))

    def _tls_row(self, what: str) -> ComposeResult:
        with Horizontal(classes="settings-row"):
            yield Label("TLS", classes="settings-label")
            yield Checkbox(f"Verify {what}'s certificate", id="verify-tls", value=True, compact=True)
        yield Static("", id="security-warning", markup=False)

    def _active_row(self) -> ComposeResult:
        with Horizontal(classes="settings-row", id="active-row"):
            yield Label("Active", classes="settings-label")
            yield Switch(True, id="active")
            yield Label("", id="active-label")

    def on_mount(self) -> None:
        self._show_form(self.NEW)
        if not self.may_configure():
            self._refuse(f"{self.WHAT} are for administrators; "
                         f"{getattr(self.app.user, 'username', 'you')} may not change them.")
            return
        self.query_one(f"#{self.FIRST_FIELD}", Input).focus()
        self._load()

    def may_configure(self) -> bool:
        user = self.app.user
        return user is not None and user.can(Permission.MAIL_SETTINGS)

    def _refuse(self, reason: str) -> None:
        access = self.query_one("#settings-access", Static)
        access.update(f"⚠ {reason}")
        access.display = True
        for widget in self.query("Input, Select, Checkbox, Switch, #save, #send-test"):
            widget.disabled = True
        self.query_one("#back", Button).focus()
        self.loaded = True
        self.refresh_bindings()

    # -- the form ------------------------------------------------------------------------
    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def is_dirty(self) -> bool:
        return self.current is None or self.form() != self.saved

    def _show_form(self, form: Any) -> None:
        self.saved = form
        self.show_fields(form)
        secret = self.query_one(f"#{self.SECRET}", Input)
        secret.value = ""
        ref = (self.secret_ref(self.current) or "") if self.current else ""
        secret.placeholder = (self.SAVED_SECRET.format(ref=ref) if ref.startswith("secret:")
                              else "typed here, or give a variable below")
        self.query_one("#verify-tls", Checkbox).value = form.verify_tls
        self.query_one("#active", Switch).value = form.active
        self._show_active()
        self._show_security_warning()

    @on(Switch.Changed, "#active")
    def _show_active(self) -> None:
        self.query_one("#active-label", Label).update(
            self.ACTIVE_ON if self.query_one("#active", Switch).value else self.ACTIVE_OFF)

    @on(Checkbox.Changed, "#verify-tls")
    def _verify_changed(self) -> None:
        self._show_security_warning()

    def security_warning(self) -> str:
        return "" if self.query_one("#verify-tls", Checkbox).value else self.UNVERIFIED

    def _show_security_warning(self) -> None:
        warning = self.security_warning()
        shown = self.query_one("#security-warning", Static)
        shown.update(warning)
        shown.display = bool(warning)

    def _show_field_error(self, field: str | None, text: str) -> None:
        shown_at = self.FIELD_IDS.get(field or "")
        for widget_id in dict.fromkeys(self.FIELD_IDS.values()):
            error = text if widget_id == shown_at else ""
            shown = self.query_one(f"#{widget_id}-error", Static)
            shown.update(error)
            shown.display = bool(error)
            self.query_one(f"#{widget_id}").set_class(bool(error), "-invalid")
            self.query_one(f"#{widget_id}-label", Label).set_class(bool(error), "-invalid")

    # -- load and save -------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="settings-load")
    def _load(self) -> None:
        self.post_message(SettingsLoaded(self.fetch()))

    @on(SettingsLoaded)
    def _loaded(self, event: SettingsLoaded) -> None:
        self.current = event.saved
        self._show_form(self.form_of(event.saved))
        self.loaded = True
        if event.saved is None:
            self._show_result(self.NOT_SET_UP, "")
        elif not event.saved.active:
            self._show_result(self.NOT_ACTIVE, "warning")

    def action_save(self, then_test: str | None = None) -> None:
        if self.busy or not self.may_configure():
            return
        form = self.form()
        if getattr(form, self.SECRET) and getattr(form, f"{self.SECRET}_env"):
            self._show_field_error(f"{self.SECRET}_env",
                                   f"Give either a {self.SECRET} or a variable name, not both.")
            self.query_one(f"#{self.SECRET}-env", Input).focus()
            return
        self.busy = True
        self._save(form, then_test)

    @work(thread=True, exclusive=True, exit_on_error=False, group="settings-save")
    def _save(self, form: Any, then_test: str | None) -> None:
        try:
            saved = self.store(form)
        except ServiceError as exc:
            self.post_message(SaveRefused(exc))
            return
        self.post_message(SettingsSaved(saved, then_test))

    @on(SettingsSaved)
    def _saved(self, event: SettingsSaved) -> None:
        self.busy = False
        self.current = event.saved
        self._show_field_error(None, "")
        self._show_form(self.form_of(event.saved))
        notice, result = self.saved_words(event.saved, "active" if event.saved.active else "saved but NOT active")
        self.notify(notice, title="Saved", markup=False)
        if event.then_test:
            self._start_test(event.then_test)
        else:
            self._show_result(result, "success")

    @on(SaveRefused)
    def _save_refused(self, event: SaveRefused) -> None:
        self.busy = False
        self._refused(event.error, "Not saved")

    def _refused(self, error: ServiceError, what: str, timeout: float = 8) -> None:
        if isinstance(error, ValidationError) and error.field in self.FIELD_IDS:
            self._show_field_error(error.field, str(error))
            self.query_one(f"#{self.FIELD_IDS[error.field]}").focus()
        self._show_result(f"{what}: {error}", "error")
        self.notify(str(error), title=error.title, severity="error", timeout=timeout, markup=False)

    # -- the test send -------------------------------------------------------------------
    def _test_to(self, to: str) -> None:
        """Test what is on screen: unsaved changes are saved first."""
        if self.is_dirty():
            self.action_save(then_test=to)
        else:
            self._start_test(to)

    def _start_test(self, to: str) -> None:
        saved = self.current
        if saved is None:
            return
        self.busy = True
        self._show_result(self.sending_words(to, saved), "")
        self._send_test(to, saved)

    @work(exclusive=True, exit_on_error=False, group="settings-test")
    async def _send_test(self, to: str, saved: Any) -> None:
        try:
            result = await self.send_test(to, saved)
        except ServiceError as exc:
            self.busy = False
            self._refused(exc, f"Test {self.KIND} not sent", timeout=self.TEST_REFUSED_TIMEOUT)
            return
        self.busy = False
        self.report_test(to, result)

    def _show_test_outcome(self, ok: bool, text: str) -> None:
        if ok:
            self._show_result(text, "success")
            self.notify(text, title=f"Test {self.KIND} sent", timeout=8, markup=False)
        else:
            self._show_result(text, "error")
            self.notify(text, title=f"Test {self.KIND} failed", severity="error", timeout=12, markup=False)

    def _show_result(self, text: str, kind: str) -> None:
        shown = self.query_one("#test-result", Static)
        shown.update(Text(text))
        shown.display = bool(text)
        for name in ("success", "warning", "error"):
            shown.set_class(kind == name, f"-{name}")

    def on_worker_state_changed(self, event) -> None:
        error = event.worker.error
        if error is None:
            return
        self.busy = False
        if event.worker.group == "settings-load" and isinstance(error, ServiceError):
            self._refuse(str(error))
        self.app.show_error(error)

    # -- buttons and leaving ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "send_test"):
            return True if self.may_configure() else None
        return True

    def action_send_test(self) -> None:
        raise NotImplementedError

    def action_back(self) -> None:
        self.dismiss()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#send-test")
    def _test_pressed(self) -> None:
        self.action_send_test()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()
