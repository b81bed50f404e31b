"""`commstui companies ...`: list and show companies (CRM) from a script.

Without --user these act as the host's local administrator (LOCAL_ADMIN), like the
other read verbs; with --user NAME that user logs in (password from COMMSTUI_PASSWORD
or a prompt) and their roles apply: a crmCompanyView user lists and shows only the
companies assigned to them, and any other company is "not found".
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli import CONTEXT, PASSWORD_ENV, _fit, _password, _resolve_db, cli, db_option, open_context
from .domain import LOCAL_ADMIN

PAGE = 500
MAX_PAGES = 10_000  # a bound on the paging loop (5 million companies)


def _user_option(fn):
    return click.option("--user", "username", metavar="NAME",
                        help=f"Act as this user, with their roles and assigned companies; password from "
                             f"{PASSWORD_ENV} or a prompt [default: the local administrator].")(fn)


def _who(ctx, username: str | None):
    from .services import auth

    if not username:
        return LOCAL_ADMIN
    return auth.login(ctx, username, _password(f"Password for {username}"))


@cli.group("companies", context_settings=CONTEXT)
def companies_group() -> None:
    """Companies (CRM) and the customers that belong to them."""


@companies_group.command("list", context_settings=CONTEXT)
@db_option
@click.option("--search", "text", default="", metavar="TEXT", help="Only companies whose code or name contains TEXT.")
@_user_option
def companies_list(db: Path | None, text: str, username: str | None) -> None:
    """Companies by code: CODE, NAME and how many customers each has."""
    from .services import companies

    ctx = open_context(_resolve_db(db), create=False)
    user = _who(ctx, username)
    rows, after = [], None
    for _ in range(MAX_PAGES):
        page = companies.search(ctx, user, text, after_code=after, limit=PAGE)
        rows += page.rows
        if not page.has_more or not page.rows:
            break
        after = page.rows[-1].code
    if not rows:
        click.echo(f"No company matches {text!r}." if text.strip() else "No companies.")
        return
    click.echo(f"{'CODE':10}  {'NAME':40}  CUSTOMERS")
    for r in rows:
        click.echo(f"{_fit(r.code, 10):10}  {_fit(r.name, 40):40}  {r.customers:>9,}")


@companies_group.command("show", context_settings=CONTEXT)
@db_option
@click.argument("code")
@_user_option
def companies_show(db: Path | None, code: str, username: str | None) -> None:
    """One company: its code, name and customers (account no, name, email, status)."""
    from .services import companies

    ctx = open_context(_resolve_db(db), create=False)
    user = _who(ctx, username)
    company = companies.get_by_code(ctx, user, code)
    click.echo(f"Code       {_fit(company.code, 60)}")
    click.echo(f"Name       {_fit(company.name, 60)}")
    click.echo(f"Customers  {company.customers:,}")
    if not company.customers:
        return
    click.echo("")
    click.echo(f"{'ACCOUNT':10}  {'NAME':28}  {'EMAIL':32}  STATUS")
    after = None
    for _ in range(MAX_PAGES):
        page = companies.customers_of(ctx, user, company.id, after_account=after, limit=PAGE)
        for c in page.rows:
            click.echo(f"{_fit(c.account_no, 10):10}  {_fit(c.name, 28):28}  {_fit(c.email or '-', 32):32}  "
                       f"{_fit(c.status, 12)}")
        if not page.has_more or not page.rows:
            break
        after = page.rows[-1].account_no
