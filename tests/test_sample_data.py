"""The curated sample data: it loads, loads only once, every role has a user who
logs in with the password README.md documents, and it is varied enough to demo."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from email_validator import validate_email

from commstui.config import Settings
from commstui.domain import Role
from commstui.services import auth, customers, setup
from commstui.services.context import Context
from commstui.services.customers import CustomerFilter

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def read_csv(name: str) -> list[dict]:
    with open(SAMPLE / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def documented_passwords() -> dict[str, str]:
    """username -> password from README.md's Demo users table."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## Demo users", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", section, flags=re.M))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[Context, dict]:
    """One database with the sample loaded (hashing 13 passwords takes seconds; do it once)."""
    folder = tmp_path_factory.mktemp("sample")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COMMSTUI_CONFIG_DIR", str(folder / "config"))
        ctx = Context.open(folder / "sample.duckdb", Settings())
        first = setup.init(ctx, sample=True)
    return ctx, first


def table_counts(ctx: Context) -> dict[str, int]:
    with ctx.db.connect() as con:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("customers", "buildings", "brands", "companies", "users", "group_roles")}


def test_the_sample_loads_and_a_second_load_changes_nothing(loaded):
    ctx, first = loaded
    assert first["sample"] == "loaded"
    before = table_counts(ctx)
    assert before == {"customers": len(read_csv("customers.csv")), "buildings": 3, "brands": 2,
                      "companies": len(read_csv("companies.csv")), "users": len(json.loads(
                          (SAMPLE / "users.json").read_text("utf-8"))["users"]), "group_roles": 1}
    assert 50 <= before["customers"] <= 80 and 3 <= before["companies"] <= 4

    again = setup.init(ctx, sample=True)
    assert again["sample"] == "already loaded"
    assert table_counts(ctx) == before


def test_every_role_has_a_user_who_logs_in_with_the_documented_password(loaded):
    ctx, _ = loaded
    people = json.loads((SAMPLE / "users.json").read_text("utf-8"))["users"]
    documented = documented_passwords()
    assert documented == {p["username"]: p["password"] for p in people}, "README.md Demo users table is stale"

    holders: dict[str, list[str]] = {role.value: [] for role in Role}
    for username, password in documented.items():
        user = auth.login(ctx, username, password)
        for role in user.effective_roles:
            holders[role].append(username)
    assert all(holders.values()), f"roles nobody holds: {[r for r, who in holders.items() if not who]}"
    # the three users the other tests rely on keep their passwords and powers
    assert auth.login(ctx, "admin", "admin-demo-1").is_admin
    assert auth.login(ctx, "viewer", "viewer-demo-1").effective_roles == {"customerView"}
    assert auth.login(ctx, "operator", "operator-demo-1").effective_roles == {"customerView", "customerEdit"}


def test_the_accounts_tests_rely_on_are_unchanged(loaded):
    ctx, _ = loaded
    admin = auth.login(ctx, "admin", "admin-demo-1")
    olivia = customers.get_by_account(ctx, admin, "A1000001")
    assert (olivia.name, olivia.email, olivia.building, olivia.preferred_delivery) == (
        "Olivia Bennett", "olivia.bennett@example.com", "Harbourview Towers", "email")
    rajesh = customers.get_by_account(ctx, admin, "A1000002")
    assert (rajesh.name, rajesh.email, rajesh.preferred_delivery) == ("Rajesh Kumar", None, "post")
    mallory = customers.get_by_account(ctx, admin, "A1000003")
    assert mallory.name == "[bold]Mallory[/bold] Tables" and mallory.building == "Parkside Gardens"


def test_the_sample_is_varied_like_a_real_office(loaded):
    ctx, _ = loaded
    rows = read_csv("customers.csv")
    names = [r["name"] for r in rows]
    assert "Zoë O'Connor" in names
    assert sum(any(ord(ch) > 127 for ch in n) for n in names) >= 8  # accents and other scripts
    assert sum("'" in n for n in names) >= 3
    assert Counter(r["building_code"] for r in rows).keys() == {"HARB", "PARK", "MILL"}
    buildings = {b["code"]: b["brand"] for b in read_csv("buildings.csv")}
    assert len(set(buildings.values())) == 2
    assert {r["company_code"] for r in rows} - {""} == {c["code"] for c in read_csv("companies.csv")}
    assert Counter(r["preferred_delivery"] for r in rows).keys() == {"email", "post", "sms"}
    assert {r["customer_type"] for r in rows} == {"residential", "commercial"}
    assert 3 <= sum(r["status"] == "inactive" for r in rows) <= 8
    assert sum(not r["email"] for r in rows) >= 5
    assert sum(not r["mobile"] for r in rows) >= 5
    assert sum(r["sms_opt_in"] == "true" for r in rows) >= 10

    admin = auth.login(ctx, "admin", "admin-demo-1")
    assert customers.count(ctx, admin, CustomerFilter(status="inactive")) == sum(
        r["status"] == "inactive" for r in rows)
    assert customers.count(ctx, admin, CustomerFilter(text="o'connor")) == 1


def test_the_sample_is_consistent(tmp_path):
    rows = read_csv("customers.csv")
    accounts = [r["account_no"] for r in rows]
    assert accounts == [f"A{1000001 + i}" for i in range(len(rows))]  # unique and in order
    for r in rows:
        if r["email"]:
            validate_email(r["email"], check_deliverability=False)
            domain = r["email"].rsplit("@", 1)[1]
            # RFC 2606 names only: a demo can never mail a real person
            assert re.fullmatch(r"([a-z0-9-]+\.)*example\.(com|net|org)", domain), r["email"]
        if r["preferred_delivery"] == "email":
            assert r["email"], f"{r['account_no']} prefers email but has none"
        if r["preferred_delivery"] == "sms" or r["sms_opt_in"] == "true":
            assert r["mobile"], f"{r['account_no']} wants SMS but has no mobile"
        if r["mobile"]:
            assert re.fullmatch(r"\+614\d{8}", r["mobile"]), r["mobile"]
        assert r["address_line1"] and r["city"] and r["postcode"]
