"""Logging in: passwords, lockout after wrong ones, deactivated users, and how
the password is kept (an argon2 hash, never the password)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commstui.domain import Permission, Role
from commstui.services import auth, customers
from commstui.services.context import LOCAL_ADMIN, require
from commstui.services.errors import LoginFailed, PermissionDenied, ValidationError

PASSWORD = "Plaintext-Zebra-4711"


@pytest.fixture
def ann(ctx):
    auth.add_user(ctx, LOCAL_ADMIN, "ann", PASSWORD, [Role.CUSTOMER_VIEW], display_name="Ann Example")
    return "ann"


def failed(ctx, username, password) -> str:
    with pytest.raises(LoginFailed) as err:
        auth.login(ctx, username, password)
    assert err.value.title == "Login failed"
    return str(err.value)


def sql(ctx, query, params=()):
    return ctx.db.run(lambda con: con.execute(query, list(params)).fetchall())


def test_the_right_password_logs_in(ctx, ann):
    user = auth.login(ctx, "ann", PASSWORD)
    assert (user.username, user.display_name, user.active) == ("ann", "Ann Example", True)
    assert user.effective_roles == {"customerView"}
    assert user.can(Permission.CUSTOMER_VIEW) and not user.can(Permission.CUSTOMER_EDIT)


def test_surrounding_spaces_in_the_username_are_ignored(ctx, ann):
    assert auth.login(ctx, "  ann ", PASSWORD).username == "ann"


def test_a_wrong_password_gets_a_clear_message(ctx, ann):
    assert failed(ctx, "ann", "not-the-password") == "Wrong username or password."


def test_an_unknown_user_gets_the_same_message_as_a_wrong_password(ctx, ann):
    assert failed(ctx, "nobody-here", PASSWORD) == failed(ctx, "ann", "not-the-password")


@pytest.mark.parametrize("username,password", [("", PASSWORD), ("ann", ""), ("   ", PASSWORD)])
def test_missing_fields_are_asked_for(ctx, ann, username, password):
    assert "Enter your username and password" in failed(ctx, username, password)


def test_the_password_is_case_sensitive(ctx, ann):
    failed(ctx, "ann", PASSWORD.lower())


def test_five_wrong_in_a_row_lock_the_account_even_for_the_right_password(ctx, ann):
    messages = [failed(ctx, "ann", f"wrong-{i}") for i in range(5)]
    assert "left before the account locks" in messages[3]  # a warning before it happens
    assert "locked" in messages[4]

    locked = failed(ctx, "ann", PASSWORD)
    assert "locked" in locked and "min" in locked
    # other accounts are not affected
    assert auth.login(ctx, "viewer", "viewer-demo-1").username == "viewer"


def test_a_right_password_resets_the_count(ctx, ann):
    for _ in range(4):
        failed(ctx, "ann", "wrong")
    auth.login(ctx, "ann", PASSWORD)
    for _ in range(4):
        failed(ctx, "ann", "wrong")
    assert auth.login(ctx, "ann", PASSWORD).username == "ann"


def test_the_lock_lifts_after_login_lock_minutes(ctx, ann):
    ctx.settings = ctx.settings.model_copy(update={"login_lock_minutes": 1, "login_max_failures": 3})
    for _ in range(3):
        failed(ctx, "ann", "wrong")
    [(locked_until,)] = sql(ctx, "select locked_until from users where username = 'ann'")
    now = datetime.now(UTC)
    assert now + timedelta(seconds=50) < locked_until <= now + timedelta(minutes=1)
    assert "locked" in failed(ctx, "ann", PASSWORD)

    # a minute passes
    sql(ctx, "update users set locked_until = ? where username = 'ann'", [now - timedelta(seconds=1)])
    assert auth.login(ctx, "ann", PASSWORD).username == "ann"
    # and the count starts again from zero: one wrong password does not re-lock
    assert "locked" not in failed(ctx, "ann", "wrong")
    assert auth.login(ctx, "ann", PASSWORD).username == "ann"


def test_the_password_is_kept_only_as_an_argon2_hash(ctx, ann):
    [(stored,)] = sql(ctx, "select password_hash from users where username = 'ann'")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    sql(ctx, "checkpoint")
    for path in ctx.db.path.parent.glob(ctx.db.path.name + "*"):  # the file and any WAL beside it
        data = path.read_bytes()
        assert PASSWORD.encode() not in data, path
        assert PASSWORD.encode("utf-16-le") not in data, path


def test_two_users_with_the_same_password_get_different_hashes(ctx, ann):
    auth.add_user(ctx, LOCAL_ADMIN, "bob", PASSWORD)
    hashes = sql(ctx, "select password_hash from users where username in ('ann', 'bob')")
    assert len({h for (h,) in hashes}) == 2  # salted


def test_a_deactivated_user_is_refused(ctx, ann):
    user = auth.login(ctx, "ann", PASSWORD)
    sql(ctx, "update users set active = false where username = 'ann'")
    assert "deactivated" in failed(ctx, "ann", PASSWORD)
    # a session object for a user who is no longer active gets nothing either
    gone = auth.get_user(ctx, "ann")
    assert gone.active is False
    with pytest.raises(PermissionDenied):
        customers.count(ctx, gone, customers.CustomerFilter())
    assert user.active  # (the old object is a snapshot)


def test_require_refuses_nobody():
    with pytest.raises(PermissionDenied, match="not logged in"):
        require(None, Permission.CUSTOMER_VIEW)


@pytest.mark.parametrize("username,password,roles,field", [
    ("", "long-enough-1", [], "username"),
    ("carl", "short", [], "password"),
    ("carl", "long-enough-1", ["customerview"], "roles"),
    ("admin", "long-enough-1", [], "username"),  # already exists
])
def test_add_user_validates(ctx, username, password, roles, field):
    with pytest.raises(ValidationError) as err:
        auth.add_user(ctx, LOCAL_ADMIN, username, password, roles)
    assert err.value.field == field


def test_user_exists(ctx, ann):
    assert auth.user_exists(ctx, "ann") and not auth.user_exists(ctx, "nobody")


@pytest.mark.real_argon2
def test_an_unknown_user_is_refused_no_faster_than_a_wrong_password(ctx, ann):
    import time

    def refusal_time(username: str) -> float:
        start = time.perf_counter()
        with pytest.raises(LoginFailed):
            auth.login(ctx, username, "definitely-wrong")
        return time.perf_counter() - start

    refusal_time("nobody-here")  # the throwaway hash is made on first use
    unknown = min(refusal_time("nobody-here") for _ in range(3))
    wrong = min(refusal_time("ann") for _ in range(3))
    # both pay for one argon2 verification; without it an unknown name answers ~100x faster
    assert unknown > wrong * 0.5, (unknown, wrong)
