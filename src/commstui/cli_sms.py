"""`commstui sms ...`: set up, show and check the SMS and RoboCall provider.

Like `smtp set`, these act as the host's local administrator (LOCAL_ADMIN): whoever
can run commstui here can open the database file anyway. The auth token never goes
in the database: --token-env keeps the name of a variable, --ask-token saves the
typed token to the 0600 secrets file.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from .cli import CONTEXT, Failure, _one_line, _resolve_db, cli, db_option, open_context
from .domain import LOCAL_ADMIN


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _db_arg(db: Path | None) -> str:
    return f" --db {db}" if db else ""


@cli.group("sms", context_settings=CONTEXT)
def sms_group() -> None:
    """Set up and check the SMS and RoboCall provider (Twilio's REST API)."""


@sms_group.command("set", context_settings=CONTEXT)
@db_option
@click.option("--account-sid", required=True, metavar="SID", help="The provider account's SID (AC... on Twilio).")
@click.option("--token-env", default="", metavar="VAR",
              help="Name of the environment variable that holds the auth token when sending (kept as env:VAR).")
@click.option("--ask-token", is_flag=True,
              help="Type the auth token at a hidden prompt; it goes to the 0600 secrets file (secret:...).")
@click.option("--from", "from_number", required=True, metavar="NUMBER",
              help="The number texts and calls come from, e.g. +61412345678.")
@click.option("--base-url", default="https://api.twilio.com", show_default=True, metavar="URL",
              help="The API's address (http only for a test server on 127.0.0.1).")
@click.option("--region", default="AU", show_default=True, metavar="CC",
              help="How numbers without a country code are read, e.g. AU, NZ, GB.")
@click.option("--no-verify-tls", is_flag=True, help="Accept any TLS certificate (test servers only).")
@click.option("--inactive", is_flag=True, help="Save it without switching SMS and RoboCall on.")
def sms_set(db: Path | None, account_sid: str, token_env: str, ask_token: bool, from_number: str, base_url: str,
            region: str, no_verify_tls: bool, inactive: bool) -> None:
    """Save the SMS provider settings (the auth token itself never goes in the database)."""
    from .services import sms_settings

    if token_env and ask_token:
        raise Failure("Invalid input", "give --token-env VAR or --ask-token, not both.", exit_code=2)
    token = ""
    if ask_token:
        if not _is_tty(sys.stdin):
            raise Failure("Token needed", "--ask-token needs a terminal; use --token-env VAR instead.")
        token = click.prompt("SMS provider auth token", hide_input=True)
    ctx = open_context(_resolve_db(db), create=True)
    provider = sms_settings.save_provider(ctx, LOCAL_ADMIN, sms_settings.SmsProviderForm(
        account_sid=account_sid, from_number=from_number, token=token, token_env=token_env,
        base_url=base_url, region=region, verify_tls=not no_verify_tls, active=not inactive))
    state = "active" if provider.active else "saved but NOT active (no SMS or RoboCall goes)"
    click.echo(f"Saved SMS provider {provider.base_url} account {provider.account_sid}, "
               f"from {provider.from_number}, token {provider.token_ref}, region {provider.default_region}: "
               f"{state}.")
    click.echo(f"Check it with: commstui sms test --to YOUR_MOBILE{_db_arg(db)}")


@sms_group.command("show", context_settings=CONTEXT)
@db_option
def sms_show(db: Path | None) -> None:
    """Show the SMS provider settings and whether its token can be read here."""
    from .services import sms_settings

    ctx = open_context(_resolve_db(db), create=False)
    provider = sms_settings.get_provider(ctx, LOCAL_ADMIN)
    if provider is None:
        click.echo(f"No SMS provider is configured. Set one with: commstui sms set --account-sid SID "
                   f"--token-env VAR --from NUMBER{_db_arg(db)}")
        return
    try:
        sms_settings.provider_token(provider)
        readable = "readable here"
    except sms_settings.NoSmsProvider as exc:
        readable = f"NOT readable here: {exc}"
    click.echo(f"Provider:    {provider.kind} at {provider.base_url}")
    click.echo(f"Account SID: {provider.account_sid}")
    click.echo(f"Token:       {provider.token_ref or 'not set'} ({readable})")
    click.echo(f"From:        {provider.from_number}")
    click.echo(f"Region:      {provider.default_region}")
    click.echo(f"TLS:         {'certificate verified' if provider.verify_tls else 'NOT verified'}")
    click.echo(f"Active:      {'yes' if provider.active else 'no: no SMS or RoboCall is sent'}")


@sms_group.command("test", context_settings=CONTEXT)
@db_option
@click.option("--to", required=True, metavar="NUMBER", help="The mobile number to send the test SMS to.")
def sms_test(db: Path | None, to: str) -> None:
    """Send a test SMS now through the active provider and show its answer."""
    from .services import sms_settings

    ctx = open_context(_resolve_db(db), create=False)
    result = asyncio.run(sms_settings.send_test_sms(ctx, LOCAL_ADMIN, to))
    if not result.ok:
        raise Failure("Test SMS failed", _one_line(result.message))
    click.echo(f"Accepted by the SMS provider: {result.message} ({result.sid})")

