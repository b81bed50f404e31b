"""Companies (CRM): the store's search, paging and scoping, the service's rules for every
role, and `commstui companies list/show` run as a real subprocess.

The rule under test most of all: a crmCompanyView user's unassigned company is invisible
everywhere (list, search, count, by id, by code, its customers, rename, CLI) and refused
with the same words as a company that does not exist, so ids and codes cannot be probed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from commstui.domain import LOCAL_ADMIN
from commstui.services import companies
from commstui.services.errors import PermissionDenied, ValidationError
from commstui.store import companies as companies_store
from commstui.store import users as users_store
from commstui.store.db import NotFound

CODES = ["ACME", "BLUE", "NEST", "WATT"]
MISSING_ID = 987_654


# -- people ------------------------------------------------------------------------------
# username -> (roles, assigned company codes); the sample users first, then combinations
PEOPLE = {
    "admin": (None, []),
    "super": (None, []),
    "company-viewer": (None, []),
    "company-editor": (None, []),
    "crm-viewer": (None, ["ACME"]),
    "crm-editor": (None, ["BLUE"]),
    "viewer": (None, []),
    "t-nobody": ([], []),
    "t-company-pair": (["companyView", "companyEdit"], []),
    "t-crm-pair": (["crmCompanyView", "crmCompanyEdit"], ["BLUE", "NEST"]),
    "t-view-all-edit-assigned": (["companyView", "crmCompanyEdit"], ["BLUE"]),
    "t-crm-view-company-edit": (["crmCompanyView", "companyEdit"], ["WATT"]),
    "t-company-edit-only": (["companyEdit"], []),
    "t-crm-edit-only": (["crmCompanyEdit"], ["BLUE"]),
}


def _set_up_people(con) -> None:
    for username, (roles, codes) in PEOPLE.items():
        if roles is not None and not users_store.exists(con, username):
            users_store.insert(con, username, username, "not-a-real-hash", roles=roles)
        # exactly the companies listed, whatever the sample data assigned
        con.execute("update users set company_ids = [] where username = ?", [username])
        for code in codes:
            companies_store.assign(con, username, code)


@pytest.fixture
def people(ctx):
    ctx.db.run(_set_up_people)
    with ctx.db.connect() as con:
        return {name: users_store.get_by_username(con, name) for name in PEOPLE}


@pytest.fixture
def ids(ctx) -> dict[str, int]:
    with ctx.db.connect() as con:
        return dict(con.execute("select code, id from companies").fetchall())


def visible_codes(ctx, user, text: str = "") -> list[str]:
    return [r.code for r in companies.search(ctx, user, text).rows]


# -- store ---------------------------------------------------------------------------------
def test_search_matches_code_or_name_case_insensitively(ctx):
    with ctx.db.connect() as con:
        assert [r.code for r in companies_store.search(con, "acme").rows] == ["ACME"]
        assert [r.code for r in companies_store.search(con, "  STRATA ").rows] == ["BLUE"]
        # "st" is in "Bluegum Strata" and "Urban Nest": code or name, anywhere
        assert [r.code for r in companies_store.search(con, "st").rows] == ["BLUE", "NEST"]
        assert companies_store.search(con, "no such company").rows == []
        assert companies_store.count(con, "st") == 2
        assert companies_store.count(con) == 4
        acme = companies_store.get_by_code(con, " acme ")
        assert (acme.code, acme.name, acme.customers) == ("ACME", "Acme Property Services", 19)


def test_keyset_paging_returns_every_company_once_in_code_order(ctx):
    def add(con):
        for i in range(250):
            con.execute("insert into companies (code, name) values (?, ?)", [f"P{i:04d}", f"Paged Company {i}"])

    ctx.db.run(add)
    seen, after = [], None
    with ctx.db.connect() as con:
        for _ in range(10):
            page = companies_store.search(con, "paged", after_code=after, limit=100)
            seen += [r.code for r in page.rows]
            if not page.has_more:
                break
            after = page.rows[-1].code
        assert len(seen) == 250 and seen == sorted(set(seen))
        assert companies_store.count(con, "PAGED") == 250


def test_customers_of_a_company_are_paged_by_account(ctx, ids):
    with ctx.db.connect() as con:
        first = companies_store.customers_of(con, ids["ACME"], limit=10)
        rest = companies_store.customers_of(con, ids["ACME"], after_account=first.rows[-1].account_no, limit=10)
        accounts = [c.account_no for c in first.rows + rest.rows]
        assert first.has_more and not rest.has_more
        assert len(accounts) == 19 == len(set(accounts)) and accounts == sorted(accounts)
        expected = [r[0] for r in con.execute(
            "select account_no from customers where company_id = ? order by 1", [ids["ACME"]]).fetchall()]
        assert accounts == expected


def test_assign_is_idempotent_and_scopes_every_query(ctx, ids):
    def assign(con):
        con.execute("update users set company_ids = [] where username = 'crm-viewer'")
        companies_store.assign(con, "crm-viewer", "acme")
        companies_store.assign(con, "crm-viewer", "ACME")
        companies_store.assign(con, "crm-viewer", "WATT")

    ctx.db.run(assign)
    with ctx.db.connect() as con:
        uid = users_store.get_by_username(con, "crm-viewer").id
        assert companies_store.assigned_codes(con, "crm-viewer") == ["ACME", "WATT"]
        assert [r.code for r in companies_store.search(con, assigned_to=uid).rows] == ["ACME", "WATT"]
        assert companies_store.count(con, assigned_to=uid) == 2
        assert companies_store.count(con, "bluegum", assigned_to=uid) == 0
        with pytest.raises(NotFound):
            companies_store.get(con, ids["BLUE"], assigned_to=uid)
        with pytest.raises(NotFound):
            companies_store.get_by_code(con, "BLUE", assigned_to=uid)
    ctx.db.run(lambda con: companies_store.unassign(con, "crm-viewer", "WATT"))
    with ctx.db.connect() as con:
        assert companies_store.assigned_codes(con, "crm-viewer") == ["ACME"]
        with pytest.raises(NotFound, match="No user 'nobody-here'"):
            companies_store.assign(con, "nobody-here", "ACME")
        with pytest.raises(NotFound, match="No company with code 'ZZZ'"):
            companies_store.assign(con, "crm-viewer", "ZZZ")


# -- the role matrix --------------------------------------------------------------------------
ALL = "all"
# what each may view: ALL, a list of codes, or None (refused: PermissionDenied)
SEES = {
    "admin": ALL, "super": ALL, "company-viewer": ALL, "t-company-pair": ALL,
    "t-view-all-edit-assigned": ALL,
    "crm-viewer": ["ACME"], "t-crm-pair": ["BLUE", "NEST"], "t-crm-view-company-edit": ["WATT"],
    "company-editor": ALL, "crm-editor": ["BLUE"],  # the sample gives them view and edit together
    # an edit role alone sees nothing (view and edit go together, as the seed pairs them)
    "t-company-edit-only": None, "t-crm-edit-only": None, "viewer": None, "t-nobody": None,
}
# what each may rename
RENAMES = {
    "admin": ALL, "super": ALL, "t-company-pair": ALL,
    "t-crm-pair": ["BLUE", "NEST"], "t-view-all-edit-assigned": ["BLUE"], "t-crm-view-company-edit": ["WATT"],
    "company-viewer": [], "crm-viewer": [], "company-editor": ALL, "crm-editor": ["BLUE"],
    "t-company-edit-only": None, "t-crm-edit-only": None, "viewer": None, "t-nobody": None,
}


def _same_words(error: Exception, token: str) -> str:
    return str(error).replace(token, "#")


@pytest.mark.parametrize("who", sorted(SEES))
def test_each_role_sees_exactly_its_companies(ctx, people, ids, who):
    user = people[who]
    sees = SEES[who]
    calls = {
        "list": lambda: companies.search(ctx, user),
        "search": lambda: companies.search(ctx, user, "a"),
        "count": lambda: companies.count(ctx, user),
        "get": lambda: companies.get(ctx, user, ids["ACME"]),
        "get_by_code": lambda: companies.get_by_code(ctx, user, "ACME"),
        "customers_of": lambda: companies.customers_of(ctx, user, ids["ACME"]),
        "account": lambda: companies.account(ctx, user, ids["ACME"]),
        "rename": lambda: companies.rename(ctx, user, ids["ACME"], "Anything"),
    }
    if sees is None:
        for name, call in calls.items():
            with pytest.raises(PermissionDenied, match=f"{who} is not allowed to view companies"):
                call()
        assert companies.may_view(user) is False
        return
    assert companies.may_view(user) is True
    visible = CODES if sees == ALL else sees
    assert visible_codes(ctx, user) == visible
    assert companies.count(ctx, user) == len(visible)
    # search narrows within what the user may see, never beyond it
    assert visible_codes(ctx, user, "st") == [c for c in ["BLUE", "NEST"] if c in visible]
    assert companies.count(ctx, user, "st") == len([c for c in ["BLUE", "NEST"] if c in visible])
    for code in CODES:
        if code in visible:
            assert companies.get(ctx, user, ids[code]).code == code
            assert companies.get_by_code(ctx, user, code.lower()).code == code
            found = companies.customers_of(ctx, user, ids[code])
            assert len(found.rows) == companies.get(ctx, user, ids[code]).customers
            continue
        # invisible: exactly what a company that does not exist gives
        with pytest.raises(NotFound) as by_id:
            companies.get(ctx, user, ids[code])
        with pytest.raises(NotFound) as missing_id:
            companies.get(ctx, user, MISSING_ID)
        assert _same_words(by_id.value, str(ids[code])) == _same_words(missing_id.value, str(MISSING_ID))
        assert by_id.value.title == missing_id.value.title
        with pytest.raises(NotFound) as by_code:
            companies.get_by_code(ctx, user, code)
        with pytest.raises(NotFound) as missing_code:
            companies.get_by_code(ctx, user, "ZZZZ")
        assert _same_words(by_code.value, code) == _same_words(missing_code.value, "ZZZZ")
        with pytest.raises(NotFound) as of:
            companies.customers_of(ctx, user, ids[code])
        assert str(of.value) == str(by_id.value)
        with pytest.raises(NotFound):
            companies.account(ctx, user, ids[code])
        if RENAMES[who]:  # an editor: the same not-found
            with pytest.raises(NotFound) as renaming:
                companies.rename(ctx, user, ids[code], "Probe Pty Ltd")
            assert str(renaming.value) == str(by_id.value)
        else:  # no edit role: refused before anything is looked up, the same for any id
            with pytest.raises(PermissionDenied) as renaming:
                companies.rename(ctx, user, ids[code], "Probe Pty Ltd")
            with pytest.raises(PermissionDenied) as renaming_missing:
                companies.rename(ctx, user, MISSING_ID, "Probe Pty Ltd")
            assert str(renaming.value) == str(renaming_missing.value)
        with ctx.db.connect() as con:  # and nothing changed
            assert companies_store.get(con, ids[code]).name != "Probe Pty Ltd"


@pytest.mark.parametrize("who", sorted(RENAMES))
def test_each_role_renames_exactly_its_companies(ctx, people, ids, who):
    user = people[who]
    may = RENAMES[who]
    visible = [] if SEES[who] is None else (CODES if SEES[who] == ALL else SEES[who])
    for code in CODES:
        with ctx.db.connect() as con:
            before = companies_store.get(con, ids[code]).name
        new_name = f"{code} renamed by {who}"
        if may is None or (may == [] and code not in visible):  # no edit role: refused whatever the company
            with pytest.raises(PermissionDenied):
                companies.rename(ctx, user, ids[code], new_name)
        elif may == ALL or code in may:
            saved = companies.rename(ctx, user, ids[code], f"  {new_name}  ")
            assert (saved.code, saved.name) == (code, new_name)
            assert companies.account(ctx, user, ids[code]).may_rename is True
        elif code in visible:  # sees it, may not change it
            with pytest.raises(PermissionDenied):
                companies.rename(ctx, user, ids[code], new_name)
            assert companies.account(ctx, user, ids[code]).may_rename is False
        else:
            with pytest.raises(NotFound):
                companies.rename(ctx, user, ids[code], new_name)
        with ctx.db.connect() as con:
            after = companies_store.get(con, ids[code]).name
        assert after == (new_name if may == ALL or (may and code in may) else before)


def test_a_changed_assignment_applies_at_once(ctx, people, ids):
    user = people["crm-viewer"]
    assert visible_codes(ctx, user) == ["ACME"]
    ctx.db.run(lambda con: companies_store.assign(con, "crm-viewer", "NEST"))
    assert visible_codes(ctx, user) == ["ACME", "NEST"]
    ctx.db.run(lambda con: companies_store.unassign(con, "crm-viewer", "ACME"))
    assert visible_codes(ctx, user) == ["NEST"]
    with pytest.raises(NotFound):
        companies.get(ctx, user, ids["ACME"])


def test_a_deactivated_user_sees_nothing(ctx, people):
    ctx.db.run(lambda con: con.execute("update users set active = false where username = 'company-viewer'"))
    with ctx.db.connect() as con:
        gone = users_store.get_by_username(con, "company-viewer")
    with pytest.raises(PermissionDenied, match="not logged in"):
        companies.search(ctx, gone)
    with pytest.raises(PermissionDenied, match="not logged in"):
        companies.count(ctx, None)


def test_company_customers_do_not_need_customer_view_but_opening_one_does(ctx, people, ids):
    crm = people["crm-viewer"]
    account = companies.account(ctx, crm, ids["ACME"])
    assert len(account.customers.rows) == 19 and account.may_open_customers is False
    assert {"A1000001"} <= {c.account_no for c in account.customers.rows}
    assert companies.account(ctx, people["admin"], ids["ACME"]).may_open_customers is True


@pytest.mark.parametrize("name, field_problem", [
    ("", "needs a name"), ("   ", "needs a name"), ("x" * 121, "at most 120"), ("Evil\x1b[31m", "control"),
])
def test_a_bad_name_is_refused_with_the_field(ctx, ids, name, field_problem):
    with pytest.raises(ValidationError, match=field_problem) as refused:
        companies.rename(ctx, LOCAL_ADMIN, ids["ACME"], name)
    assert refused.value.field == "name"
    assert companies.get(ctx, LOCAL_ADMIN, ids["ACME"]).name == "Acme Property Services"


# -- the command line, as a real subprocess ------------------------------------------------
def run_cli(*args, password: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COMMSTUI_PASSWORD", "COMMSTUI_DB", "COMMSTUI_DEBUG")}
    if password is not None:
        env["COMMSTUI_PASSWORD"] = password
    # cli_companies registers itself on `cli` when imported (cli.py imports it once wired)
    return subprocess.run(
        [sys.executable, "-c", "import commstui.cli_companies, commstui.cli as c; c.main()", "companies",
         *map(str, args)], capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


def ok(result) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def one_line_error(result, code: int = 1) -> str:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def listed_codes(stdout: str) -> list[str]:
    lines = stdout.strip().splitlines()
    assert lines[0].split() == ["CODE", "NAME", "CUSTOMERS"]
    return [line.split()[0] for line in lines[1:]]


def test_cli_lists_and_shows_companies_as_the_local_administrator(ctx, db_path):
    assert listed_codes(ok(run_cli("list", "--db", db_path))) == CODES
    assert listed_codes(ok(run_cli("list", "--search", "STRATA", "--db", db_path))) == ["BLUE"]
    assert ok(run_cli("list", "--search", "zzz-none", "--db", db_path)).strip() == "No company matches 'zzz-none'."
    shown = ok(run_cli("show", "watt", "--db", db_path)).splitlines()
    assert shown[:3] == ["Code       WATT", "Name       Wattle Commercial Leasing", "Customers  3"]
    assert shown[4].split() == ["ACCOUNT", "NAME", "EMAIL", "STATUS"]
    assert len(shown[5:]) == 3
    assert one_line_error(run_cli("show", "ZZZ", "--db", db_path)) == "Not found: No company with code 'ZZZ'."


def test_cli_applies_the_users_scoping(ctx, db_path, people):
    crm = dict(password="crm-viewer-demo-1")
    assert listed_codes(ok(run_cli("list", "--user", "crm-viewer", "--db", db_path, **crm))) == ["ACME"]
    assert ok(run_cli("list", "--search", "strata", "--user", "crm-viewer", "--db", db_path, **crm)).strip() \
        == "No company matches 'strata'."
    shown = ok(run_cli("show", "ACME", "--user", "crm-viewer", "--db", db_path, **crm))
    assert "Customers  19" in shown and "A1000001" in shown
    # an unassigned company and one that does not exist: the same answer
    unassigned = one_line_error(run_cli("show", "BLUE", "--user", "crm-viewer", "--db", db_path, **crm))
    missing = one_line_error(run_cli("show", "ZZZZ", "--user", "crm-viewer", "--db", db_path, **crm))
    assert unassigned == "Not found: No company with code 'BLUE'."
    assert unassigned.replace("BLUE", "#") == missing.replace("ZZZZ", "#")
    refused = one_line_error(run_cli("list", "--user", "viewer", "--db", db_path, password="viewer-demo-1"))
    assert refused.startswith("Not allowed: viewer is not allowed to view companies")
    assert one_line_error(run_cli("list", "--user", "crm-viewer", "--db", db_path)).startswith(
        "Password needed: set COMMSTUI_PASSWORD")
    wrong = one_line_error(run_cli("list", "--user", "crm-viewer", "--db", db_path, password="wrong"))
    assert wrong.startswith("Login failed")
