"""Creating a database, loading the curated sample data, seeding scale data."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, datetime
from importlib import resources

from ..store import addresses as addresses_store
from ..store import customers as customers_store
from ..store import companies as companies_store
from ..store import contacts as contacts_store
from ..store import documents as documents_store
from ..store import mail_servers as mail_store
from ..store import office as office_store
from ..store import templates as templates_store
from ..store import users as users_store
from ..store.customers import SEARCH_TEXT_SQL
from ..store.db import migrate, schema_version
from .auth import hash_password
from .context import Context
from .errors import ValidationError


def init(ctx: Context, sample: bool = False) -> dict:
    """Create or migrate the file; with sample=True load the demo set once. Idempotent."""
    with ctx.db.connect() as con:
        applied = ctx.db.applied_migrations + migrate(con)
        version = schema_version(con)
    loaded = load_sample(ctx) if sample else {}
    return {"db": str(ctx.db.path), "schema_version": version, "migrations_applied": applied, **loaded}


def _rows(name: str) -> list[dict]:
    text = resources.files("commstui.sample_data").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def load_sample(ctx: Context) -> dict:
    """Load sample_data/ unless it is already there (checked by the first sample account)."""
    customers = _rows("customers.csv")
    buildings = _rows("buildings.csv")
    companies = _rows("companies.csv")
    people = json.loads(resources.files("commstui.sample_data").joinpath("users.json").read_text("utf-8"))
    office = json.loads(resources.files("commstui.sample_data").joinpath("office.json").read_text("utf-8"))

    def load(con):
        first = customers[0]["account_no"]
        if con.execute("select count(*) from customers where account_no = ?", [first]).fetchone()[0]:
            return {"sample": "already loaded"}
        brand_ids, building_ids, company_ids = {}, {}, {}
        for b in buildings:
            if b["brand"] not in brand_ids:
                row = con.execute("select id from brands where name = ?", [b["brand"]]).fetchone()
                brand_ids[b["brand"]] = row[0] if row else con.execute(
                    "insert into brands (name) values (?) returning id", [b["brand"]]).fetchone()[0]
            building_ids[b["code"]] = con.execute(
                "insert into buildings (code, name, brand_id, address) values (?, ?, ?, ?) returning id",
                [b["code"], b["name"], brand_ids[b["brand"]], _none(b.get("address"))]).fetchone()[0]
        for c in companies:
            company_ids[c["code"]] = con.execute(
                "insert into companies (code, name) values (?, ?) returning id", [c["code"], c["name"]]
            ).fetchone()[0]
        for c in customers:
            customers_store.insert(
                con, account_no=c["account_no"], name=c["name"], customer_type=c["customer_type"],
                status=c["status"], company_id=company_ids.get(c.get("company_code") or ""),
                building_id=building_ids.get(c.get("building_code") or ""),
                preferred_delivery=c["preferred_delivery"], email=_none(c.get("email")),
                mobile=_none(c.get("mobile")), sms_opt_in=c.get("sms_opt_in", "").lower() in ("1", "true", "yes"),
                address_line1=_none(c.get("address_line1")), address_line2=_none(c.get("address_line2")),
                city=_none(c.get("city")), state=_none(c.get("state")), postcode=_none(c.get("postcode")))
        _load_people_around(con)
        documents_store.load_samples(con)
        office_store.put(con, {k: v for k, v in office.items() if k not in office_store.get_all(con)}, "sample")
        if resources.files("commstui.sample_data").joinpath("templates.json").is_file():
            templates_store.load_samples(con, "sample")
        for g in people.get("group_roles", []):
            users_store.upsert_group_role(con, g["name"], g["roles"], g.get("description"))
        for u in people["users"]:
            if not users_store.exists(con, u["username"]):
                portal_account = u.get("customer_account_no")  # a portal user: their own account
                users_store.insert(con, u["username"], u["display_name"], hash_password(u["password"]),
                                   roles=u.get("roles", []), group_roles=u.get("group_roles", []),
                                   email=u.get("email"), customer_id=customers_store.get_by_account(
                                       con, portal_account).id if portal_account else None)
        for a in _rows("company_assignments.csv"):  # the crm roles see only these
            companies_store.assign(con, a["username"], a["company_code"])
        return {"sample": "loaded", "customers": len(customers), "buildings": len(buildings),
                "companies": len(companies), "users": len(people["users"])}

    return ctx.db.run(load)


def _load_people_around(con) -> None:
    """Location owners and contacts flagged for notices (bulk sends include them on request)."""
    ids = dict(con.execute("select account_no, id from customers").fetchall())
    for row in _rows("owners.csv"):
        con.execute("update customers set owner_id = ? where id = ?",
                    [ids[row["owner_account_no"]], ids[row["account_no"]]])
    _load_address_contacts(con, ids)
    for row in _rows("contacts.csv"):
        contacts_store.insert(con, customer_id=ids[row["account_no"]], name=row["name"], email=_none(row["email"]),
                              phone=_none(row["phone"]), mobile=_none(row["mobile"]),
                              receives_notices=row["receives_notices"] == "true",
                              sms_opt_in=row["sms_opt_in"] == "true")


def _load_address_contacts(con, ids: dict[str, int]) -> None:
    """Additional contacts on service addresses (seed 002); a row with a label adds that address."""
    addresses: dict[tuple[str, str], int] = {}
    for row in _rows("address_contacts.csv"):
        customer_id = ids[row["account_no"]]
        key = (row["account_no"], row["address_label"])
        if key not in addresses:
            found = [a for a in addresses_store.for_customer(con, customer_id)
                     if a.label == row["address_label"]]
            addresses[key] = found[0].id if found else addresses_store.insert(
                con, customer_id, label=row["address_label"], address_line1=row["address_line1"],
                address_line2=_none(row["address_line2"]), city=_none(row["city"]), state=_none(row["state"]),
                postcode=_none(row["postcode"]))
        addresses_store.update(con, addresses[key], "sample",
                               additional_comms=row["additional_comms"] == "true")
        if _none(row["name"]) or _none(row["email"]):
            addresses_store.add_contact(con, addresses[key], name=row["name"], email=_none(row["email"]),
                                        phone=_none(row["phone"]), updated_by="sample")


_FIRST = ["Olivia", "Noah", "Charlotte", "Jack", "Amelia", "William", "Isla", "Oliver", "Mia", "Leo",
          "Ava", "Henry", "Grace", "Lucas", "Chloe", "Thomas", "Zoe", "James", "Ruby", "Ethan",
          "Priya", "Wei", "Fatima", "Mateo", "Aisha", "Hiroshi", "Sofia", "Arjun", "Elena", "Kofi"]
_LAST = ["Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson", "Martin", "White",
         "Anderson", "Walker", "Thompson", "Harris", "Lee", "Ryan", "Robinson", "Kelly", "King", "Davis",
         "Patel", "Chen", "Singh", "Garcia", "Kim", "Müller", "O'Brien", "Rossi", "Novak", "Haddad"]
_STREETS = ["High St", "Station Rd", "Park Ave", "Church St", "Victoria Rd", "Queen St", "King St",
            "Mill Lane", "George St", "Elizabeth St"]


def seed_customers(ctx: Context, n: int, chunk: int = 250_000) -> int:
    """Add n synthetic customers (accounts S00000001...), in chunks so nobody waits long on the lock."""
    if n <= 0:
        return 0

    def start(con):
        if not con.execute("select count(*) from buildings").fetchone()[0]:
            brand = con.execute("insert into brands (name) values ('Seeded') returning id").fetchone()[0]
            for i in range(1, 4):
                con.execute("insert into buildings (code, name, brand_id) values (?, ?, ?)",
                            [f"SEED{i}", f"Seeded Building {i}", brand])
        row = con.execute("select max(cast(substr(account_no, 2) as bigint)) from customers "
                          "where account_no similar to 'S[0-9]{8}'").fetchone()
        return (row[0] or 0) + 1

    first = ctx.db.run(start)
    done = 0
    while done < n:
        size = min(chunk, n - done)
        lo = first + done

        def insert(con, lo=lo, size=size):
            since = addresses_store.highest_customer_id(con)
            con.execute(
                f"""
                insert into customers (account_no, name, customer_type, status, building_id,
                    preferred_delivery, email, mobile, sms_opt_in, address_line1, city, state, postcode,
                    search_text)
                select account_no, name, customer_type, status, building_id, preferred_delivery, email,
                       mobile, sms_opt_in, address_line1, city, state, postcode, {SEARCH_TEXT_SQL}
                from (
                  select 'S' || lpad(i::varchar, 8, '0') as account_no,
                         f[1 + (i * 7) % len(f)] || ' ' || l[1 + (i * 13) % len(l)] as name,
                         case when i % 5 = 0 then 'commercial' else 'residential' end as customer_type,
                         case when i % 23 = 0 then 'inactive' else 'active' end as status,
                         b[1 + i % len(b)] as building_id,
                         case when i % 4 = 0 then 'post' else 'email' end as preferred_delivery,
                         case when i % 9 = 0 then null
                              else lower(f[1 + (i * 7) % len(f)]) || '.' || i || '@example.net' end as email,
                         case when i % 6 = 0 then null
                              else '+614' || lpad(((i * 7919) % 100000000)::varchar, 8, '0') end as mobile,
                         i % 3 = 0 as sms_opt_in,
                         (1 + i % 250)::varchar || ' ' || s[1 + i % len(s)] as address_line1,
                         'Springfield' as city, 'NSW' as state,
                         lpad((2000 + i % 900)::varchar, 4, '0') as postcode
                  from range(?, ?) t(i),
                       (select ? as f, ? as l, ? as s,
                               (select list(id order by id) from buildings) as b)
                )
                """,
                [lo, lo + size, _FIRST, _LAST, _STREETS],
            )
            addresses_store.add_first_addresses(con, since)  # one statement per chunk, like the insert

        ctx.db.run(insert)
        done += size
    return done


def seed_messages(ctx: Context, n: int, chunk: int = 50_000, due_at: datetime | None = None,
                  subject: str = "Drill message") -> int:
    """Queue n synthetic emails, due now (or at due_at), to customers that have an email
    address, one recipient each — for delivery drills and benchmarks."""
    if n <= 0:
        return 0
    due = (due_at or datetime.now(UTC)).astimezone(UTC)

    def domain(con):
        server = mail_store.active(con)
        count = con.execute("select count(*) from customers where email is not null").fetchone()[0]
        if not count:
            raise ValidationError("No customer has an email address to send drill messages to.", "customers")
        return (server.from_addr.rpartition("@")[2] if server else "commstui.local"), count

    host, _ = ctx.db.run(domain)
    run = uuid.uuid4().hex[:8]
    done = 0
    while done < n:
        size = min(chunk, n - done)

        def insert(con, lo=done, size=size):
            con.execute(
                """
                insert into messages (message_id, customer_id, to_addrs, subject, body, created_by, due_at,
                                      scheduled_at)
                select '<drill-' || ? || '-' || (i + ?) || '@' || ? || '>', c.id, [c.email],
                       ? || ' ' || (i + ? + 1), 'This is a delivery drill from commstui. No action needed.' || chr(10),
                       'seed', ?, ?
                from range(?) r(i)
                join (select id, email, row_number() over (order by id) - 1 as k
                      from customers where email is not null) c
                  on c.k = (i + ?) % (select count(*) from customers where email is not null)
                """, [run, lo, host, subject, lo, due, due, size, lo])

        ctx.db.run(insert)
        done += size
    return done
