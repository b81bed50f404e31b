"""How long `seed --customers 1000000` takes on a fresh file (target: under 2 minutes).

    .venv/bin/python bench/seed_customers.py [N] [--keep]

Prints the seconds for the schema + sample data, for the seeding, rows per
second and the file size. The file goes in the bench cache dir and is deleted
afterwards unless --keep.
"""

from __future__ import annotations

import sys
import time

from _common import CACHE, CUSTOMERS, build, file_size, isolate, mb, time_limit, verdict

TARGET_S = 120.0


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    args = [a for a in argv if not a.startswith("--")]
    n = int(args[0].replace("_", "")) if args else CUSTOMERS
    isolate()
    path = CACHE / "scratch" / f"seed-{n}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(path.name + "*"):
        old.unlink()

    with time_limit(int(TARGET_S * 4), "seeding"):
        figures = build(path, n)
    size = file_size(path)

    from commstui.config import Settings
    from commstui.services.context import Context
    with Context.open(path, Settings()).db.connect() as con:
        rows = con.execute("select count(*) from customers").fetchone()[0]

    print(f"seed_customers: {n:,} customers into a fresh file ({path})")
    print(f"  schema + sample data : {figures['init_s']:6.2f} s")
    print(f"  seeding {n:>11,} : {figures['seed_s']:6.2f} s  ({n / figures['seed_s']:,.0f} customers/s)"
          f"  target < {TARGET_S:.0f} s for 1,000,000 -> "
          f"{verdict(figures['seed_s'] * (CUSTOMERS / n) < TARGET_S)}")
    print(f"  customers in the file: {rows:,}")
    print(f"  file size            : {mb(size)} ({size / rows:.0f} bytes per customer)")
    if not keep:
        for part in path.parent.glob(path.name + "*"):
            part.unlink()
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main(sys.argv[1:])
    print(f"  (bench ran {time.perf_counter() - started:.1f} s)")
    sys.exit(code)
