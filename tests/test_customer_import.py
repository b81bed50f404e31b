"""Customers from CSV and back: the bad-row corpus (tests/data/import_bad_rows.csv),
strict and non-strict imports, re-running, export round trips, spreadsheet formula
injection, permissions, and the CLI as a real subprocess. Real DuckDB files throughout."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from commstui.services import customer_import as ci
from commstui.services import customers
from commstui.services.customer_import import COLUMNS, ImportMode, RowProblem
from commstui.services.customers import CustomerFilter
from commstui.services.errors import PermissionDenied, ValidationError

from conftest import PASSWORDS

CORPUS = Path(__file__).parent / "data" / "import_bad_rows.csv"

# line -> (column, what the reason says): one line per kind of problem in the corpus
EXPECTED = {
    3: ("account_no", "is empty"),
    4: ("account_no", "is also on line 5"),
    5: ("account_no", "is also on line 4"),
    7: ("email", "is not an email address"),
    8: ("mobile", "is not a phone number"),
    9: ("building_code", "is not a building code"),
    10: ("company_code", "is not a company code"),
    11: ("customer_type", "is not a customer type"),
    12: ("status", "is not a status"),
    13: ("preferred_delivery", "must be email, post or sms"),
    14: ("sms_opt_in", "must be yes or no"),
    15: ("name", "has a control character"),
    16: ("name", "is 250 characters long; at most 200 fit"),
    17: ("", "has 10 values but the header has 15 columns"),
    18: ("account_no", "may hold only letters, digits"),
    20: ("name", "is empty"),
}
GOOD_NEW = ["A9000001", "A9000015", "A9000017"]


def write_csv(path: Path, rows: list[dict], header=COLUMNS, encoding="utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=list(header), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def a_row(account: str, **kw) -> dict:
    row = dict(account_no=account, name=f"Person {account}", customer_type="residential", status="active",
               company_code="", building_code="MILL", preferred_delivery="email",
               email=f"{account.lower()}@example.org", mobile="0412 555 000", sms_opt_in="yes",
               address_line1="12 Mill Lane", address_line2="", city="Newtown", state="NSW", postcode="2042")
    row.update(kw)
    return row


def total(ctx, user) -> int:
    return customers.count(ctx, user, CustomerFilter())


# -- the corpus ----------------------------------------------------------------------
def test_the_dry_run_reports_every_bad_row_with_line_column_and_reason(ctx, operator):
    before = total(ctx, operator)
    report = ci.check_file(ctx, operator, CORPUS)
    got = {}
    for p in report.problems:
        assert p.line not in got, f"one problem expected on line {p.line}, got {report.problems}"
        got[p.line] = p
    assert sorted(got) == sorted(EXPECTED)
    for line, (column, reason) in EXPECTED.items():
        assert got[line].column == column, got[line]
        assert reason in got[line].reason, got[line]
    assert got[7].value == "not-an-email@" and got[9].value == "NOPE"
    assert str(got[8]) == "line 8, column mobile: 'call me' is not a phone number (write it like 0412 345 678 " \
                          "or +61412345678)"
    assert "\\x07" in str(got[15])  # the bell shows escaped, never rings a terminal
    assert report.rows == 20 and report.refused == len(EXPECTED)
    # line 6 is an account already in the database: skipped in "add new only", not an error
    assert report.new == len(GOOD_NEW) and report.existing == 1
    assert total(ctx, operator) == before  # a dry run writes nothing


def test_strict_imports_nothing_when_any_row_is_bad(ctx, operator):
    before = total(ctx, operator)
    report = ci.import_file(ctx, operator, CORPUS, strict=True)
    assert report.added == report.updated == 0 and not report.imported
    assert "strict: nothing was imported" in report.summary()
    assert total(ctx, operator) == before
    with pytest.raises(Exception):
        customers.get_by_account(ctx, operator, "A9000001")


def test_non_strict_imports_the_good_rows_and_reports_the_bad(ctx, operator):
    before = total(ctx, operator)
    report = ci.import_file(ctx, operator, CORPUS, strict=False)
    assert (report.added, report.updated, report.skipped) == (3, 0, 1)
    assert len(report.bad_lines) == len(EXPECTED)
    assert total(ctx, operator) == before + 3
    local = customers.get_by_account(ctx, operator, "A9000015")
    assert local.mobile == "+61412345678"  # stored as E.164
    assert customers.get_by_account(ctx, operator, "A9000017").name == "=Formula Name"
    # the existing customer on line 6 was left as it was (its email in the file differs)
    assert customers.get_by_account(ctx, operator, "A1000001").email == "olivia.bennett@example.com"
    # found by the search box, so search_text was filled
    found = customers.search(ctx, operator, CustomerFilter(text="0412 345 678")).rows
    assert "A9000015" in [r.account_no for r in found]
    for account in ("A9000002", "A9000010", "A9000011"):
        with pytest.raises(Exception):
            customers.get_by_account(ctx, operator, account)


def test_running_the_same_import_again_changes_nothing(ctx, operator, tmp_path):
    path = write_csv(tmp_path / "new.csv", [a_row(f"N{i:05d}") for i in range(50)])
    first = ci.import_file(ctx, operator, path, strict=True)
    assert (first.added, first.skipped, first.problems) == (50, 0, [])
    count = total(ctx, operator)
    again = ci.import_file(ctx, operator, path, strict=True)
    assert (again.added, again.updated, again.skipped, again.problems) == (0, 0, 50, [])
    update = ci.import_file(ctx, operator, path, strict=True, mode=ImportMode.UPDATE)
    assert (update.added, update.updated) == (0, 50)
    assert total(ctx, operator) == count


def test_update_overwrites_only_the_columns_in_the_file(ctx, operator, tmp_path):
    path = write_csv(tmp_path / "names.csv", [{"account_no": "A1000001", "name": "Olivia Bennett-Smith"}],
                     header=("account_no", "name"))
    skipped = ci.import_file(ctx, operator, path)
    assert skipped.skipped == 1
    assert customers.get_by_account(ctx, operator, "A1000001").name == "Olivia Bennett"
    report = ci.import_file(ctx, operator, path, mode="update")
    assert report.updated == 1
    c = customers.get_by_account(ctx, operator, "A1000001")
    assert c.name == "Olivia Bennett-Smith" and c.email == "olivia.bennett@example.com"
    assert c.building == "Harbourview Towers"
    hits = customers.search(ctx, operator, CustomerFilter(text="bennett-smith")).rows
    assert [r.account_no for r in hits] == ["A1000001"]


# -- whole-file problems -------------------------------------------------------------
def test_header_problems_stop_the_whole_file(ctx, operator, tmp_path):
    path = write_csv(tmp_path / "h.csv", [{"account_no": "Z1", "nmae": "Typo", "fax": "1"}],
                     header=("account_no", "nmae", "fax"))
    report = ci.import_file(ctx, operator, path)
    assert not report.header_ok and not report.imported and report.refused == 1
    got = {(p.line, p.column): p.reason for p in report.problems}
    assert got[(1, "nmae")].startswith("is not a column an import knows")
    assert got[(1, "fax")].startswith("is not a column")
    assert got[(1, "name")] == "is missing from the header (line 1); it is required"


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"account_no,name\r\n", "has a header but no customer rows"),
    (b"PK\x03\x04\x14\x00\x06\x00", "is a spreadsheet (xlsx) or zip, not CSV"),
    (b"%PDF-1.7\n", "is a PDF"),
    (b"account_no,name\nA1,Zo\xeb\n", "is not UTF-8 text: line 2 has the byte 0xEB"),
    (b"account_no,name\nA1,\"unclosed\nA2,x\n", "is not a CSV file this can read"),
])
def test_files_that_cannot_be_read_get_one_clear_message(ctx, operator, tmp_path, content, message):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        ci.check_file(ctx, operator, path)
    assert message in str(caught.value) and caught.value.field == "file"


def test_a_missing_file_and_a_folder_are_refused_plainly(ctx, operator, tmp_path):
    with pytest.raises(ValidationError, match="There is no file"):
        ci.check_file(ctx, operator, tmp_path / "nope.csv")
    with pytest.raises(ValidationError, match="is a folder"):
        ci.import_file(ctx, operator, tmp_path)


def test_utf8_with_a_byte_order_mark_and_crlf_is_read(ctx, operator, tmp_path):
    path = write_csv(tmp_path / "bom.csv", [a_row("B00001", name="Zoë Nguyễn")], encoding="utf-8-sig")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    report = ci.import_file(ctx, operator, path, strict=True)
    assert report.added == 1
    assert customers.get_by_account(ctx, operator, "B00001").name == "Zoë Nguyễn"


# -- permissions ---------------------------------------------------------------------
def test_a_viewer_may_export_but_not_import(ctx, viewer, tmp_path):
    with pytest.raises(PermissionDenied, match="customerEdit"):
        ci.check_file(ctx, viewer, CORPUS)
    with pytest.raises(PermissionDenied, match="customerEdit"):
        ci.import_file(ctx, viewer, CORPUS)
    assert ci.export_customers(ctx, viewer, CustomerFilter(), tmp_path / "out.csv") == total(ctx, viewer)


def test_nobody_logged_in_may_export(ctx, tmp_path):
    with pytest.raises(PermissionDenied):
        ci.export_customers(ctx, None, CustomerFilter(), tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


# -- export --------------------------------------------------------------------------
def test_export_round_trips_through_import(ctx, admin, tmp_path):
    out = tmp_path / "all.csv"
    n = ci.export_customers(ctx, admin, CustomerFilter(), out, page=7)  # several pages
    assert n == total(ctx, admin)
    assert out.read_bytes().startswith(b"\xef\xbb\xbfaccount_no,name,")
    # into the same file emptied of customers (buildings and companies stay)
    with ctx.db.connect() as con:
        con.execute("create table keep as select * from customers")
        con.execute("delete from contacts")
        con.execute("update customers set owner_id = null")
        con.execute("delete from customers")
    report = ci.import_file(ctx, admin, out, strict=True)
    assert report.problems == [] and report.added == n
    again = tmp_path / "again.csv"
    ci.export_customers(ctx, admin, CustomerFilter(), again)
    assert again.read_bytes() == out.read_bytes()
    with ctx.db.connect() as con:
        diff = con.execute(
            "select count(*) from (select account_no, name, customer_type, status, company_id, building_id, "
            "preferred_delivery, email, mobile, sms_opt_in, address_line1, address_line2, city, state, postcode, "
            "search_text from keep except select account_no, name, customer_type, status, company_id, "
            "building_id, preferred_delivery, email, mobile, sms_opt_in, address_line1, address_line2, city, "
            "state, postcode, search_text from customers)").fetchone()[0]
    assert diff == 0


def test_export_follows_the_customers_filter(ctx, operator, tmp_path):
    options = customers.filter_options(ctx, operator)
    harb = next(b for b in options.buildings if b.code == "HARB")
    flt = CustomerFilter(building_id=harb.id, status="active")
    out = tmp_path / "harb.csv"
    n = ci.export_customers(ctx, operator, flt, out)
    assert n == customers.count(ctx, operator, flt) > 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))
    assert len(rows) == n and {r["building_code"] for r in rows} == {"HARB"} and {r["status"] for r in rows} == {"active"}
    assert [r["account_no"] for r in rows] == sorted(r["account_no"] for r in rows)


def test_formula_cells_are_defused_but_phone_numbers_stay_usable(ctx, admin, tmp_path):
    nasty = {"F0001": "=HYPERLINK(\"http://evil\",\"x\")", "F0002": "+SUM(1,2)", "F0003": "-2+3",
             "F0004": "@cmd", "F0005": "Plain Name"}
    rows = [a_row(acc, name=name, mobile="+61412345678") for acc, name in nasty.items()]
    path = write_csv(tmp_path / "nasty.csv", rows)
    assert ci.import_file(ctx, admin, path, strict=True).added == 5
    out = tmp_path / "out.csv"
    ci.export_customers(ctx, admin, CustomerFilter(text="example.org"), out)
    got = {r["account_no"]: r for r in csv.DictReader(out.open(encoding="utf-8-sig", newline=""))
           if r["account_no"] in nasty}
    assert len(got) == 5
    assert got["F0001"]["name"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert got["F0002"]["name"] == "'+SUM(1,2)"
    assert got["F0003"]["name"] == "'-2+3"
    assert got["F0004"]["name"] == "'@cmd"
    assert got["F0005"]["name"] == "Plain Name"
    assert {r["mobile"] for r in got.values()} == {"+61412345678"}  # dialable, no quote
    assert ci.spreadsheet_safe("mobile", "+61412345678") == "+61412345678"
    assert ci.spreadsheet_safe("mobile", "+1+cmd|' /C calc'!A0") == "'+1+cmd|' /C calc'!A0"
    assert ci.spreadsheet_safe("email", "\tx") == "'\tx" and ci.spreadsheet_safe("city", "\rx") == "'\rx"
    assert ci.spreadsheet_safe("name", "+61412345678") == "'+61412345678"  # only the mobile column is exempt


def test_export_refuses_a_folder_or_a_missing_folder(ctx, admin, tmp_path):
    with pytest.raises(ValidationError, match="is a folder"):
        ci.export_customers(ctx, admin, CustomerFilter(), tmp_path)
    with pytest.raises(ValidationError, match="does not exist"):
        ci.export_customers(ctx, admin, CustomerFilter(), tmp_path / "no" / "x.csv")


def test_row_problem_reads_as_a_sentence():
    assert str(RowProblem(4, "email", "x@", "is not an email address")) == \
        "line 4, column email: 'x@' is not an email address"
    assert str(RowProblem(9, "", "3 values", "has 3 values")) == "line 9: has 3 values"


# -- the CLI, as a real subprocess ------------------------------------------------------
def run_cli(*args, password="operator-demo-1", cwd=None):
    env = {**os.environ, "COMMSTUI_PASSWORD": password}
    code = "import commstui.cli_import, commstui.cli as c; c.main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=cwd)


def test_cli_dry_run_lists_every_bad_row_and_exits_1(ctx, db_path):
    done = run_cli("import", "customers", str(CORPUS), "--user", "operator", "--dry-run", "--db", str(db_path))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == len(EXPECTED)
    assert "line 7, column email: 'not-an-email@' is not an email address" in lines[3]
    assert lines[-1].startswith("line 20, column name: is empty")
    assert done.stdout.startswith("Checked import_bad_rows.csv: 20 rows; 3 would be added, 1 already there "
                                  "would be skipped; 16 refused.")
    assert "Traceback" not in done.stderr


def test_cli_import_then_export_round_trip(ctx, db_path, tmp_path):
    path = write_csv(tmp_path / "in.csv", [a_row(f"C{i:04d}", name=f"=Cmd {i}", email=f"c{i}@cli-test.example")
                                              for i in range(5)])
    done = run_cli("import", "customers", str(path), "--user", "operator", "--strict", "--db", str(db_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Imported in.csv: 5 rows; 5 added, 0 updated, 0 already there skipped; 0 refused.")
    out = tmp_path / "out.csv"
    done = run_cli("export", "customers", "--out", str(out), "--building", "mill", "--search", "cli-test",
                   "--db", str(db_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Exported 5 customers to")
    names = [r["name"] for r in csv.DictReader(out.open(encoding="utf-8-sig", newline=""))]
    assert names == [f"'=Cmd {i}" for i in range(5)]
    again = run_cli("import", "customers", str(out), "--user", "operator", "--update", "--db", str(db_path))
    assert again.returncode == 0 and "0 added, 5 updated" in again.stdout
    assert customers.get_by_account(ctx, ctx_user(ctx), "C0003").name == "=Cmd 3"


def ctx_user(ctx):
    from commstui.services import auth
    return auth.login(ctx, "admin", PASSWORDS["admin"])


@pytest.mark.parametrize("args, password, message", [
    (["import", "customers", "{tmp}/none.csv", "--user", "operator"], "operator-demo-1",
     "Invalid input: There is no file"),
    (["import", "customers", "{corpus}", "--user", "viewer"], "viewer-demo-1", "Not allowed: viewer is not allowed"),
    (["import", "customers", "{corpus}", "--user", "operator"], "wrong", "Login failed"),
    (["export", "customers", "--out", "{tmp}/x.csv", "--building", "NOPE"], "", "Invalid input: --building"),
    (["export", "customers", "--out", "{tmp}"], "", "Invalid input:"),
    (["import", "customers"], "", "Usage error:"),
])
def test_cli_problems_are_one_line(ctx, db_path, tmp_path, args, password, message):
    args = [a.format(tmp=tmp_path, corpus=CORPUS) for a in args]
    done = run_cli(*args, "--db", str(db_path), password=password or "x")
    assert done.returncode in (1, 2)
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith(message), done.stderr
