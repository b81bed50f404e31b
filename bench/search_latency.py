"""Customers search latency over 1,000,000 customers, through the service, the way the
TUI calls it: every keystroke opens the file, runs one page (100 rows), closes it.

    .venv/bin/python bench/search_latency.py [--rounds N]

Target: p95 <= 100 ms per keystroke query. The match count runs in its own
worker in the TUI, so count() is reported separately. The 1M file is built once
in the bench cache dir (COMMSTUI_BENCH_DIR, default /tmp/commstui-bench).
"""

from __future__ import annotations

import sys
import time

from _common import ADMIN, ADMIN_PASSWORD, big_db, percentile, summary, time_limit, verdict

TARGET_P95_MS = 100.0
PAGE = 100  # the TUI's PAGE_SIZE


def typed(word: str) -> list[str]:
    """What the box holds after each keystroke of `word`."""
    return [word[:i] for i in range(1, len(word) + 1)]


QUERIES: dict[str, list[str]] = {
    "name typed letter by letter": [*typed("olivia"), *typed("smith"), *typed("priya patel"),
                                    *typed("o'brien"), *typed("müller"), *typed("nguyen")],
    "account number": [*typed("S00500000"), "A1000001", "a10000", "s00999999"],
    "email": ["thomas.1", "thomas.12345@", "thomas.12345@example.net", "@example.net", "jack.999",
              "OLIVIA.BENNETT@EXAMPLE.COM"],
    "phone digits": ["04", "041", "0412", "0412 3", "0412 345", "+61 4", "+614 1234", "6141234",
                     "1234 5678", "(04) 1234"],
    "no match": ["zz", "zzz", "zzzz", "xyzzy", "nobody@nowhere.invalid", "Ω", "qqqqqq", "999999999999"],
}


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t0) * 1000, result


def main(argv: list[str]) -> int:
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 2
    path = big_db()

    from commstui.config import Settings
    from commstui.services import auth, customers
    from commstui.services.context import Context
    from commstui.services.customers import CustomerFilter

    ctx = Context.open(path, Settings())
    user = auth.login(ctx, ADMIN, ADMIN_PASSWORD)
    total = customers.count(ctx, user, CustomerFilter())
    building = customers.filter_options(ctx, user).buildings[0]
    print(f"search_latency: {total:,} customers in {path}")
    print(f"  each call: open the file, one page of {PAGE} rows, close (as the TUI does); {rounds} rounds")
    print(f"  building filter: {building.name} (id {building.id})")

    customers.search(ctx, user, CustomerFilter(), limit=PAGE)  # warm-up: imports, OS page cache

    search_ms: dict[str, list[float]] = {}
    count_ms: list[float] = []
    matches: dict[str, int] = {}
    slowest: list[tuple[float, str]] = []
    with time_limit(900, "search latency bench"):
        for _ in range(rounds):
            for group, queries in [("empty box (first screen)", [""]), *QUERIES.items()]:
                for building_id in (None, building.id):
                    label = group + (" + building" if building_id else "")
                    for q in queries:
                        flt = CustomerFilter(text=q, building_id=building_id)
                        ms, page = timed(lambda: customers.search(ctx, user, flt, limit=PAGE))
                        search_ms.setdefault(label, []).append(ms)
                        slowest.append((ms, f"{q!r}{' + building' if building_id else ''}"))
                        cms, n = timed(lambda: customers.count(ctx, user, flt))
                        count_ms.append(cms)
                        matches[f"{q!r}{' + building' if building_id else ''}"] = n

        # scrolling: the next pages after the first screen (keyset, as the grid loads them)
        page_ms = []
        for _ in range(rounds):
            after = None
            for _ in range(10):
                ms, page = timed(lambda: customers.search(ctx, user, CustomerFilter(), after_account=after,
                                                          limit=PAGE))
                page_ms.append(ms)
                after = page.rows[-1].account_no

    every = [ms for values in search_ms.values() for ms in values]
    print()
    print(f"  {'query kind':36s} search() per keystroke")
    for label, values in search_ms.items():
        print(f"  {label:36s} {summary(values)}")
    print(f"  {'next page while scrolling':36s} {summary(page_ms)}")
    print()
    p95 = percentile(every, 95)
    print(f"  ALL keystroke queries               {summary(every)}")
    print(f"  target p95 <= {TARGET_P95_MS:.0f} ms -> {verdict(p95 <= TARGET_P95_MS)}")
    print(f"  count() per keystroke (own worker)  {summary(count_ms)}")
    print()
    print("  slowest keystroke queries:")
    for ms, q in sorted(slowest, reverse=True)[:5]:
        print(f"    {ms:7.1f} ms  {q}  ({matches[q]:,} matches)")
    no_match = {repr(x) for x in QUERIES["no match"]}
    zero = [q for q, n in matches.items() if n == 0 and q not in no_match and not q.endswith(" + building")]
    if zero:
        print(f"  (found nothing, though not meant as no-match: {', '.join(zero)})")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main(sys.argv[1:])
    print(f"  (bench ran {time.perf_counter() - started:.1f} s)")
    sys.exit(code)
