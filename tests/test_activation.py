"""Set my password with an emailed code: the code emailed through the queue (sent by a real
dispatcher to aiosmtpd), set_password's refusals (each at its field), wrong tries, expiry,
reuse, the same silence for every account that cannot get a code, the rate limit, only a
hash of the code kept, and the audit row. Real DuckDB files, no mocks."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from commstui.delivery.capture import read_outbox
from commstui.delivery.dispatcher import Dispatcher
from commstui.services import activation, auth, company_customers, users
from commstui.services.activation import PasswordNotSet
from commstui.services.company_customers import NewCustomerForm
from commstui.services.errors import LoginFailed
from commstui.store import office as office_store

NEW_PASSWORD = "garden-gnome-42"
CODE = re.compile(r"Code: ([A-Z0-9]{4}-[A-Z0-9]{4})")


def newest_code(ctx, username: str) -> tuple[int, str | None]:
    """(how many codes the user has had, the code in the newest one's email as queued)."""
    with ctx.db.connect() as con:
        rows = con.execute("select m.body from password_codes p join messages m on m.id = p.email_id "
                           "where p.username = ? order by p.id", [username]).fetchall()
    found = CODE.search(rows[-1][0]) if rows else None
    return len(rows), found.group(1) if found else None


def ask(ctx, username: str) -> str:
    """Ask for a code for a user who can get one; the code from the email queued."""
    before, _ = newest_code(ctx, username)
    activation.request_code(ctx, username)
    after, code = newest_code(ctx, username)
    assert after == before + 1 and code, "no email was queued"
    return code


def refused(call) -> dict[str, str]:
    with pytest.raises(PasswordNotSet) as caught:
        call()
    return caught.value.problems


def message_count(ctx) -> int:
    with ctx.db.connect() as con:
        return con.execute("select count(*) from messages").fetchone()[0]


def code_rows(ctx, username: str) -> list[tuple]:
    with ctx.db.connect() as con:
        return con.execute("select failed_attempts, used_at is not null, voided_at is not null "
                           "from password_codes where username = ? order by id", [username]).fetchall()


def places_holding(ctx, text: str) -> list[tuple[str, str]]:
    """(table, column) of every text column in the file that holds the text anywhere."""
    found = []
    with ctx.db.connect() as con:
        columns = con.execute("select table_name, column_name from information_schema.columns "
                              "where table_schema = 'main' and data_type like 'VARCHAR%'").fetchall()
        for table, column in columns:
            hits = con.execute(f'select count(*) from "{table}" where contains(upper("{column}"::varchar), ?)',
                               [text.upper()]).fetchone()[0]
            if hits:
                found.append((table, column))
    return found


@pytest.fixture
def nina(ctx, admin):
    """A customer added to a company through the service: no password anyone knows."""
    with ctx.db.connect() as con:
        acme = con.execute("select id from companies where code = 'ACME'").fetchone()[0]
    customer, _ = company_customers.add_customer(
        ctx, admin, acme, NewCustomerForm(email="nina.novak@example.com", name="Nina Novak"))
    return customer


# -- the whole way: asked, sent, received, set, logged in ------------------------------------
def test_a_new_customer_asks_receives_the_code_sets_a_password_and_logs_in(ctx, admin, nina, mail_server, capture):
    ctx.db.run(lambda con: office_store.put(con, {"timezone": "Australia/Sydney"}, "test"))
    with pytest.raises(LoginFailed):
        auth.login(ctx, "nina.novak@example.com", NEW_PASSWORD)   # nobody knows the password yet

    activation.request_code(ctx, "Nina.Novak@Example.com")   # any letter case finds the username
    dispatcher = Dispatcher(ctx.db, ctx.settings)
    sent = 0
    for _ in range(5):
        sent += asyncio.run(dispatcher.run_once())
        if sent:
            break
    assert sent == 1
    [received] = read_outbox(capture.outbox)
    assert received.rcpt_tos == ("nina.novak@example.com",)
    assert received.subject == "Your code to set your commstui password"
    text = received.parse().get_body(("plain",)).get_content()
    code = CODE.search(text).group(1)
    with ctx.db.connect() as con:
        created, expires = con.execute("select created_at, expires_at from password_codes").fetchone()
    assert expires - created == timedelta(days=7)
    local = expires.astimezone(ZoneInfo("Australia/Sydney"))
    assert f"until {local:%H:%M} on {local:%A} {local.day} {local:%B %Y} (Australia/Sydney time)." in text
    assert 'choose "Set my password" on the login screen (F2)' in text

    username = activation.set_password(ctx, "NINA.NOVAK@example.com", code.lower(), NEW_PASSWORD, NEW_PASSWORD)
    assert username == "nina.novak@example.com"
    user = auth.login(ctx, username, NEW_PASSWORD)
    assert user.is_portal and user.customer_id == nina.id
    with ctx.db.connect() as con:
        notes = [t for (t,) in con.execute("select text from notes where customer_id = ?", [nina.id]).fetchall()]
    assert any(t.startswith("Email 'Your code to set your commstui password' sent to nina.novak@example.com")
               for t in notes)
    assert not any(code in t for t in notes)


def test_the_code_email_goes_to_the_users_email_and_is_linked_to_their_account(ctx, mail_server):
    activation.request_code(ctx, "portal")   # the sample portal user of account A1000001
    activation.request_code(ctx, "admin")    # staff: no customer account
    with ctx.db.connect() as con:
        rows = con.execute("select to_addrs, customer_id, created_by, subject, is_html, status from messages "
                           "where subject = ? order by id", [activation.SUBJECT]).fetchall()
        a1000001 = con.execute("select id from customers where account_no = 'A1000001'").fetchone()[0]
    assert rows == [(["olivia.bennett@example.com"], a1000001, "portal", activation.SUBJECT, False, "queued"),
                    (["admin@commstui.example"], None, "admin", activation.SUBJECT, False, "queued")]



def test_staff_never_see_a_live_code_but_the_recipient_gets_it(ctx, admin, mail_server, capture):
    """The code email is sensitive: the customer's Emails tab, the log and the CLI read a
    placeholder; only the dispatcher reads the body it sends."""
    from commstui.services import customers, email as email_service
    from commstui.store.messages import SENSITIVE_BODY

    code = ask(ctx, "portal")
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    [shown] = [m for m in customers.account(ctx, admin, olivia.id).messages if m.subject == activation.SUBJECT]
    assert shown.body == SENSITIVE_BODY and code not in shown.body
    assert all(code not in m.body for m in email_service.log(ctx, admin, "A1000001"))
    assert asyncio.run(Dispatcher(ctx.db, ctx.settings).run_once()) >= 1
    [received] = [r for r in read_outbox(capture.outbox) if r.subject == activation.SUBJECT]
    assert code in received.parse().get_body(("plain",)).get_content()


# -- refusals -----------------------------------------------------------------------------------
def test_every_problem_is_named_at_its_field_at_once(ctx, mail_server):
    code = ask(ctx, "portal")
    assert refused(lambda: activation.set_password(ctx, "portal", "", "short", "short")) == {
        "code": "Enter the code from the email; it looks like ABCD-EFGH.",
        "password": "Passwords need at least 8 characters."}
    assert refused(lambda: activation.set_password(ctx, "portal", "NOPE", NEW_PASSWORD, "something else")) == {
        "code": activation.WRONG_CODE,
        "repeat": "The two passwords are not the same; type the new password again."}
    assert refused(lambda: activation.set_password(ctx, " ", code, NEW_PASSWORD, NEW_PASSWORD)) == {
        "username": "Enter your username (a customer's username is their email address)."}
    assert code_rows(ctx, "portal") == [(0, False, False)]   # codes of the wrong shape are not tries
    # a well-formed wrong code and a short password: both named, and the try counted
    wrong = "AAAA-AAAA" if code != "AAAA-AAAA" else "BBBB-BBBB"
    assert refused(lambda: activation.set_password(ctx, "portal", wrong, "short", "short")) == {
        "code": activation.WRONG_CODE, "password": "Passwords need at least 8 characters."}
    assert code_rows(ctx, "portal") == [(1, False, False)]
    # the right code with a password that will not do: only the password is refused, the code is not spent
    assert refused(lambda: activation.set_password(ctx, "portal", code, "short", "short")) == {
        "password": "Passwords need at least 8 characters."}
    assert code_rows(ctx, "portal") == [(1, False, False)]
    activation.set_password(ctx, "portal", code, NEW_PASSWORD, NEW_PASSWORD)
    assert auth.login(ctx, "portal", NEW_PASSWORD).username == "portal"


def test_five_wrong_codes_void_the_code(ctx, mail_server):
    code = ask(ctx, "portal")
    wrong = "AAAA-AAAA" if code != "AAAA-AAAA" else "BBBB-BBBB"
    for attempt in range(1, 6):
        problems = refused(lambda: activation.set_password(ctx, "portal", wrong, NEW_PASSWORD, NEW_PASSWORD))
        assert problems == {"code": activation.WRONG_CODE}
        assert code_rows(ctx, "portal") == [(attempt, False, attempt == 5)]
    # void: even the right code is refused now, and the email no longer shows it
    assert refused(lambda: activation.set_password(ctx, "portal", code, NEW_PASSWORD, NEW_PASSWORD)) == {
        "code": activation.WRONG_CODE}
    assert places_holding(ctx, code) == []
    with pytest.raises(LoginFailed):
        auth.login(ctx, "portal", NEW_PASSWORD)
    # a new code works
    activation.set_password(ctx, "portal", ask(ctx, "portal"), NEW_PASSWORD, NEW_PASSWORD)
    assert auth.login(ctx, "portal", NEW_PASSWORD).username == "portal"


def test_an_expired_code_is_refused(ctx, mail_server):
    code = ask(ctx, "portal")
    ctx.db.run(lambda con: con.execute("update password_codes set expires_at = ? where username = 'portal'",
                                       [datetime.now(UTC) - timedelta(seconds=1)]))
    assert refused(lambda: activation.set_password(ctx, "portal", code, NEW_PASSWORD, NEW_PASSWORD)) == {
        "code": activation.WRONG_CODE}
    assert code_rows(ctx, "portal") == [(0, False, False)]   # expired, so nothing to count against


def test_a_code_works_once(ctx, mail_server):
    code = ask(ctx, "portal")
    activation.set_password(ctx, "portal", code, NEW_PASSWORD, NEW_PASSWORD)
    assert refused(lambda: activation.set_password(ctx, "portal", code, "another-pass-1", "another-pass-1")) == {
        "code": activation.WRONG_CODE}
    assert auth.login(ctx, "portal", NEW_PASSWORD).username == "portal"   # the first one stands
    assert code_rows(ctx, "portal") == [(0, True, False)]


def test_a_new_code_voids_the_older_one_and_blanks_it_in_its_email(ctx, mail_server):
    first = ask(ctx, "portal")
    second = ask(ctx, "portal")
    assert code_rows(ctx, "portal") == [(0, False, True), (0, False, False)]
    assert places_holding(ctx, first) == []
    assert refused(lambda: activation.set_password(ctx, "portal", first, NEW_PASSWORD, NEW_PASSWORD)) == {
        "code": activation.WRONG_CODE}
    activation.set_password(ctx, "portal", second, NEW_PASSWORD, NEW_PASSWORD)


def test_setting_the_password_clears_a_lockout(ctx, mail_server):
    for _ in range(ctx.settings.login_max_failures):
        with pytest.raises(LoginFailed):
            auth.login(ctx, "portal", "wrong-guess")
    with pytest.raises(LoginFailed, match="locked"):
        auth.login(ctx, "portal", "portal-demo-1")
    activation.set_password(ctx, "portal", ask(ctx, "portal"), NEW_PASSWORD, NEW_PASSWORD)
    assert auth.login(ctx, "portal", NEW_PASSWORD).username == "portal"
    with ctx.db.connect() as con:
        detail = con.execute("select detail from audit_log where action = 'user.password_set'").fetchone()[0]
    assert detail == "with an emailed code; wrong-password count and lock cleared"


# -- the same silence for everyone who cannot get a code -------------------------------------------
def test_unknown_inactive_and_addressless_users_get_the_same_silence(ctx, admin, mail_server):
    users.set_active(ctx, admin, "operator", False)
    before = message_count(ctx)
    for name in ("nobody-at-all", "operator", "viewer", "", "x" * 400):   # viewer has no email address
        started = time.monotonic()
        assert activation.request_code(ctx, name) is None
        assert time.monotonic() - started >= activation.ANSWER_AFTER   # as long as a real one
    assert message_count(ctx) == before
    with ctx.db.connect() as con:
        assert con.execute("select count(*) from password_codes").fetchone()[0] == 0
    started = time.monotonic()
    ask(ctx, "portal")   # a real one takes no longer than the floor plus a little
    assert time.monotonic() - started < activation.ANSWER_AFTER + 1.0
    # and an unknown user's "code" meets the same refusal as a wrong one
    assert refused(lambda: activation.set_password(ctx, "nobody-at-all", "ABCD-EFGH", NEW_PASSWORD,
                                                   NEW_PASSWORD)) == {"code": activation.WRONG_CODE}


def test_without_a_mail_server_nothing_is_queued(ctx):
    before = message_count(ctx)
    assert activation.request_code(ctx, "portal") is None
    assert message_count(ctx) == before and code_rows(ctx, "portal") == []


def test_at_most_three_codes_an_hour(ctx, mail_server):
    codes = [ask(ctx, "portal") for _ in range(3)]
    before = message_count(ctx)
    activation.request_code(ctx, "portal")   # the fourth within the hour: silently nothing
    assert message_count(ctx) == before and len(code_rows(ctx, "portal")) == 3
    # the newest code still works meanwhile; an hour later, asking works again
    ctx.db.run(lambda con: con.execute("update password_codes set created_at = created_at - interval 61 minute"))
    fourth = ask(ctx, "portal")
    assert fourth not in codes
    activation.set_password(ctx, "portal", fourth, NEW_PASSWORD, NEW_PASSWORD)


# -- nothing secret kept -----------------------------------------------------------------------------
def test_only_a_hash_of_the_code_is_kept_and_no_secret_reaches_the_audit(ctx, mail_server):
    code = ask(ctx, "portal")
    plain = code.replace("-", "")
    # until it is used, the code is only in the email waiting to go (the dispatcher must send it)
    assert places_holding(ctx, code) == [("messages", "body")]
    assert places_holding(ctx, plain) == []
    with ctx.db.connect() as con:
        code_hash = con.execute("select code_hash from password_codes").fetchone()[0]
    assert code_hash.startswith("$argon2id$") and plain not in code_hash

    activation.set_password(ctx, "portal", code, NEW_PASSWORD, NEW_PASSWORD)
    assert places_holding(ctx, code) == [] and places_holding(ctx, plain) == []
    assert places_holding(ctx, NEW_PASSWORD) == []
    with ctx.db.connect() as con:
        body = con.execute("select body from messages where subject = ?", [activation.SUBJECT]).fetchone()[0]
        audit = con.execute("select actor, action, target, detail from audit_log "
                            "where action like 'user.password%'").fetchall()
    assert "Code: (used: your password is set)" in body
    assert audit == [("portal", "user.password_set", "portal", "with an emailed code")]


def test_a_customer_added_to_a_company_can_log_in_after_setting_the_password(ctx, nina, mail_server):
    with pytest.raises(LoginFailed, match="Wrong username or password"):
        auth.login(ctx, "nina.novak@example.com", NEW_PASSWORD)
    code = ask(ctx, "nina.novak@example.com")
    activation.set_password(ctx, "nina.novak@example.com", code, NEW_PASSWORD, NEW_PASSWORD)
    user = auth.login(ctx, "nina.novak@example.com", NEW_PASSWORD)
    assert user.customer_id == nina.id and user.roles == ("customer",)
