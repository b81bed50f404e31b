"""Mail server settings (administrators): where commstui hands its email over, and a test send.

A typed password goes to the 0600 secrets file, never into the database; the
screen says where. "Send test email" saves unsaved changes first, so what is
tested is what is shown, and reports the server's own words either way.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, Switch

from ..domain import MailServer, Security
from ..services import mail_settings
from ..services.mail_settings import MailServerForm, Outcome, SendResult
from .provider_settings import ProviderSettingsScreen, form_input, settings_bindings, variable_of

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
    return MailServerForm(
        host=server.host, port=str(server.port), security=server.security, from_addr=server.from_addr,
        username=server.username or "", password="", password_env=variable_of(server.password_ref),
        active=server.active, verify_tls=server.verify_tls, name=server.name,
        concurrency=str(server.concurrency), rate_per_minute=str(server.rate_per_minute))


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


class MailSettingsScreen(ProviderSettingsScreen):
    CSS_PATH = ["provider_settings.tcss", "mail_settings.tcss"]

    BINDINGS = settings_bindings("Send test email", "Send a test email now through this server", "mail settings")

    HEADING = "Mail settings"
    WHAT = "Mail server settings"
    KIND = "email"
    FIELD_IDS = FIELD_IDS
    NEW = NEW_SERVER
    FIRST_FIELD = "host"
    SECRET = "password"
    SAVED_SECRET = "saved: leave empty to keep it"
    ACTIVE_ON = "on: every email goes through this server"
    ACTIVE_OFF = "off: no email is sent"
    UNVERIFIED = ("⚠ Certificates not checked: anyone on the network path could pose as the "
                  "mail server and read the password and mail.")
    NOT_SET_UP = "No mail server is set up yet: fill in the form and press Ctrl+S."
    NOT_ACTIVE = "This server is not active: no email is sent until you switch Active on."
    TEST_REFUSED_TIMEOUT = 10

    @property
    def server(self) -> MailServer | None:
        """The saved mail server; None until the first save."""
        return self.current

    def compose_fields(self) -> ComposeResult:
        yield from self._row("Host", form_input("host", placeholder="e.g. smtp.example.com"))
        yield from self._row("Port", form_input("port", type="integer", max_length=5))
        yield from self._row("Security", Select(SECURITY_CHOICES, id="security", allow_blank=False,
                                                compact=True))
        yield from self._row("Username", form_input("username",
                                                    placeholder="empty: the server needs no login"))
        yield from self._secret_rows("Password", "SMTP_PASSWORD")
        yield from self._row("From", form_input("from-addr",
                                                placeholder="the sender, e.g. office@example.com"))
        yield from self._tls_row("the server")
        yield from self._row("Connections", form_input("concurrency", type="integer", max_length=2),
                             note="at once (1–32)")
        yield from self._row("Rate", form_input("rate", type="integer", max_length=6),
                             note="messages per minute (0 = no limit)")
        yield from self._active_row()

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

    form_of = staticmethod(form_of)

    def show_fields(self, form: MailServerForm) -> None:
        for name in ("host", "port", "username", "password_env", "from_addr", "concurrency",
                     "rate_per_minute"):
            self.query_one(f"#{FIELD_IDS[name]}", Input).value = str(getattr(form, name))
        select = self.query_one("#security", Select)
        with select.prevent(Select.Changed):
            select.value = form.security

    def secret_ref(self, saved: MailServer) -> str | None:
        return saved.password_ref

    @on(Select.Changed, "#security")
    def _security_changed(self, event: Select.Changed) -> None:
        port = self.query_one("#port", Input)
        if port.value.strip() in {"", *(str(p) for p in DEFAULT_PORTS.values())}:
            port.value = str(DEFAULT_PORTS[Security(event.value)])
        self._show_security_warning()

    def security_warning(self) -> str:
        if self.query_one("#security", Select).value == Security.NONE:
            return "⚠ Unencrypted: only for a server on this machine or a trusted network."
        return super().security_warning()

    # -- load and save --------------------------------------------------------------
    def fetch(self) -> MailServer | None:
        return mail_settings.get_server(self.app.ctx, self.app.user)

    def store(self, form: MailServerForm) -> MailServer:
        return mail_settings.save_server(self.app.ctx, self.app.user, form)

    def saved_words(self, saved: MailServer, state: str) -> tuple[str, str]:
        return (f"Mail server {saved.host}:{saved.port} {state}.",
                f"Saved: {saved.host}:{saved.port} is {state}.")

    # -- the test email --------------------------------------------------------------
    def action_send_test(self) -> None:
        if self.busy or not self.may_configure():
            return
        default = getattr(self.app.user, "email", None) or ""

        def chosen(to: str | None) -> None:
            if to:
                self._test_to(to)

        self.app.push_screen(AskTestAddress(default, unsaved=self.is_dirty()), chosen)

    def sending_words(self, to: str, saved: MailServer) -> str:
        return f"Sending a test email to {to} through {saved.host}:{saved.port}…"

    async def send_test(self, to: str, saved: MailServer) -> SendResult:
        return await mail_settings.send_test_email(self.app.ctx, self.app.user, to, server=saved)

    def report_test(self, to: str, result: SendResult) -> None:
        if result.outcome is Outcome.SENT:
            text = f"✓ Test email to {to} accepted by the mail server: {result.reply}"
            if result.refused:
                text += " — but refused for " + "; ".join(f"{k}: {v}" for k, v in result.refused.items())
            self._show_test_outcome(True, text)
        else:
            self._show_test_outcome(False, f"✗ Test email to {to} failed: {result.reply}")
