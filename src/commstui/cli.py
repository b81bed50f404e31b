"""The `commstui` command: the TUI, the demo, and headless verbs for scripts.

A second face on the same services as the screens (DESIGN.md). A problem a
person can cause prints ONE line on stderr and exits non-zero: 1 for a refused
action, 2 for a bad command line, 3 when the database stayed busy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from pathlib import Path

import click

from . import __version__
from .config import Settings, config_dir, data_dir
from .domain import ALL_ROLES, LOCAL_ADMIN, Message, MessageStatus, MissedPolicy, Repeat, ScheduleRequest, Security

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
PASSWORD_ENV = "COMMSTUI_PASSWORD"
DEBUG_ENV = "COMMSTUI_DEBUG"



class Failure(Exception):
    """A refusal from the command line itself (not from a service)."""

    def __init__(self, title: str, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.title = title
        self.exit_code = exit_code


# -- small helpers ---------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain(text: str | None) -> str:
    """Customer text for a terminal: no escape codes or line breaks can reach it."""
    return _CONTROL.sub(" ", text or "")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fit(text: str, width: int) -> str:
    text = _plain(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def load_settings(**overrides) -> Settings:
    from pydantic import ValidationError as SettingsInvalid

    try:
        return Settings(**overrides)
    except SettingsInvalid as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise Failure("Configuration error", f"{problems} (check COMMSTUI_* variables and "
                                             f"{config_dir() / 'config.toml'})") from None
    except ValueError as exc:  # a config.toml that is not valid TOML
        raise Failure("Configuration error", f"{config_dir() / 'config.toml'}: {_one_line(exc)}") from None


def _busy_notice():
    shown = False

    def notice(waited: float) -> None:
        nonlocal shown
        # a person at a terminal sees why nothing happens; scripts get only the final line
        if not shown and _is_tty(sys.stderr):
            shown = True
            click.echo("Database busy, retrying...", err=True)

    return notice


def open_context(db: Path | None, *, create: bool):
    """The services' Context for --db (or COMMSTUI_DB, or the default file).

    Only setup verbs (create=True) may create the file; a typo in --db should not
    silently start an empty database, nor a tree of directories.
    """
    from .services.context import Context

    settings = load_settings()
    path = Path(db or settings.db).expanduser().resolve()
    if path.is_dir():
        raise Failure("Not a database file", f"{path} is a directory; --db needs a file path.")
    if not path.exists():
        if not create:
            raise Failure("No database", f"{path} does not exist: create it with `commstui init --db {path}`.")
        if not path.parent.exists():
            if not path.is_relative_to(data_dir().expanduser().resolve()):
                raise Failure("No such directory",
                              f"{path.parent} does not exist: create it first or choose another --db.")
            path.parent.mkdir(parents=True, exist_ok=True)
    return Context.open(path, settings, on_busy=_busy_notice())


def _password(prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(PASSWORD_ENV)
    if value:
        return value
    if not _is_tty(sys.stdin):
        raise Failure("Password needed", f"set {PASSWORD_ENV} or run this in a terminal to be asked for it.")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def _resolve_db(db: Path | None) -> Path | None:
    """A subcommand's --db, else the one given before the subcommand."""
    if db is not None:
        return db
    root = click.get_current_context().find_root()
    return root.params.get("db")


def db_option(fn):
    return click.option(
        "--db", type=click.Path(dir_okay=False, path_type=Path), envvar="COMMSTUI_DB", metavar="PATH",
        help="The DuckDB file [env COMMSTUI_DB; default: commstui.duckdb in the user data dir].")(fn)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# -- the TUI -------------------------------------------------------------------------
@click.group(invoke_without_command=True, context_settings=CONTEXT)
@db_option
@click.option("--user", "username", metavar="NAME",
              help=f"Pre-fill the login name; with {PASSWORD_ENV} also set, log straight in.")
@click.version_option(__version__, prog_name="commstui")
@click.pass_context
def cli(click_ctx: click.Context, db: Path | None, username: str | None) -> None:
    """Find a customer and talk to them, from a terminal.

    With no command, opens the TUI on the shared database. `commstui demo` tries
    everything with sample data and a local mail server, no setup needed.

    \b
    First setup:
      commstui init
      commstui user add alice --role administrator
      commstui smtp set --host smtp.example.com --port 587 --from office@example.com \\
                        --username office --password-env SMTP_PASSWORD
      commstui
    """
    if click_ctx.invoked_subcommand is None:
        open_tui(db, username)


def open_tui(db: Path | None, username: str | None) -> None:
    from .services import auth
    from .services.auth import has_users

    if not (_is_tty(sys.stdin) and _is_tty(sys.stdout)):
        raise Failure("No terminal", "the TUI needs a terminal; scripts use the commands (commstui --help).")
    settings = load_settings()
    path = Path(db or settings.db).expanduser().resolve()
    create_first = f"create a first user with `commstui user add NAME --role administrator{_db_arg(db)}`"
    if not path.exists():
        raise Failure("No users yet", f"{path} does not exist yet: {create_first} (or try `commstui demo`).")
    ctx = open_context(path, create=False)
    if not has_users(ctx):
        raise Failure("No users yet", f"nobody can log in to {path}: {create_first}.")
    user = None
    if username and os.environ.get(PASSWORD_ENV):
        user = auth.login(ctx, username, os.environ[PASSWORD_ENV])
    from .app import CommsApp

    app = CommsApp(ctx, user, login_name=username or "")
    app.run()
    sys.exit(app.return_code or 0)


def _db_arg(db: Path | None) -> str:
    return f" --db {db}" if db else ""


# -- demo ---------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Keep the demo database and outbox here [default: a new temporary directory].")
@click.option("--no-tui", is_flag=True, hidden=True, help="Set up and serve mail, but open no TUI (tests).")
@click.option("--hold", type=float, default=0.0, hidden=True, help="With --no-tui: stop after this many seconds.")
@click.option("--until-file", type=click.Path(path_type=Path), hidden=True,
              help="With --no-tui: stop once this file exists.")
def demo(directory: Path | None, no_tui: bool, hold: float, until_file: Path | None) -> None:
    """Try commstui with no setup: sample data, local mail and SMS servers, logged in as admin.

    Creates a throwaway database with the sample customers and users, starts a
    capture mail server and a capture SMS server (Twilio-shaped) on 127.0.0.1
    that keep what they receive in an outbox folder (nothing leaves the machine),
    and opens the TUI as the demo administrator. It never touches the shared
    database (--db / COMMSTUI_DB).
    """
    from .services.demo import start_demo

    if not no_tui and not (_is_tty(sys.stdin) and _is_tty(sys.stdout)):
        raise Failure("No terminal", "the demo opens a TUI and needs a terminal.")
    directory = (directory or Path(tempfile.mkdtemp(prefix="commstui-demo-"))).expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise Failure("Not a directory", f"{directory} exists and is not a directory.")
    # the demo's own config dir: a developer's settings and secrets never leak in
    os.environ["COMMSTUI_CONFIG_DIR"] = str(directory / "config")
    settings = load_settings(db=directory / "demo.duckdb")
    click.echo(f"Setting up the demo in {directory} ...", err=True)
    session = start_demo(directory, settings)
    try:
        click.echo(f"Demo ready: database {session.db_path}; capture mail server "
                   f"127.0.0.1:{session.capture.port}; capture SMS server 127.0.0.1:{session.sms_capture.port}; "
                   f"outbox {session.outbox}")
        sys.stdout.flush()  # a test waiting on this line sees it at once
        if no_tui:
            _serve_until(hold, until_file)
        else:
            from .app import CommsApp

            CommsApp(session.ctx, session.admin, demo_outbox=session.outbox,
                     login_name=session.admin.username).run()
    finally:
        session.stop()
        texts = session.captured_texts()
        click.echo(f"Demo stopped. Database: {session.db_path}  Outbox: {session.outbox} "
                   f"({session.captured()} emails captured, "
                   f"{texts} {'text or call' if texts == 1 else 'texts and calls'}). "
                   f"Delete {directory} when done.", err=True)


def _serve_until(hold: float, until_file: Path | None) -> None:
    # SIGTERM ends the wait like Ctrl-C, so the capture servers are stopped cleanly
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + hold if hold > 0 else None
    while not (until_file and until_file.exists()):
        if deadline is not None and time.monotonic() >= deadline:
            return
        time.sleep(0.05)


# -- setup -------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--sample", is_flag=True, help="Also load the curated demo data (customers, buildings, users).")
def init(db: Path | None, sample: bool) -> None:
    """Create the database, or bring an existing one up to date. Safe to run again."""
    from .services import setup
    from .services.auth import has_users

    ctx = open_context(_resolve_db(db), create=True)
    existed = ctx.db.path.exists()
    result = setup.init(ctx, sample=sample)
    verb = "Database" if existed else "Created database"
    click.echo(f"{verb} {result['db']} at schema version {result['schema_version']}.")
    for name in result["migrations_applied"]:
        click.echo(f"Applied migration {name}.")
    if result.get("sample") == "loaded":
        click.echo(f"Loaded the sample data: {result['customers']} customers, {result['buildings']} buildings, "
                   f"{result['companies']} companies, {result['users']} users (passwords in README.md).")
    elif result.get("sample"):
        click.echo("The sample data was already loaded.")
    if not has_users(ctx):
        click.echo(f"Next: commstui user add NAME --role administrator{_db_arg(db)}")


@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--customers", "count", type=click.IntRange(min=1), metavar="N",
              help="How many synthetic customers to add (accounts S00000001...).")
@click.option("--messages", type=click.IntRange(min=1), metavar="N",
              help="How many synthetic emails to queue, due now, to customers with an email address.")
def seed(db: Path | None, count: int | None, messages: int | None) -> None:
    """Add N synthetic customers for scale work (1,000,000 takes seconds), and/or queue
    N drill emails for delivery drills and benchmarks."""
    from .services import setup

    if not count and not messages:
        raise click.UsageError("Say what to seed: --customers N and/or --messages N.")
    ctx = open_context(_resolve_db(db), create=True)
    if count:
        started = time.perf_counter()
        added = setup.seed_customers(ctx, count)
        click.echo(f"Added {added:,} customers to {ctx.db.path} in {time.perf_counter() - started:.1f} s.")
    if messages:
        started = time.perf_counter()
        queued = setup.seed_messages(ctx, messages)
        click.echo(f"Queued {queued:,} drill emails in {ctx.db.path} in {time.perf_counter() - started:.1f} s; "
                   "a dispatcher sends them.")


@cli.group(context_settings=CONTEXT)
def user() -> None:
    """Manage the people who log in."""


@user.command("add", context_settings=CONTEXT)
@db_option
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(ALL_ROLES), metavar="ROLE",
              help=f"A role to grant; repeat for more. One of: {', '.join(ALL_ROLES)}.")
@click.option("--group-role", "group_roles", multiple=True, metavar="GROUP",
              help="A group role (a named set of roles, e.g. Operators); repeat for more.")
@click.option("--name", "display_name", metavar="TEXT", help="Display name [default: USERNAME].")
@click.option("--email", metavar="ADDR", help="The user's own email address.")
def user_add(db: Path | None, username: str, roles: tuple[str, ...], group_roles: tuple[str, ...],
             display_name: str | None, email: str | None) -> None:
    """Add a user. The password comes from a hidden prompt (asked twice) or COMMSTUI_PASSWORD."""
    from .services import users

    if not roles and not group_roles:
        raise Failure("Invalid input", "give at least one --role or --group-role (e.g. --role administrator).")
    ctx = open_context(_resolve_db(db), create=True)
    password = _password(f"Password for {username}", confirm=True)
    if not password:
        raise Failure("Invalid input", "the password is empty.")
    # through the Users service, so the addition is in the audit log (actor "cli")
    users.add_user(ctx, LOCAL_ADMIN, users.UserForm(
        username=username, display_name=display_name or "", email=email or "", password=password,
        roles=roles, group_roles=group_roles))
    granted = ", ".join([*roles, *(f"group {g}" for g in group_roles)])
    click.echo(f"Added user {username} ({granted}) to {ctx.db.path}.")


# list, roles, reset-password, unlock, deactivate, reactivate: the Users screen's actions
from . import cli_users  # noqa: E402,F401


# -- mail server ---------------------------------------------------------------------
@cli.group(context_settings=CONTEXT)
def smtp() -> None:
    """Set up and check the mail server emails go out through."""


@smtp.command("set", context_settings=CONTEXT)
@db_option
@click.option("--host", required=True, help="The mail server's host name, e.g. smtp.example.com.")
@click.option("--port", required=True, metavar="PORT", help="e.g. 587 (STARTTLS), 465 (TLS), 25.")
@click.option("--security", type=click.Choice([s.value for s in Security]), default=Security.STARTTLS.value,
              show_default=True, help="How the connection is protected.")
@click.option("--username", default="", help="Login name, if the server needs one.")
@click.option("--password-env", default="", metavar="VAR",
              help="Name of the environment variable that holds the password when sending (kept as env:VAR).")
@click.option("--ask-password", is_flag=True,
              help="Type the password at a hidden prompt; it goes to the 0600 secrets file (secret:...).")
@click.option("--from", "from_addr", required=True, metavar="ADDR", help="The From address of every email.")
@click.option("--no-verify-tls", is_flag=True, help="Accept any TLS certificate (self-signed test servers).")
@click.option("--inactive", is_flag=True, help="Save it without making it the active server.")
def smtp_set(db: Path | None, host: str, port: str, security: str, username: str, password_env: str,
             ask_password: bool, from_addr: str, no_verify_tls: bool, inactive: bool) -> None:
    """Save the mail server settings (the password itself never goes in the database)."""
    from .services import mail_settings

    password = ""
    if ask_password:
        if not _is_tty(sys.stdin):
            raise Failure("Password needed", "--ask-password needs a terminal; use --password-env VAR instead.")
        password = click.prompt("Mail server password", hide_input=True)
    ctx = open_context(_resolve_db(db), create=True)
    server = mail_settings.save_server(ctx, LOCAL_ADMIN, mail_settings.MailServerForm(
        host=host, port=port, security=security, from_addr=from_addr, username=username, password=password,
        password_env=password_env, active=not inactive, verify_tls=not no_verify_tls))
    state = "active" if server.active else "inactive"
    login = f"; login {server.username}, password {server.password_ref or 'not set'}" if server.username else ""
    click.echo(f"Saved mail server {server.host}:{server.port} ({server.security}{login}), "
               f"From {server.from_addr}, {state}.")
    click.echo(f"Check it with: commstui smtp test --to YOU@EXAMPLE.COM{_db_arg(db)}")


@smtp.command("test", context_settings=CONTEXT)
@db_option
@click.option("--to", required=True, metavar="ADDR", help="Where to send the test email.")
def smtp_test(db: Path | None, to: str) -> None:
    """Send a test email now through the active mail server and show its answer."""
    from .delivery.email import Outcome
    from .services import mail_settings

    ctx = open_context(_resolve_db(db), create=False)
    result = asyncio.run(mail_settings.send_test_email(ctx, LOCAL_ADMIN, to))
    if result.outcome is not Outcome.SENT:
        raise Failure("Test email failed", _one_line(result.reply))
    click.echo(f"Accepted by the mail server: {_one_line(result.reply)}")


# -- sending -----------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--user", "username", required=True, metavar="NAME",
              help=f"Who sends; their roles apply. Password from {PASSWORD_ENV} or a prompt.")
@click.option("--account", required=True, metavar="ACC", help="The customer's account number.")
@click.option("--to", multiple=True, metavar="ADDR", help="Recipient; repeat for more [default: the customer's email].")
@click.option("--cc", multiple=True, metavar="ADDR", help="Copy to; repeat for more.")
@click.option("--bcc", multiple=True, metavar="ADDR", help="Blind copy to; repeat for more.")
@click.option("--subject", required=True, help='The subject; "" sends with no subject (with a warning).')
@click.option("--body", required=True, help="The text, or - to read it from standard input.")
@click.option("--html/--text", "is_html", default=None,
              help="Send the body as HTML or as plain text [default: HTML if it looks like HTML].")
@click.option("--at", "due_at", metavar="WHEN",
              help="Send later: an ISO 8601 date and time, e.g. 2026-07-01T09:00 (office time zone) "
                   "or 2026-07-01T09:00+10:00.")
@click.option("--cron", metavar="EXPR",
              help="Repeat by a cron rule read in the office time zone, e.g. '0 9 * * 1' (Mondays 09:00); "
                   "the first send is the rule's first time at or after --at (default: now).")
def send(db: Path | None, username: str, account: str, to: tuple[str, ...], cc: tuple[str, ...],
         bcc: tuple[str, ...], subject: str, body: str, is_html: bool | None, due_at: str | None,
         cron: str | None) -> None:
    """Queue an email to a customer and print its Message-ID.

    A running commstui (or `commstui dispatch`) sends it; `commstui log` shows the outcome.
    """
    from .services import auth
    from .services import email as email_service
    from .services import schedule

    when = None
    if due_at:
        try:
            when = datetime.fromisoformat(due_at)
        except ValueError:
            raise Failure("Invalid input", f"--at: {due_at!r} is not a date and time like "
                                           "2026-07-01T09:00 or 2026-07-01T09:00+10:00.") from None
    if body == "-":
        body = sys.stdin.read()
    ctx = open_context(_resolve_db(db), create=False)
    sender = auth.login(ctx, username, _password(f"Password for {username}"))
    draft = email_service.EmailDraft(to=", ".join(to), cc=", ".join(cc), bcc=", ".join(bcc),
                                     subject=subject, body=body, is_html=is_html)
    if when is None and not cron:
        message = email_service.send_email_to_account(ctx, sender, account, draft)
    else:
        zone = ZoneInfo(schedule.get_office_settings(ctx, sender).timezone)
        local = (when or datetime.now(zone) + timedelta(minutes=1)).astimezone(zone) if (
            when is None or when.tzinfo) else when.replace(tzinfo=zone)
        request = ScheduleRequest(local.date(), local.time().replace(second=0, microsecond=0),
                                  Repeat.CRON if cron else Repeat.NONE, cron or "")
        message = schedule.schedule_email_to_account(ctx, sender, account, draft, request)
        first = message.scheduled_at.astimezone(zone)
        click.echo(f"Scheduled for {first:%a %d %b %Y %H:%M} {first.tzname()} ({zone.key}), "
                   f"{schedule.until(message.scheduled_at)}"
                   + (f"; repeats by cron '{message.series_rule}'" if message.series_rule else "") + ".",
                   err=True)
    checked = email_service.check_draft(email_service.EmailDraft(
        to=", ".join(message.to_addrs), subject=message.subject, body=message.body))
    for warning in checked.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(message.message_id)


@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--once", is_flag=True, help="Send what is due now, print the counts and exit.")
def dispatch(db: Path | None, once: bool) -> None:
    """Send queued emails that are due, for when nobody has commstui open.

    Without --once it runs until SIGTERM or Ctrl-C, then finishes the emails in
    flight and gives back its claims. Any number of dispatchers (and TUIs) may
    share one database: each email is claimed by one of them.
    """
    from .delivery.dispatcher import Dispatcher
    from .delivery.texts import TextSender
    from .services import mail_settings, sms_settings
    from .services.errors import NoMailServer

    ctx = open_context(_resolve_db(db), create=False)
    texts_ready = sms_settings.provider_ready(ctx, LOCAL_ADMIN).ready
    if mail_settings.active_server(ctx, LOCAL_ADMIN) is None:
        advice = f"set one with `commstui smtp set ...{_db_arg(db)}`"
        if once and not texts_ready:
            raise NoMailServer(f"No active mail server is configured: {advice}.")
        click.echo(f"Warning: no active mail server yet; no email is sent until you {advice}.", err=True)
    if once:
        dispatcher = Dispatcher(ctx.db, ctx.settings, kind="service")
        handled = asyncio.run(dispatcher.run_once())
        if dispatcher.paused_by:
            click.echo(f"Dispatching is paused (by {dispatcher.paused_by}): nothing was sent. "
                       f"`commstui dispatcher resume{_db_arg(db)}` lets it run again.", err=True)
        later = handled - dispatcher.sent - dispatcher.failed
        click.echo(f"Handled {handled}: {dispatcher.sent} sent (accepted by the mail server), "
                   f"{dispatcher.failed} failed, {later} to retry later.")
        texts = asyncio.run(TextSender(ctx.db, ctx.settings).run_once())
        if texts.claimed or texts.waiting or texts.problem:
            click.echo(f"Texts: {texts.summary()}")
        return
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    click.echo(f"Dispatching from {ctx.db.path} (when idle, sleeps until the next due email, looking for "
               f"new work every {ctx.settings.dispatch_interval:g} s); "
               "Ctrl-C or SIGTERM stops.", err=True)
    dispatcher = asyncio.run(_dispatch_until_signalled(ctx))
    click.echo(f"Stopped: {dispatcher.sent} sent, {dispatcher.failed} failed.", err=True)


async def _dispatch_until_signalled(ctx):
    from .delivery.dispatcher import Dispatcher
    from .delivery.texts import TextSender

    # SMS and RoboCall go beside email, with the same claims, leases and graceful stop
    sender = TextSender(ctx.db, ctx.settings)
    dispatcher = Dispatcher(ctx.db, ctx.settings, kind="service", on_texts=sender.notice)
    task = asyncio.create_task(dispatcher.run())
    texts_stop = asyncio.Event()
    texts = asyncio.create_task(sender.run(texts_stop))

    def on_signal() -> None:
        if dispatcher.stopping:
            task.cancel()  # asked twice: do not wait; leases run out and others resend
            texts.cancel()
            return
        click.echo("Stopping: finishing the emails and texts in flight...", err=True)
        dispatcher.stop()
        texts_stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await asyncio.gather(task, texts)
    except asyncio.CancelledError:
        pass
    return dispatcher


@cli.command("log", context_settings=CONTEXT)
@db_option
@click.option("--account", metavar="ACC", help="Only this customer's messages.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def log_(db: Path | None, account: str | None, limit: int, as_json: bool) -> None:
    """Recent messages, newest first: when, account, to, subject, status, the server's reply."""
    from .services import email as email_service

    ctx = open_context(_resolve_db(db), create=False)
    messages = email_service.log(ctx, LOCAL_ADMIN, account_no=account, limit=limit)
    if as_json:
        click.echo(json.dumps([_as_json(m) for m in messages], ensure_ascii=False, indent=1))
        return
    if not messages:
        click.echo("No messages yet." if not account else f"No messages for {account} yet.")
        return
    click.echo(f"{'WHEN (UTC)':16}  {'ACCOUNT':9}  {'TO':28}  {'SUBJECT':30}  {'STATUS':23}  REPLY")
    for m in messages:
        click.echo(f"{_when(m):%Y-%m-%d %H:%M}  {_fit(m.account_no or '-', 9):9}  "
                   f"{_fit(', '.join(m.to_addrs), 28):28}  {_fit(m.subject or '(no subject)', 30):30}  "
                   f"{_fit(MessageStatus(m.status).label, 23):23}  {_fit(_reply(m), 60)}")


def _when(m: Message) -> datetime:
    return m.sent_at or m.due_at


def _reply(m: Message) -> str:
    return m.server_reply or m.last_error or ""


def _as_json(m: Message) -> dict:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": m.id, "message_id": m.message_id, "account": m.account_no, "channel": m.channel,
        "to": list(m.to_addrs), "cc": list(m.cc_addrs), "bcc": list(m.bcc_addrs), "subject": m.subject,
        "status": m.status, "status_label": MessageStatus(m.status).label, "is_html": m.is_html,
        "attempts": m.attempts, "created_by": m.created_by, "created_at": iso(m.created_at),
        "due_at": iso(m.due_at), "sent_at": iso(m.sent_at), "reply": m.server_reply, "last_error": m.last_error,
        "scheduled_at": iso(m.scheduled_at), "series_rule": m.series_rule,
        "pending_recipients": list(m.pending_rcpts) if m.pending_rcpts is not None else None,
    }


@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--since", metavar="WHEN", help="Only since this ISO date/time (UTC if no zone).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for scripts.")
def undelivered(db: Path | None, since: str | None, as_json: bool) -> None:
    """Who did not get an email, and why: recipients refused by the mail server and
    every recipient of a failed email, newest first."""
    from .services import schedule

    start = None
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError:
            raise Failure("Invalid input", f"--since: {since!r} is not a date like 2026-11-01.") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=ZoneInfo("UTC"))
    rows = schedule.undelivered(open_context(_resolve_db(db), create=False), LOCAL_ADMIN, start)
    if as_json:
        click.echo(json.dumps([{"message": r.message_id, "account": r.account_no, "address": r.address,
                                "outcome": r.outcome, "reason": r.reason, "subject": r.subject,
                                "at": r.at.isoformat() if r.at else None} for r in rows], indent=1))
        return
    if not rows:
        click.echo("Everyone got their emails (nothing refused or failed).")
        return
    click.echo(f"{'WHEN (UTC)':16}  {'ACCOUNT':9}  {'ADDRESS':30}  {'OUTCOME':8}  REASON")
    for r in rows:
        click.echo(f"{r.at:%Y-%m-%d %H:%M}  {_fit(r.account_no or '-', 9):9}  {_fit(r.address, 30):30}  "
                   f"{r.outcome:8}  {_fit(r.reason or '', 70)}")


@cli.group("office", context_settings=CONTEXT)
def office_group() -> None:
    """Settings every operator and dispatcher share: time zone, missed runs, retry lifetime."""


@office_group.command("show", context_settings=CONTEXT)
@db_option
def office_show(db: Path | None) -> None:
    """Print the office settings."""
    from .services import schedule

    from .services import bulk

    ctx = open_context(_resolve_db(db), create=False)
    s = schedule.get_office_settings(ctx, LOCAL_ADMIN)
    head = bulk.get_letterhead(ctx, LOCAL_ADMIN)
    click.echo(f"time zone:      {s.timezone}\nmissed runs:    up to {s.grace_minutes} min late: send; "
               f"later: {s.missed_policy.label}\nretry lifetime: {s.lifetime_hours} h\n"
               f"letterhead:     {_plain(' · '.join([head.name, *head.address_lines, head.phone, head.email]))}")


@office_group.command("set", context_settings=CONTEXT)
@db_option
@click.option("--timezone", metavar="ZONE", help="IANA name, e.g. Australia/Sydney.")
@click.option("--missed-policy", type=click.Choice([p.value for p in MissedPolicy]),
              help="More than the grace late: hold for an operator, send anyway, or skip.")
@click.option("--grace-minutes", type=click.IntRange(min=0), metavar="N", help="Up to this late, just send.")
@click.option("--lifetime-hours", type=click.IntRange(min=1), metavar="N",
              help="Retry temporary failures this long, then fail.")
@click.option("--letterhead-name", metavar="TEXT", help="The office name at the top of letters.")
@click.option("--letterhead-address", metavar="LINE", multiple=True, help="An address line (repeat, up to 4).")
@click.option("--letterhead-phone", metavar="TEXT", help="The phone number on letters.")
@click.option("--letterhead-email", metavar="ADDR", help="The email address on letters.")
def office_set(db: Path | None, timezone: str | None, missed_policy: str | None, grace_minutes: int | None,
               lifetime_hours: int | None, letterhead_name: str | None, letterhead_address: tuple[str, ...],
               letterhead_phone: str | None, letterhead_email: str | None) -> None:
    """Change the office settings (what is not given stays)."""
    from dataclasses import replace

    from .services import bulk, schedule

    ctx = open_context(_resolve_db(db), create=False)
    if letterhead_name is not None or letterhead_address or letterhead_phone is not None or letterhead_email is not None:
        head = bulk.get_letterhead(ctx, LOCAL_ADMIN)
        bulk.save_letterhead(ctx, LOCAL_ADMIN, bulk.LetterheadForm(
            letterhead_name if letterhead_name is not None else head.name,
            list(letterhead_address) or head.address_lines,
            letterhead_phone if letterhead_phone is not None else head.phone,
            letterhead_email if letterhead_email is not None else head.email))
    current = schedule.get_office_settings(ctx, LOCAL_ADMIN)
    changes = {k: v for k, v in dict(timezone=timezone, grace_minutes=grace_minutes,
                                     lifetime_hours=lifetime_hours).items() if v is not None}
    if missed_policy:
        changes["missed_policy"] = MissedPolicy(missed_policy)
    schedule.save_office_settings(ctx, LOCAL_ADMIN, replace(current, **changes))
    office_show.callback(db)


@cli.group("dispatcher", context_settings=CONTEXT)
def dispatcher_group() -> None:
    """See, pause or resume dispatching for every dispatcher on this database."""


@dispatcher_group.command("status", context_settings=CONTEXT)
@db_option
def dispatcher_status(db: Path | None) -> None:
    """Running or paused, what is queued, due within the hour, retrying, failing, held."""
    from .services import schedule

    ctx = open_context(_resolve_db(db), create=False)
    s = schedule.dispatcher_status(ctx, LOCAL_ADMIN)
    click.echo(f"{'PAUSED by ' + s.paused_by if s.paused else 'running'}: {s.queued} queued, "
               f"{s.due_next_hour} due within the hour, {s.retrying} retrying, {s.failing} failed in 24 h, "
               f"{s.needs_attention} need attention"
               + (f"; next due {s.next_due:%Y-%m-%d %H:%M} UTC" if s.next_due else ""))
    for d in s.dispatchers:
        click.echo(f"  {d.kind:8} {d.owner}  last seen {d.seen_at:%H:%M:%S} UTC")
    if not s.dispatchers:
        click.echo("  no dispatcher seen in the last 2 minutes: nothing is being sent")


@dispatcher_group.command("pause", context_settings=CONTEXT)
@db_option
def dispatcher_pause(db: Path | None) -> None:
    """Stop new claims everywhere; sends in flight finish."""
    from .services import schedule

    schedule.set_paused(open_context(_resolve_db(db), create=False), LOCAL_ADMIN, True)
    click.echo("Dispatching paused: nothing new is claimed until `commstui dispatcher resume`.")


@dispatcher_group.command("resume", context_settings=CONTEXT)
@db_option
def dispatcher_resume(db: Path | None) -> None:
    """Let dispatchers claim and send again."""
    from .services import schedule

    schedule.set_paused(open_context(_resolve_db(db), create=False), LOCAL_ADMIN, False)
    click.echo("Dispatching resumed.")


# verbs kept in their own modules, registered on `cli` when imported
from . import cli_bulk, cli_companies, cli_import, cli_sms  # noqa: E402,F401


# -- the entry point -------------------------------------------------------------------
def _describe(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, one line) for errors a person can cause or fix; None for bugs."""
    from .secrets import SecretError
    from .services.errors import ServiceError, ValidationError
    from .store.db import DatabaseBusy, StoreError

    if isinstance(exc, DatabaseBusy):
        return EXIT_BUSY, f"{exc.title}: {exc}"
    if isinstance(exc, ValidationError):
        return EXIT_FAILED, f"Invalid input: {exc}"
    if isinstance(exc, (Failure, ServiceError, StoreError)):
        return getattr(exc, "exit_code", EXIT_FAILED), f"{exc.title}: {exc}"
    if isinstance(exc, SecretError):
        return EXIT_FAILED, f"Mail server password: {exc}"
    if isinstance(exc, OSError):
        return EXIT_FAILED, f"System error: {exc}"
    return None


def _fail(line: str, code: int) -> None:
    click.echo(_one_line(line), err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    try:
        result = cli.main(args=argv, prog_name="commstui", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "commstui"
        _fail(f"Usage error: {exc.format_message()} (see `{where} --help`)", EXIT_USAGE)
    except click.ClickException as exc:
        _fail(f"Error: {exc.format_message()}", exc.exit_code)
    except click.Abort:
        _fail("Aborted.", EXIT_FAILED)
    except Exception as exc:
        described = _describe(exc)
        if described is None:
            if os.environ.get(DEBUG_ENV):
                raise
            described = (EXIT_FAILED, f"Unexpected error: {type(exc).__name__}: {exc} "
                                      f"(set {DEBUG_ENV}=1 to see the traceback)")
        code, line = described
        _fail(line, code)
    sys.exit(result if isinstance(result, int) else 0)
