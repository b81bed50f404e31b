"""`commstui bulk`, `approve`, `reject`, `batch show` and `letters print` as real subprocesses,
ending with a bulk email batch received by a real SMTP server after approval."""

from __future__ import annotations

import json

import pytest
from pypdf import PdfReader

from commstui.delivery.capture import read_outbox
from test_cli import one_line_error, ok, ready_db, ready_template, run, sample_db, sample_template, smtp_set  # noqa: F401

SENDER, APPROVER = ("bulk-sender", "bulk-sender-demo-1"), ("bulk-approver", "bulk-approver-demo-1")


def bulk(db, *args, who=SENDER):
    return run("bulk", "--db", db, "--user", who[0], *args, password=who[1])


def test_a_building_batch_waits_for_approval_then_is_delivered(ready_db, capture):
    smtp_set(ready_db, capture.port)
    made = ok(bulk(ready_db, "--buildings", "HARB", "--channel", "email", "--owners",
                   "--subject", "Lift works at {{ building.name }}",
                   "--body", "Dear {{ recipient.name }}, the lift is off on Monday ({{ customer.account_no }})."))
    assert made.stdout.startswith("Batch 1: 17 email(s); 3 got nothing. Waiting for approval")
    assert "Not generated: A1000002 Customer Rajesh Kumar: no email address" in made.stderr

    ok(run("dispatch", "--once", "--db", ready_db))
    assert read_outbox(capture.outbox) == []  # nothing before approval

    refused = one_line_error(run("approve", "1", "--db", ready_db, "--user", SENDER[0], password=SENDER[1]))
    assert refused == ("Not allowed: bulk-sender is not allowed to approve bulk sends (role bulkApprove).")
    ok(run("approve", "1", "--db", ready_db, "--user", APPROVER[0], "--comment", "fine", password=APPROVER[1]))
    ok(run("dispatch", "--once", "--db", ready_db))

    received = read_outbox(capture.outbox)
    assert len(received) == 17
    to_owner = [m.parse() for m in received if m.to_header == "amelia.hartdavies@example.com"]
    about_rajesh = next(m for m in to_owner if "(A1000002)" in m.get_content())
    assert about_rajesh["Subject"] == "Lift works at Harbourview Towers"
    assert about_rajesh.get_content().startswith("Dear Amelia Hart-Davies, the lift is off on Monday")
    shown = json.loads(ok(run("batch", "show", "1", "--json", "--db", ready_db)).stdout)
    assert (shown["status"], shown["succeeded"], shown["failed"], shown["decided_by"]) == (
        "approved", 17, 3, "bulk-approver")
    assert {f["account_no"] for f in shown["failures"]} == {"A1000002", "A1000006", "A1000020"}


def test_pasted_accounts_report_what_was_left_out(ready_db, tmp_path):
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("A1000001, A1000004\nA1000009 NOPE1 A1000001\n")
    made = ok(bulk(ready_db, "--accounts-file", accounts, "--channel", "email", "--subject", "Hi",
                   "--body", "Hello {{ customer.first_name }}"))
    assert "Batch 1: 2 email(s); 0 got nothing." in made.stdout
    assert made.stderr.splitlines()[:3] == [
        "Left out: line 2: A1000009: the account is inactive",
        "Left out: line 2: NOPE1: no customer has this account number",
        "Left out: line 2: A1000001: listed twice (first on line 1)"]


def test_letters_print_with_the_template_and_a_bad_template_is_refused_at_its_line(ready_db, tmp_path):
    made = ok(bulk(ready_db, "--filter", "building=HARB", "--filter", "preferred=post", "--filter", "status=active",
                   "--template", "Building notice"))
    assert "3 letter(s)" in made.stdout
    ok(run("approve", "1", "--db", ready_db, "--user", APPROVER[0], password=APPROVER[1]))
    printed = ok(run("letters", "print", "1", "--out", tmp_path / "print.pdf", "--db", ready_db))
    assert "3 letter(s) written to" in printed.stdout
    pages = [p.extract_text() for p in PdfReader(tmp_path / "print.pdf").pages]
    assert len(pages) == 3 and "Rajesh Kumar" in pages[0] and "Apt 804" in pages[0]
    ok(run("letters", "mark-posted", "1", "--db", ready_db))
    assert json.loads(ok(run("batch", "show", "1", "--json", "--db", ready_db)).stdout)["succeeded"] == 3

    line = one_line_error(bulk(ready_db, "--buildings", "HARB", "--subject", "x",
                               "--body", "Dear {{ customer.nmae }}"))
    assert line.startswith("Invalid input: Message (line 1): customer.nmae is not a merge field")


def test_unknown_buildings_and_wrong_usage_are_one_line(ready_db):
    assert "no such building code" in one_line_error(bulk(ready_db, "--buildings", "NOWHERE", "--subject", "x",
                                                          "--body", "y"))
    assert one_line_error(bulk(ready_db, "--subject", "x", "--body", "y"), code=2).startswith("Usage error")
    assert "No batch 99" in one_line_error(run("batch", "show", "99", "--db", ready_db))


@pytest.fixture
def capture(tmp_path):
    from commstui.delivery.capture import CaptureServer

    with CaptureServer(tmp_path / "outbox") as server:
        yield server


def test_the_letterhead_is_an_office_setting_printed_on_letters(ready_db, tmp_path):
    shown = ok(run("office", "set", "--db", ready_db, "--letterhead-name", "Quayside Strata",
                   "--letterhead-address", "9 Quay St", "--letterhead-address", "Sydney NSW 2000"))
    assert "letterhead:     Quayside Strata · 9 Quay St · Sydney NSW 2000" in shown.stdout
    assert "one line" in one_line_error(run("office", "set", "--db", ready_db, "--letterhead-name", "a\nb"))

    ok(run("bulk", "--db", ready_db, "--user", SENDER[0], "--accounts-file", "-", "--channel", "letter",
           "--subject", "Hello", "--body", "Dear {{ recipient.name }}", password=SENDER[1], stdin="A1000002\n"))
    ok(run("approve", "1", "--db", ready_db, "--user", APPROVER[0], password=APPROVER[1]))
    ok(run("letters", "print", "1", "--out", tmp_path / "one.pdf", "--db", ready_db))
    text = PdfReader(tmp_path / "one.pdf").pages[0].extract_text()
    assert "Quayside Strata" in text and "9 Quay St" in text and "Dear Rajesh Kumar" in text


def test_batch_list_shows_times_in_the_office_zone(ready_db):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    ok(run("office", "set", "--db", ready_db, "--timezone", "Pacific/Kiritimati"))  # UTC+14: never the host's
    ok(bulk(ready_db, "--buildings", "MILL", "--channel", "email", "--subject", "Hi", "--body", "Hello"))
    created = datetime.fromisoformat(json.loads(ok(run("batch", "show", "1", "--json", "--db", ready_db)).stdout)
                                     ["created_at"])
    listed = ok(run("batch", "list", "--db", ready_db)).stdout.splitlines()
    assert len(listed) == 1 and "pending approval" in listed[0]
    assert f"{created.astimezone(ZoneInfo('Pacific/Kiritimati')):%Y-%m-%d %H:%M}" in listed[0]
