"""The DuckDB store: migrations, opening the file from several places, a file
held by another process, and the Customers search and paging."""

from __future__ import annotations

import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from commstui.services import customers, setup
from commstui.services.context import Context
from commstui.services.customers import CustomerFilter
from commstui.store import customers as customers_store
from commstui.store.db import Database, DatabaseBusy, StoreError, migrate, migrations, schema_version

# -- migrations ------------------------------------------------------------------------


def test_migration_files_are_numbered_once_each_from_one():
    versions = [v for v, _, _ in migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_migrations_apply_once_and_record_their_version(tmp_path):
    path = tmp_path / "fresh.duckdb"
    with Database(path).connect() as con:
        recorded = con.execute("select version, name from schema_migrations order by version").fetchall()
        assert recorded == [(v, name) for v, name, _ in migrations()]
        assert schema_version(con) == migrations()[-1][0]
        assert migrate(con) == []  # already current: nothing applied again

    # a new process opening the same file applies nothing either
    code = ("import sys; from commstui.store.db import Database\n"
            "with Database(sys.argv[1]).connect() as con:\n"
            "    print(con.execute('select count(*) from schema_migrations').fetchone()[0])\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(migrations())


def test_init_is_idempotent(ctx):
    again = setup.init(ctx, sample=True)
    assert again["migrations_applied"] == [] and again["sample"] == "already loaded"
    assert again["schema_version"] == migrations()[-1][0]


# -- several openers ---------------------------------------------------------------------

def test_a_second_database_on_the_same_path_in_the_same_process_works(tmp_path):
    path = tmp_path / "shared.duckdb"
    tui, dispatcher = Database(path), Database(path)
    with tui.connect() as con:
        # the in-process dispatcher writes while the TUI holds a connection
        dispatcher.run(lambda c: c.execute("insert into notes (customer_id, author, text) values (1, 'x', 'hi')"))
        assert con.execute("select count(*) from notes").fetchone()[0] == 1


def test_two_threads_updating_the_same_row_lose_nothing(tmp_path):
    path = tmp_path / "counter.duckdb"
    Database(path).run(lambda c: c.execute("create table counter (n integer); insert into counter values (0)"))

    errors: list[Exception] = []

    def bump(times):
        db = Database(path)
        try:
            for _ in range(times):
                db.run(lambda c: c.execute("update counter set n = n + 1"))
        except Exception as exc:  # a thread's exception would vanish; keep it for the assert
            errors.append(exc)

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with Database(path).connect() as con:
        assert con.execute("select n from counter").fetchone()[0] == 50


def test_threads_opening_and_closing_the_file_at_once_all_get_in(tmp_path):
    # the Customers screen starts search, count and filter workers together, and the
    # dispatcher runs beside them: every one of those opens and closes the file
    path = tmp_path / "busy-process.duckdb"
    with Database(path).connect():
        pass
    errors: list[Exception] = []

    def reader():
        db = Database(path)
        try:
            for _ in range(150):
                with db.connect() as con:
                    con.execute("select count(*) from customers").fetchone()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold_file(path: Path, seconds: float) -> subprocess.Popen:
    """Another process that opens the file and keeps it for `seconds`; returns once it holds it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    if not ready or proc.stdout.readline().strip() != "holding":
        proc.kill()
        raise AssertionError(f"the holder process did not start: {proc.stderr.read() if not ready else ''}")
    return proc


@pytest.fixture
def made(tmp_path) -> Path:
    path = tmp_path / "held.duckdb"
    with Database(path).connect():
        pass
    return path


def test_a_file_held_by_another_process_raises_database_busy_after_the_timeout(made):
    waits: list[float] = []
    proc = hold_file(made, 3)
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseBusy) as err:
            with Database(made, busy_timeout=0.5, on_busy=waits.append).connect():
                pass
        elapsed = time.monotonic() - started
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert 0.5 <= elapsed < 2.5
    assert err.value.title == "Database busy"
    assert "held.duckdb" in str(err.value) and "held by another program" in str(err.value)
    assert "Traceback" not in str(err.value) and "IO Error" not in str(err.value)
    assert waits and all(0 <= w <= 0.6 for w in waits)  # the UI heard "busy" while it waited
    with Database(made).connect() as con:  # and once the other program is gone, all is well
        assert con.execute("select 1").fetchone() == (1,)


def test_a_file_released_within_the_timeout_is_opened_after_waiting(made):
    proc = hold_file(made, 1.0)
    try:
        started = time.monotonic()
        with Database(made, busy_timeout=10).connect() as con:
            assert con.execute("select 1").fetchone() == (1,)
        assert time.monotonic() - started < 9
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_the_service_reports_a_busy_file_as_a_store_error(ctx, admin):
    busy_ctx = Context.open(ctx.db.path, ctx.settings.model_copy(update={"busy_timeout": 0.3}))
    proc = hold_file(ctx.db.path, 3)
    try:
        with pytest.raises(StoreError) as err:
            customers.count(busy_ctx, admin, CustomerFilter())
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert isinstance(err.value, DatabaseBusy)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database\n" * 100)
    with pytest.raises(StoreError) as err:
        with Database(path).connect():
            pass
    assert "notes.txt" in str(err.value)


# -- search ------------------------------------------------------------------------------

MINE = [
    dict(account_no="Q0000001", name="Zelda Quigley", email="zelda.q@quigley.example", mobile="0412 345 678",
         customer_type="residential", status="active", building="HARB"),
    dict(account_no="Q0000002", name="Quentin ZAPPA", email="QZ@Example.org", mobile="+61 499 888 777",
         customer_type="commercial", status="inactive", building="PARK"),
    dict(account_no="Q0000003", name="100% Percent_Sign Pty Ltd", email=None, mobile=None,
         customer_type="commercial", status="active", building="HARB"),
    dict(account_no="Q0000004", name="[red]Eve[/red] Example", email="eve@example.net", mobile="(02) 9555 0101",
         customer_type="residential", status="active", building="MILL"),
]


@pytest.fixture
def buildings(ctx, admin) -> dict[str, int]:
    return {b.code: b.id for b in customers.filter_options(ctx, admin).buildings}


@pytest.fixture
def mine(ctx, buildings):
    def add(con):
        for c in MINE:
            fields = {k: v for k, v in c.items() if k != "building"}
            customers_store.insert(con, building_id=buildings[c["building"]], **fields)
    ctx.db.run(add)


def found(ctx, user, text="", **flt) -> list[str]:
    page = customers.search(ctx, user, CustomerFilter(text=text, **flt), limit=1000)
    assert not page.has_more
    accounts = [r.account_no for r in page.rows]
    assert customers.count(ctx, user, CustomerFilter(text=text, **flt)) == len(accounts)
    return accounts


@pytest.mark.parametrize("text,expected", [
    ("Q0000002", ["Q0000002"]),
    ("q0000002", ["Q0000002"]),
    ("Q000000", ["Q0000001", "Q0000002", "Q0000003", "Q0000004"]),
    ("quigley", ["Q0000001"]),
    ("ZELDA QUIG", ["Q0000001"]),
    ("  zappa ", ["Q0000002"]),
    ("qz@example.org", ["Q0000002"]),
    ("@QUIGLEY.example", ["Q0000001"]),
    ("0412 345", ["Q0000001"]),
    ("0412345678", ["Q0000001"]),
    ("412-345-678", ["Q0000001"]),
    ("499 888", ["Q0000002"]),
    ("+61 499 888 777", ["Q0000002"]),
    ("(02) 9555", ["Q0000004"]),
    ("95550101", ["Q0000004"]),
    ("[red]eve", ["Q0000004"]),
    ("100%", ["Q0000003"]),
    ("percent_sign", ["Q0000003"]),
    ("xyzzy-nobody", []),
])
def test_one_box_searches_account_name_email_and_phone(ctx, admin, mine, text, expected):
    assert [a for a in found(ctx, admin, text) if a.startswith("Q")] == expected
    if not expected:
        assert found(ctx, admin, text) == []


@pytest.mark.parametrize("text", ["%", "_"])
def test_like_wildcards_are_plain_characters(ctx, admin, mine, text):
    rows = customers.search(ctx, admin, CustomerFilter(text=text), limit=1000).rows
    assert "Q0000003" in [r.account_no for r in rows]
    assert all(text in f"{r.account_no} {r.name} {r.email or ''}".lower() for r in rows)


def test_a_mobile_stored_internationally_is_found_by_its_local_number(ctx, admin, mine):
    # operators type the number the customer reads out: 0499 888 777 is +61 499 888 777
    assert "Q0000002" in found(ctx, admin, "0499 888 777")
    assert "Q0000002" in found(ctx, admin, "0499888")


def test_filters_narrow_the_search(ctx, admin, mine, buildings):
    assert [a for a in found(ctx, admin, "Q0000", building_id=buildings["HARB"])] == ["Q0000001", "Q0000003"]
    assert found(ctx, admin, "Q0000", status="inactive") == ["Q0000002"]
    assert found(ctx, admin, "Q0000", customer_type="commercial") == ["Q0000002", "Q0000003"]
    assert found(ctx, admin, "Q0000", customer_type="commercial", status="active",
                 building_id=buildings["HARB"]) == ["Q0000003"]
    assert found(ctx, admin, "zelda", building_id=buildings["PARK"]) == []
    # a filter alone, no text
    harb = found(ctx, admin, building_id=buildings["HARB"])
    assert "Q0000001" in harb and "Q0000004" not in harb


def test_filter_options_list_what_is_there(ctx, admin, mine):
    options = customers.filter_options(ctx, admin)
    assert {"HARB", "PARK", "MILL"} <= {b.code for b in options.buildings}
    assert {"residential", "commercial"} <= set(options.customer_types)
    assert {"active", "inactive"} <= set(options.statuses)


def test_search_rows_carry_what_the_grid_shows(ctx, admin, mine):
    [row] = customers.search(ctx, admin, CustomerFilter(text="Q0000001")).rows
    assert (row.account_no, row.name, row.email, row.mobile, row.customer_type, row.status) == (
        "Q0000001", "Zelda Quigley", "zelda.q@quigley.example", "0412 345 678", "residential", "active")
    assert row.building == "Harbourview Towers"


# -- keyset paging ------------------------------------------------------------------------

@pytest.fixture
def seeded(ctx):
    setup.seed_customers(ctx, 1000)


def page_through(ctx, user, flt, limit):
    seen, after, pages = [], None, 0
    while True:
        page = customers.search(ctx, user, flt, after_account=after, limit=limit)
        pages += 1
        seen += [r.account_no for r in page.rows]
        if not page.has_more:
            return seen, pages
        assert len(page.rows) == limit
        after = page.rows[-1].account_no
        assert pages < 10_000


@pytest.mark.parametrize("flt", [CustomerFilter(), CustomerFilter(text="smith", status="active"),
                                 CustomerFilter(customer_type="commercial")], ids=["all", "text+status", "type"])
def test_keyset_paging_returns_every_row_exactly_once(ctx, admin, seeded, flt):
    seen, pages = page_through(ctx, admin, flt, limit=97)
    total = customers.count(ctx, admin, flt)
    assert total > 0
    assert len(seen) == len(set(seen)) == total
    assert seen == sorted(seen)
    assert pages == total // 97 + 1


def test_a_page_ending_exactly_at_the_last_row_says_there_is_no_more(ctx, admin, seeded):
    total = customers.count(ctx, admin, CustomerFilter())
    page = customers.search(ctx, admin, CustomerFilter(), limit=total)
    assert len(page.rows) == total and page.has_more is False
    after_last = customers.search(ctx, admin, CustomerFilter(), after_account=page.rows[-1].account_no)
    assert after_last.rows == [] and after_last.has_more is False


def test_seeding_adds_the_asked_number_with_searchable_text(ctx, admin, seeded):
    assert customers.count(ctx, admin, CustomerFilter(text="S0000")) == 1000
    one = customers.search(ctx, admin, CustomerFilter(text="s00000500")).rows
    assert [r.account_no for r in one] == ["S00000500"]
    assert one[0].email and "S00000500" in found(ctx, admin, one[0].email.upper())
    assert one[0].mobile and "S00000500" in found(ctx, admin, one[0].mobile[-8:])


def test_seeding_twice_continues_the_numbering(ctx, admin, seeded):
    setup.seed_customers(ctx, 10)
    assert customers.count(ctx, admin, CustomerFilter(text="S0000")) == 1010
    assert found(ctx, admin, "S00001010") == ["S00001010"]



# -- recording sends ---------------------------------------------------------------------

def test_mark_sent_records_only_rows_whose_lease_is_still_held(tmp_path):
    from datetime import UTC, datetime, timedelta

    from commstui.store import messages

    db = Database(tmp_path / "sent.duckdb")
    now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def setup_rows(con):
        ids = [messages.insert(con, message_id=f"<m{i}@x>", customer_id=None, to_addrs=[f"a{i}@example.org"],
                               created_by="t", due_at=now) for i in range(3)]
        messages.claim(con, "me", now, now + timedelta(minutes=5), 10)
        # the second went partly earlier: one recipient still owed
        con.execute("update messages set pending_rcpts = ['a1@example.org'] where id = ?", [ids[1]])
        # the third's lease ran out and another dispatcher took it
        con.execute("update messages set lease_owner = 'other' where id = ?", [ids[2]])
        return ids

    ids = db.run(setup_rows)
    times = [now + timedelta(seconds=i) for i in range(3)]
    done = db.run(lambda con: messages.mark_sent_columns(con, "me", ids, ["250 a", "250 b", "250 c"], times))
    assert done == ids[:2]
    rows = db.run(lambda con: con.execute(
        "select status, server_reply, sent_at, pending_rcpts, lease_owner from messages order by id").fetchall())
    assert rows[0] == ("sent", "250 a", times[0], None, None)
    assert rows[1] == ("sent", "250 b", times[1], None, None)
    assert rows[2][0] == "sending" and rows[2][1] is None and rows[2][4] == "other"
