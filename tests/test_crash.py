"""A dispatcher killed with SIGKILL in the middle of a few thousand sends loses nothing.

`commstui dispatch` (a real process) sends 3,000 seeded emails to a mail server in
this process; at a random point after some have arrived it is killed outright, and
a new one is started on the same file. Its leases are short (COMMSTUI_LEASE_SECONDS),
so what the dead one had claimed is taken over quickly. At the end: every message
arrived at least once, every resend carries the Message-ID of the first copy (and
the same content), there are no more resends than the mail server's connections
(the sends in flight when it died), and `commstui log --json` says sent for all.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections import Counter

from dispatch_procs import (DispatchProcess, commstui, env, message_ids, seed, seed_cli, statuses, use_server,
                            wait_for)
from smtp_servers import ScriptedHandler, ScriptedServer

MESSAGES = 3000
CONCURRENCY = 4
LEASE = "2"


def test_sigkill_mid_run_then_restart_sends_everything_at_least_once_with_few_duplicates(
        ctx, admin, tmp_path):
    rng_seed = int(os.environ.get("COMMSTUI_CRASH_SEED") or time.time_ns() % 1_000_000)
    kill_after = random.Random(rng_seed).randint(100, MESSAGES * 3 // 4)
    why = f"(COMMSTUI_CRASH_SEED={rng_seed}: killed after {kill_after} received)"
    db = ctx.db.path
    handler = ScriptedHandler()
    with ScriptedServer(handler) as server:
        use_server(ctx, admin, server.port, CONCURRENCY)
        seed_cli(db, MESSAGES)
        expected = message_ids(ctx)
        assert len(expected) == MESSAGES and set(expected.values()) == {"queued"}

        first = DispatchProcess(db, tmp_path, "first", COMMSTUI_LEASE_SECONDS=LEASE)
        try:
            wait_for(lambda: len(handler.received) >= kill_after, timeout=60,
                     what=f"{kill_after} messages received {why}", step=0.002, watch=[first])
        finally:
            first.kill()
        at_kill = len(handler.received)
        assert at_kill < MESSAGES, f"the first dispatcher finished before it could be killed {why}"

        second = DispatchProcess(db, tmp_path, "second", COMMSTUI_LEASE_SECONDS=LEASE)
        try:
            wait_for(lambda: set(handler.accepted_ids()) >= set(expected), timeout=120,
                     what=f"every message received after the restart {why}", step=0.1, watch=[second])
            wait_for(lambda: statuses(ctx)["sent"] == MESSAGES, timeout=30,
                     what=f"every message recorded as sent {why}", step=0.2, watch=[second])
        finally:
            code = second.terminate()
        assert code == 0, second.stderr
        assert "Traceback" not in second.stderr

    received = handler.accepted
    counts = Counter(r.message_id for r in received)
    assert set(counts) == set(expected), f"unknown or missing Message-IDs {why}"  # a resend keeps its ID
    duplicates = {mid: n for mid, n in counts.items() if n > 1}
    assert sum(n - 1 for n in duplicates.values()) <= CONCURRENCY, (
        f"{sum(n - 1 for n in duplicates.values())} resends for {CONCURRENCY} connections {why}: "
        f"{sorted(duplicates.items())[:10]}")
    for mid in duplicates:  # the same message, not just the same ID
        copies = [r.parse() for r in received if r.message_id == mid]
        assert len({(str(c["Subject"]), str(c["To"]), str(c["Date"]), c.get_body().get_content())
                    for c in copies}) == 1
        assert len({r.rcpt_tos for r in received if r.message_id == mid}) == 1

    logged = subprocess.run([*commstui(), "log", "--json", "--limit", str(MESSAGES * 2), "--db", str(db)],
                            capture_output=True, text=True, timeout=60, env=env())
    assert logged.returncode == 0, logged.stderr
    log = json.loads(logged.stdout)
    assert len(log) == MESSAGES
    assert Counter(m["status"] for m in log) == {"sent": MESSAGES}
    assert {m["message_id"] for m in log} == set(expected)
    with ctx.db.connect() as con:
        assert con.execute("select count(*) from messages where lease_owner is not null").fetchone()[0] == 0


def test_sigterm_mid_run_finishes_in_flight_sends_records_them_and_releases_the_rest(ctx, admin, tmp_path):
    """The polite stop: what the server accepted is recorded as sent, everything else is
    back to queued with no attempt used and no lease; a restart sends each of those once."""
    n = 1000
    db = ctx.db.path
    handler = ScriptedHandler(latency=5)
    with ScriptedServer(handler) as server:
        use_server(ctx, admin, server.port, CONCURRENCY)
        seed(ctx, n)
        expected = message_ids(ctx)

        service = DispatchProcess(db, tmp_path, "service")
        try:
            wait_for(lambda: len(handler.received) >= 100, timeout=60, what="100 messages received",
                     step=0.005, watch=[service])
        finally:
            stopping = time.monotonic()
            code = service.terminate(timeout=30)
        assert code == 0, service.stderr
        assert time.monotonic() - stopping < 10, "SIGTERM must not wait for the whole queue"
        assert "Traceback" not in service.stderr
        at_stop = Counter(handler.accepted_ids())
        assert sum(at_stop.values()) < n, "it finished everything before the SIGTERM arrived"

        with ctx.db.connect() as con:
            rows = con.execute("select message_id, status, attempts, lease_owner from messages").fetchall()
        sent = {mid for mid, status, _, _ in rows if status == "sent"}
        assert sent == set(at_stop), "what the server accepted and what the log says sent must match"
        assert all(count == 1 for count in at_stop.values())
        rest = [(status, attempts, owner) for mid, status, attempts, owner in rows if mid not in sent]
        assert set(rest) == {("queued", 0, None)}  # released: no attempt used, no lease left

        done = subprocess.run([*commstui(), "dispatch", "--once", "--db", str(db)],
                              capture_output=True, text=True, timeout=120, env=env())
        assert done.returncode == 0, done.stderr

    assert Counter(handler.accepted_ids()) == Counter({mid: 1 for mid in expected})
    assert statuses(ctx) == Counter({"sent": n})
