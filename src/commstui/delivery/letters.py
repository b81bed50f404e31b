"""Letters as PDFs (fpdf2): the office's letterhead, the recipient's address where a
window envelope shows it, the date, a subject line and the body, on A4.

One letter is `make_letter`; a bulk batch is `make_letters`, which spreads the work
over a pool of processes (PDF making is CPU-bound Python: threads would share one
core) and hands the letters back as they are made, a few chunks in flight at a time,
so 10,000 letters never sit in memory at once.

Speed (see bench/letters.py): fpdf2's `multi_cell` spends most of a letter in its
general line breaker and `add_font` re-reads the font per document. Letters are
plain paragraphs in one typeface, so we break lines ourselves with the font's
advance widths (word widths memoised per process) and place each line with
`FPDF.text`, and typeface.add_fonts reuses a font measured once per process.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import resource_tracker
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice

from fpdf import FPDF

from . import typeface

# -- where things go on the page (mm from the top-left corner of A4 portrait, 210 x 297) --
#
# The address sits in the window of a DL (110 x 220 mm) window envelope. ISO 269 / DIN 676
# put a 90 x 45 mm window 20 mm from the envelope's left edge and 15 mm from its bottom,
# i.e. 50-95 mm from its top. DIN 5008 "Form B" (the layout made for window envelopes,
# folded at 105 and 210 mm) places the matching address field on the letter 20 mm from
# the left edge and 45 mm from the top, 85 mm wide and 45 mm high; a return address in
# small print may use its top 5 mm. An A4 sheet folded that way can shift a few mm in a
# DL envelope, so we keep the text well inside the field: 25 mm from the left (the
# DIN 5008 left margin) and from 46 mm to at most 88 mm from the top.
WINDOW = (20.0, 45.0, 105.0, 90.0)   # left, top, right, bottom of the address field
LEFT = 25.0                          # left margin for all text (DIN 5008)
RIGHT = 190.0                        # right margin 20 mm
RETURN_BASELINE = 48.5               # the return address line, 7 pt, at the top of the window
ADDRESS_TOP = 51.0                   # top of the first recipient line
ADDRESS_BOTTOM = 88.0                # the last recipient line ends above this
ADDRESS_WIDTH = WINDOW[2] - 2 - LEFT  # 78 mm: the widest an address line may be before it shrinks
FOLD_MARKS = (105.0, 210.0)          # DIN 5008 Form B fold marks, and the hole-punch mark
PUNCH_MARK = 148.5
DATE_BASELINE = 100.0
SUBJECT_BASELINE = 111.0
BODY_BASELINE = 121.0                # first body line on page 1
NEXT_PAGE_BASELINE = 28.0            # first body line on later pages
BODY_LAST_BASELINE = 270.0           # no body line below this (the footer is at 287)
FOOTER_BASELINE = 287.0

PT = 25.4 / 72                       # mm per point
BODY_PT, BODY_STEP = 10.5, 5.2
ADDRESS_PT, ADDRESS_STEP = 10.0, 4.5
GREY = 90

__all__ = ["Letterhead", "LetterInput", "make_letter", "make_letters", "letter_text", "WINDOW"]


@dataclass(frozen=True)
class Letterhead:
    """The office the letters come from (from the office settings)."""

    name: str
    address_lines: tuple[str, ...] = ()
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class LetterInput:
    key: int                          # the caller's id for this letter (e.g. the message id)
    recipient_lines: tuple[str, ...]  # name first, then the postal address lines
    date_text: str
    subject: str
    body: str


# -- measuring text -----------------------------------------------------------------------

_word_widths: dict[tuple[str, str], int] = {}  # (font id, word) -> width in 1/1000 em, per process


def _em_width(font, text: str) -> int:
    key = (font.fontkey, text)
    width = _word_widths.get(key)
    if width is None:
        if len(_word_widths) > 200_000:  # a bound, not a tuning knob: batches reuse few words
            _word_widths.clear()
        cw = font.cw
        width = _word_widths[key] = sum(cw[ord(ch)] for ch in text)
    return width


class _Pen:
    """Places single lines of text with fpdf2's cheapest call, measuring with the font's widths."""

    def __init__(self, pdf: FPDF, family: str) -> None:
        self.pdf = pdf
        self.family = family
        self.style = None
        self.size = None

    def font(self, style: str, size: float, grey: int = 0) -> None:
        if (style, size) != (self.style, self.size):
            self.pdf.set_font(self.family, style, size)
            self.style, self.size = style, size
        self.pdf.set_text_color(grey)

    def width(self, text: str) -> float:
        font = self.pdf.current_font
        space = font.cw[32]
        words = text.split(" ")
        units = sum(_em_width(font, w) for w in words) + space * (len(words) - 1)
        return units * self.size / 1000 * PT

    def text(self, x: float, baseline: float, text: str, align: str = "L") -> None:
        if align == "R":
            x -= self.width(text)
        elif align == "C":
            x -= self.width(text) / 2
        self.pdf.text(x, baseline, text)

    def wrap(self, paragraph: str, width_mm: float) -> list[str]:
        """Greedy line breaking at spaces; a word wider than the line is cut by characters."""
        font = self.pdf.current_font
        limit = width_mm / PT * 1000 / self.size  # in 1/1000 em
        space = font.cw[32]
        lines: list[str] = []
        line: list[str] = []
        used = 0
        for word in paragraph.split():
            w = _em_width(font, word)
            if w > limit:  # e.g. a long URL: cut it where it reaches the margin
                if line:
                    lines.append(" ".join(line))
                    line, used = [], 0
                piece, piece_w = "", 0
                for ch in word:
                    cw = font.cw[ord(ch)]
                    if piece and piece_w + cw > limit:
                        lines.append(piece)
                        piece, piece_w = "", 0
                    piece += ch
                    piece_w += cw
                line, used = [piece], piece_w
                continue
            if line and used + space + w > limit:
                lines.append(" ".join(line))
                line, used = [], 0
            used += (space if line else 0) + w
            line.append(word)
        if line:
            lines.append(" ".join(line))
        return lines or [""]


# -- one letter ---------------------------------------------------------------------------

def _clean(text: str) -> str:
    return typeface.printable(text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    "))


def _body_lines(pen: _Pen, body: str) -> list[str]:
    pen.font("", BODY_PT)
    lines: list[str] = []
    for paragraph in _clean(body).strip("\n").split("\n"):
        lines.extend(pen.wrap(paragraph, RIGHT - LEFT) if paragraph.strip() else [""])
    return lines


def _paginate(lines: list[str]) -> list[list[tuple[float, str]]]:
    pages: list[list[tuple[float, str]]] = [[]]
    y = BODY_BASELINE
    for line in lines:
        if y > BODY_LAST_BASELINE:
            pages.append([])
            y = NEXT_PAGE_BASELINE
        if line or pages[-1]:  # a blank line never starts a page
            pages[-1].append((y, line))
            y += BODY_STEP
    return pages


def _letterhead(pen: _Pen, head: Letterhead) -> None:
    pen.font("B", 16)
    pen.text(LEFT, 22, _clean(head.name))
    contact = [_clean(line) for line in head.address_lines if line.strip()]
    contact += [_clean(x) for x in (head.phone, head.email) if x.strip()]
    pen.font("", 8.5, GREY)
    step = min(4.0, 22 / max(1, len(contact)))
    for i, line in enumerate(contact):
        pen.text(RIGHT, 16 + i * step, line, align="R")
    pen.pdf.set_draw_color(160)
    pen.pdf.set_line_width(0.2)
    pen.pdf.line(LEFT, 40, RIGHT, 40)


def _fit(pen: _Pen, lines: list[str], size: float, width_mm: float, minimum: float) -> float:
    """The largest size <= `size` at which every line fits `width_mm` (not below `minimum`)."""
    pen.font(pen.style or "", size)
    widest = max((pen.width(line) for line in lines), default=0)
    return max(minimum, min(size, size * width_mm / widest)) if widest else size


def _address(pen: _Pen, head: Letterhead, recipient_lines: tuple[str, ...]) -> None:
    # the return address, in small print at the top of the window
    back = " · ".join(_clean(x) for x in (head.name, *head.address_lines) if x.strip())
    if back:
        pen.font("", 7, GREY)
        size = _fit(pen, [back], 7, ADDRESS_WIDTH, 5)
        pen.font("", size, GREY)
        pen.text(LEFT, RETURN_BASELINE, back)
    lines = [_clean(x) for x in recipient_lines if x.strip()]
    if not lines:
        return
    # seven or eight lines still fit at 10 pt; more (rare) get smaller, never outside the window
    step = min(ADDRESS_STEP, (ADDRESS_BOTTOM - ADDRESS_TOP) / len(lines))
    size = ADDRESS_PT * step / ADDRESS_STEP
    pen.font("", size)
    size = _fit(pen, lines, size, ADDRESS_WIDTH, 6)
    pen.font("", size)
    baseline = ADDRESS_TOP + size * PT * 0.8  # the cap height sits at the top of the line
    for i, line in enumerate(lines):
        pen.text(LEFT, baseline + i * step, line)


def _marks(pdf: FPDF) -> None:
    pdf.set_draw_color(150)
    pdf.set_line_width(0.2)
    for y in FOLD_MARKS:
        pdf.line(4, y, 9, y)
    pdf.line(4, PUNCH_MARK, 11, PUNCH_MARK)


def _new_pdf(title: str, author: str) -> tuple[FPDF, _Pen]:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)  # we paginate ourselves
    pdf.set_margins(LEFT, 20, 210 - RIGHT)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creator("commstui")
    return pdf, _Pen(pdf, typeface.add_fonts(pdf))


def make_letter(letter: LetterInput, letterhead: Letterhead) -> tuple[bytes, int]:
    """The letter as PDF bytes and its number of pages."""
    subject = _clean(letter.subject)
    pdf, pen = _new_pdf(subject, _clean(letterhead.name))
    pages = _paginate(_body_lines(pen, letter.body))
    total = len(pages)
    for number, lines in enumerate(pages, start=1):
        pdf.add_page()
        if number == 1:
            _letterhead(pen, letterhead)
            _address(pen, letterhead, letter.recipient_lines)
            _marks(pdf)
            pen.font("", BODY_PT)
            pen.text(RIGHT, DATE_BASELINE, _clean(letter.date_text), align="R")
            if subject.strip():
                pen.font("B", 11)
                for i, line in enumerate(pen.wrap(subject, RIGHT - LEFT)[:2]):
                    pen.text(LEFT, SUBJECT_BASELINE + i * 5.5, line)
        else:
            pen.font("", 8, GREY)
            pen.text(LEFT, 15, " — ".join(x for x in (_clean(letterhead.name), subject) if x.strip()))
        pen.font("", BODY_PT)
        for baseline, line in lines:
            if line:
                pen.text(LEFT, baseline, line)
        if total > 1:
            pen.font("", 8, GREY)
            pen.text(RIGHT, FOOTER_BASELINE, f"Page {number} of {total}", align="R")
    return bytes(pdf.output()), total


def letter_text(letter: LetterInput, letterhead: Letterhead) -> str:
    """The same letter as plain text, for the preview in the terminal."""
    head = [letterhead.name, *letterhead.address_lines]
    contact = "  ".join(x for x in (letterhead.phone, letterhead.email) if x.strip())
    parts = [line for line in head if line.strip()]
    if contact:
        parts.append(contact)
    parts.append("")
    parts.extend(line for line in letter.recipient_lines if line.strip())
    parts += ["", letter.date_text, ""]
    if letter.subject.strip():
        parts += [letter.subject, ""]
    parts.append(_clean(letter.body).strip("\n"))
    return typeface.printable("\n".join(parts)) + "\n"


# -- many letters -------------------------------------------------------------------------

def _make_chunk(letters: list[LetterInput], letterhead: Letterhead) -> list[tuple[int, bytes, int]]:
    return [(letter.key, *make_letter(letter, letterhead)) for letter in letters]


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with a real stderr (the null device).

    Textual replaces sys.stderr while an app runs, and the tracker hands stderr's file
    descriptor to its child: starting a pool from the TUI then fails with "bad value(s)
    in fds_to_keep". The null device also keeps the tracker's warnings off the screen.
    """
    saved = sys.stderr
    with open(os.devnull, "w") as null:
        sys.stderr = null
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = saved


def _warm_up() -> None:
    typeface.font_files()


def make_letters(letters: Iterable[LetterInput], letterhead: Letterhead, processes: int | None = None,
                 chunk: int = 25) -> Iterator[tuple[int, bytes, int]]:
    """Yield (key, pdf, pages) for each letter, in the order given, as they are made.

    Uses `processes` worker processes (default: one per core). At most two chunks per
    process are in flight, so memory stays bounded however many letters there are.
    Stop iterating (or call `.close()` on the iterator) to cancel: chunks not started
    are dropped, the ones being made finish (a chunk is about a second of work), and the
    worker processes have exited by the time `.close()` returns. A batch that fits in one
    chunk, or processes=1, is made in this process without starting a pool.
    """
    processes = processes or os.cpu_count() or 1
    chunk = max(1, chunk)
    source = iter(letters)
    first = list(islice(source, chunk))
    if processes == 1 or len(first) < chunk:
        yield from _make_chunk(first, letterhead)
        while batch := list(islice(source, chunk)):
            yield from _make_chunk(batch, letterhead)
        return

    typeface.font_files()  # prepare the font once here, so the workers only read it
    _start_resource_tracker()
    # "spawn", never "fork": the TUI has threads (workers, the dispatcher), and forking a
    # process with threads can deadlock the child on a lock some thread held.
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_warm_up)
    in_flight: deque[Future] = deque()
    try:
        batch = first
        while batch or in_flight:
            while batch and len(in_flight) < 2 * processes:
                in_flight.append(pool.submit(_make_chunk, batch, letterhead))
                batch = list(islice(source, chunk))
            yield from in_flight.popleft().result()
    finally:
        for future in in_flight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
