"""Two `commstui dispatch` processes and one TUI (its own in-process dispatcher) on
one file, nobody crashing: every message is received exactly once, all are
recorded as sent, and more than one dispatcher took part."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from commstui.app import CommsApp
from commstui.services import schedule
from commstui.services.context import Context

from dispatch_procs import DispatchProcess, message_ids, seed, statuses, use_server
from smtp_servers import ScriptedHandler, ScriptedServer

MESSAGES = 500
BATCH = 50
LOG: list = []


def stuck(ctx, handler, app, services) -> str:
    """What is not finished, and who holds it (for a failure message)."""
    with ctx.db.connect() as con:
        rows = con.execute("select message_id, status, lease_owner, lease_expires_at, attempts from messages "
                           "where status <> 'sent' order by id limit 10").fetchall()
    got = Counter(r.message_id for r in handler.received)
    d = app.dispatcher
    tui = (f"{d.owner} (last error {d.last_error!r}, outcomes not yet written "
           f"{len(getattr(d, '_results', []))})") if d else None
    return (f"statuses {statuses(ctx)}; TUI dispatcher {tui}; not sent (received n times): "
            + "; ".join(f"{r[1:]} x{got[r[0]]}" for r in rows)
            + "".join(f"\n{p.name}: {p.stderr[-2000:]}" for p in services)
            + "".join(f"\nTUI log: {r.levelname} {r.getMessage()}" for r in LOG[-20:]))


async def settle(pilot, condition, what: str, services, timeout: float, describe=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        for p in services:
            assert p.alive(), f"{p.name} exited while waiting for {what}:\n{p.stderr}"
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; {await asyncio.to_thread(describe)}")
        await pilot.pause(0.1)


async def test_two_services_and_a_tui_send_each_message_exactly_once(ctx, admin, tmp_path, caplog):
    LOG[:] = []
    caplog.handler.emit = LOG.append  # noqa  (diagnostics for a failure message)
    db = ctx.db.path
    handler = ScriptedHandler(latency=10)  # a relay with a little latency, so the work is shared
    with ScriptedServer(handler) as server:
        use_server(ctx, admin, server.port, concurrency=2)
        seed(ctx, MESSAGES)
        expected = message_ids(ctx)
        assert len(expected) == MESSAGES

        # small claims, so that three dispatchers really share 500 messages
        services = [DispatchProcess(db, tmp_path, name, COMMSTUI_DISPATCH_BATCH=str(BATCH))
                    for name in ("north", "south")]
        try:
            tui_ctx = Context(ctx.db, ctx.settings.model_copy(update={"dispatch_batch": BATCH}))
            app = CommsApp(tui_ctx, admin, run_dispatcher=True)
            async with app.run_test(size=(80, 24)) as pilot:
                await settle(pilot, lambda: len(handler.received) >= MESSAGES, f"{MESSAGES} messages received",
                             services, timeout=120)
                # read in a thread: the database may be busy, and the TUI's loop must keep running
                await settle(pilot, lambda: statuses(ctx)["sent"] == MESSAGES, "all recorded as sent",
                             services, timeout=30, describe=lambda: stuck(ctx, handler, app, services))
                assert app.dispatcher is not None, "the TUI's dispatcher stopped"
                # the status line's list of dispatchers: both services and this TUI
                kinds = lambda: Counter(d.kind for d in schedule.dispatcher_status(ctx, admin).dispatchers)
                await settle(pilot, lambda: kinds() == {"service": 2, "tui": 1}, "three dispatchers seen",
                             services, timeout=15, describe=lambda: f"seen: {kinds()}")
                await pilot.pause(0.5)  # a late duplicate would arrive now
        finally:
            codes = [p.terminate() for p in services]
        for p, code in zip(services, codes):
            assert code == 0, p.stderr
            assert "Traceback" not in p.stderr

    counts = Counter(r.message_id for r in handler.received)
    assert counts == Counter({mid: 1 for mid in expected}), (
        f"sent twice: {[m for m, n in counts.items() if n > 1][:10]}")
    assert all(r.accepted for r in handler.received)
    assert statuses(ctx) == Counter({"sent": MESSAGES})

    with ctx.db.connect() as con:
        owners = Counter(dict(con.execute(
            "select dispatcher, count(*) from message_attempts group by dispatcher").fetchall()))
        sample = [i for (i,) in con.execute("select id from messages using sample 5 rows").fetchall()]
    assert sum(owners.values()) == MESSAGES  # one attempt each
    assert len(owners) >= 2, f"only one dispatcher did the work: {owners}"
    for id in sample:
        [attempt] = schedule.delivery_record(ctx, admin, id).attempts
        assert attempt.outcome == "sent" and attempt.dispatcher in owners
