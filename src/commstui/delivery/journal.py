"""A dispatcher's outcome journal: each send's outcome is appended here the moment
the server answers, before the next message goes on that connection, and written to
the database in batches.

Why: batching the database writes is what makes the dispatcher fast, but a dispatcher
killed between a send and its batch write would leave those messages "sending", and
whoever takes over after the lease runs out would send them again. With the journal,
a kill costs at most one duplicate per connection (the sends in flight). An entry
survives SIGKILL (it is in the kernel's page cache the moment it is stored); it does
not survive a power cut, where the lease and the stable Message-ID still make the
resend a recognisable duplicate.

Files live beside the database in `<db>.dispatch/`: `<owner>.lock`, held with flock
for the dispatcher's life (the kernel drops it when the process dies, however it
dies), and `<owner>.<n>.jsonl` segments. Another dispatcher that can take a lock
knows its owner is dead and replays the segments before claiming anything.

A segment is a file of SEGMENT_BYTES, its blocks reserved up front (so a full disk is
an error when it is opened, not a crash while writing), mapped into memory (MAP_SHARED):
an entry is a store into the page cache, not a write() system call — the journal runs
once per message on the event loop that sends, and the system call was most of its
cost. Lines end at the first NUL byte. Where the file system cannot reserve blocks,
segments are plain files appended with write().
"""

from __future__ import annotations

import errno
import fcntl
import json
import mmap
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


SEGMENT_BYTES = 1 << 20  # ~8,000 entries; a full segment rolls over to the next one

_string = json.encoder.encode_basestring_ascii  # a str as a JSON string (C, ASCII-safe)


def _code(code: int | None) -> str:
    return "null" if code is None else str(int(code))


def entry_time(entry: dict) -> datetime:
    """When an entry's send finished (seconds since the epoch; ISO 8601 in older journals)."""
    at = entry["at"]
    return datetime.fromisoformat(at) if isinstance(at, str) else datetime.fromtimestamp(at, UTC)


def journal_dir(db_path: Path | str) -> Path:
    return Path(f"{db_path}.dispatch")


def _safe(owner: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", owner)


class Journal:
    def __init__(self, db_path: Path | str, owner: str) -> None:
        self.dir = journal_dir(db_path)
        self.dir.mkdir(mode=0o770, exist_ok=True)
        self.owner = owner
        # unique per journal: a dispatcher that reuses an owner name never meets an old lock
        self._stem = f"{_safe(owner)}-{uuid.uuid4().hex[:8]}"
        self._lock_fd = os.open(self.dir / f"{self._stem}.lock", os.O_CREAT | os.O_RDWR, 0o660)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, owner.encode())
        self._seq = 0
        self._full: list[Path] = []  # segments that filled up since the last rotate()
        self._map: mmap.mmap | None = None
        self._fd = -1                # the segment's descriptor when it is not mapped
        self._pos = 0
        self._mapped = True          # until the file system says it cannot reserve blocks
        self._open_segment()

    def _segment(self, seq: int) -> Path:
        return self.dir / f"{self._stem}.{seq:08d}.jsonl"

    def _open_segment(self) -> None:
        self._pos = 0
        fd = os.open(self._segment(self._seq), os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o660)
        if self._mapped:
            try:
                os.posix_fallocate(fd, 0, SEGMENT_BYTES)
                self._map = mmap.mmap(fd, SEGMENT_BYTES)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENODEV):
                    os.close(fd)
                    raise
                self._mapped = False  # e.g. a file system without fallocate: write() it is
            else:
                os.close(fd)  # the mapping keeps the file
                return
        self._fd = fd

    def _close_segment(self) -> None:
        if self._map is not None:
            self._map.close()  # stored entries stay in the page cache and reach the file
            self._map = None
        else:
            os.close(self._fd)
            self._fd = -1

    def _write(self, line: bytes) -> None:
        if self._map is None:
            os.write(self._fd, line)
            return
        end = self._pos + len(line)
        if end > SEGMENT_BYTES:
            self._full.append(self._segment(self._seq))
            self._close_segment()
            self._seq += 1
            if len(line) > SEGMENT_BYTES:  # an entry bigger than a segment (thousands of refusals)
                self._mapped = False
            self._open_segment()
            self._write(line)
            return
        self._map[self._pos:end] = line
        self._pos = end

    def append(self, entry: dict) -> None:
        self._write((json.dumps(entry, separators=(",", ":")) + "\n").encode())

    def record(self, id: int, attempt: int, outcome: str, reply: str, refused: dict[str, str],
               code: int | None, at: datetime) -> None:
        """One send's outcome: the entry append() would write for it, "at" as seconds since
        the epoch. Built by hand: it runs once per message on the event loop, and
        json.dumps of a dict costs four times as much (the reply, the only free text, is
        still JSON-escaped)."""
        if refused:
            self.append({"id": id, "attempt": attempt, "outcome": outcome, "reply": reply, "refused": refused,
                         "code": code, "at": at.timestamp()})
            return
        self._write(f'{{"id":{id:d},"attempt":{attempt:d},"outcome":{_string(outcome)},'
                    f'"reply":{_string(reply)},"refused":{{}},"code":{_code(code)},'
                    f'"at":{at.timestamp()!r}}}\n'.encode())

    def rotate(self) -> list[Path]:
        """Start a new segment; the returned ones hold everything appended so far."""
        done = [*self._full, self._segment(self._seq)]
        self._full = []
        self._close_segment()
        self._seq += 1
        self._open_segment()
        return done

    def close(self) -> None:
        """Graceful end: everything is in the database by now."""
        self._close_segment()
        for segment in self.dir.glob(f"{self._stem}.*.jsonl"):
            segment.unlink(missing_ok=True)
        (self.dir / f"{self._stem}.lock").unlink(missing_ok=True)
        os.close(self._lock_fd)


@dataclass
class Orphan:
    """The journal of a dispatcher that died: its entries, to be replayed, then removed."""

    owner: str
    entries: list[dict]
    _lock_fd: int
    _files: list[Path]

    def remove(self) -> None:
        for path in self._files:
            path.unlink(missing_ok=True)
        os.close(self._lock_fd)

    def keep(self) -> None:
        """Replay failed: leave it for the next look."""
        os.close(self._lock_fd)


def orphans(db_path: Path | str) -> list[Orphan]:
    """Journals whose dispatcher is gone (its lock can be taken)."""
    folder = journal_dir(db_path)
    if not folder.is_dir():
        return []
    found = []
    for lock in folder.glob("*.lock"):
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # alive (our own journal included: its lock is held on another descriptor)
            continue
        owner = os.pread(fd, 4096, 0).decode(errors="replace") or lock.stem
        segments = sorted(folder.glob(f"{lock.stem}.*.jsonl"))
        entries = []
        for segment in segments:
            # a mapped segment ends at its first NUL byte (the rest was reserved, never written)
            text = segment.read_bytes().partition(b"\0")[0].decode(errors="replace")
            for line in text.splitlines():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut short by the kill: that send counts as in flight
        found.append(Orphan(owner, entries, fd, [*segments, lock]))
    return found
