"""Notes on a customer's account: who said or sent what, when."""

from __future__ import annotations

from ..domain import Note


def add(con, customer_id: int, author: str, text: str) -> int:
    return con.execute(
        "insert into notes (customer_id, author, text) values (?, ?, ?) returning id",
        [customer_id, author, text],
    ).fetchone()[0]


def for_customer(con, customer_id: int, limit: int = 200) -> list[Note]:
    rows = con.execute(
        "select id, customer_id, author, text, created_at from notes where customer_id = ? "
        "order by created_at desc, id desc limit ?",
        [customer_id, limit],
    ).fetchall()
    return [Note(*r) for r in rows]


def add_many(con, rows: list[tuple[int, str, str]]) -> None:
    """(customer_id, author, text) rows in one statement (the dispatcher's batch of sends)."""
    if not rows:
        return
    ids, authors, texts = (list(c) for c in zip(*rows))
    con.execute("insert into notes (customer_id, author, text) "
                "select unnest(?::bigint[]), unnest(?::varchar[]), unnest(?::varchar[])", [ids, authors, texts])
