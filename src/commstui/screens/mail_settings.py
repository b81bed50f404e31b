"""Mail server settings (administrators): where commstui hands its email over, and a test send.

A typed password goes to the 0600 secrets file, never into the database; the
screen says where. "Send test email" saves unsaved changes first, so what is
tested is what is shown, and reports the server's own words either way.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select, Static, Switch

from ..domain import MailServer, Permission, Security
from ..secrets import secrets_file
from ..services import mail_settings
from ..services.errors import ServiceError, ValidationError
from ..services.mail_settings import MailServerForm, Outcome, SendResult
from ..widgets.status_line import StatusLine

DEFAULT_PORTS = {Security.NONE: 25, Security.STARTTLS: 587, Security.TLS: 465}
SECURITY_CHOICES = [
    ("STARTTLS (usually port 587)", Security.STARTTLS.value),
    ("TLS from the start (usually 465)", Security.TLS.value),
    ("None: unencrypted (usually 25)", Security.NONE.value),
]
# service field name -> widget id
FIELD_IDS = {"host": "host", "port": "port", "security": "security", "username": "username",
             "password": "password", "password_env": "password-env", "from_addr": "from-addr",
             "concurrency": "concurrency", "rate_per_minute": "rate"}
NEW_SERVER = MailServerForm(host="", port="587", security=Security.STARTTLS.value, from_addr="",
                            concurrency="4", rate_per_minute="0")


def form_of(server: MailServer | None) -> MailServerForm:
    """What the form shows for saved settings (the password itself is never shown)."""
    if server is None:
        return NEW_SERVER
    ref = server.password_ref or ""
    return MailServerForm(
        host=server.host, port=str(server.port), security=server.security, from_addr=server.from_addr,
        username=server.username or "", password="", password_env=ref[4:] if ref.startswith("env:") else "",
        active=server.active, verify_tls=server.verify_tls, name=server.name,
        concurrency=str(server.concurrency), rate_per_minute=str(server.rate_per_minute))


class ServerLoaded(TextualMessage):
    def __init__(self, server: MailServer | None) -> None:
        super().__init__()
        self.server = server


class ServerSaved(TextualMessage):
    def __init__(self, server: MailServer, then_test: str | None) -> None:
        super().__init__()
        self.server, self.then_test = server, then_test


class SaveRefused(TextualMessage):
    def __init__(self, error: ServiceError) -> None:
        super().__init__()
        self.error = error


class AskTestAddress(ModalScreen[str | None]):
    """Where to send the test email; dismisses with the address, or None."""

    CSS_PATH = "mail_settings.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default: str, unsaved: bool) -> None:
        super().__init__()
        self.default = default
        self.unsaved = unsaved

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-dialog") as dialog:
            dialog.border_title = "Send a test email"
            yield Label("Send it to:")
            yield Input(self.default, id="test-to", placeholder="name@example.com")
            if self.unsaved:
                yield Static("Your changes are saved first, so the test uses what you see.", id="prompt-note")
            with Horizontal(id="prompt-buttons"):
                yield Button("Send test", id="prompt-send", variant="primary", compact=True)
                yield Button("Cancel", id="prompt-cancel", compact=True)

    @on(Input.Submitted, "#test-to")
    @on(Button.Pressed, "#prompt-send")
    def _send(self) -> None:
        self.dismiss(self.query_one("#test-to", Input).value.strip())

    @on(Button.Pressed, "#prompt-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def form_input(widget_id: str, **options) -> Input:
    # no select-all on focus: tabbing to a field and typing must not wipe a saved value
    return Input(id=widget_id, compact=True, select_on_focus=False, **options)


class MailSettingsScreen(Screen):
    CSS_PATH = "mail_settings.tcss"
    AUTO_FOCUS = None  # on_mount focuses Host (or Back, for someone who may not change settings)

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="Save these settings"),
        Binding("ctrl+t", "send_test", "Send test email", priority=True,
                tooltip="Send a test email now through this server"),
        Binding("escape", "back", "Back", tooltip="Leave mail settings (unsaved changes are dropped)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.server: MailServer | None = None
        self.saved = NEW_SERVER
        self.busy = False
        self.loaded = False  # the saved settings are on screen (or access was refused)

    def compose(self) -> ComposeResult:
        yield StatusLine("Mail settings")
        with VerticalScroll(id="settings-form"):
            yield Static("", id="settings-access", markup=False)
            yield from self._row("Host", form_input("host", placeholder="e.g. smtp.example.com"))
            yield from self._row("Port", form_input("port", type="integer", max_length=5))
            yield from self._row("Security", Select(SECURITY_CHOICES, id="security", allow_blank=False,
                                                    compact=True))
            yield from self._row("Username", form_input("username",
                                                        placeholder="empty: the server needs no login"))
            yield from self._row("Password", form_input("password", password=True))
            yield Static(f"stored in {secrets_file()} (mode 0600), not in the database",
                         id="password-hint", classes="settings-hint", markup=False)
            yield from self._row("or env var", form_input("password-env",
                                                     placeholder="environment variable, e.g. SMTP_PASSWORD"))
            yield from self._row("From", form_input("from-addr",
                                                    placeholder="the sender, e.g. office@example.com"))
            with Horizontal(classes="settings-row"):
                yield Label("TLS", classes="settings-label")
                yield Checkbox("Verify the server's certificate", id="verify-tls", value=True, compact=True)
            yield Static("", id="security-warning", markup=False)
            yield from self._row("Connections", form_input("concurrency", type="integer", max_length=2),
                                 note="at once (1–32)")
            yield from self._row("Rate", form_input("rate", type="integer", max_length=6),
                                 note="messages per minute (0 = no limit)")
            with Horizontal(classes="settings-row", id="active-row"):
                yield Label("Active", classes="settings-label")
                yield Switch(True, id="active")
                yield Label("", id="active-label")
            yield Static("", id="test-result", markup=False)
        with Horizontal(id="settings-buttons"):
            yield Button("Save  ^S", id="save", variant="primary", compact=True)
            yield Button("Send test email  ^T", id="send-test", compact=True)
            yield Button("Back  Esc", id="back", compact=True)
        yield Footer(compact=True)

    def _row(self, label: str, widget, note: str = "") -> ComposeResult:
        with Horizontal(classes="settings-row", id=f"{widget.id}-row"):
            yield Label(label, classes="settings-label", id=f"{widget.id}-label")
            yield widget
            if note:
                yield Label(note, classes="settings-note")
        yield Static("", classes="settings-error", id=f"{widget.id}-error", markup=False)

    def on_mount(self) -> None:
        self._show_form(NEW_SERVER)
        if not self.may_configure():
            self._refuse(f"Mail server settings are for administrators; "
                         f"{getattr(self.app.user, 'username', 'you')} may not change them.")
            return
        self.query_one("#host", Input).focus()
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

    # -- the form ------------------------------------------------------------------
    def form(self) -> MailServerForm:
        security = self.query_one("#security", Select).value
        return MailServerForm(
            host=self._value("host"), port=self._value("port"),
            security=security if isinstance(security, str) else "",
            from_addr=self._value("from-addr"), username=self._value("username"),
            password=self.query_one("#password", Input).value, password_env=self._value("password-env"),
            active=self.query_one("#active", Switch).value,
            verify_tls=self.query_one("#verify-tls", Checkbox).value, name=self.saved.name,
            concurrency=self._value("concurrency"), rate_per_minute=self._value("rate"))

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def is_dirty(self) -> bool:
        return self.server is None or self.form() != self.saved

    def _show_form(self, form: MailServerForm) -> None:
        self.saved = form
        for name in ("host", "port", "username", "password_env", "from_addr", "concurrency",
                     "rate_per_minute"):
            self.query_one(f"#{FIELD_IDS[name]}", Input).value = str(getattr(form, name))
        password = self.query_one("#password", Input)
        password.value = ""
        secret_saved = bool(self.server and (self.server.password_ref or "").startswith("secret:"))
        password.placeholder = ("saved: leave empty to keep it" if secret_saved
                                else "typed here, or give a variable below")
        select = self.query_one("#security", Select)
        with select.prevent(Select.Changed):
            select.value = form.security
        self.query_one("#verify-tls", Checkbox).value = form.verify_tls
        self.query_one("#active", Switch).value = form.active
        self._show_active()
        self._show_security_warning()

    @on(Select.Changed, "#security")
    def _security_changed(self, event: Select.Changed) -> None:
        port = self.query_one("#port", Input)
        if port.value.strip() in {"", *(str(p) for p in DEFAULT_PORTS.values())}:
            port.value = str(DEFAULT_PORTS[Security(event.value)])
        self._show_security_warning()

    @on(Switch.Changed, "#active")
    def _show_active(self) -> None:
        self.query_one("#active-label", Label).update(
            "on: every email goes through this server" if self.query_one("#active", Switch).value
            else "off: no email is sent")

    @on(Checkbox.Changed, "#verify-tls")
    def _verify_changed(self) -> None:
        self._show_security_warning()

    def _show_security_warning(self) -> None:
        security = self.query_one("#security", Select).value
        warning = ""
        if security == Security.NONE:
            warning = "⚠ Unencrypted: only for a server on this machine or a trusted network."
        elif not self.query_one("#verify-tls", Checkbox).value:
            warning = ("⚠ Certificates not checked: anyone on the network path could pose as the "
                       "mail server and read the password and mail.")
        shown = self.query_one("#security-warning", Static)
        shown.update(warning)
        shown.display = bool(warning)

    def _show_field_error(self, field: str | None, text: str) -> None:
        for name, widget_id in FIELD_IDS.items():
            error = text if name == field else ""
            shown = self.query_one(f"#{widget_id}-error", Static)
            shown.update(error)
            shown.display = bool(error)
            self.query_one(f"#{widget_id}", Input if widget_id != "security" else Select).set_class(
                bool(error), "-invalid")
            self.query_one(f"#{widget_id}-label", Label).set_class(bool(error), "-invalid")

    # -- load and save --------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="mail-settings-load")
    def _load(self) -> None:
        self.post_message(ServerLoaded(mail_settings.get_server(self.app.ctx, self.app.user)))

    @on(ServerLoaded)
    def _loaded(self, event: ServerLoaded) -> None:
        self.server = event.server
        self._show_form(form_of(event.server))
        self.loaded = True
        if event.server is None:
            self._show_result("No mail server is set up yet: fill in the form and press Ctrl+S.", "")
        elif not event.server.active:
            self._show_result("This server is not active: no email is sent until you switch Active on.",
                              "warning")

    def action_save(self, then_test: str | None = None) -> None:
        if self.busy or not self.may_configure():
            return
        form = self.form()
        if form.password and form.password_env:
            self._show_field_error("password_env", "Give either a password or a variable name, not both.")
            self.query_one("#password-env", Input).focus()
            return
        self.busy = True
        self._save(form, then_test)

    @work(thread=True, exclusive=True, exit_on_error=False, group="mail-settings-save")
    def _save(self, form: MailServerForm, then_test: str | None) -> None:
        try:
            server = mail_settings.save_server(self.app.ctx, self.app.user, form)
        except ServiceError as exc:
            self.post_message(SaveRefused(exc))
            return
        self.post_message(ServerSaved(server, then_test))

    @on(ServerSaved)
    def _saved(self, event: ServerSaved) -> None:
        self.busy = False
        self.server = event.server
        self._show_field_error(None, "")
        self._show_form(form_of(event.server))
        state = "active" if event.server.active else "saved but NOT active"
        self.notify(f"Mail server {event.server.host}:{event.server.port} {state}.", title="Saved",
                    markup=False)
        if event.then_test:
            self._start_test(event.then_test)
        else:
            self._show_result(f"Saved: {event.server.host}:{event.server.port} is {state}.", "success")

    @on(SaveRefused)
    def _save_refused(self, event: SaveRefused) -> None:
        self.busy = False
        error = event.error
        if isinstance(error, ValidationError) and error.field in FIELD_IDS:
            self._show_field_error(error.field, str(error))
            self.query_one(f"#{FIELD_IDS[error.field]}").focus()
        self._show_result(f"Not saved: {error}", "error")
        self.notify(str(error), title=error.title, severity="error", timeout=8, markup=False)

    # -- the test email --------------------------------------------------------------
    def action_send_test(self) -> None:
        if self.busy or not self.may_configure():
            return
        default = getattr(self.app.user, "email", None) or ""

        def chosen(to: str | None) -> None:
            if not to:
                return
            if self.is_dirty():
                self.action_save(then_test=to)
            else:
                self._start_test(to)

        self.app.push_screen(AskTestAddress(default, unsaved=self.is_dirty()), chosen)

    def _start_test(self, to: str) -> None:
        server = self.server
        if server is None:
            return
        self.busy = True
        self._show_result(f"Sending a test email to {to} through {server.host}:{server.port}…", "")
        self._send_test(to, server)

    @work(exclusive=True, exit_on_error=False, group="mail-settings-test")
    async def _send_test(self, to: str, server: MailServer) -> None:
        try:
            result = await mail_settings.send_test_email(self.app.ctx, self.app.user, to, server=server)
        except ServiceError as exc:
            self.busy = False
            self._show_result(f"Test email not sent: {exc}", "error")
            self.notify(str(exc), title=exc.title, severity="error", timeout=10, markup=False)
            return
        self.busy = False
        self._report_test(to, result)

    def _report_test(self, to: str, result: SendResult) -> None:
        if result.outcome is Outcome.SENT:
            text = f"✓ Test email to {to} accepted by the mail server: {result.reply}"
            if result.refused:
                text += " — but refused for " + "; ".join(f"{k}: {v}" for k, v in result.refused.items())
            self._show_result(text, "success")
            self.notify(text, title="Test email sent", timeout=8, markup=False)
        else:
            text = f"✗ Test email to {to} failed: {result.reply}"
            self._show_result(text, "error")
            self.notify(text, title="Test email failed", severity="error", timeout=12, markup=False)

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
        if event.worker.group == "mail-settings-load" and isinstance(error, ServiceError):
            self._refuse(str(error))
        self.app.show_error(error)

    # -- buttons and leaving ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "send_test"):
            return True if self.may_configure() else None
        return True

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
