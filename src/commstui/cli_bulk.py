"""CLI verbs for bulk sends: `bulk` generates a batch that waits for approval, `approve` /
`reject` decide it, `batch show|list` report on it, `letters print|mark-posted` handle the post.
The same services as the wizard and the batch screens."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from .cli import CONTEXT, Failure, _fit, _password, _plain, _resolve_db, cli, db_option, open_context
from .domain import LOCAL_ADMIN, BatchStatus, ChannelMode, RecipientKind

_WORDS = re.compile(r"[\s,;]+")
_FILTER_KEYS = ("building", "type", "status", "preferred", "has-email", "has-mobile")


def _words(values: tuple[str, ...]) -> list[str]:
    return [w for value in values for w in _WORDS.split(value) if w]


def _yes_no(key: str, value: str) -> bool:
    if value.lower() in ("yes", "y", "true", "1"):
        return True
    if value.lower() in ("no", "n", "false", "0"):
        return False
    raise Failure("Invalid input", f"--filter {key}={value}: say yes or no.")


def _selection(ctx, user, buildings, types, accounts_file, filters, owners, contacts):
    from .services import bulk

    modes = [name for name, given in (("--buildings", buildings), ("--accounts-file", accounts_file),
                                      ("--filter", filters)) if given]
    if len(modes) != 1:
        raise click.UsageError("choose recipients with exactly one of --buildings, --accounts-file or --filter.")
    choices = bulk.choices(ctx, user)
    by_code = {b.code.upper(): b for b in choices.buildings}

    def building_ids(codes: list[str]) -> list[int]:
        unknown = [c for c in codes if c.upper() not in by_code]
        if unknown:
            raise Failure("Unknown building", f"{', '.join(unknown)}: no such building code "
                                              f"(known: {', '.join(sorted(by_code))}).")
        return [by_code[c.upper()].id for c in codes]

    type_list = _words(types)
    unknown_types = [t for t in type_list if t not in choices.customer_types]
    if unknown_types:
        raise Failure("Unknown customer type", f"{', '.join(unknown_types)} (known: "
                                               f"{', '.join(choices.customer_types)}).")
    if buildings:
        return bulk.Selection(mode="buildings", building_ids=building_ids(_words(buildings)),
                              customer_types=type_list, include_owners=owners, include_contacts=contacts)
    if accounts_file:
        text = sys.stdin.read() if str(accounts_file) == "-" else Path(accounts_file).read_text("utf-8")
        return bulk.Selection(mode="accounts", accounts_text=text, include_owners=owners,
                              include_contacts=contacts)
    selection = bulk.Selection(mode="filter", customer_types=type_list, include_owners=owners,
                               include_contacts=contacts)
    for item in filters:
        key, _, value = item.partition("=")
        key = key.strip().lower()
        if key not in _FILTER_KEYS or not value.strip():
            raise Failure("Invalid input", f"--filter {item!r}: use KEY=VALUE with KEY one of "
                                           f"{', '.join(_FILTER_KEYS)}.")
        if key == "building":
            selection.building_ids += building_ids(_words((value,)))
        elif key == "type":
            selection.customer_types += _words((value,))
        elif key == "status":
            selection.statuses += _words((value,))
        elif key == "preferred":
            selection.preferred += _words((value,))
        elif key == "has-email":
            selection.has_email = _yes_no(key, value)
        else:
            selection.has_mobile = _yes_no(key, value)
    return selection


@cli.command(context_settings=CONTEXT)
@db_option
@click.option("--user", "username", required=True, metavar="NAME",
              help="Who generates it (needs bulkSend); password from COMMSTUI_PASSWORD or asked.")
@click.option("--buildings", multiple=True, metavar="CODE...", help="Building codes (repeat, or separate by commas).")
@click.option("--types", multiple=True, metavar="TYPE...", help="Only these customer types (e.g. residential).")
@click.option("--accounts-file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), metavar="FILE",
              help="Account numbers separated by spaces, commas or lines (- reads standard input).")
@click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE",
              help="Limits: building=CODE, type=T, status=S, preferred=email|post|sms, has-email=yes|no, "
                   "has-mobile=yes|no (repeat).")
@click.option("--channel", type=click.Choice([m.value for m in ChannelMode]), default="preferred", show_default=True,
              help="preferred: each customer's preferred delivery (email or post).")
@click.option("--owners", is_flag=True, help="Include the location owners.")
@click.option("--contacts", is_flag=True, help="Include contacts flagged to receive notices.")
@click.option("--template", metavar="NAME", help="A saved template (see the Templates screen).")
@click.option("--subject", help="Adhoc: the subject (merge fields allowed, e.g. {{ building.name }}).")
@click.option("--body", help="Adhoc: the message (plain text, or HTML with --html-body), - reads standard input.")
@click.option("--html-body", help="Adhoc: an HTML version of the message.")
@click.option("--letter-body", help="Adhoc: the letter text [default: --body].")
@click.option("--sms-body", help="Adhoc: the SMS / RoboCall message.")
@click.option("--attach", type=click.Path(dir_okay=False, path_type=Path), metavar="PDF",
              help="One PDF sent with every email and appended to every letter.")
@click.option("--json", "as_json", is_flag=True, help="Print the batch as JSON.")
def bulk(db, username, buildings, types, accounts_file, filters, channel, owners, contacts, template, subject,
         body, html_body, letter_body, sms_body, attach, as_json) -> None:
    """Generate a bulk batch (emails, letters, SMS or RoboCalls) that waits for approval.

    Prints the batch id and the counts per channel; recipients nothing could be made for
    are listed with the reason. Nothing is sent until `commstui approve BATCH`.
    """
    from .services import auth
    from .services import bulk as bulk_service

    if template and (subject or body or html_body or sms_body):
        raise click.UsageError("give either --template or an adhoc --subject/--body, not both.")
    if not template and not subject:
        raise click.UsageError("give --template NAME, or --subject and --body (or --sms-body).")
    if body == "-":
        body = sys.stdin.read()
    ctx = open_context(_resolve_db(db), create=False)
    user = auth.login(ctx, username, _password(f"Password for {username}"))
    selection = _selection(ctx, user, buildings, types, accounts_file, filters, owners, contacts)
    if selection.mode == "accounts":
        check = bulk_service.check_accounts(ctx, user, selection.accounts_text)
        for problem in check.problems:
            click.echo(f"Left out: line {problem.line}: {_plain(problem.token)}: {problem.reason}", err=True)
    if template:
        compose = bulk_service.from_template(ctx, user, template)
    else:
        compose = bulk_service.BulkCompose(subject=subject or "", text_body=body or "", html_body=html_body or "",
                                           letter_body=letter_body or "", sms_body=sms_body or "")
    compose.attachment = attach
    found = bulk_service.recipients(ctx, user, selection, channel)
    check = bulk_service.check_compose(ctx, user, compose, sorted({r.channel for r in found.reachable}))
    for warning in check.warnings:
        click.echo(f"Warning: {warning}", err=True)
    result = bulk_service.generate(ctx, user, selection, channel, compose, found.recipients)
    batch = result.batch
    if as_json:
        click.echo(json.dumps(_batch_json(batch, result.failures), indent=2, default=str))
        return
    for f in result.failures:
        click.echo(f"Not generated: {f.account_no or '-'} {RecipientKind(f.kind).label} {_fit(f.name, 30)}: "
                   f"{f.reason}", err=True)
    click.echo(f"Batch {batch.id}: {_counts(batch)}; {batch.not_generated} got nothing. "
               f"Waiting for approval (`commstui approve {batch.id} --user NAME`).")


def _counts(batch) -> str:
    parts = [f"{n:,} {label}" for n, label in ((batch.emails, "email(s)"), (batch.letters, "letter(s)"),
                                                (batch.sms, "SMS"), (batch.robocalls, "RoboCall(s)")) if n]
    return ", ".join(parts) or "nothing generated"


def _batch_json(batch, failures=()) -> dict:
    return {"id": batch.id, "title": batch.title, "status": batch.status, "channel_mode": batch.channel_mode,
            "template": batch.template_name, "created_by": batch.created_by, "created_at": batch.created_at,
            "recipients": batch.recipients, "emails": batch.emails, "letters": batch.letters, "sms": batch.sms,
            "robocalls": batch.robocalls, "not_generated": batch.not_generated,
            "attachment": batch.attachment.filename if batch.attachment else None,
            "decided_by": batch.decided_by, "decided_at": batch.decided_at,
            "decision_comment": batch.decision_comment,
            "failures": [{"account_no": f.account_no, "linked_account_no": f.linked_account_no, "type": f.kind,
                          "name": f.name, "channel": f.channel, "destination": f.destination,
                          "reason": f.reason} for f in failures]}


def _decide(db, username, batch_id, approve, comment) -> None:
    from .services import auth, batches

    ctx = open_context(_resolve_db(db), create=False)
    user = auth.login(ctx, username, _password(f"Password for {username}"))
    if approve:
        batch = batches.approve(ctx, user, batch_id, comment or "")
        click.echo(f"Batch {batch.id} approved by {user.username}: its emails and texts are due now "
                   f"(a running commstui or `commstui dispatch` sends them); letters wait to be printed "
                   f"and marked posted.")
    else:
        batch = batches.reject(ctx, user, batch_id, comment or "")
        click.echo(f"Batch {batch.id} rejected: nothing of it will be sent.")


@cli.command(context_settings=CONTEXT)
@db_option
@click.argument("batch_id", metavar="BATCH", type=int)
@click.option("--user", "username", required=True, metavar="NAME",
              help="The approver (bulkApprove; not the batch's creator unless administrator).")
@click.option("--comment", default="", help="Recorded with the approval.")
def approve(db, batch_id, username, comment) -> None:
    """Approve a pending batch: nothing of a bulk send goes before this."""
    _decide(db, username, batch_id, True, comment)


@cli.command(context_settings=CONTEXT)
@db_option
@click.argument("batch_id", metavar="BATCH", type=int)
@click.option("--user", "username", required=True, metavar="NAME", help="The approver (bulkApprove).")
@click.option("--comment", required=True, help="Why: the sender reads it.")
def reject(db, batch_id, username, comment) -> None:
    """Reject a pending batch: none of it is sent; its messages stay in the log as cancelled."""
    _decide(db, username, batch_id, False, comment)


@cli.group("batch", context_settings=CONTEXT)
def batch_group() -> None:
    """Bulk batches: what was generated, approved, sent and what failed."""


@batch_group.command("show", context_settings=CONTEXT)
@db_option
@click.argument("batch_id", metavar="BATCH", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
def batch_show(db, batch_id, as_json) -> None:
    """A batch's status, counts, and every recipient who did not get it, with the reason."""
    from .services import batches

    ctx = open_context(_resolve_db(db), create=False)
    found = batches.results(ctx, LOCAL_ADMIN, batch_id)
    batch = found.batch
    if as_json:
        data = _batch_json(batch, found.failures)
        data.update(succeeded=found.succeeded, waiting=found.waiting, failed=found.failed)
        click.echo(json.dumps(data, indent=2, default=str))
        return
    click.echo(f"Batch {batch.id}: {_plain(batch.title)}")
    click.echo(f"  status     {BatchStatus(batch.status).label}"
               + (f" by {batch.decided_by}" if batch.decided_by else "")
               + (f": {_plain(batch.decision_comment)}" if batch.decision_comment else ""))
    click.echo(f"  generated  by {batch.created_by}: {_counts(batch)} for {batch.recipients:,} recipient(s)")
    if batch.attachment:
        click.echo(f"  attachment {_plain(batch.attachment.filename)} ({batch.attachment.size:,} bytes)")
    click.echo(f"  results    {found.succeeded:,} succeeded, {found.waiting:,} waiting, {found.failed:,} failed")
    for f in found.failures:
        click.echo(f"  failed     {f.account_no or '-':10} {RecipientKind(f.kind).label:8} {_fit(f.name, 24):24} "
                   f"{f.channel:8} {_fit(f.destination or '-', 30):30} {_plain(f.reason)}")


@batch_group.command("list", context_settings=CONTEXT)
@db_option
@click.option("--status", type=click.Choice([s.value for s in BatchStatus]), help="Only batches in this state.")
def batch_list(db, status) -> None:
    """Recent batches, newest first."""
    from .services import batches

    from zoneinfo import ZoneInfo

    from .services import schedule

    ctx = open_context(_resolve_db(db), create=False)
    zone = ZoneInfo(schedule.office_zone(ctx, LOCAL_ADMIN))  # times as the office reads them
    for batch in batches.list_batches(ctx, LOCAL_ADMIN, status):
        click.echo(f"{batch.id:>6}  {BatchStatus(batch.status).label:16}  "
                   f"{batch.created_at.astimezone(zone):%Y-%m-%d %H:%M}  "
                   f"{batch.created_by:12}  {_fit(batch.title, 30):30}  {_counts(batch)}")


@cli.group("letters", context_settings=CONTEXT)
def letters_group() -> None:
    """Letters of bulk batches that wait to be posted."""


@letters_group.command("print", context_settings=CONTEXT)
@db_option
@click.argument("batch_id", metavar="BATCH", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.pdf",
              help="Where to write the print batch.")
def letters_print(db, batch_id, out) -> None:
    """Write every unposted letter of a batch (each followed by the batch's attachment) to one PDF."""
    from .services import batches

    ctx = open_context(_resolve_db(db), create=False)
    letters = batches.unposted_letters(ctx, LOCAL_ADMIN, batch_id)
    if not letters:
        raise Failure("Nothing to print", f"batch {batch_id} has no letters waiting to be posted.")
    path, count = batches.print_letters(ctx, LOCAL_ADMIN, [letter.message_id for letter in letters], out)
    click.echo(f"{count} letter(s) written to {path}. When they are in the post: "
               f"`commstui letters mark-posted {batch_id}`.")


@letters_group.command("mark-posted", context_settings=CONTEXT)
@db_option
@click.argument("batch_id", metavar="BATCH", type=int)
def letters_mark_posted(db, batch_id) -> None:
    """Mark every unposted letter of a batch as posted (a note goes on each account)."""
    from .services import batches

    ctx = open_context(_resolve_db(db), create=False)
    letters = batches.unposted_letters(ctx, LOCAL_ADMIN, batch_id)
    count = batches.mark_posted(ctx, LOCAL_ADMIN, [letter.message_id for letter in letters])
    click.echo(f"{count} letter(s) of batch {batch_id} marked posted.")
