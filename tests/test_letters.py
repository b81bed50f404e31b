"""Letters as PDFs, read back with pypdf: what they say, where the address sits, Unicode
names, paging, and making many in a process pool that can be stopped."""

from __future__ import annotations

import io
import itertools

import psutil
import pytest
from fpdf import FPDF
from pypdf import PdfReader

from commstui.delivery import typeface
from commstui.delivery.letters import WINDOW, Letterhead, LetterInput, letter_text, make_letter, make_letters

MM = 25.4 / 72  # mm per PDF point
A4_HEIGHT = 297.0

HEAD = Letterhead("Harbour Property Services", ("12 Quay Street", "Sydney NSW 2000"), "02 9000 0000",
                  "office@harbour.example")
BODY = ("Dear Zoë O'Connor,\n\n"
        "The water supply to your building will be interrupted on Tuesday between 9am and 3pm while "
        "our contractors replace the main valve. Please keep enough water for the day.\n\n"
        "Questions? Call us or reply to this letter. [bold]Thank you[/bold]\n\n"
        "Yours sincerely,\nThe Office")


def letter(key: int = 1, name: str = "Zoë O'Connor", body: str = BODY, lines: tuple[str, ...] | None = None,
           subject: str = "Water interruption") -> LetterInput:
    return LetterInput(key=key, recipient_lines=lines or (name, "Unit 4, 12 Müller Street", "Carlton VIC 3053"),
                       date_text="23 November 2026", subject=subject, body=body)


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def placed_text(page) -> list[tuple[str, float, float]]:
    """(text, x mm from the left, baseline mm from the top) of every text run on the page."""
    runs: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, font_dict, font_size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            runs.append((text.strip(), x * MM, A4_HEIGHT - y * MM))

    page.extract_text(visitor_text=visit)
    return runs


def position(runs, text: str) -> tuple[float, float]:
    found = [(x, y) for t, x, y in runs if t == text]
    assert found, f"{text!r} not printed; runs: {[t for t, _, _ in runs]}"
    return found[0]


def test_a_letter_has_letterhead_address_date_subject_and_body():
    pdf, pages = make_letter(letter(), HEAD)
    assert pdf.startswith(b"%PDF-") and pages == 1
    reader = read(pdf)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in ("Harbour Property Services", "12 Quay Street", "02 9000 0000", "office@harbour.example",
                     "Unit 4, 12 Müller Street", "Carlton VIC 3053", "23 November 2026", "Water interruption",
                     "Dear Zoë O'Connor,", "replace the main valve.", "Yours sincerely,", "The Office"):
        assert expected in text, expected
    # rich markup is not interpreted: it prints as typed
    assert "[bold]Thank you[/bold]" in text
    assert "Page 1 of" not in text  # one page: no page numbers
    # A4 portrait
    box = reader.pages[0].mediabox
    assert round(float(box.width) * MM) == 210 and round(float(box.height) * MM) == 297


def test_the_address_sits_in_the_envelope_window():
    left, top, right, bottom = WINDOW
    lines = ("Nguyễn Văn An", "Unit 4, 12 Müller Street", "Carlton VIC 3053")
    runs = placed_text(read(make_letter(letter(lines=lines), HEAD)[0]).pages[0])
    xs_ys = [position(runs, line) for line in lines]
    for x, y in xs_ys:
        assert left <= x <= left + 10  # about 20-25 mm from the left edge
        assert top + 4 <= y <= bottom - 2  # baseline inside the window, with the cap height too
    assert [y for _, y in xs_ys] == sorted(y for _, y in xs_ys)  # in order, top to bottom
    assert 45 <= xs_ys[0][1] <= 60  # the first line ~45-50 mm down (plus its cap height)
    # the return address is in small print at the top of the window; the letterhead above it, the
    # date and subject below it
    back = [(x, y) for t, x, y in runs if t.startswith("Harbour Property Services ·")]
    assert back and top <= back[0][1] < xs_ys[0][1]
    assert position(runs, "Harbour Property Services")[1] < top
    assert position(runs, "23 November 2026")[1] > bottom
    assert position(runs, "Water interruption")[1] > bottom


def test_a_long_address_shrinks_to_stay_inside_the_window():
    left, top, right, bottom = WINDOW
    lines = ("Ms Zoë O'Connor-Featherstonehaugh, Director of Facilities and Operations",
             *(f"Line {i}" for i in range(2, 10)))
    reader = read(make_letter(letter(lines=lines), HEAD)[0])
    runs = placed_text(reader.pages[0])
    for line in lines:
        x, y = position(runs, line)
        assert left <= x and top < y < bottom
    # the widest line ends inside the window too: measure it at its printed size with the font's widths
    sizes = []
    reader.pages[0].extract_text(visitor_text=lambda text, cm, tm, font, size: sizes.append((text.strip(), size)))
    size_pt = dict(sizes)[lines[0]]
    assert 6 <= size_pt < 10
    pdf = FPDF(unit="mm")
    pdf.add_font("n", "", typeface.font_files()[""])
    pdf.set_font("n", "", size_pt)
    assert position(runs, lines[0])[0] + pdf.get_string_width(lines[0]) <= right


def test_unicode_names_print_correctly():
    names = ["Zoë O'Connor", "Nguyễn Thị Minh Khai", "Jürgen Müller", "Łukasz Żółć", "Ólafur Þórsson",
             "Σωκράτης Παπαδόπουλος", "Анна Павлова"]
    for i, name in enumerate(names):
        pdf, _ = make_letter(letter(key=i, name=name, body=f"Dear {name},\n\nHello."), HEAD)
        text = read(pdf).pages[0].extract_text()
        assert text.count(name) == 2, (name, text)  # in the address and in the greeting
    # a name typed with a combining accent prints as the composed letter
    decomposed = "Zoe\u0308 Nguye\u0302\u0303n"
    text = read(make_letter(letter(name=decomposed), HEAD)[0]).pages[0].extract_text()
    assert "Zoë Nguyễn" in text


def test_the_typeface_says_what_it_cannot_print():
    assert typeface.unprintable("Zoë Nguyễn Müller Ωμέγα Жанна €5 — “quoted”") == []
    assert typeface.unprintable("Tanaka 田中 🙂") == ["田", "中", "🙂"]


def test_a_long_letter_runs_over_pages_with_page_numbers():
    body = "\n\n".join(f"Paragraph {i}: " + "the quick brown fox jumps over the lazy dog " * 6
                       for i in range(1, 41))
    pdf, pages = make_letter(letter(body=body), HEAD)
    reader = read(pdf)
    assert pages == len(reader.pages) >= 3
    texts = [p.extract_text() for p in reader.pages]
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {pages}" in text
    assert "Unit 4, 12 Müller Street" in texts[0] and "Unit 4, 12 Müller Street" not in texts[1]
    assert "Harbour Property Services — Water interruption" in texts[1]  # running head on later pages
    joined = "\n".join(texts)
    # every paragraph is there once, in order
    positions = [joined.index(f"Paragraph {i}:") for i in range(1, 41)]
    assert positions == sorted(positions)
    # and no body line runs into the footer
    for page in reader.pages:
        body_ys = [y for t, _, y in placed_text(page) if not t.startswith("Page ")]
        assert max(body_ys) < 280


def test_a_word_longer_than_the_line_is_cut_not_lost():
    url = "https://example.com/" + "a" * 200
    text = read(make_letter(letter(body=f"See {url} today."), HEAD)[0]).pages[0].extract_text()
    assert url in text.replace("\n", "")
    assert "today." in text


def test_letter_text_is_the_same_letter_in_plain_text():
    text = letter_text(letter(), HEAD)
    for expected in ("Harbour Property Services", "12 Quay Street", "02 9000 0000", "Zoë O'Connor",
                     "Unit 4, 12 Müller Street", "23 November 2026", "Water interruption",
                     "[bold]Thank you[/bold]", "Yours sincerely,"):
        assert expected in text
    lines = text.splitlines()
    assert lines.index("Zoë O'Connor") < lines.index("23 November 2026") < lines.index("Water interruption")


def test_made_fonts_are_reused_and_subsets_stay_right():
    assert typeface.fast_path_in_use()
    # letters in a row with different accents: each embedded subset must carry its own glyphs
    for name in ("Ærøskøbing Ltd", "Mary Smith", "Đặng Văn Lâm", "Mary Smith", "Ærøskøbing Ltd"):
        text = read(make_letter(letter(name=name, body="Hello."), HEAD)[0]).pages[0].extract_text()
        assert name in text
    # a PDF made the ordinary way (fpdf2's add_font, not our shared font objects) is unaffected
    pdf = FPDF()
    pdf.add_font("plain", "", typeface.font_files()[""])
    pdf.add_page()
    pdf.set_font("plain", "", 12)
    pdf.cell(0, 10, "Ordinary Zoë")
    assert "Ordinary Zoë" in read(bytes(pdf.output())).pages[0].extract_text()


def _workers() -> set[int]:
    """Our child processes, not counting multiprocessing's resource tracker (it lives on by design)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def _gone(pids: set[int]) -> bool:
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=10)
    return not alive


def test_make_letters_in_two_processes_returns_every_key_once_in_order():
    names = ["Zoë O'Connor", "Nguyễn Văn An", "Jürgen Müller", "Mary Smith"]
    inputs = [letter(key=1000 + i, name=f"{names[i % 4]} {i}") for i in range(90)]
    before = _workers()
    seen, workers = [], set()
    for key, pdf, pages in make_letters(inputs, HEAD, processes=2, chunk=10):
        workers |= _workers() - before
        seen.append(key)
        assert pages == 1
        i = key - 1000
        assert f"{names[i % 4]} {i}" in read(pdf).pages[0].extract_text()
    assert seen == [1000 + i for i in range(90)]
    assert len(workers) == 2  # the pool really made them
    assert _gone(workers)


@pytest.mark.parametrize("how", ["close", "break"])
def test_stopping_early_cancels_and_leaves_no_worker_processes(how):
    consumed = itertools.count()

    def inputs():  # 5,000 letters, generated lazily: stopping must not make (or read) them all
        for i in range(5000):
            next(consumed)
            yield letter(key=i, name=f"Customer {i}")

    before = _workers()
    letters = make_letters(inputs(), HEAD, processes=2, chunk=5)
    got, workers = [], set()
    for key, _, _ in letters:
        workers |= _workers() - before
        got.append(key)
        if len(got) == 3:
            break
    if how == "close":
        letters.close()
    else:
        del letters  # what happens when a caller just drops the iterator
    assert got == [0, 1, 2]
    assert workers
    assert _gone(workers)
    assert not (_workers() - before)
    assert next(consumed) <= 5 * (2 * 2 + 2)  # read ahead: at most the chunks in flight


def test_a_small_batch_is_made_without_starting_processes():
    before = _workers()
    out = []
    for key, pdf, pages in make_letters([letter(key=k) for k in (7, 8, 9)], HEAD, processes=2, chunk=25):
        out.append(key)
        assert not (_workers() - before)
    assert out == [7, 8, 9]
