"""`commstui import customers FILE.csv` and `commstui export customers --out FILE.csv`.

Import acts as a real user (--user, password from COMMSTUI_PASSWORD or a hidden
prompt): it changes customers, so it needs customerView and customerEdit. The
summary goes to stdout, every refused row to stderr as "line N, column C: reason",
and the exit status is 1 when any row was refused. Export acts as --user if
given, else as the host's local administrator like the other headless verbs.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from .cli import CONTEXT, Failure, _password, _plain, _resolve_db, cli, db_option, open_context
from .domain import LOCAL_ADMIN


def _login(ctx, username: str):
    from .services import auth

    return auth.login(ctx, username, _password(f"Password for {username}"))


@cli.group("import", context_settings=CONTEXT)
def import_group() -> None:
    """Bring data in from files (checked row by row first)."""


@import_group.command("customers", context_settings=CONTEXT)
@db_option
@click.argument("file", type=click.Path(path_type=Path), metavar="FILE.csv")
@click.option("--user", "username", required=True, metavar="NAME",
              help="Who imports (needs customerView and customerEdit); password from COMMSTUI_PASSWORD or a prompt.")
@click.option("--dry-run", is_flag=True, help="Only check the file and report every bad row; write nothing.")
@click.option("--strict", is_flag=True, help="Import nothing if any row is bad.")
@click.option("--update", is_flag=True,
              help="Also overwrite customers whose account is already there [default: skip them].")
def import_customers(db: Path | None, file: Path, username: str, dry_run: bool, strict: bool, update: bool) -> None:
    """Add customers from a CSV file with the columns of sample_data/customers.csv.

    \b
    Safe to run again: accounts already in the database are skipped (or, with
    --update, overwritten from the file). Bad rows are listed on stderr as
    "line N, column C: reason"; exit status 1 when any row was refused.
    """
    from .services import customer_import
    from .services.customer_import import ImportMode

    ctx = open_context(_resolve_db(db), create=False)
    user = _login(ctx, username)
    mode = ImportMode.UPDATE if update else ImportMode.ADD
    started = time.perf_counter()
    if dry_run:
        report = customer_import.check_file(ctx, user, file, mode)
    else:
        report = customer_import.import_file(ctx, user, file, strict=strict, mode=mode)
    for problem in report.problems:
        click.echo(_plain(str(problem)), err=True)
    click.echo(f"{report.summary()} ({time.perf_counter() - started:.1f} s)")
    if report.problems:
        raise SystemExit(1)


@cli.group("export", context_settings=CONTEXT)
def export_group() -> None:
    """Write data out to files."""


@export_group.command("customers", context_settings=CONTEXT)
@db_option
@click.option("--out", required=True, type=click.Path(path_type=Path), metavar="FILE.csv",
              help="The CSV file to write (UTF-8 with BOM, opens right in Excel).")
@click.option("--building", metavar="CODE", help="Only this building (its code, e.g. HARB).")
@click.option("--type", "customer_type", metavar="TYPE", help="Only this customer type, e.g. residential.")
@click.option("--status", metavar="STATUS", help="Only this status, e.g. active.")
@click.option("--search", default="", metavar="TEXT", help="Only customers the search box would find.")
@click.option("--user", "username", metavar="NAME",
              help="Export as this user (needs customerView) [default: the local administrator].")
def export_customers(db: Path | None, out: Path, building: str | None, customer_type: str | None,
                     status: str | None, search: str, username: str | None) -> None:
    """Write a filtered customer list to CSV, safe to open in a spreadsheet."""
    from .services import customer_import, customers
    from .services.customers import CustomerFilter

    ctx = open_context(_resolve_db(db), create=False)
    user = _login(ctx, username) if username else LOCAL_ADMIN
    building_id = None
    if building:
        found = [b for b in customers.filter_options(ctx, user).buildings if b.code.upper() == building.upper()]
        if not found:
            raise Failure("Invalid input", f"--building: there is no building with code {building!r}.")
        building_id = found[0].id
    flt = CustomerFilter(text=search, building_id=building_id, customer_type=customer_type, status=status)
    started = time.perf_counter()
    count = customer_import.export_customers(ctx, user, flt, out)
    click.echo(f"Exported {count:,} customers to {out} ({time.perf_counter() - started:.1f} s).")
