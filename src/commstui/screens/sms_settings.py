"""SMS and RoboCall settings (administrators): the provider texts and calls go through,
and a test SMS sent at once.

A typed auth token goes to the 0600 secrets file, never into the database; the
screen says where. "Send test SMS" saves unsaved changes first, so what is tested
is what is shown, and reports the provider's own words either way.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static, Switch

from ..domain import Permission, SmsProvider
from ..secrets import secrets_file
from ..services import sms_settings
from ..services.errors import ServiceError, ValidationError
from ..services.sms_settings import DEFAULT_BASE_URL, SmsProviderForm, SmsResult
from ..widgets.status_line import StatusLine

# service field name -> widget id
FIELD_IDS = {"account_sid": "account-sid", "token": "token", "token_env": "token-env", "token_ref": "token-env",
             "from_number": "from-number", "base_url": "base-url", "region": "region", "to": "test-to"}
NEW_PROVIDER = SmsProviderForm(account_sid="", from_number="", base_url=DEFAULT_BASE_URL, region="AU")


def form_of(provider: SmsProvider | None) -> SmsProviderForm:
    """What the form shows for saved settings (the token itself is never shown)."""
    if provider is None:
        return NEW_PROVIDER
    ref = provider.token_ref or ""
    # an env:VAR shows as the variable's name; a secret:KEY stays as it is (shown in the placeholder)
    return SmsProviderForm(account_sid=provider.account_sid, from_number=provider.from_number,
                           token_env=ref[4:] if ref.startswith("env:") else "", base_url=provider.base_url,
                           region=provider.default_region, verify_tls=provider.verify_tls,
                           active=provider.active, name=provider.name)


class ProviderLoaded(TextualMessage):
    def __init__(self, provider: SmsProvider | None) -> None:
        super().__init__()
        self.provider = provider


class ProviderSaved(TextualMessage):
    def __init__(self, provider: SmsProvider, then_test: str | None) -> None:
        super().__init__()
        self.provider, self.then_test = provider, then_test


class SaveRefused(TextualMessage):
    def __init__(self, error: ServiceError) -> None:
        super().__init__()
        self.error = error


def form_input(widget_id: str, **options) -> Input:
    # no select-all on focus: tabbing to a field and typing must not wipe a saved value
    return Input(id=widget_id, compact=True, select_on_focus=False, **options)


class SmsSettingsScreen(Screen):
    CSS_PATH = "sms_settings.tcss"
    AUTO_FOCUS = None  # on_mount focuses Account SID (or Back, for someone who may not change settings)

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="Save these settings"),
        Binding("ctrl+t", "send_test", "Send test SMS", priority=True,
                tooltip="Send a test SMS now to the number under 'Test to'"),
        Binding("escape", "back", "Back", tooltip="Leave SMS settings (unsaved changes are dropped)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.provider: SmsProvider | None = None
        self.saved = NEW_PROVIDER
        self.busy = False
        self.loaded = False  # the saved settings are on screen (or access was refused)
        self.last_result: SmsResult | None = None

    def compose(self) -> ComposeResult:
        yield StatusLine("SMS and RoboCall settings")
        with VerticalScroll(id="settings-form"):
            yield Static("", id="settings-access", markup=False)
            yield from self._row("Account SID", form_input("account-sid", placeholder="AC… from the provider"))
            yield from self._row("Auth token", form_input("token", password=True))
            yield Static(f"stored in {secrets_file()} (mode 0600), not in the database",
                         id="token-hint", classes="settings-hint", markup=False)
            yield from self._row("or env var", form_input("token-env",
                                                          placeholder="environment variable, e.g. TWILIO_AUTH_TOKEN"))
            yield from self._row("From number", form_input("from-number", placeholder="e.g. +61412345678"))
            yield from self._row("Base URL", form_input("base-url"))
            yield from self._row("Region", form_input("region", max_length=2),
                                 note="numbers without +country are read as this country")
            with Horizontal(classes="settings-row"):
                yield Label("TLS", classes="settings-label")
                yield Checkbox("Verify the provider's certificate", id="verify-tls", value=True, compact=True)
            yield Static("", id="security-warning", markup=False)
            with Horizontal(classes="settings-row", id="active-row"):
                yield Label("Active", classes="settings-label")
                yield Switch(True, id="active")
                yield Label("", id="active-label")
            yield from self._row("Test to", form_input("test-to", placeholder="a mobile number for the test SMS"))
            yield Static("", id="test-result", markup=False)
        with Horizontal(id="settings-buttons"):
            yield Button("Save  ^S", id="save", variant="primary", compact=True)
            yield Button("Send test SMS  ^T", id="send-test", compact=True)
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
        self._show_form(NEW_PROVIDER)
        if not self.may_configure():
            self._refuse(f"SMS and RoboCall settings are for administrators; "
                         f"{getattr(self.app.user, 'username', 'you')} may not change them.")
            return
        self.query_one("#account-sid", Input).focus()
        self._load()

    def may_configure(self) -> bool:
        user = self.app.user
        return user is not None and user.can(Permission.MAIL_SETTINGS)

    def _refuse(self, reason: str) -> None:
        access = self.query_one("#settings-access", Static)
        access.update(f"⚠ {reason}")
        access.display = True
        for widget in self.query("Input, Checkbox, Switch, #save, #send-test"):
            widget.disabled = True
        self.query_one("#back", Button).focus()
        self.loaded = True
        self.refresh_bindings()

    # -- the form ----------------------------------------------------------------------
    def form(self) -> SmsProviderForm:
        return SmsProviderForm(
            account_sid=self._value("account-sid"), from_number=self._value("from-number"),
            token=self.query_one("#token", Input).value, token_env=self._value("token-env"),
            base_url=self._value("base-url"), region=self._value("region").upper(),
            verify_tls=self.query_one("#verify-tls", Checkbox).value,
            active=self.query_one("#active", Switch).value, name=self.saved.name)

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def is_dirty(self) -> bool:
        return self.provider is None or self.form() != self.saved

    def _show_form(self, form: SmsProviderForm) -> None:
        self.saved = form
        for name in ("account_sid", "token_env", "from_number", "base_url", "region"):
            self.query_one(f"#{FIELD_IDS[name]}", Input).value = str(getattr(form, name))
        token = self.query_one("#token", Input)
        token.value = ""
        ref = (self.provider.token_ref or "") if self.provider else ""
        token.placeholder = (f"saved ({ref}): leave empty to keep it" if ref.startswith("secret:")
                             else "typed here, or give a variable below")
        self.query_one("#verify-tls", Checkbox).value = form.verify_tls
        self.query_one("#active", Switch).value = form.active
        self._show_active()
        self._show_security_warning()

    @on(Switch.Changed, "#active")
    def _show_active(self) -> None:
        self.query_one("#active-label", Label).update(
            "on: SMS and RoboCall go through this provider" if self.query_one("#active", Switch).value
            else "off: no SMS or RoboCall is sent")

    @on(Checkbox.Changed, "#verify-tls")
    def _verify_changed(self) -> None:
        self._show_security_warning()

    def _show_security_warning(self) -> None:
        warning = ""
        if not self.query_one("#verify-tls", Checkbox).value:
            warning = ("⚠ Certificates not checked: anyone on the network path could pose as the "
                       "provider and read the token.")
        shown = self.query_one("#security-warning", Static)
        shown.update(warning)
        shown.display = bool(warning)

    def _show_field_error(self, field: str | None, text: str) -> None:
        shown_at = FIELD_IDS.get(field or "")
        for widget_id in dict.fromkeys(FIELD_IDS.values()):
            error = text if widget_id == shown_at else ""
            shown = self.query_one(f"#{widget_id}-error", Static)
            shown.update(error)
            shown.display = bool(error)
            self.query_one(f"#{widget_id}", Input).set_class(bool(error), "-invalid")
            self.query_one(f"#{widget_id}-label", Label).set_class(bool(error), "-invalid")

    # -- load and save --------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="sms-settings-load")
    def _load(self) -> None:
        self.post_message(ProviderLoaded(sms_settings.get_provider(self.app.ctx, self.app.user)))

    @on(ProviderLoaded)
    def _loaded(self, event: ProviderLoaded) -> None:
        self.provider = event.provider
        self._show_form(form_of(event.provider))
        self.loaded = True
        if event.provider is None:
            self._show_result("No SMS provider is set up yet: fill in the form and press Ctrl+S.", "")
        elif not event.provider.active:
            self._show_result("This provider is not active: no SMS or RoboCall is sent until you switch "
                              "Active on.", "warning")

    def action_save(self, then_test: str | None = None) -> None:
        if self.busy or not self.may_configure():
            return
        form = self.form()
        if form.token and form.token_env:
            self._show_field_error("token_env", "Give either a token or a variable name, not both.")
            self.query_one("#token-env", Input).focus()
            return
        self.busy = True
        self._save(form, then_test)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sms-settings-save")
    def _save(self, form: SmsProviderForm, then_test: str | None) -> None:
        try:
            provider = sms_settings.save_provider(self.app.ctx, self.app.user, form)
        except ServiceError as exc:
            self.post_message(SaveRefused(exc))
            return
        self.post_message(ProviderSaved(provider, then_test))

    @on(ProviderSaved)
    def _saved(self, event: ProviderSaved) -> None:
        self.busy = False
        self.provider = event.provider
        self._show_field_error(None, "")
        self._show_form(form_of(event.provider))
        state = "active" if event.provider.active else "saved but NOT active"
        self.notify(f"SMS provider from {event.provider.from_number} {state}.", title="Saved", markup=False)
        if event.then_test:
            self._start_test(event.then_test)
        else:
            self._show_result(f"Saved: texts and calls from {event.provider.from_number}, {state}.", "success")

    @on(SaveRefused)
    def _save_refused(self, event: SaveRefused) -> None:
        self.busy = False
        self._refused(event.error, "Not saved")

    def _refused(self, error: ServiceError, what: str) -> None:
        if isinstance(error, ValidationError) and error.field in FIELD_IDS:
            self._show_field_error(error.field, str(error))
            self.query_one(f"#{FIELD_IDS[error.field]}").focus()
        self._show_result(f"{what}: {error}", "error")
        self.notify(str(error), title=error.title, severity="error", timeout=8, markup=False)

    # -- the test SMS ---------------------------------------------------------------------
    def action_send_test(self) -> None:
        if self.busy or not self.may_configure():
            return
        to = self._value("test-to")
        if not to:
            self._show_field_error("to", "Test to: enter the mobile number to send the test SMS to.")
            self.query_one("#test-to", Input).focus()
            return
        if self.is_dirty():
            self.action_save(then_test=to)
        else:
            self._start_test(to)

    def _start_test(self, to: str) -> None:
        provider = self.provider
        if provider is None:
            return
        self.busy = True
        self._show_result(f"Sending a test SMS to {to} from {provider.from_number}…", "")
        self._send_test(to, provider)

    @work(exclusive=True, exit_on_error=False, group="sms-settings-test")
    async def _send_test(self, to: str, provider: SmsProvider) -> None:
        try:
            result = await sms_settings.send_test_sms(self.app.ctx, self.app.user, to, provider=provider)
        except ServiceError as exc:
            self.busy = False
            self._refused(exc, "Test SMS not sent")
            return
        self.busy = False
        self._report_test(to, result)

    def _report_test(self, to: str, result: SmsResult) -> None:
        self.last_result = result
        self._show_field_error(None, "")
        if result.ok:
            text = f"✓ Test SMS to {to} accepted by the provider: {result.message} ({result.sid})"
            self._show_result(text, "success")
            self.notify(text, title="Test SMS sent", timeout=8, markup=False)
        else:
            text = f"✗ Test SMS to {to} failed: {result.message}"
            self._show_result(text, "error")
            self.notify(text, title="Test SMS failed", severity="error", timeout=12, markup=False)

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
        if event.worker.group == "sms-settings-load" and isinstance(error, ServiceError):
            self._refuse(str(error))
        self.app.show_error(error)

    # -- buttons and leaving ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "send_test"):
            return True if self.may_configure() else None
        return True

    def action_back(self) -> None:
        self.dismiss()

    @on(Input.Submitted, "#test-to")
    def _test_submitted(self) -> None:
        self.action_send_test()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#send-test")
    def _test_pressed(self) -> None:
        self.action_send_test()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()
