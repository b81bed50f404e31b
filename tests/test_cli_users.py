"""`commstui user list | roles | reset-password | unlock | deactivate | reactivate` as real
subprocesses on a copy of the sample database: each change works, is audited with the
actor "cli", and a refusal is one line on stderr."""

from __future__ import annotations

import json

import pytest

from commstui.config import Settings
from commstui.domain import LOCAL_ADMIN
from commstui.services import audit, auth
from commstui.services.context import Context
from commstui.services.errors import LoginFailed
from test_cli import ok, one_line_error, run, sample_db, sample_template  # noqa: F401


def ctx_of(db) -> Context:
    return Context.open(db, Settings(busy_timeout=5.0))


def test_list_shows_users_and_their_state(sample_db):
    table = ok(run("user", "list", "view", "--db", sample_db)).stdout.splitlines()
    assert table[0].split() == ["USERNAME", "NAME", "ROLES", "GROUP", "ROLES", "STATE"]
    assert [line.split()[0] for line in table[1:]] == ["company-viewer", "crm-viewer", "viewer"]
    rows = [json.loads(line) for line in ok(run("user", "list", "--json", "--db", sample_db)).stdout.splitlines()]
    operator = next(r for r in rows if r["username"] == "operator")
    assert operator["group_roles"] == ["Operators"] and operator["effective_roles"] == ["customerEdit",
                                                                                        "customerView"]
    assert len(rows) == 13 and all(r["active"] and not r["locked"] for r in rows)


def test_roles_deactivate_reactivate_and_the_audit_rows(sample_db):
    out = ok(run("user", "roles", "viewer", "--role", "customerView", "--role", "bulkSend",
                 "--group-role", "Operators", "--db", sample_db)).stdout
    assert out.strip() == ("viewer: roles customerView, bulkSend; group roles Operators; in effect: "
                           "bulkSend, customerEdit, customerView.")
    assert ok(run("user", "deactivate", "viewer", "--db", sample_db)).stdout.strip() == "viewer is deactivated."
    ctx = ctx_of(sample_db)
    with pytest.raises(LoginFailed, match="deactivated"):
        auth.login(ctx, "viewer", "viewer-demo-1")
    ok(run("user", "reactivate", "viewer", "--db", sample_db))
    assert auth.login(ctx, "viewer", "viewer-demo-1").effective_roles == {"customerView", "customerEdit", "bulkSend"}
    assert [(e.actor, e.action, e.target) for e in audit.recent(ctx, LOCAL_ADMIN)] == [
        ("cli", "user.reactivate", "viewer"), ("cli", "user.deactivate", "viewer"),
        ("cli", "user.group_roles", "viewer"), ("cli", "user.roles", "viewer")]


def test_reset_password_and_unlock(sample_db):
    ctx = ctx_of(sample_db)
    for _ in range(ctx.settings.login_max_failures):
        with pytest.raises(LoginFailed):
            auth.login(ctx, "editor", "wrong")
    assert "unlocked" in ok(run("user", "unlock", "editor", "--db", sample_db)).stdout
    assert auth.login(ctx, "editor", "editor-demo-1").username == "editor"

    ok(run("user", "reset-password", "editor", "--db", sample_db, password="from-a-script-1"))
    assert auth.login(ctx, "editor", "from-a-script-1").username == "editor"
    generated = ok(run("user", "reset-password", "editor", "--generate", "--db", sample_db))
    password = generated.stdout.strip()
    assert "not shown again" in generated.stderr
    assert auth.login(ctx, "editor", password).username == "editor"
    details = " ".join(e.detail for e in audit.recent(ctx, LOCAL_ADMIN, target="editor"))
    assert password not in details and "from-a-script-1" not in details


def test_refusals_are_one_line(sample_db):
    assert one_line_error(run("user", "deactivate", "ghost", "--db", sample_db)) == "Not found: No user 'ghost'."
    ok(run("user", "roles", "super", "--role", "customerView", "--db", sample_db))
    assert one_line_error(run("user", "deactivate", "admin", "--db", sample_db)) == (
        "Invalid input: This would leave no active administrator. Make another user an administrator first.")
    assert one_line_error(run("user", "roles", "viewer", "--group-role", "Wizards", "--db", sample_db)).startswith(
        "Invalid input: Unknown group role(s): Wizards.")
    assert one_line_error(run("user", "roles", "viewer", "--db", sample_db), code=2).startswith("Usage error:")
    assert one_line_error(run("user", "reset-password", "viewer", "--db", sample_db, password="short")) == (
        "Invalid input: Passwords need at least 8 characters.")


def test_user_add_is_audited_and_checks_group_roles(sample_db):
    ok(run("user", "add", "kim", "--group-role", "Operators", "--email", "Kim@Example.com", "--db", sample_db,
           password="kim-password-1"))
    ctx = ctx_of(sample_db)
    assert auth.login(ctx, "kim", "kim-password-1").effective_roles == {"customerView", "customerEdit"}
    [entry] = audit.recent(ctx, LOCAL_ADMIN, target="kim")
    assert (entry.actor, entry.action) == ("cli", "user.add") and "kim-password-1" not in entry.detail
    assert one_line_error(run("user", "add", "lee", "--group-role", "Wizards", "--db", sample_db,
                              password="lee-password-1")).startswith("Invalid input: Unknown group role(s): Wizards.")
