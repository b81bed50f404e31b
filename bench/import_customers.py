"""How long `import customers` takes for a 100,000-row CSV (target: import <= 30 s).

    .venv/bin/python bench/import_customers.py [N] [--keep]

Writes a realistic CSV (names, buildings and companies of the sample data, local
and E.164 mobiles, a few bad rows), then times the dry run and the import into a
fresh file with the sample data, and prints rows/s and the peak RSS.
"""

from __future__ import annotations

import csv
import resource
import sys
import time

from _common import CACHE, build, isolate, mb, time_limit, verdict

TARGET_S = 30.0
BAD_EVERY = 10_007  # a bad row now and then, as in a real export from another system


def write_csv(path, n: int) -> int:
    from commstui.services.customer_import import COLUMNS
    from commstui.services.setup import _FIRST, _LAST, _STREETS

    buildings, companies = ["HARB", "PARK", "MILL"], ["ACME", "BLUE", "NEST", "WATT", ""]
    bad = 0
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(COLUMNS)
        for i in range(1, n + 1):
            first, last = _FIRST[i * 7 % len(_FIRST)], _LAST[i * 13 % len(_LAST)]
            mobile = f"04{i % 100_000_000:08d}" if i % 2 else f"+614{(i * 7919) % 100_000_000:08d}"
            row = [f"I{i:08d}", f"{first} {last}", "commercial" if i % 5 == 0 else "residential",
                   "inactive" if i % 23 == 0 else "active", companies[i % len(companies)],
                   buildings[i % len(buildings)], "post" if i % 4 == 0 else "email",
                   "" if i % 9 == 0 else f"{first.lower()}.{i}@example.net",
                   "" if i % 6 == 0 else mobile, "yes" if i % 3 == 0 else "no",
                   f"{1 + i % 250} {_STREETS[i % len(_STREETS)]}", "", "Springfield", "NSW", f"{2000 + i % 900}"]
            if i % BAD_EVERY == 0:
                row[7] = "not an email"
                bad += 1
            w.writerow(row)
    return bad


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    args = [a for a in argv if not a.startswith("--")]
    n = int(args[0].replace("_", "")) if args else 100_000
    isolate()
    scratch = CACHE / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    db, src = scratch / f"import-{n}.duckdb", scratch / f"import-{n}.csv"
    for old in scratch.glob(db.name + "*"):
        old.unlink()

    from commstui.config import Settings
    from commstui.domain import LOCAL_ADMIN
    from commstui.services import customer_import
    from commstui.services.context import Context

    t0 = time.perf_counter()
    bad = write_csv(src, n)
    t_write = time.perf_counter() - t0
    build(db, 0)  # schema + the sample data (buildings, companies, 60 customers)
    ctx = Context.open(db, Settings(busy_timeout=30))

    with time_limit(int(TARGET_S * 6), "the import"):
        t0 = time.perf_counter()
        check = customer_import.check_file(ctx, LOCAL_ADMIN, src)
        t_check = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = customer_import.import_file(ctx, LOCAL_ADMIN, src)
        t_import = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = customer_import.import_file(ctx, LOCAL_ADMIN, src)
        t_again = time.perf_counter() - t0
        out = scratch / f"export-{n}.csv"
        from commstui.services.customers import CustomerFilter
        t0 = time.perf_counter()
        exported = customer_import.export_customers(ctx, LOCAL_ADMIN, CustomerFilter(), out)
        t_export = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB

    print(f"import_customers: {n:,} rows ({src.stat().st_size / 1e6:.1f} MB CSV, {bad} bad rows) "
          f"into a fresh file with the sample data")
    print(f"  writing the CSV      : {t_write:6.2f} s")
    print(f"  dry run (check_file) : {t_check:6.2f} s  ({n / t_check:,.0f} rows/s)  "
          f"{check.new:,} new, {check.refused} refused")
    print(f"  import               : {t_import:6.2f} s  ({n / t_import:,.0f} rows/s)  "
          f"{report.added:,} added, {report.refused} refused  target <= {TARGET_S:.0f} s -> "
          f"{verdict(t_import <= TARGET_S)}")
    print(f"  the same import again: {t_again:6.2f} s  {again.added} added, {again.skipped:,} skipped")
    print(f"  export of everyone   : {t_export:6.2f} s  ({exported:,} rows, {out.stat().st_size / 1e6:.1f} MB)")
    print(f"  peak RSS             : {mb(rss)}")
    if not keep:
        for part in [*scratch.glob(db.name + "*"), src, out]:
            part.unlink(missing_ok=True)
    return 0 if report.added == n - bad and report.refused == bad else 1


if __name__ == "__main__":
    started = time.perf_counter()
    code = main(sys.argv[1:])
    print(f"  (bench ran {time.perf_counter() - started:.1f} s)")
    sys.exit(code)
