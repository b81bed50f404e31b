"""PDF files other than letters: checking an attachment someone picked, the merged
print batch of letters, and the batch's printable error report."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from fpdf import FPDF
from fpdf.fonts import FontFace
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, StreamObject

from . import typeface

__all__ = ["PdfError", "PdfInfo", "check_pdf", "print_batch", "write_print_batch", "error_report",
           "megabytes"]


class PdfError(ValueError):
    """A file that cannot be used as a PDF; the message says why and what to do."""


@dataclass(frozen=True)
class PdfInfo:
    pages: int
    size: int                   # bytes
    sha256: str
    warning: str | None = None  # e.g. large enough that some mail servers may refuse it


def megabytes(n_bytes: int) -> str:
    return f"{n_bytes / 1_000_000:.1f} MB"


# the first bytes of files people pick by mistake
_LOOKALIKES = (
    (b"PK\x03\x04", "a ZIP file — a Word (.docx) or Excel (.xlsx) file?"),
    (b"\xd0\xcf\x11\xe0", "an old Word (.doc) or Excel (.xls) file?"),
    (b"{\\rtf", "a Rich Text (.rtf) file?"),
    (b"\x89PNG", "a PNG picture?"),
    (b"\xff\xd8\xff", "a JPEG picture?"),
    (b"GIF8", "a GIF picture?"),
    (b"II*\x00", "a TIFF picture or scan?"),
    (b"MM\x00*", "a TIFF picture or scan?"),
)


def _starts_with(data: bytes) -> str:
    head = data[:4]
    shown = "".join(chr(b) if 32 <= b < 127 else "." for b in head)
    for magic, what in _LOOKALIKES:
        if data.startswith(magic):
            return f"it starts with '{shown}' — {what}"
    if data.lstrip()[:1] == b"<":
        return f"it starts with '{shown}' — a web page or XML file?"
    return f"it starts with '{shown}'"


def check_pdf(data: bytes, filename: str, warn_over: int, limit: int | None = None) -> PdfInfo:
    """Check that `data` is a readable, unencrypted PDF with pages.

    Raises PdfError for an empty file, one over `limit` bytes, one that is not a PDF
    (it must start with the PDF signature AND pypdf must read it), one cut short, an
    encrypted one, or one without pages. Over `warn_over` bytes it is accepted with a
    warning (mail servers often refuse large messages).
    """
    name = Path(filename).name or "The file"
    size = len(data)
    if size == 0:
        raise PdfError(f"{name} is empty (0 bytes). Choose the PDF again, or export it again from "
                       "the program that made it.")
    if limit is not None and size > limit:
        raise PdfError(f"{name} is {megabytes(size)}, over the {megabytes(limit)} limit for an attachment. "
                       "Make it smaller (e.g. save it again with smaller pictures) or send it another way.")
    # the signature may follow a little junk (the PDF spec allows it within the first 1 KB)
    if b"%PDF-" not in data[:1024]:
        raise PdfError(f"{name} is not a PDF ({_starts_with(data)}). Save or export it as PDF first.")
    if b"%%EOF" not in data[-2048:]:
        raise PdfError(f"{name} is cut short: its end is missing (an interrupted download or copy?). "
                       "Get the file again.")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise PdfError(f"{name} is password-protected (encrypted), so it cannot be printed or sent "
                           "as it is. Save a copy without the password and attach that.")
        pages = len(reader.pages)
    except PdfError:
        raise
    except Exception as exc:  # pypdf raises many kinds for a damaged file
        raise PdfError(f"{name} looks like a PDF but cannot be read ({_reason(exc)}). It may be damaged: "
                       "export it again from the program that made it.") from exc
    if pages == 0:
        raise PdfError(f"{name} has no pages. Export it again from the program that made it.")
    warning = None
    if size > warn_over:
        warning = (f"{name} is {megabytes(size)} (more than {megabytes(warn_over)}): "
                   "some mail servers refuse messages this large.")
    return PdfInfo(pages=pages, size=size, sha256=hashlib.sha256(data).hexdigest(), warning=warning)


def _reason(exc: Exception) -> str:
    text = re.sub(r"\s+", " ", str(exc)).strip()
    return text[:120] if text else type(exc).__name__


# -- the print batch ----------------------------------------------------------------------

# page keys not copied: the old page tree, links and bookmarks into the old document
_PAGE_KEYS_LEFT_OUT = frozenset({"/Parent", "/Annots", "/B", "/StructParents", "/Thumb", "/PieceInfo"})


class _MergedPdf:
    """Writes a PDF page by page to a binary file, copying pages out of other PDFs.

    pypdf's PdfWriter keeps every object of every page in memory until it writes
    (measured: ~130 KB per letter, 400 MB for 3,000); this writes each object as soon
    as it is copied and keeps only its offset. An attachment's pages are copied once:
    each later copy is a new page object pointing at the same contents and fonts.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.start = out.tell()
        self.offsets: list[int | None] = [None]  # index = object number
        self.kids: list[int] = []
        self.pages_num = self._reserve()
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _reserve(self) -> int:
        self.offsets.append(None)
        return len(self.offsets) - 1

    def _ref(self, ref: IndirectObject, mapping: dict, todo: list) -> int:
        num = mapping.get(ref.idnum)
        if num is None:
            num = mapping[ref.idnum] = self._reserve()
            todo.append((ref, num))
        return num

    def _emit(self, obj, buf: io.BytesIO, mapping: dict, todo: list, skip: frozenset = frozenset()) -> None:
        if isinstance(obj, IndirectObject):
            buf.write(b"%d 0 R" % self._ref(obj, mapping, todo))
        elif isinstance(obj, StreamObject):
            raw = obj._data  # the encoded bytes, copied as they are (no decode and re-encode)
            self._emit_dict(obj, buf, mapping, todo, frozenset({"/Length"}), extra=b"/Length %d" % len(raw))
            buf.write(b"\nstream\n")
            buf.write(raw)
            buf.write(b"\nendstream")
        elif isinstance(obj, DictionaryObject):
            self._emit_dict(obj, buf, mapping, todo, skip)
        elif isinstance(obj, ArrayObject):
            buf.write(b"[")
            for i, item in enumerate(obj):
                if i:
                    buf.write(b" ")
                self._emit(item, buf, mapping, todo)
            buf.write(b"]")
        else:
            obj.write_to_stream(buf)

    def _emit_dict(self, obj: DictionaryObject, buf, mapping, todo, skip, extra: bytes = b"") -> None:
        buf.write(b"<<")
        for key, value in dict.items(obj):  # raw values: references stay references
            if key in skip:
                continue
            (key if isinstance(key, NameObject) else NameObject(key)).write_to_stream(buf)
            buf.write(b" ")
            self._emit(value, buf, mapping, todo)
            buf.write(b"\n")
        buf.write(extra)
        buf.write(b">>")

    def _write(self, num: int, body: bytes) -> None:
        self.offsets[num] = self.out.tell() - self.start
        self.out.write(b"%d 0 obj\n" % num)
        self.out.write(body)
        self.out.write(b"\nendobj\n")

    def add_page(self, page: DictionaryObject, mapping: dict) -> None:
        """Copy one page; `mapping` (source object number -> ours) is per source document."""
        todo: list[tuple[IndirectObject, int]] = []
        num = self._reserve()
        buf = io.BytesIO()
        self._emit(page, buf, mapping, todo, skip=_PAGE_KEYS_LEFT_OUT)
        body = buf.getvalue()
        self._write(num, body[:-2] + b"/Parent %d 0 R\n>>" % self.pages_num)
        self.kids.append(num)
        while todo:
            ref, target = todo.pop()
            buf = io.BytesIO()
            self._emit(ref.get_object(), buf, mapping, todo)
            self._write(target, buf.getvalue())

    def finish(self) -> int:
        kids = b" ".join(b"%d 0 R" % k for k in self.kids)
        self._write(self.pages_num, b"<</Type /Pages /Count %d /Kids [%s]>>" % (len(self.kids), kids))
        catalog = self._reserve()
        self._write(catalog, b"<</Type /Catalog /Pages %d 0 R>>" % self.pages_num)
        info = self._reserve()
        self._write(info, b"<</Producer (commstui) /Title (Print batch)>>")
        xref = self.out.tell() - self.start
        self.out.write(b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets))
        for offset in self.offsets[1:]:
            self.out.write(b"%010d 00000 n \n" % offset)
        self.out.write(b"trailer\n<</Size %d /Root %d 0 R /Info %d 0 R>>\nstartxref\n%d\n%%%%EOF\n"
                       % (len(self.offsets), catalog, info, xref))
        return len(self.kids)


def _merge(out: BinaryIO, letters: Iterable[bytes], attachment: bytes | None) -> int:
    merged = _MergedPdf(out)
    attachment_pages, attachment_map = [], {}
    if attachment is not None:
        attachment_pages = list(PdfReader(io.BytesIO(attachment)).pages)
    count = 0
    for letter in letters:
        mapping: dict[int, int] = {}
        for page in PdfReader(io.BytesIO(letter)).pages:
            merged.add_page(page, mapping)
        for page in attachment_pages:
            merged.add_page(page, attachment_map)
        count += 1
    if count == 0:
        raise PdfError("There are no letters to print.")
    return merged.finish()


def write_print_batch(path: str | os.PathLike, letters: Iterable[bytes], attachment: bytes | None = None) -> int:
    """Write one PDF to `path`: each letter, each followed by the attachment when given.

    Streams: one letter in memory at a time. Written to a temporary name first, so a
    stopped run never leaves half a batch under `path`. Returns the number of pages.
    """
    target = Path(path)
    part = target.with_name(target.name + ".part")
    try:
        with open(part, "wb") as out:
            pages = _merge(out, letters, attachment)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return pages


def print_batch(letters: Iterable[bytes], attachment: bytes | None = None) -> bytes:
    """The merged print batch as bytes (for a few letters; use write_print_batch for many)."""
    out = io.BytesIO()
    _merge(out, letters, attachment)
    return out.getvalue()


# -- the error report ---------------------------------------------------------------------

class _Report(FPDF):
    def __init__(self, title: str, printed: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.report_title = title
        self.printed = printed
        self.family = typeface.add_fonts(self)
        self.set_margins(12, 14, 12)
        self.set_auto_page_break(True, margin=14)
        self.set_title(title)
        self.set_creator("commstui")

    def header(self) -> None:
        if self.page_no() > 1:
            self.set_font(self.family, "", 8)
            self.set_text_color(90)
            self.set_xy(self.l_margin, 6)
            self.cell(0, 5, f"{self.report_title} (continued)")
            self.set_text_color(0)
            self.set_y(self.t_margin)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.family, "", 8)
        self.set_text_color(90)
        self.cell(0, 5, f"Printed {self.printed}")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)


def _col_widths(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[float, ...]:
    """Relative widths from the text each column holds: wide columns get room, none starves."""
    weights = []
    for i, heading in enumerate(columns):
        lengths = sorted(len(str(row[i])) if i < len(row) else 0 for row in rows[:500])
        typical = lengths[int(len(lengths) * 0.9)] if lengths else 0
        weights.append(min(60, max(6, len(heading), typical)))
    return tuple(weights)


def error_report(title: str, subtitle_lines: Sequence[str], columns: Sequence[str],
                 rows: Sequence[Sequence[str]], printed: str | None = None) -> bytes:
    """A landscape A4 table: the title and subtitle lines, then one row per failure,
    the column headings repeated on every page, long cells wrapped, and a footer with
    the printed date/time and "Page x of y"."""
    printed = printed or datetime.now().astimezone().strftime("%d %B %Y %H:%M").lstrip("0")
    pdf = _Report(typeface.printable(title), printed)
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 15)
    pdf.multi_cell(0, 8, typeface.printable(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 9.5)
    for line in subtitle_lines:
        pdf.multi_cell(0, 5, typeface.printable(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    columns = [typeface.printable(c) for c in columns]
    if not rows:
        pdf.set_font(pdf.family, "", 10)
        pdf.cell(0, 6, "No failures: every recipient got their message.")
        return bytes(pdf.output())
    pdf.set_font(pdf.family, "", 8.5)
    headings = FontFace(emphasis="BOLD", fill_color=(225, 229, 235))
    with pdf.table(col_widths=_col_widths(columns, rows), headings_style=headings, line_height=4.4,
                   text_align="LEFT", v_align="TOP", padding=1.2, repeat_headings=1,
                   cell_fill_color=(246, 247, 249), cell_fill_mode="ROWS") as table:
        heading = table.row()
        for name in columns:
            heading.cell(name)
        for values in rows:
            row = table.row()
            for i in range(len(columns)):
                row.cell(typeface.printable(str(values[i])) if i < len(values) else "")
    return bytes(pdf.output())
