"""The one place that opens the DuckDB file.

DuckDB lets a single process hold a database file at a time, and several
operators plus a headless dispatcher are several processes. So every unit of
work opens the file, runs in one transaction and closes it again; a file held
by someone else is retried with jittered backoff for a bounded time and then
reported as DatabaseBusy, never as a traceback.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)


class StoreError(Exception):
    """A database problem worth showing to a person."""

    title = "Database error"


class DatabaseBusy(StoreError):
    title = "Database busy"


class NotFound(StoreError):
    title = "Not found"


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "could not set lock" in text or "conflicting lock" in text


def _is_handle_race(exc: Exception) -> bool:
    # one thread of this process opens the file while another is closing it:
    # as passing as a busy file, so it is retried the same way
    return "unique file handle conflict" in str(exc).lower()


def _is_conflict(exc: Exception) -> bool:
    return isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower()


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every numbered file in store/migrations, in order."""
    found = []
    for entry in resources.files("commstui.store").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text("utf-8")))
    return sorted(found)


class Database:
    """A DuckDB file opened per unit of work.

    ``on_busy`` is called (from the waiting thread) each time the file is found
    held by another process, so a UI can say "database busy, retrying...".
    """

    _migrated: set[Path] = set()
    _migrate_lock = threading.Lock()

    def __init__(self, path: str | Path, busy_timeout: float = 10.0,
                 on_busy: Callable[[float], None] | None = None, threads: int | None = None) -> None:
        self.path = Path(path).expanduser().resolve()
        self.busy_timeout = busy_timeout
        self.on_busy = on_busy
        self.threads = threads  # DuckDB's worker threads per open; None: one per core
        self.applied_migrations: list[str] = []  # what opening this file applied, for `init`

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    def file_signature(self) -> tuple:
        """What changes whenever anyone commits to the file: inode, size and modification
        time of the file and of its write-ahead log (a stat each, no open)."""
        signature = []
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = path.stat()
            except FileNotFoundError:
                signature.append(None)
            else:
                signature.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(signature)

    def single_threaded(self) -> "Database":
        """The same file, opened with one DuckDB thread: for background bookkeeping that
        must not take the cores from work running beside it (the dispatcher's sends)."""
        return Database(self.path, self.busy_timeout, self.on_busy, threads=1)

    # -- opening ---------------------------------------------------------
    def _open(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                con = duckdb.connect(str(self.path), config={} if self.threads is None
                                     else {"threads": self.threads})
                # times go in and out as UTC; screens convert to the office zone
                con.execute("SET TimeZone = 'UTC'")
                return con
            except duckdb.Error as exc:
                if not (_is_lock_error(exc) or _is_handle_race(exc)):
                    raise StoreError(f"Cannot open {self.path}: {exc}") from exc
                waited = self.busy_timeout - (deadline - time.monotonic())
                if time.monotonic() >= deadline:
                    raise DatabaseBusy(
                        f"The database {self.path.name} is held by another program "
                        f"and stayed busy for {self.busy_timeout:.0f} s. Try again shortly."
                    ) from exc
                if self.on_busy and _is_lock_error(exc):  # a handle race is not worth a word
                    self.on_busy(waited)
                # full jitter keeps several waiting processes from retrying in step
                time.sleep(random.uniform(0, delay))
                delay = min(delay * 2, 0.2)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open, migrate if needed, yield a connection in autocommit mode, close.

        One open per file per process at a time: the OS file lock DuckDB relies on
        belongs to the process, so one thread closing its instance while another
        thread's is open drops the lock, and another process then opens the file
        beside us and writes are lost (measured: ~130 of 1,780 committed updates with
        4 threads here and another process). Units of work are short, so waiting on
        each other in-process costs little.
        """
        with _process_lock(self.path):
            con = self._open()
            try:
                self._ensure_migrated(con)
                yield con
            except duckdb.Error as exc:
                raise StoreError(str(exc)) from exc
            finally:
                con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One unit of work: open, BEGIN, yield, COMMIT (ROLLBACK on error), close."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], object], attempts: int = 5):
        """Run fn in a transaction, retrying on an in-process write-write conflict."""
        for attempt in range(attempts):
            try:
                with self.transaction() as con:
                    return fn(con)
            except StoreError as exc:
                cause = exc.__cause__
                if cause is not None and _is_conflict(cause) and attempt < attempts - 1:
                    time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
                    continue
                raise

    # -- schema ------------------------------------------------------------
    def _ensure_migrated(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.path in Database._migrated:
            return
        with Database._migrate_lock:
            if self.path in Database._migrated:
                return
            self.applied_migrations = migrate(con)
            Database._migrated.add(self.path)


_PROCESS_LOCKS: dict[Path, threading.RLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def _process_lock(path: Path) -> threading.RLock:
    # reentrant: a unit of work may open the file again in the same thread (same instance)
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(Path(path).resolve(), threading.RLock())


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = 'schema_migrations'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("select coalesce(max(version), 0) from schema_migrations").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration newer than the file's version, each in its own transaction."""
    applied = []
    current = schema_version(con)
    for version, name, sql in migrations():
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("insert into schema_migrations (version, name) values (?, ?)", [version, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        log.info("applied migration %s", name)
        applied.append(name)
    return applied
