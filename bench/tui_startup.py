"""The TUI over 1,000,000 customers in a real terminal (tmux, 80x24): time to a
filled Customers screen, search and scroll as an operator would, peak memory.

    .venv/bin/python bench/tui_startup.py [--runs N]

Runs `commstui --db FILE --user admin` with COMMSTUI_PASSWORD set (straight past
the login) in a detached tmux session, and reads the screen with capture-pane.
Targets: Customers screen painted with rows <= 1.5 s from process start; peak
RSS (VmHWM of the commstui process) <= 250 MB. Works on a copy of the cached
1M file, so the cache is never written to.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import ADMIN, ADMIN_PASSWORD, big_db, copy_of, isolate, time_limit, verdict

TARGET_START_S = 1.5
TARGET_RSS_MB = 250.0
ROW = re.compile(r"^\s?[A-Z]\d{7,8}\s")  # a grid line starts with its account number
POLL_S = 0.01
PLACEHOLDER = "account no, name, email or phone"  # the empty search box


def tmux(*args: str, check: bool = True) -> str:
    out = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10)
    if check and out.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


class Terminal:
    """One detached tmux session running the TUI."""

    def __init__(self, db: Path) -> None:
        self.name = f"commstui-bench-{os.getpid()}-{time.monotonic_ns() % 100000}"
        self.db = db
        self.pid: int | None = None

    def start(self) -> float:
        exe = shutil.which("commstui", path=str(Path(sys.executable).parent)) or "commstui"
        launched = time.time()
        tmux("new-session", "-d", "-s", self.name, "-x", "80", "-y", "24",
             "-e", f"COMMSTUI_PASSWORD={ADMIN_PASSWORD}",
             "-e", f"COMMSTUI_CONFIG_DIR={os.environ['COMMSTUI_CONFIG_DIR']}",
             f"exec {exe} --db {self.db} --user {ADMIN}")
        self.pid = int(tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())
        return launched

    def screen(self) -> str:
        return tmux("capture-pane", "-p", "-t", self.name, check=False)

    def rows(self, text: str | None = None) -> list[str]:
        return [line for line in (text or self.screen()).splitlines() if ROW.match(line)]

    def keys(self, *keys: str, literal: bool = False) -> None:
        tmux("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def wait(self, condition, timeout: float = 10.0) -> tuple[float | None, str]:
        """Seconds until condition(screen) holds (None if it never did), and the last screen."""
        t0 = time.perf_counter()
        while True:
            text = self.screen()
            if condition(text):
                return time.perf_counter() - t0, text
            if time.perf_counter() - t0 > timeout:
                return None, text
            time.sleep(POLL_S)

    def status(self, field: str) -> str | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            return None
        return None

    def started_at(self) -> float:
        """The process's start time (seconds since the epoch), from /proc with 10 ms resolution.

        /proc/stat's btime is whole seconds, so age = uptime - start ticks is used instead."""
        ticks = os.sysconf("SC_CLK_TCK")
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - (uptime - start_ticks / ticks)

    def stop(self) -> None:
        self.keys("C-q")
        if self.pid:
            deadline = time.monotonic() + 5
            while Path(f"/proc/{self.pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        tmux("kill-session", "-t", self.name, check=False)


def filled(min_rows: int = 8):
    return lambda text: len([ln for ln in text.splitlines() if ROW.match(ln)]) >= min_rows


def clear_search(term: Terminal) -> None:
    """Esc clears the box (the screen's binding). Wait for the placeholder and a full grid
    before typing on: a key right after a lone ESC would read as Alt+key."""
    term.keys("Escape")
    term.wait(lambda t: PLACEHOLDER in t and filled()(t), timeout=10)


def type_query(term: Terminal, query: str, per_key_s: float = 0.06) -> None:
    """Type like a person: one key at a time, each one a search the app may start."""
    for ch in query:
        term.keys(ch, literal=True)
        time.sleep(per_key_s)


def run_once(db: Path, show_screen: bool) -> dict:
    term = Terminal(db)
    figures: dict = {}
    try:
        launched = term.start()
        took, first = term.wait(filled(), timeout=30)
        seen = time.time()
        if took is None:
            raise RuntimeError("the Customers table never filled; last screen:\n" + first)
        figures["start_from_launch_s"] = seen - launched
        try:
            figures["start_from_process_s"] = seen - term.started_at()
        except (OSError, ValueError, IndexError):
            figures["start_from_process_s"] = None
        figures["first_screen"] = first
        figures["rss_after_start"] = term.status("VmRSS")

        searches = []
        for query, looks_right in [
            ("olivia", lambda t: term.rows(t) and all("olivia" in r.lower() for r in term.rows(t))),
            ("S00500000", lambda t: [r for r in term.rows(t) if "S00500000" in r] == term.rows(t) != []),
            ("smith", lambda t: term.rows(t) and all("smith" in r.lower() for r in term.rows(t))),
            ("zzzz", lambda t: "zzzz" in t and not term.rows(t)),
        ]:
            clear_search(term)
            type_query(term, query)
            took, last = term.wait(looks_right, timeout=10)
            searches.append((query, took))
            if took is None:
                figures.setdefault("unseen", []).append((query, last))
        figures["searches"] = searches

        clear_search(term)
        term.keys("Down")  # from the search box into the grid
        scrolls = []
        for _ in range(12):  # ~180 rows: crosses the first 100-row page, so a page load happens
            before = term.rows()
            top = before[0] if before else ""
            term.keys("PageDown")
            took, _ = term.wait(lambda t, top=top: term.rows(t) and term.rows(t)[0] != top, timeout=10)
            scrolls.append(took)
        figures["scrolls"] = scrolls
        term.keys("End")
        term.wait(lambda t: True, timeout=1)
        figures["last_screen"] = term.screen()
        figures["vmhwm"] = term.status("VmHWM")
        figures["vmrss"] = term.status("VmRSS")
    finally:
        term.stop()
    if show_screen:
        print("  first screen painted:")
        for line in figures["first_screen"].splitlines():
            print("    |" + line)
    return figures


def kb_to_mb(value: str | None) -> float | None:
    if not value:
        return None
    number, unit = value.split()
    return int(number) * 1024 / 1_000_000 if unit == "kB" else None


def main(argv: list[str]) -> int:
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    if not shutil.which("tmux"):
        print("tui_startup: tmux is needed (apt-get install tmux)")
        return 2
    isolate()
    db = copy_of(big_db(), "tui.duckdb")
    print(f"tui_startup: commstui --db {db} --user {ADMIN} in tmux 80x24, {runs} runs")
    results = []
    with time_limit(120 * runs + 60, "TUI bench"):
        for i in range(runs):
            results.append(run_once(db, show_screen=(i == 0)))

    print()
    for i, r in enumerate(results, 1):
        proc = r["start_from_process_s"]
        print(f"  run {i}: painted with rows {proc if proc is not None else float('nan'):.2f} s after process start "
              f"({r['start_from_launch_s']:.2f} s after tmux launch); RSS after start {r['rss_after_start']}")
        print("         search (last key -> rows shown): " + ", ".join(
            f"{q!r} {t * 1000:.0f} ms" if t is not None else f"{q!r} NOT SEEN" for q, t in r["searches"]))
        ok = [t for t in r["scrolls"] if t is not None]
        missed = [i for i, t in enumerate(r["scrolls"], 1) if t is None]
        if missed:
            print(f"         PageDown number(s) {missed} did not move the screen within 10 s")
        print(f"         PageDown -> screen moved: {len(ok)}/{len(r['scrolls'])} seen, "
              + (f"median {sorted(ok)[len(ok) // 2] * 1000:.0f} ms, max {max(ok) * 1000:.0f} ms" if ok else ""))
        print(f"         peak RSS (VmHWM) {r['vmhwm']}, RSS at the end {r['vmrss']}")
    starts = [r["start_from_process_s"] or r["start_from_launch_s"] for r in results]
    worst_start = max(starts)
    peak = max(kb_to_mb(r["vmhwm"]) or 0 for r in results)
    print()
    print(f"  start to a filled Customers screen: best {min(starts):.2f} s, worst {worst_start:.2f} s; "
          f"target <= {TARGET_START_S} s -> {verdict(worst_start <= TARGET_START_S)}")
    print(f"  peak RSS: {peak:.0f} MB; target <= {TARGET_RSS_MB:.0f} MB -> {verdict(peak <= TARGET_RSS_MB)}")
    for query, screen in [u for r in results for u in r.get("unseen", [])]:
        print(f"  the screen when {query!r} was not seen:")
        for line in screen.splitlines():
            print("    |" + line)
    print("  screen after scrolling to the last loaded row:")
    for line in results[-1]["last_screen"].splitlines():
        print("    |" + line)
    for part in db.parent.glob(db.name + "*"):
        part.unlink()
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main(sys.argv[1:])
    print(f"  (bench ran {time.perf_counter() - started:.1f} s)")
    sys.exit(code)
