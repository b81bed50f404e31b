"""Dispatcher throughput and idle cost, each beside its baseline in the same run.

    .venv/bin/python bench/dispatch_throughput.py [--messages N] [--concurrency C] [--quick]
                                                  [--idle-seconds S] [--only a,b,c] [--profile]

(a) 20 ms relay: `Dispatcher(...).run_once()` draining N queued messages (rows in a real DuckDB
    file, its bookkeeping included) through an aiosmtpd relay that answers DATA after 20 ms,
    versus a naive smtplib loop (one connection per message) over a bounded sample of the
    same messages. Target: dispatcher >= 4x the naive loop at concurrency 8.
(b) zero-latency sink (Postfix's smtp-sink; a labelled asyncio sink if postfix is not
    installed): the same drain versus a bare aiosmtplib loop over C connections sending the
    same N messages, prebuilt to bytes before timing. Target: dispatcher >= 80% of the loop.
(c) an idle `commstui dispatch` subprocess (nothing due, one message due tomorrow): CPU
    seconds over --idle-seconds (default 60) from psutil. Target: < 1% of one core.

Every SMTP server runs in its own process on 127.0.0.1 and is killed at exit (and exits
on its own if this process dies). Each drain is bounded by --max-seconds. The database
files live in <bench dir>/scratch (COMMSTUI_BENCH_DIR, default /tmp/commstui-bench).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import collections
import dataclasses
import inspect
import os
import select
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import policy
from email.utils import make_msgid
from pathlib import Path

from _common import CACHE, isolate, time_limit

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"
FROM = "office@bench.example"
RELAY_DELAY_MS = 20.0
TARGET_SPEEDUP = 4.0      # (a) dispatcher / naive smtplib loop
TARGET_SHARE = 0.80       # (b) dispatcher / bare aiosmtplib loop
TARGET_IDLE_CPU = 0.01    # (c) share of one core


# -- child processes: every server we start is stopped at exit, whatever happens ---------------
_children: list[subprocess.Popen] = []


def _spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    # its own process group, so stopping it also stops anything it started (the wrapper's smtp-sink)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
    _children.append(proc)
    return proc


def _stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(grace)


@atexit.register
def _stop_all() -> None:
    while _children:
        _stop(_children.pop())


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through the finally blocks and atexit


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    """One line of a child's stdout, or "" if none came within `timeout`."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Server:
    label: str
    port: int
    proc: subprocess.Popen
    counts: bool  # prints RECEIVED n when stopped

    def stop(self) -> int | None:
        """Stop it; the number of messages it accepted if it reports that."""
        _stop(self.proc)
        if self.counts and self.proc.stdout:
            for line in self.proc.stdout.read().splitlines():
                if line.startswith("RECEIVED "):
                    return int(line.split()[1])
        return None


def start_python_server(mode: str, delay_ms: float = 0.0) -> Server:
    log = open(CACHE / "scratch" / f"smtp_{mode}.log", "a")
    proc = _spawn([sys.executable, str(HERE / "smtp_relay.py"), "--mode", mode, "--data-delay-ms",
                   str(delay_ms), "--parent", str(os.getpid()), "--max-seconds", "3600"],
                  stdout=subprocess.PIPE, stderr=log, text=True)
    line = _readline(proc, 30)
    if not line.startswith("READY "):
        _stop(proc)
        raise RuntimeError(f"bench/smtp_relay.py --mode {mode} did not start (see {log.name})")
    label = (f"aiosmtpd relay, DATA answered after {delay_ms:g} ms" if mode == "relay"
             else "FALLBACK asyncio sink (bench/smtp_relay.py --mode sink), NOT smtp-sink")
    return Server(label, int(line.split()[1]), proc, counts=True)


def smtp_sink_path() -> str | None:
    return shutil.which("smtp-sink") or next(
        (p for p in ("/usr/sbin/smtp-sink", "/usr/bin/smtp-sink") if os.access(p, os.X_OK)), None)


def start_smtp_sink(exe: str) -> Server:
    """Postfix's smtp-sink on a free loopback port, wrapped so that it stops if we die."""
    port = _free_port()
    drop = ["-u", "nobody"] if os.geteuid() == 0 else []  # smtp-sink refuses to keep root
    log = open(CACHE / "scratch" / "smtp_sink.log", "a")
    proc = _spawn([sys.executable, str(HERE / "smtp_relay.py"), "--mode", "wrap", "--parent", str(os.getpid()),
                   "--max-seconds", "3600", "--", exe, *drop, f"{LOOPBACK}:{port}", "256"],
                  stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1) as s:
                if s.recv(64).startswith(b"220"):
                    return Server(f"Postfix smtp-sink ({exe})", port, proc, counts=False)
        except OSError:
            time.sleep(0.05)
    _stop(proc)
    raise RuntimeError(f"smtp-sink did not start on port {port} (see {log.name})")


def start_sink(prefer_python: bool) -> Server:
    exe = None if prefer_python else smtp_sink_path()
    return start_smtp_sink(exe) if exe else start_python_server("sink")


# -- the database --------------------------------------------------------------------------------
def _remove(path: Path) -> None:
    """A database file and everything named after it: its WAL, the dispatcher's `<db>.dispatch/` journal."""
    for old in path.parent.glob(path.name + "*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def fresh_copy(template: Path, name: str) -> Path:
    """A throwaway copy of the template's file(s), with no journal of an earlier run beside it."""
    target = CACHE / "scratch" / name
    _remove(target)
    for part in template.parent.glob(template.name + "*"):
        if part.is_file():
            shutil.copyfile(part, target.parent / part.name.replace(template.name, target.name))
    return target


def _settings():
    from commstui.config import Settings

    return Settings(busy_timeout=30)


def _context(path: Path):
    from commstui.services.context import Context

    return Context.open(path, _settings())


def _has_column(ctx, table: str, column: str) -> bool:
    with ctx.db.connect() as con:
        return bool(con.execute("select count(*) from information_schema.columns "
                                "where table_name = ? and column_name = ?", [table, column]).fetchone()[0])


def point_mail_server(ctx, port: int, concurrency: int) -> str:
    """Make 127.0.0.1:port the active mail server with `concurrency` connections; say what was set."""
    from commstui.domain import LOCAL_ADMIN
    from commstui.services import mail_settings

    fields = {f.name for f in dataclasses.fields(mail_settings.MailServerForm)}
    form = dict(host=LOOPBACK, port=port, security="none", from_addr=FROM)
    if "concurrency" in fields:
        form["concurrency"] = concurrency
    mail_settings.save_server(ctx, LOCAL_ADMIN, mail_settings.MailServerForm(**form))
    if not _has_column(ctx, "mail_servers", "concurrency"):
        return "n/a (no concurrency setting in this schema: one connection)"
    if "concurrency" not in fields:
        ctx.db.run(lambda con: con.execute("update mail_servers set concurrency = ? where active", [concurrency]))
    with ctx.db.connect() as con:
        return str(con.execute("select concurrency from mail_servers where active").fetchone()[0])


def queue_messages(ctx, n: int) -> str:
    """n emails due now to the sample customers; how they were queued."""
    from commstui.services import setup

    seed = getattr(setup, "seed_messages", None)
    if seed is not None:
        seed(ctx, n)
        return "setup.seed_messages"
    from commstui.store import messages as messages_store

    def insert(con):
        people = con.execute("select id, account_no, name, email from customers where email is not null "
                             "order by id").fetchall()
        for i in range(n):
            cid, account, name, email = people[i % len(people)]
            messages_store.insert(
                con, message_id=make_msgid(domain="bench.example"), customer_id=cid, to_addrs=[email],
                subject=f"Your account {account}: service notice #{i + 1}",
                body=(f"Dear {name},\n\nThis is a notice about your account {account}. Water will be off "
                      f"on Tuesday between 9:00 and 12:00 while the building's pipes are repaired.\n\n"
                      f"Kind regards,\nThe office\n"),
                created_by="admin")

    ctx.db.run(insert)
    return "store.messages.insert in one transaction (setup.seed_messages not there yet)"


def build_template(n: int) -> tuple[Path, str]:
    """A fresh file: schema, sample data, an active mail server, n messages due now."""
    from commstui.services import setup

    path = CACHE / "scratch" / f"dispatch-template-{n}.duckdb"
    _remove(path)
    ctx = _context(path)
    setup.init(ctx, sample=True)
    point_mail_server(ctx, 9, 8)  # re-pointed per scenario
    how = queue_messages(ctx, n)
    return path, how


def prebuilt(path: Path, limit: int) -> list[tuple[str, list[str], bytes]]:
    """(sender, recipients, bytes) of the queued messages, built the way the dispatcher builds them."""
    from commstui.delivery import email as delivery_email
    from commstui.delivery.email import envelope_recipients
    from commstui.store import messages as messages_store

    render = getattr(delivery_email, "render", None)  # the bytes the dispatcher puts on the wire
    if render is None:
        def render(m, sender):
            return delivery_email.build_mime(m, sender).as_bytes(policy=policy.SMTP)

    ctx = _context(path)
    with ctx.db.connect() as con:
        messages = sorted((m for m in messages_store.recent(con, limit=limit) if m.status == "queued"),
                          key=lambda m: (m.due_at, m.id))
    return [(FROM, envelope_recipients(m), render(m, FROM)) for m in messages]


def sent_count(path: Path) -> dict[str, int]:
    ctx = _context(path)
    with ctx.db.connect() as con:
        return dict(con.execute("select status, count(*) from messages group by status").fetchall())


# -- the contenders ------------------------------------------------------------------------------
@dataclasses.dataclass
class Run:
    scenario: str
    messages: int
    seconds: float
    note: str = ""
    cpu: float = 0.0  # (c): CPU seconds used over `seconds`
    cut: bool = False  # stopped at --max-seconds before the end

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def naive_loop(port: int, items, max_seconds: float) -> Run:
    """One smtplib connection per message: connect, EHLO, MAIL, RCPT, DATA, QUIT."""
    deadline = time.perf_counter() + max_seconds
    sent = 0
    t0 = time.perf_counter()
    for sender, rcpts, data in items:
        if time.perf_counter() > deadline:
            break
        # local_hostname given: smtplib would otherwise resolve our FQDN on every connection
        with smtplib.SMTP(LOOPBACK, port, local_hostname="localhost", timeout=30) as smtp:
            smtp.sendmail(sender, rcpts, data)
        sent += 1
    return Run("(a) naive smtplib loop, 1 connection/message", sent, time.perf_counter() - t0)


async def _bare(port: int, items, concurrency: int) -> int:
    import aiosmtplib

    todo = iter(items)
    sent = 0

    async def worker() -> None:
        nonlocal sent
        client = aiosmtplib.SMTP(hostname=LOOPBACK, port=port, timeout=30, start_tls=False)
        await client.connect()
        try:
            for sender, rcpts, data in todo:  # one shared iterator: each message goes once
                await client.sendmail(sender, rcpts, data)
                sent += 1
        finally:
            await client.quit()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent


def bare_loop(port: int, items, concurrency: int, max_seconds: float) -> Run:
    """aiosmtplib, `concurrency` connections kept open, prebuilt bytes: the ceiling for the dispatcher."""
    t0 = time.perf_counter()
    sent = asyncio.run(asyncio.wait_for(_bare(port, items, concurrency), max_seconds))
    return Run(f"(b) bare aiosmtplib loop, {concurrency} connections", sent, time.perf_counter() - t0)


def dispatcher_kwargs() -> dict:
    from commstui.delivery.dispatcher import Dispatcher

    return {"kind": "service"} if "kind" in inspect.signature(Dispatcher).parameters else {}


async def _drain(path: Path, max_seconds: float) -> tuple[int, float, bool]:
    from commstui.delivery.dispatcher import Dispatcher
    from commstui.store.db import Database

    settings = _settings()
    dispatcher = Dispatcher(Database(path, busy_timeout=settings.busy_timeout), settings, **dispatcher_kwargs())
    t0 = time.perf_counter()
    task = asyncio.create_task(dispatcher.run_once())
    cut = False
    try:
        await asyncio.wait_for(asyncio.shield(task), max_seconds)
    except TimeoutError:
        cut = True
        dispatcher.stop()  # finish the batch in hand, claim no more
        try:
            await asyncio.wait_for(task, 120)
        except TimeoutError:
            task.cancel()
    return dispatcher.sent, time.perf_counter() - t0, cut


def dispatcher_drain(label: str, path: Path, concurrency_note: str, max_seconds: float) -> Run:
    sent, seconds, cut = asyncio.run(_drain(path, max_seconds))
    statuses = sent_count(path)
    note = f"concurrency {concurrency_note}; rows now {statuses}"
    if cut:
        note += f"; CUT at --max-seconds {max_seconds:g}: rate over the {sent} sent"
    which = "kind=service" if dispatcher_kwargs() else "current"
    return Run(f"{label} Dispatcher.run_once() ({which})", statuses.get("sent", sent), seconds, note, cut=cut)


# -- (c) idle ------------------------------------------------------------------------------------
def idle_cpu(seconds: float, warmup: float = 3.0) -> Run:
    import psutil

    from commstui.services import setup
    from commstui.store import messages as messages_store

    path = CACHE / "scratch" / "dispatch-idle.duckdb"
    _remove(path)

    ctx = _context(path)
    setup.init(ctx, sample=True)
    point_mail_server(ctx, 9, 8)  # never contacted: nothing is due
    ctx.db.run(lambda con: messages_store.insert(
        con, message_id=make_msgid(domain="bench.example"), customer_id=None, to_addrs=["later@bench.example"],
        subject="due tomorrow", body="not yet", created_by="admin",
        due_at=datetime.now(UTC) + timedelta(days=1)))

    exe = shutil.which("commstui", path=str(Path(sys.executable).parent)) or "commstui"
    log_path = CACHE / "scratch" / "dispatch-idle.log"
    log = open(log_path, "w")
    # wrapped, so that a bench killed mid-way does not leave a dispatcher running
    proc = _spawn([sys.executable, str(HERE / "smtp_relay.py"), "--mode", "wrap", "--parent", str(os.getpid()),
                   "--max-seconds", str(seconds + 600), "--", exe, "--db", str(path), "dispatch"],
                  stdout=log, stderr=log)
    try:
        # it says "Dispatching from FILE ..." once running; past 15 s without it, a live process will do
        deadline = time.monotonic() + 15
        while "Dispatching" not in log_path.read_text() and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"`commstui dispatch` did not start: {log_path.read_text().strip()}")
            time.sleep(0.05)
        time.sleep(warmup)  # imports, the first look at the file
        p = psutil.Process(proc.pid).children()[0]  # the dispatcher, not the wrapper
        c0, s0, t0 = p.cpu_times(), p.num_ctx_switches(), time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            if proc.poll() is not None:
                raise RuntimeError(f"`commstui dispatch` exited early: {log_path.read_text().strip()}")
            time.sleep(min(1.0, max(0.0, end - time.perf_counter())))
        c1, s1, t1 = p.cpu_times(), p.num_ctx_switches(), time.perf_counter()
    finally:
        _stop(proc, grace=15)
    cpu = (c1.user + c1.system + c1.children_user + c1.children_system) - (
        c0.user + c0.system + c0.children_user + c0.children_system)
    wakeups = s1.voluntary - s0.voluntary
    return Run("(c) idle `commstui dispatch`, nothing due", 0, t1 - t0,
               f"{cpu:.3f} CPU s; {wakeups} voluntary context switches ({wakeups / (t1 - t0):.1f}/s)", cpu)


# -- profiling -----------------------------------------------------------------------------------
def profile_drain(template: Path, n_hint: int, concurrency: int, use_python_sink: bool, py_spy: str,
                  max_seconds: float, gil: bool = False, top: int = 25) -> None:
    """py-spy (all threads: the loop and the to_thread database work) over one drain against the sink."""
    path = fresh_copy(template, "dispatch-profile.duckdb")
    sink = start_sink(use_python_sink)
    raw = CACHE / "scratch" / "dispatch-profile.txt"
    try:
        conc = point_mail_server(_context(path), sink.port, concurrency)
        spy = _spawn([py_spy, "record", "--pid", str(os.getpid()), "--rate", "250", "--format", "raw",
                      "--output", str(raw), "--nonblocking", "--threads", *(["--gil"] if gil else [])],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let py-spy attach
        run = dispatcher_drain("(profile)", path, conc, max_seconds)
        os.killpg(spy.pid, signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(30)
    finally:
        sink.stop()
    print()
    print(f"  profile: {run.messages} messages in {run.seconds:.1f} s ({run.rate:.0f} msg/s) under py-spy "
          f"(sampling slows it); samples in {raw}")
    print("  samples: " + ("only the thread holding the GIL (--profile-gil)" if gil else
                           "every thread that was running (not waiting), event loop and database thread alike"))
    summarise_profile(raw, top)


def summarise_profile(raw: Path, top: int) -> None:
    leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        name = thread.partition(": ")[2] or thread  # "thread (1234): MainThread"
        threads["event loop (MainThread)" if name == "MainThread" else f"thread {name}"] += n
        total += n
        if frames:
            leaf[_short(frames[-1], line_no=True)] += n
        for name in {_short(f, line_no=False) for f in frames}:
            inclusive[name] += n
    if not total:
        print("  (py-spy collected no samples)")
        return
    print(f"  {total} samples: " + ", ".join(f"{k} {v / total:.0%}" for k, v in threads.most_common()))
    print(f"\n  top {top} by own time (the line that was running):")
    for name, n in leaf.most_common(top):
        print(f"    {n / total:6.1%}  {name}")
    print(f"\n  top {top} commstui/asyncio/aiosmtplib/email/duckdb functions by inclusive time:")
    shown = 0
    for name, n in inclusive.most_common():
        if any(k in name for k in ("commstui", "aiosmtplib", "email/", "asyncio", "duckdb", "concurrent")):
            print(f"    {n / total:6.1%}  {name}")
            shown += 1
            if shown >= top:
                break


def _short(frame: str, line_no: bool) -> str:
    """'fn (path/to/site-packages/pkg/mod.py:12)' -> 'fn (pkg/mod.py:12)'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    if not line_no:
        where = where.rsplit(":", 1)[0]
    return f"{name} ({where})"


# -- the report ----------------------------------------------------------------------------------
def table(rows: list[tuple[str, str, str, str, str, str]]) -> None:
    head = ("scenario", "messages", "seconds", "msg/s", "ratio vs target", "result")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(6)]
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print("  " + "  ".join(c.ljust(w) if i in (0, 4, 5) else c.rjust(w) for i, (c, w) in
                               enumerate(zip(r, widths, strict=True))))


def row(run: Run, ratio: str = "", result: str = "") -> tuple[str, str, str, str, str, str]:
    rate = f"{run.rate:,.0f}" if run.messages else "-"
    return (run.scenario, f"{run.messages:,}", f"{run.seconds:.1f}", rate, ratio, result)


def passed(ok: bool, run: Run | None = None) -> str:
    return ("PASS" if ok else "FAIL") + (" (cut)" if run is not None and run.cut else "")


# -- the scenarios: each returns its table rows and notes ---------------------------------------
def scenario_a(args, template: Path, items, sample: int, reference_sample: int) -> tuple[list, list[str]]:
    rows, notes = [], []
    relay = start_python_server("relay", RELAY_DELAY_MS)
    print(f"  (a) server: {relay.label}, 127.0.0.1:{relay.port}, own process {relay.proc.pid}")
    try:
        naive = naive_loop(relay.port, items[:sample], args.max_seconds)
    finally:
        got = relay.stop()
    notes.append(f"(a) naive: relay accepted {got} of {naive.messages}")
    relay = start_python_server("relay", RELAY_DELAY_MS)
    path = fresh_copy(template, "dispatch-a.duckdb")
    try:
        conc = point_mail_server(_context(path), relay.port, args.concurrency)
        drained = dispatcher_drain("(a)", path, conc, args.max_seconds)
    finally:
        got = relay.stop()
    notes.append(f"(a) dispatcher: relay accepted {got}; {drained.note}")
    # what the same relay takes from a bare client with as many connections: how much of
    # the gap to the ceiling is the relay's (and the machine's) and how much the dispatcher's
    relay = start_python_server("relay", RELAY_DELAY_MS)
    try:
        reference = bare_loop(relay.port, items[:reference_sample], args.concurrency, args.max_seconds)
    finally:
        relay.stop()
    reference.scenario = f"(a) bare aiosmtplib loop, {args.concurrency} connections"
    ratio = drained.rate / naive.rate if naive.rate else 0.0
    rows.append(row(naive, "baseline"))
    rows.append(row(drained, f"{ratio:.2f}x naive (>= {TARGET_SPEEDUP:g}x)",
                    passed(ratio >= TARGET_SPEEDUP, drained)))
    rows.append(row(reference, f"reference: {drained.rate / reference.rate:.0%} of it" if reference.rate else ""))
    ideal = args.concurrency / (RELAY_DELAY_MS / 1000)
    notes.append(f"(a) ceiling: {args.concurrency} connections x 1/{RELAY_DELAY_MS:g} ms = {ideal:.0f} msg/s "
                 f"before any protocol round trips; the reference row is a bare client on the same relay")
    return rows, notes


def _b_pair(args, template: Path, items) -> tuple[Run, Run, list[str]]:
    notes = []
    sink = start_sink(args.python_sink)
    print(f"  (b) server: {sink.label}, 127.0.0.1:{sink.port}, own process {sink.proc.pid}")
    try:
        bare = bare_loop(sink.port, items, args.concurrency, args.max_seconds)
    finally:
        got = sink.stop()
    if got is not None:
        notes.append(f"(b) bare loop: sink accepted {got} of {bare.messages}")
    sink = start_sink(args.python_sink)
    path = fresh_copy(template, "dispatch-b.duckdb")
    try:
        conc = point_mail_server(_context(path), sink.port, args.concurrency)
        drained = dispatcher_drain("(b)", path, conc, args.max_seconds)
    finally:
        sink.stop()
    notes.append(f"(b) server: {sink.label}")
    notes.append(f"(b) dispatcher: {drained.note}")
    return bare, drained, notes


def scenario_b(args, template: Path, items) -> tuple[list, list[str]]:
    """--rounds pairs (bare loop, then dispatcher), each pair in the same minute: one pair's
    share moves by +-5 points from run to run on a 2-core machine, so the verdict is the
    median pair's share, and every pair is printed."""
    pairs, notes = [], []
    for _ in range(args.rounds):
        bare, drained, got_notes = _b_pair(args, template, items)
        pairs.append((drained.rate / bare.rate if bare.rate else 0.0, bare, drained))
        notes = got_notes
    pairs.sort(key=lambda p: p[0])
    share, bare, drained = pairs[len(pairs) // 2]
    if len(pairs) > 1:
        shares = ", ".join(f"{s:.1%} ({d.rate:,.0f} of {b.rate:,.0f})" for s, b, d in pairs)
        notes.append(f"(b) {len(pairs)} pairs, shares sorted: {shares}; the table shows the median pair")
    rows = [row(bare, "baseline"),
            row(drained, f"{share:.1%} of bare (>= {TARGET_SHARE:.0%})", passed(share >= TARGET_SHARE, drained))]
    return rows, notes


def scenario_c(idle_seconds: float) -> tuple[list, list[str]]:
    idle = idle_cpu(idle_seconds)
    share = idle.cpu / idle.seconds
    return ([row(idle, f"{share:.2%} of a core (< {TARGET_IDLE_CPU:.0%})", passed(share < TARGET_IDLE_CPU))],
            [f"(c) {idle.note}"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=None, help="messages per dispatcher drain (10000)")
    parser.add_argument("--concurrency", type=int, default=8, help="the mail server's connections (8)")
    parser.add_argument("--naive-sample", type=int, default=None, help="messages for the naive loop (1000)")
    parser.add_argument("--idle-seconds", type=float, default=None, help="(c) measuring window (60)")
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="cut any one drain or loop after this long and report its rate so far (900)")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 messages, naive sample 200, idle 10 s: a smoke run, not the figures")
    parser.add_argument("--rounds", type=int, default=None,
                        help="(b) pairs of bare loop and dispatcher; the verdict is the median pair (5)")
    parser.add_argument("--only", default="a,b,c", help="which scenarios, e.g. a,b (none: just --profile)")
    parser.add_argument("--python-sink", action="store_true",
                        help="(b) use the asyncio fallback sink even if smtp-sink is installed")
    parser.add_argument("--profile", action="store_true",
                        help="also py-spy one drain against the sink and print the top costs")
    parser.add_argument("--profile-gil", action="store_true",
                        help="with --profile: sample only the thread holding the GIL (who blocks whom)")
    parser.add_argument("--py-spy", default=os.environ.get("PY_SPY") or shutil.which("py-spy"),
                        help="py-spy executable for --profile [env PY_SPY]")
    args = parser.parse_args(argv)
    messages = args.messages or (1000 if args.quick else 10_000)
    sample = min(messages, args.naive_sample or (200 if args.quick else 1000))
    reference_sample = min(messages, 500 if args.quick else 2000)
    idle_seconds = args.idle_seconds if args.idle_seconds is not None else (10.0 if args.quick else 60.0)
    only = set(args.only.replace(" ", "").split(","))
    args.rounds = max(1, args.rounds or (1 if args.quick else 5))
    if args.profile and not args.py_spy:
        parser.error("--profile needs py-spy: pip install py-spy (or --py-spy PATH / PY_SPY=PATH)")

    signal.signal(signal.SIGTERM, _on_sigterm)
    isolate()
    (CACHE / "scratch").mkdir(parents=True, exist_ok=True)
    rows: list = []
    notes: list[str] = []

    print(f"dispatch_throughput: {messages:,} messages per drain, concurrency {args.concurrency}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}")
    print(f"  commstui from {Path(__import__('commstui').__file__).parent}")
    template, items = None, []
    if {"a", "b"} & only or args.profile:
        t0 = time.perf_counter()
        template, how = build_template(messages)
        print(f"  built {template} (init --sample, then {messages:,} messages due now, queued with {how}) "
              f"in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        items = prebuilt(template, messages)
        size = sum(len(d) for _, _, d in items) / len(items)
        print(f"  prebuilt the same {len(items):,} messages to bytes for the baselines in "
              f"{time.perf_counter() - t0:.1f} s ({size:,.0f} bytes each on average)")
        which = "Dispatcher(..., kind='service')" if dispatcher_kwargs() else "current Dispatcher (no kind=)"
        print(f"  dispatcher: {which}")

    scenarios = {"a": lambda: scenario_a(args, template, items, sample, reference_sample),
                 "b": lambda: scenario_b(args, template, items),
                 "c": lambda: scenario_c(idle_seconds)}
    for key, scenario in scenarios.items():
        if key not in only:
            continue
        try:
            got_rows, got_notes = scenario()
        except Exception as exc:  # report it and go on with the other scenarios
            got_rows, got_notes = [(f"({key}) did not run", "", "", "", "", "ERROR")], [
                f"({key}) ERROR {type(exc).__name__}: {exc}"]
        rows += got_rows
        notes += got_notes

    if rows:
        print()
        table(rows)
    print()
    for note in notes:
        print(f"  {note}")
    print(f"  load average now {os.getloadavg()[0]:.2f} (figures are only comparable on an otherwise idle machine)")
    if args.quick:
        print("  (--quick: a smoke run; quote the figures of a full run)")

    if args.profile:
        profile_drain(template, messages, args.concurrency, args.python_sink, args.py_spy, args.max_seconds,
                      gil=args.profile_gil)
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    try:
        with time_limit(7200, "dispatch throughput bench"):
            code = main(sys.argv[1:])
    finally:
        _stop_all()
    print(f"  (bench ran {time.perf_counter() - started:.1f} s)")
    sys.exit(code)
