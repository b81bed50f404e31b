"""Bulk letters: N one-page PDF letters made with `make_letters` over a process pool.

    .venv/bin/python bench/letters.py [--letters N] [--processes P] [--chunk C] [--quick]
                                      [--max-seconds S]

Each letter has its own recipient (names with accents from several languages), a
three-line address and a four-paragraph body, as a bulk batch merged from a template
would. Prints letters/s, the total time, the mean PDF size and the peak RSS of the
whole process tree (this process plus its workers, sampled every 50 ms with psutil).
Targets (issue 4): 10,000 letters <= 240 s on 2 cores; peak RSS <= 500 MB.
A run still going after --max-seconds (default 900) is stopped and reported as CUT.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _common import verdict  # noqa: E402

from commstui.delivery import typeface  # noqa: E402
from commstui.delivery.letters import Letterhead, LetterInput, make_letters  # noqa: E402

TARGET_SECONDS_PER_10K = 240.0
TARGET_RSS_MB = 500.0

HEAD = Letterhead("Harbour Property Services", ("Level 3, 12 Quay Street", "Sydney NSW 2000"),
                  "02 9000 0000", "office@harbour.example")
NAMES = ["Zoë O'Connor", "Nguyễn Văn An", "Jürgen Müller", "Mary Smith", "José Álvarez", "Ólafur Þórsson",
         "Łukasz Nowak", "Aroha Te Whata", "Priya Raman", "Chen Wei"]
BODY = """Dear {name},

We are writing to let you know that the water supply to {building} will be interrupted on
Tuesday 1 December between 9am and 3pm while our contractors replace the main valve.

Please keep enough water for the day. Lifts and the car park are not affected. If you rely on
water for medical equipment, call us before Monday and we will make arrangements.

We are sorry for the inconvenience and thank you for your patience.

Yours sincerely,

Facilities Team
Harbour Property Services"""


def letters(n: int):
    for i in range(n):
        name = f"{NAMES[i % len(NAMES)]} {i}"
        yield LetterInput(key=i, recipient_lines=(name, f"Unit {i % 300 + 1}, {i % 90 + 1} Harbour Street",
                                                  "Carlton VIC 3053"),
                          date_text="23 November 2026", subject="Water supply interruption",
                          body=BODY.format(name=name, building="Harbour View Apartments"))


class TreeRss:
    """The peak of (RSS of this process + all its descendants), sampled in a thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.peak = 0
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--letters", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=None, help="default: one per core")
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--quick", action="store_true", help="1,000 letters")
    args = parser.parse_args()
    n = 1_000 if args.quick else args.letters
    processes = args.processes or os.cpu_count() or 1

    print(f"letters bench: {n:,} letters, {processes} processes, chunks of {args.chunk}; "
          f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f}", flush=True)
    t0 = time.perf_counter()
    typeface.font_files()  # prepared once per machine (cached); timed apart from the letters
    print(f"typeface ready in {time.perf_counter() - t0:.2f} s (cache: {typeface.cache_dir()})", flush=True)

    made = size = pages = 0
    cut = False
    start = time.perf_counter()
    with TreeRss() as rss:
        stream = make_letters(letters(n), HEAD, processes=processes, chunk=args.chunk)
        try:
            for key, pdf, count in stream:
                made += 1
                size += len(pdf)
                pages += count
                if made % 1000 == 0:
                    print(f"  {made:,} letters in {time.perf_counter() - start:.1f} s", flush=True)
                if time.perf_counter() - start > args.max_seconds:
                    cut = True
                    break
        finally:
            stream.close()
    seconds = time.perf_counter() - start
    rate = made / seconds
    per_10k = 10_000 / rate
    peak_mb = rss.peak / 1_000_000
    print()
    print(f"made           {made:,} letters ({pages:,} pages){'  CUT' if cut else ''}")
    print(f"total          {seconds:.1f} s")
    print(f"rate           {rate:.1f} letters/s ({rate / processes:.1f} per process)")
    print(f"10,000 letters {per_10k:.0f} s at this rate (target <= {TARGET_SECONDS_PER_10K:.0f} s)"
          f"  {verdict(per_10k <= TARGET_SECONDS_PER_10K and not cut)}")
    print(f"mean PDF       {size / max(1, made) / 1000:.1f} KB")
    print(f"peak RSS       {peak_mb:.0f} MB, process tree (target <= {TARGET_RSS_MB:.0f} MB)"
          f"  {verdict(peak_mb <= TARGET_RSS_MB)}")
    print(f"load average   {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
