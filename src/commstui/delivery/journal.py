"""A dispatcher's outcome journal: each send's outcome is appended here the moment
the server answers, before the next message goes on that connection, and written to
the database in batches.

Why: batching the database writes is what makes the dispatcher fast, but a dispatcher
killed between a send and its batch write would leave those messages "sending", and
whoever takes over after the lease runs out would send them again. With the journal,
a kill costs at most one duplicate per connection (the sends in flight). A write()
survives SIGKILL (the kernel has it); it does not survive a power cut, where the lease
and the stable Message-ID still make the resend a recognisable duplicate.

Files live beside the database in `<db>.dispatch/`: `<owner>.lock`, held with flock
for the dispatcher's life (the kernel drops it when the process dies, however it
dies), and `<owner>.<n>.jsonl` segments. Another dispatcher that can take a lock
knows its owner is dead and replays the segments before claiming anything.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path


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
        self._fd = self._open_segment()

    def _segment(self, seq: int) -> Path:
        return self.dir / f"{self._stem}.{seq:08d}.jsonl"

    def _open_segment(self) -> int:
        return os.open(self._segment(self._seq), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o660)

    def append(self, entry: dict) -> None:
        os.write(self._fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode())

    def rotate(self) -> Path:
        """Start a new segment; the returned one holds everything appended so far."""
        done = self._segment(self._seq)
        os.close(self._fd)
        self._seq += 1
        self._fd = self._open_segment()
        return done

    def close(self) -> None:
        """Graceful end: everything is in the database by now."""
        os.close(self._fd)
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
            for line in segment.read_text().splitlines():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut short by the kill: that send counts as in flight
        found.append(Orphan(owner, entries, fd, [*segments, lock]))
    return found
