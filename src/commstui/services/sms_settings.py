"""SMS and RoboCall provider settings (administrators), the "Send test SMS" check, and
whether texts can go at all (the bulk wizard's prerequisites).

The auth token never goes in the database: a typed token is saved to the 0600
secrets file (secret:sms_provider/NAME), or the name of an environment variable
is kept (env:VAR), exactly as the mail server's password.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from .. import secrets
from ..delivery.sms import (DEFAULT_BASE_URL, NumberError, SmsResult, TwilioProvider, is_region,
                            normalise_number)
from ..delivery.texts import token_problem
from ..domain import Permission, SmsProvider, User
from ..store import sms as sms_store
from .context import Context, require, require_any
from .errors import ServiceError, ValidationError

__all__ = ["SmsResult", "SmsProviderForm", "ProviderStatus", "NoSmsProvider", "DEFAULT_BASE_URL"]

DEFAULT_NAME = "default"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_KEY = re.compile(r"[A-Za-z0-9_./-]+")
_SID = re.compile(r"[A-Za-z0-9_-]+")


class NoSmsProvider(ServiceError):
    title = "No SMS provider"


@dataclass
class SmsProviderForm:
    account_sid: str
    from_number: str
    token: str = ""          # typed in the TUI or at a hidden prompt: saved to the 0600 secrets file
    token_env: str = ""      # or the name of an environment variable that holds it
    token_ref: str = ""      # or a reference as kept: env:VAR or secret:KEY (a secret already saved)
    base_url: str = DEFAULT_BASE_URL
    region: str = "AU"
    verify_tls: bool = True
    active: bool = True
    name: str = DEFAULT_NAME


@dataclass(frozen=True)
class ProviderStatus:
    """Whether SMS and RoboCall can go, in words for the person asking."""

    ready: bool
    message: str
    may_configure: bool           # this user may open the SMS settings to fix it
    from_number: str | None = None


def get_provider(ctx: Context, user: User, name: str = DEFAULT_NAME) -> SmsProvider | None:
    require(user, Permission.MAIL_SETTINGS)
    with ctx.db.connect() as con:
        return sms_store.get_provider(con, name) or sms_store.first_provider(con)


def _check_ref(ref: str) -> str:
    kind, _, name = ref.strip().partition(":")
    if kind == "env" and _ENV_NAME.fullmatch(name):
        return f"env:{name}"
    if kind == "secret" and _SECRET_KEY.fullmatch(name):
        return f"secret:{name}"
    raise ValidationError(f"Token reference: {ref!r} is not env:VARIABLE or secret:KEY.", "token_ref")


def _token_ref(form: SmsProviderForm) -> str | None:
    """The reference to keep for what the form gives; None keeps the saved one."""
    given = [bool(form.token), bool(form.token_env.strip()), bool(form.token_ref.strip())]
    if sum(given) > 1:
        raise ValidationError("Token: type it, or give a variable name, or a reference — only one of them.",
                              "token_env")
    if form.token_env.strip():
        name = form.token_env.strip()
        if not _ENV_NAME.fullmatch(name):
            raise ValidationError(f"Token variable: {name!r} is not a variable name; use one like "
                                  "TWILIO_AUTH_TOKEN.", "token_env")
        return f"env:{name}"
    if form.token_ref.strip():
        return _check_ref(form.token_ref)
    if form.token:
        if any(c.isspace() for c in form.token.strip()) or not form.token.strip():
            raise ValidationError("Token: the auth token has no spaces; paste it again.", "token")
        return secrets.store_secret(f"sms_provider/{form.name}", form.token.strip())
    return None


def _base_url(raw: str) -> str:
    url = (raw or "").strip().rstrip("/") or DEFAULT_BASE_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"Base URL: {raw!r} is not a web address like {DEFAULT_BASE_URL}.", "base_url")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ValidationError("Base URL: use https (plain http is only for a test server on this machine, "
                              "127.0.0.1 or localhost).", "base_url")
    if parts.query or parts.fragment or parts.username:
        raise ValidationError("Base URL: give only the scheme, host and path, e.g. https://api.twilio.com.",
                              "base_url")
    return url


def _validate(form: SmsProviderForm) -> tuple[str, str, str, str]:
    """(account sid, from number, base url, region), or a ValidationError naming the field."""
    sid = form.account_sid.strip()
    if not sid:
        raise ValidationError("Account SID: enter the account's SID (it starts AC on Twilio).", "account_sid")
    if not _SID.fullmatch(sid):
        raise ValidationError(f"Account SID: {sid!r} has characters an account SID cannot have.", "account_sid")
    region = (form.region or "").strip().upper()
    if not is_region(region):
        raise ValidationError(f"Region: {form.region!r} is not a country code like AU, NZ or GB.", "region")
    if not form.from_number.strip():
        raise ValidationError("From number: enter the number texts and calls come from, e.g. +61412345678.",
                              "from_number")
    try:
        from_number = normalise_number(form.from_number, region)
    except NumberError as exc:
        raise ValidationError(f"From number: {exc}.", "from_number") from None
    return sid, from_number, _base_url(form.base_url), region


def save_provider(ctx: Context, user: User, form: SmsProviderForm) -> SmsProvider:
    """Save settings. A typed token goes to the secrets file; an env var name is kept as env:NAME;
    giving none keeps whatever reference was saved before (there must be one)."""
    require(user, Permission.MAIL_SETTINGS)
    sid, from_number, base_url, region = _validate(form)
    with ctx.db.connect() as con:
        existing = sms_store.get_provider(con, form.name)
    if _token_ref_needed(form, existing):
        raise ValidationError("Token: type the auth token, or give the environment variable that holds it.",
                              "token")
    ref = _token_ref(form)

    def save(con):
        saved = sms_store.get_provider(con, form.name)
        sms_store.put_provider(con, name=form.name, base_url=base_url, account_sid=sid,
                               token_ref=ref or (saved.token_ref if saved else None), from_number=from_number,
                               default_region=region, verify_tls=form.verify_tls, active=form.active)
        return sms_store.get_provider(con, form.name)

    return ctx.db.run(save)


def _token_ref_needed(form: SmsProviderForm, existing: SmsProvider | None) -> bool:
    given = form.token or form.token_env.strip() or form.token_ref.strip()
    return not given and not (existing and existing.token_ref)


def _active(ctx: Context) -> SmsProvider | None:
    with ctx.db.connect() as con:
        return sms_store.active_provider(con)


def provider_token(provider: SmsProvider) -> str | None:
    """The token the reference points at, or a clear error (never the mail server's wording)."""
    try:
        return secrets.resolve(provider.token_ref)
    except secrets.SecretError as exc:
        raise NoSmsProvider(f"SMS provider token: {token_problem(exc)}.") from None


async def send_test_sms(ctx: Context, user: User, to: str, provider: SmsProvider | None = None,
                        timeout: float = 15) -> SmsResult:
    """Send one SMS right now (not queued) through the provider and return its answer."""
    require(user, Permission.MAIL_SETTINGS)
    if not (to or "").strip():
        raise ValidationError("To: enter the mobile number to send the test SMS to.", "to")
    if provider is None:
        # a DuckDB read is blocking: keep it off the event loop this coroutine runs on
        provider = await asyncio.to_thread(_active, ctx)
    if provider is None:
        raise NoSmsProvider("No active SMS provider is configured: save the SMS settings first.")
    try:
        number = normalise_number(to, provider.default_region, sms=True)
    except NumberError as exc:
        raise ValidationError(f"To: {exc}.", "to") from None
    token = provider_token(provider)
    now = datetime.now(UTC)
    body = f"Test SMS from commstui, sent by {user.username} at {now:%Y-%m-%d %H:%M} UTC."
    async with TwilioProvider(provider.base_url, provider.account_sid, token, provider.from_number,
                              verify_tls=provider.verify_tls, timeout=timeout) as client:
        return await client.send_sms(number, body)


def provider_ready(ctx: Context, user: User) -> ProviderStatus:
    """For the bulk wizard: can SMS and RoboCall go now? Anyone who may send or view may ask."""
    require_any(user, Permission.BULK_SEND, Permission.CUSTOMER_VIEW, Permission.MAIL_SETTINGS)
    may_configure = user.can(Permission.MAIL_SETTINGS)
    with ctx.db.connect() as con:
        provider = sms_store.active_provider(con)
        configured = provider or sms_store.first_provider(con)
    where = (" Open SMS and RoboCall settings to set one up." if may_configure
             else " Ask an administrator to set one up.")
    if provider is None:
        if configured is not None:
            return ProviderStatus(False, "The SMS provider is switched off: no SMS or RoboCall can be sent."
                                  + where.replace("set one up", "switch it on"), may_configure)
        return ProviderStatus(False, "No SMS provider is configured: SMS and RoboCall cannot be sent." + where,
                              may_configure)
    try:
        provider_token(provider)
    except NoSmsProvider as exc:
        # another process (the headless dispatcher) may have the variable; say so, do not block
        return ProviderStatus(True, f"SMS provider {provider.from_number} is active, but this session "
                                    f"cannot read its token ({exc}); texts go once a dispatcher that can "
                                    f"read it runs.", may_configure, provider.from_number)
    return ProviderStatus(True, f"SMS and RoboCall go from {provider.from_number}.", may_configure,
                          provider.from_number)
