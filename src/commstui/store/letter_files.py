"""Generated letters' PDFs, kept as files beside the database.

Not in DuckDB: appending thousands of 16 KB blobs made every commit rewrite more of the
column (measured: the process grew by ~250 MB and each 500-letter commit slowed from
0.3 s to 0.8 s over 10,000 letters). A file per letter, written whole and renamed into
place, costs the same at the 10,000th as at the first. The database keeps each letter's
file name and pages; the files live in `<database>.letters/batch-<id>/`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .db import NotFound


def folder(db_path: Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".letters")


def write(db_path: Path, batch_id: int, message_id: int, pdf: bytes) -> str:
    """Store one letter; returns its name relative to the letters folder."""
    name = f"batch-{batch_id}/{message_id}.pdf"
    target = folder(db_path) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    with open(part, "wb") as fh:
        fh.write(pdf)
    os.replace(part, target)
    return name


def read(db_path: Path, name: str) -> bytes:
    try:
        return (folder(db_path) / name).read_bytes()
    except FileNotFoundError:
        raise NotFound(f"The letter file {name} is missing from {folder(db_path)}: it was deleted or the "
                       "database was copied without its .letters folder.") from None


def remove_batch(db_path: Path, batch_id: int) -> None:
    """A rejected or cancelled batch's letters are never printed: their files go."""
    shutil.rmtree(folder(db_path) / f"batch-{batch_id}", ignore_errors=True)
