"""Shared by the benchmarks: the cached 1,000,000-customer file, a time limit,
and small statistics helpers. Benchmarks print figures; they are not tests."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(os.environ.get("COMMSTUI_BENCH_DIR", "/tmp/commstui-bench"))
CUSTOMERS = 1_000_000
ADMIN, ADMIN_PASSWORD = "admin", "admin-demo-1"  # the documented demo administrator


def isolate() -> Path:
    """Keep a developer's own config and secrets out of the figures (and out of harm's way)."""
    config = CACHE / "config"
    config.mkdir(parents=True, exist_ok=True)
    os.environ["COMMSTUI_CONFIG_DIR"] = str(config)
    os.environ.setdefault("COMMSTUI_DATA_DIR", str(CACHE / "data"))
    return config


@contextmanager
def time_limit(seconds: int, what: str):
    """Abort the benchmark (not hang) if it runs past `seconds`."""
    def expired(signum, frame):
        raise TimeoutError(f"{what} did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def file_size(path: Path) -> int:
    """The database file plus its write-ahead log, if any."""
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 1_000_000:.1f} MB"


def build(path: Path, customers: int, sample: bool = True) -> dict:
    """A fresh file: schema, the curated sample (users, buildings) and `customers` synthetic customers."""
    from commstui.config import Settings
    from commstui.services import setup
    from commstui.services.context import Context

    ctx = Context.open(path, Settings(busy_timeout=30))
    t0 = time.perf_counter()
    setup.init(ctx, sample=sample)
    t1 = time.perf_counter()
    setup.seed_customers(ctx, customers)
    t2 = time.perf_counter()
    return {"init_s": t1 - t0, "seed_s": t2 - t1}


def big_db(customers: int = CUSTOMERS) -> Path:
    """The cached file with the sample data plus `customers` seeded ones; built once, then reused.

    Built under a temporary name and renamed when complete, so an interrupted
    build is never mistaken for a finished one.
    """
    isolate()
    path = CACHE / f"customers-{customers}.duckdb"
    if path.exists():
        return path
    tmp = CACHE / f"building-{os.getpid()}.duckdb"
    for stale in CACHE.glob(tmp.name + "*"):
        stale.unlink()
    print(f"building {path} ({customers:,} customers + sample data) once; later runs reuse it...",
          file=sys.stderr, flush=True)
    with time_limit(600, "building the benchmark database"):
        figures = build(tmp, customers)
    for part in CACHE.glob(tmp.name + "*"):
        part.rename(CACHE / part.name.replace(tmp.name, path.name))
    print(f"built in {figures['init_s'] + figures['seed_s']:.1f} s", file=sys.stderr, flush=True)
    return path


def copy_of(path: Path, name: str) -> Path:
    """A throwaway copy, so a benchmark that writes (the TUI's dispatcher, logins) leaves the cache alone."""
    target = CACHE / "scratch" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    for old in target.parent.glob(target.name + "*"):
        old.unlink()
    for part in path.parent.glob(path.name + "*"):
        shutil.copyfile(part, target.parent / part.name.replace(path.name, target.name))
    return target


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values_ms: list[float]) -> str:
    return (f"n={len(values_ms):4d}  p50={percentile(values_ms, 50):7.1f} ms  "
            f"p95={percentile(values_ms, 95):7.1f} ms  max={max(values_ms):7.1f} ms  "
            f"mean={statistics.fmean(values_ms):7.1f} ms")


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"
