"""SMS and RoboCall settings (administrators): the provider texts and calls go through,
and a test SMS sent at once.

A typed auth token goes to the 0600 secrets file, never into the database; the
screen says where. "Send test SMS" saves unsaved changes first, so what is tested
is what is shown, and reports the provider's own words either way.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Switch

from ..domain import SmsProvider
from ..services import sms_settings
from ..services.sms_settings import DEFAULT_BASE_URL, SmsProviderForm, SmsResult
from .provider_settings import ProviderSettingsScreen, form_input, settings_bindings, variable_of

# service field name -> widget id
FIELD_IDS = {"account_sid": "account-sid", "token": "token", "token_env": "token-env", "token_ref": "token-env",
             "from_number": "from-number", "base_url": "base-url", "region": "region", "to": "test-to"}
NEW_PROVIDER = SmsProviderForm(account_sid="", from_number="", base_url=DEFAULT_BASE_URL, region="AU")


def form_of(provider: SmsProvider | None) -> SmsProviderForm:
    """What the form shows for saved settings (the token itself is never shown)."""
    if provider is None:
        return NEW_PROVIDER
    # an env:VAR shows as the variable's name; a secret:KEY stays as it is (shown in the placeholder)
    return SmsProviderForm(account_sid=provider.account_sid, from_number=provider.from_number,
                           token_env=variable_of(provider.token_ref), base_url=provider.base_url,
                           region=provider.default_region, verify_tls=provider.verify_tls,
                           active=provider.active, name=provider.name)


class SmsSettingsScreen(ProviderSettingsScreen):
    CSS_PATH = ["provider_settings.tcss", "sms_settings.tcss"]

    BINDINGS = settings_bindings("Send test SMS", "Send a test SMS now to the number under 'Test to'",
                                 "SMS settings")

    HEADING = "SMS and RoboCall settings"
    WHAT = "SMS and RoboCall settings"
    KIND = "SMS"
    FIELD_IDS = FIELD_IDS
    NEW = NEW_PROVIDER
    FIRST_FIELD = "account-sid"
    SECRET = "token"
    SAVED_SECRET = "saved ({ref}): leave empty to keep it"
    ACTIVE_ON = "on: SMS and RoboCall go through this provider"
    ACTIVE_OFF = "off: no SMS or RoboCall is sent"
    UNVERIFIED = ("⚠ Certificates not checked: anyone on the network path could pose as the "
                  "provider and read the token.")
    NOT_SET_UP = "No SMS provider is set up yet: fill in the form and press Ctrl+S."
    NOT_ACTIVE = "This provider is not active: no SMS or RoboCall is sent until you switch Active on."

    def __init__(self) -> None:
        super().__init__()
        self.last_result: SmsResult | None = None

    @property
    def provider(self) -> SmsProvider | None:
        """The saved SMS provider; None until the first save."""
        return self.current

    def compose_fields(self) -> ComposeResult:
        yield from self._row("Account SID", form_input("account-sid", placeholder="AC… from the provider"))
        yield from self._secret_rows("Auth token", "TWILIO_AUTH_TOKEN")
        yield from self._row("From number", form_input("from-number", placeholder="e.g. +61412345678"))
        yield from self._row("Base URL", form_input("base-url"))
        yield from self._row("Region", form_input("region", max_length=2),
                             note="numbers without +country are read as this country")
        yield from self._tls_row("the provider")
        yield from self._active_row()
        yield from self._row("Test to", form_input("test-to", placeholder="a mobile number for the test SMS"))

    # -- the form ----------------------------------------------------------------------
    def form(self) -> SmsProviderForm:
        return SmsProviderForm(
            account_sid=self._value("account-sid"), from_number=self._value("from-number"),
            token=self.query_one("#token", Input).value, token_env=self._value("token-env"),
            base_url=self._value("base-url"), region=self._value("region").upper(),
            verify_tls=self.query_one("#verify-tls", Checkbox).value,
            active=self.query_one("#active", Switch).value, name=self.saved.name)

    form_of = staticmethod(form_of)

    def show_fields(self, form: SmsProviderForm) -> None:
        for name in ("account_sid", "token_env", "from_number", "base_url", "region"):
            self.query_one(f"#{FIELD_IDS[name]}", Input).value = str(getattr(form, name))

    def secret_ref(self, saved: SmsProvider) -> str | None:
        return saved.token_ref

    # -- load and save --------------------------------------------------------------------
    def fetch(self) -> SmsProvider | None:
        return sms_settings.get_provider(self.app.ctx, self.app.user)

    def store(self, form: SmsProviderForm) -> SmsProvider:
        return sms_settings.save_provider(self.app.ctx, self.app.user, form)

    def saved_words(self, saved: SmsProvider, state: str) -> tuple[str, str]:
        return (f"SMS provider from {saved.from_number} {state}.",
                f"Saved: texts and calls from {saved.from_number}, {state}.")

    # -- the test SMS ---------------------------------------------------------------------
    @on(Input.Submitted, "#test-to")
    def action_send_test(self) -> None:
        if self.busy or not self.may_configure():
            return
        to = self._value("test-to")
        if not to:
            self._show_field_error("to", "Test to: enter the mobile number to send the test SMS to.")
            self.query_one("#test-to", Input).focus()
            return
        self._test_to(to)

    def sending_words(self, to: str, saved: SmsProvider) -> str:
        return f"Sending a test SMS to {to} from {saved.from_number}…"

    async def send_test(self, to: str, saved: SmsProvider) -> SmsResult:
        return await sms_settings.send_test_sms(self.app.ctx, self.app.user, to, provider=saved)

    def report_test(self, to: str, result: SmsResult) -> None:
        self.last_result = result
        self._show_field_error(None, "")
        if result.ok:
            self._show_test_outcome(True, f"✓ Test SMS to {to} accepted by the provider: {result.message} "
                                          f"({result.sid})")
        else:
            self._show_test_outcome(False, f"✗ Test SMS to {to} failed: {result.message}")
