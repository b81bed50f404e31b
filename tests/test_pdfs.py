"""PDF checks, the merged print batch and the error report, read back with pypdf."""

from __future__ import annotations

import io
import zipfile

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from commstui.delivery.letters import Letterhead, LetterInput, make_letter
from commstui.delivery.pdfs import PdfError, check_pdf, error_report, print_batch, write_print_batch

HEAD = Letterhead("Harbour Property Services", ("12 Quay Street", "Sydney NSW 2000"), "02 9000 0000", "")
MB = 1_000_000


def a_letter(key: int, body: str = "Hello.") -> bytes:
    return make_letter(LetterInput(key, (f"Recipient {key}", "1 Main St"), "23 November 2026",
                                   f"Letter {key}", body), HEAD)[0]


def attachment(pages: int = 2) -> bytes:
    """A PDF from elsewhere (fpdf2's core font, a picture-free notice), one marker per page."""
    pdf = FPDF()
    pdf.set_font("Helvetica", "", 12)
    for i in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Attachment page {i + 1}. " + "Building notice text. " * 60)
    return bytes(pdf.output())


def texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf), strict=True).pages]


# -- check_pdf ----------------------------------------------------------------------------

def test_a_real_pdf_passes_with_its_pages_size_and_hash():
    data = attachment(2)
    info = check_pdf(data, "notice.pdf", warn_over=10 * MB, limit=50 * MB)
    assert info.pages == 2 and info.size == len(data) and info.warning is None
    import hashlib
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_a_large_pdf_is_accepted_with_a_warning_in_mb():
    data = attachment(1)
    info = check_pdf(data, "notice.pdf", warn_over=len(data) - 1)
    assert info.pages == 1
    assert info.warning and "notice.pdf" in info.warning and "MB" in info.warning
    assert f"{len(data) / MB:.1f} MB" in info.warning


def test_over_the_hard_limit_is_refused_with_the_size():
    data = attachment(1)
    with pytest.raises(PdfError, match=r"^notice\.pdf is 0\.0 MB, over the 0\.0 MB limit for an attachment"):
        check_pdf(data, "/home/me/notice.pdf", warn_over=1, limit=len(data) - 1)


def test_a_zip_renamed_pdf_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(PdfError) as err:
        check_pdf(buf.getvalue(), "report.pdf", warn_over=10 * MB)
    message = str(err.value)
    assert message.startswith("report.pdf is not a PDF (it starts with 'PK..' — a ZIP file")
    assert "Word" in message


@pytest.mark.parametrize("data, words", [
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "PNG picture"),
    (b"Just some notes\n", "is not a PDF (it starts with 'Just'"),
])
def test_other_files_say_what_they_look_like(data, words):
    with pytest.raises(PdfError, match=words.replace("(", r"\(")):
        check_pdf(data, "scan.pdf", warn_over=MB)


def test_an_empty_file_is_refused():
    with pytest.raises(PdfError, match=r"^notice\.pdf is empty"):
        check_pdf(b"", "notice.pdf", warn_over=MB)


def test_a_truncated_pdf_is_refused():
    data = attachment(1)
    with pytest.raises(PdfError, match="cut short"):
        check_pdf(data[: len(data) // 2], "notice.pdf", warn_over=MB)


def test_a_damaged_pdf_is_refused():
    with pytest.raises(PdfError, match="looks like a PDF but cannot be read"):
        check_pdf(b"%PDF-1.7\nthis is not really a pdf at all\n%%EOF\n", "notice.pdf", warn_over=MB)


def test_an_encrypted_pdf_is_refused():
    writer = PdfWriter(clone_from=io.BytesIO(attachment(1)))
    writer.encrypt(user_password="", owner_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert PdfReader(io.BytesIO(out.getvalue())).is_encrypted
    with pytest.raises(PdfError, match="password-protected"):
        check_pdf(out.getvalue(), "notice.pdf", warn_over=MB)


# -- print batches ------------------------------------------------------------------------

def test_print_batch_puts_the_attachment_after_each_letter(tmp_path):
    letters = [a_letter(1), a_letter(2, body="Long.\n\n" + "words " * 900), a_letter(3)]
    assert [len(PdfReader(io.BytesIO(x)).pages) for x in letters] == [1, 2, 1]
    extra = attachment(2)
    path = tmp_path / "batch.pdf"
    pages = write_print_batch(path, iter(letters), extra)
    assert pages == 1 + 2 + 1 + 3 * 2
    assert not list(tmp_path.glob("*.part"))
    got = texts(path.read_bytes())
    assert len(got) == pages

    def what(text: str) -> str:
        if "Attachment page 1." in text:
            return "A1"
        if "Attachment page 2." in text:
            return "A2"
        for key in (1, 2, 3):
            if f"Recipient {key}" in text:
                return f"L{key}"
            if f"Harbour Property Services — Letter {key}" in text:  # the running head of its page 2
                return f"L{key}+"
        return "?"

    assert [what(t) for t in got] == ["L1", "A1", "A2", "L2", "L2+", "A1", "A2", "L3", "A1", "A2"]
    # the attachment's contents and fonts are stored once, however many letters it follows
    without = write_print_batch(tmp_path / "plain.pdf", letters, None)
    assert without == 4
    assert path.stat().st_size - (tmp_path / "plain.pdf").stat().st_size < 1.5 * len(extra)


def test_print_batch_without_attachment_and_as_bytes():
    data = print_batch([a_letter(5), a_letter(6)])
    got = texts(data)
    assert len(got) == 2 and "Recipient 5" in got[0] and "Recipient 6" in got[1]
    assert check_pdf(data, "batch.pdf", warn_over=MB).pages == 2


def test_print_batch_of_nothing_is_refused(tmp_path):
    with pytest.raises(PdfError, match="no letters"):
        write_print_batch(tmp_path / "batch.pdf", [], None)
    assert not list(tmp_path.iterdir())


# -- the error report ---------------------------------------------------------------------

COLUMNS = ["Account No", "Linked Account No", "Type", "Name", "Destination", "Error"]


def failure_rows(n: int) -> list[list[str]]:
    names = ["Zoë O'Connor", "Nguyễn Văn An", "Jürgen Müller"]
    return [[f"A{i:05d}", f"L{i:05d}" if i % 2 else "", "Customer" if i % 3 else "Contact", names[i % 3],
             "" if i % 4 else "+61 400 000 000",
             "No mobile number recorded, so no SMS could be sent. " * (1 + i % 3) + f"(row {i})"]
            for i in range(n)]


def test_error_report_lists_every_failure_with_headings_on_every_page():
    rows = failure_rows(90)
    pdf = error_report("Bulk send 12 — failures", ["Building notice, 23 November 2026", "Generated by Admin"],
                       COLUMNS, rows, printed="23 November 2026 14:05")
    reader = PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    assert pages >= 3
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height)  # landscape
    got = [p.extract_text() for p in reader.pages]
    assert "Bulk send 12 — failures" in got[0] and "Generated by Admin" in got[0]
    for number, text in enumerate(got, start=1):
        for heading in ("Account No", "Linked Account No", "Destination", "Error"):
            assert heading in text, (number, heading)
        assert f"Page {number} of {pages}" in text
        assert "Printed 23 November 2026 14:05" in text
    joined = " ".join(" ".join(t.split()) for t in got)
    for i in range(90):
        assert f"A{i:05d}" in joined and f"(row {i})" in joined
    assert "Zoë O'Connor" in joined and "Nguyễn Văn An" in joined and "Jürgen Müller" in joined
    # a long error is wrapped inside its cell, not cut
    assert joined.count("No mobile number recorded, so no SMS could be sent.") == sum(1 + i % 3 for i in range(90))


def test_error_report_without_failures_says_so():
    text = texts(error_report("Bulk send 13 — failures", [], COLUMNS, []))[0]
    assert "No failures" in text and "Page 1 of 1" in text and "Printed " in text
