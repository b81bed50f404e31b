"""`commstui user list | roles | reset-password | unlock | deactivate | reactivate`: the
Users screen's actions from a script. Like `user add`, these act as the host's local
administrator (LOCAL_ADMIN): whoever may run commstui on the host can open the file anyway.
The audit log records them with the actor "cli"; the lockout guard (at least one active
administrator) applies here too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from .cli import CONTEXT, _fit, _resolve_db, db_option, open_context, user
from .domain import ALL_ROLES, LOCAL_ADMIN


def _ctx(db: Path | None):
    return open_context(_resolve_db(db), create=False)


@user.command("list", context_settings=CONTEXT)
@db_option
@click.argument("search", required=False, default="")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per user, for scripts.")
def user_list(db: Path | None, search: str, as_json: bool) -> None:
    """List users (optionally those whose username or name contains SEARCH)."""
    from .services import users

    now = datetime.now(UTC)
    found = users.list_users(_ctx(db), LOCAL_ADMIN, search)
    if as_json:
        for a in found:
            click.echo(json.dumps({
                "username": a.username, "name": a.display_name, "email": a.email, "roles": list(a.roles),
                "group_roles": list(a.group_roles), "effective_roles": sorted(a.effective_roles),
                "companies": list(a.companies), "portal_account": a.portal_account, "active": a.active,
                "locked": a.locked(now)}))
        return
    click.echo(f"{'USERNAME':<16} {'NAME':<22} {'ROLES':<28} {'GROUP ROLES':<14} STATE")
    for a in found:
        state = ("active" if a.active else "inactive") + (", locked" if a.locked(now) else "")
        click.echo(f"{_fit(a.username, 16):<16} {_fit(a.display_name, 22):<22} "
                   f"{_fit(', '.join(sorted(a.effective_roles)) or '-', 28):<28} "
                   f"{_fit(', '.join(a.group_roles) or '-', 14):<14} {state}")
    if not found:
        click.echo("No users match." if search else "No users yet.", err=True)


@user.command("roles", context_settings=CONTEXT)
@db_option
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(ALL_ROLES), metavar="ROLE",
              help=f"A role the user has from now on; repeat for more. One of: {', '.join(ALL_ROLES)}.")
@click.option("--group-role", "group_roles", multiple=True, metavar="GROUP",
              help="A group role the user has from now on; repeat for more.")
@click.option("--no-roles", is_flag=True, help="Take away every individual role.")
@click.option("--no-group-roles", is_flag=True, help="Take away every group role.")
def user_roles(db: Path | None, username: str, roles: tuple[str, ...], group_roles: tuple[str, ...],
               no_roles: bool, no_group_roles: bool) -> None:
    """Set a user's roles and/or group roles (each list given replaces the old one)."""
    from .services import users

    if not (roles or group_roles or no_roles or no_group_roles):
        raise click.UsageError("give --role, --group-role, --no-roles or --no-group-roles.")
    ctx = _ctx(db)
    account = None
    if roles or no_roles:
        account = users.set_roles(ctx, LOCAL_ADMIN, username, roles)
    if group_roles or no_group_roles:
        account = users.set_group_roles(ctx, LOCAL_ADMIN, username, group_roles)
    click.echo(f"{username}: roles {', '.join(account.roles) or '(none)'}; group roles "
               f"{', '.join(account.group_roles) or '(none)'}; in effect: "
               f"{', '.join(sorted(account.effective_roles)) or '(none)'}.")


@user.command("reset-password", context_settings=CONTEXT)
@db_option
@click.argument("username")
@click.option("--generate", is_flag=True, help="Generate a random password and print it (once).")
def user_reset_password(db: Path | None, username: str, generate: bool) -> None:
    """Set a new password (hidden prompt or COMMSTUI_PASSWORD), or --generate one. Clears a lock."""
    from .cli import _password
    from .services import users

    password = "" if generate else _password(f"New password for {username}", confirm=True)
    if not generate and not password:
        raise click.UsageError("the new password is empty; use --generate for a random one.")
    generated = users.reset_password(_ctx(db), LOCAL_ADMIN, username, password)
    if generated:
        click.echo(generated)
        click.echo(f"New password for {username} (above). Give it to them now: it is not shown again.", err=True)
    else:
        click.echo(f"Password of {username} changed.")


@user.command("unlock", context_settings=CONTEXT)
@db_option
@click.argument("username")
def user_unlock(db: Path | None, username: str) -> None:
    """Clear the lock after too many wrong passwords."""
    from .services import users

    users.unlock(_ctx(db), LOCAL_ADMIN, username)
    click.echo(f"{username} is unlocked and may log in again.")


@user.command("deactivate", context_settings=CONTEXT)
@db_option
@click.argument("username")
def user_deactivate(db: Path | None, username: str) -> None:
    """Stop a user logging in (roles and history are kept; `reactivate` undoes it)."""
    from .services import users

    users.set_active(_ctx(db), LOCAL_ADMIN, username, False)
    click.echo(f"{username} is deactivated.")


@user.command("reactivate", context_settings=CONTEXT)
@db_option
@click.argument("username")
def user_reactivate(db: Path | None, username: str) -> None:
    """Let a deactivated user log in again."""
    from .services import users

    users.set_active(_ctx(db), LOCAL_ADMIN, username, True)
    click.echo(f"{username} is reactivated.")
