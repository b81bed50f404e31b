"""Bulk generation end to end, through the same services as the wizard and `commstui bulk`.

    .venv/bin/python bench/bulk_generate.py [--emails N] [--letters N] [--only emails,letters]
                                            [--max-seconds S]

(1) An email batch to N (default 100,000) customers: resolving the recipients from a filter
    (services.bulk.recipients) plus generate() — merging a template per recipient in the jinja2
    sandbox and storing every message in chunks. Target <= 20 s, peak RSS <= 500 MB.
(2) A letter batch to N (default 10,000) customers: the same, with a one-page PDF made per
    letter with fpdf2 over a process pool on every core and stored (a file per letter in the
    database's .letters folder). Target <= 240 s, peak RSS of the whole process tree <= 500 MB.

Each runs on a fresh file with the sample data plus enough seeded customers (not timed).
Peak RSS is sampled every 50 ms over this process and its children with psutil.
A run still going after --max-seconds (default 900) is stopped and reported as CUT.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import CACHE, isolate, mb, time_limit, verdict  # noqa: E402

TARGETS = {"emails": (20.0, 500.0), "letters": (240.0, 500.0)}
SUBJECT = "Water supply interruption at {{ building.name }}"
BODY = """Dear {{ recipient.name }},

We are writing to let you know that the water supply to {{ building.name }} will be interrupted on
Tuesday 1 December between 9am and 3pm while our contractors replace the main valve.

Please keep enough water for the day. Lifts and the car park are not affected. If you rely on
water for medical equipment, call us before Monday and we will make arrangements.

Your account: {{ customer.account_no }}.

Yours sincerely,

{{ sender.name }}"""


class PeakRss:
    """The largest RSS of this process plus its children, sampled in a thread."""

    def __init__(self, every: float = 0.05) -> None:
        self.peak = 0
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self._every)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def fresh_db(name: str, customers: int) -> Path:
    from commstui.config import Settings
    from commstui.services import auth, mail_settings, setup
    from commstui.services.context import Context
    from commstui.services.mail_settings import MailServerForm

    path = CACHE / "scratch" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(path.name + "*"):  # the file, its WAL, its .letters folder
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    ctx = Context.open(path, Settings(busy_timeout=30))
    setup.init(ctx, sample=True)
    setup.seed_customers(ctx, customers)
    admin = auth.login(ctx, "admin", "admin-demo-1")
    # generation needs an active server; nothing is sent in this benchmark
    mail_settings.save_server(ctx, admin, MailServerForm(host="127.0.0.1", port=2525, security="none",
                                                         from_addr="office@bench.example"))
    return path


def run(kind: str, n: int, max_seconds: int) -> bool:
    from commstui.config import Settings
    from commstui.services import auth, bulk
    from commstui.services.context import Context

    # seeded customers: every 9th has no email and every 4th prefers post, so seed enough to find n
    path = fresh_db(f"bulk-{kind}.duckdb", int(n * 1.35) + 1000)
    ctx = Context.open(path, Settings(busy_timeout=30))
    admin = auth.login(ctx, "admin", "admin-demo-1")
    mode = "email" if kind == "emails" else "letter"
    selection = bulk.Selection(mode="filter", statuses=["active"], has_email=True if kind == "emails" else None)
    compose = bulk.BulkCompose(subject=SUBJECT, text_body=BODY)
    phases: dict[str, float] = {}
    cut = False
    with PeakRss() as rss:
        started = time.perf_counter()
        try:
            with time_limit(max_seconds, f"the {kind} batch"):
                found = bulk.recipients(ctx, admin, selection, mode)
                chosen = found.reachable[:n]
                phases["recipients"] = time.perf_counter() - started
                result = bulk.generate(ctx, admin, selection, mode, compose, chosen)
        except TimeoutError:
            cut = True
        elapsed = time.perf_counter() - started
    phases["generate"] = elapsed - phases.get("recipients", 0.0)
    target_s, target_mb = TARGETS[kind]
    made = 0 if cut else (result.batch.emails if kind == "emails" else result.batch.letters)
    rate = made / phases["generate"] if made else 0.0
    print(f"({'1' if kind == 'emails' else '2'}) {kind:7}: {made:,} generated in {elapsed:6.1f} s "
          f"(recipients {phases.get('recipients', 0):.1f} s + generate {phases['generate']:.1f} s, "
          f"{rate:,.0f}/s)  peak RSS {mb(rss.peak)}"
          + ("  CUT" if cut else ""))
    ok = not cut and made == n and elapsed <= target_s and rss.peak / 1_000_000 <= target_mb
    print(f"    target <= {target_s:.0f} s and <= {target_mb:.0f} MB: {verdict(ok)}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=100_000)
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--only", default="emails,letters")
    parser.add_argument("--max-seconds", type=int, default=900)
    args = parser.parse_args()
    isolate()
    only = {part.strip() for part in args.only.split(",")}
    print(f"cores: {psutil.cpu_count()}  python: {sys.version.split()[0]}")
    ok = True
    if "emails" in only:
        ok &= run("emails", args.emails, args.max_seconds)
    if "letters" in only:
        ok &= run("letters", args.letters, args.max_seconds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
