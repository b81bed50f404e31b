"""A quote or an invoice as a PDF (fpdf2), on A4: the office's letterhead (the same
settings letters use), who it is for, its number and dates, the priced lines, the
total and the notes. Printed in the project's Unicode typeface, so "Zoë" or "Nguyễn"
print as written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from fpdf import FPDF
from fpdf.enums import TableBordersLayout
from fpdf.fonts import FontFace

from ..domain import Document, DocumentKind
from . import typeface
from .letters import Letterhead

__all__ = ["DocumentParty", "make_document_pdf", "money", "date_text", "file_name"]

LEFT, RIGHT = 20.0, 190.0
GREY = 90


@dataclass(frozen=True)
class DocumentParty:
    """Who the document is for, as printed."""

    name: str
    account_no: str
    address_lines: tuple[str, ...] = ()   # the service address (or the postal address)


def money(amount: Decimal) -> str:
    """$1,234.50 (a negative amount: -$12.00)."""
    cents = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"


def quantity(value: Decimal) -> str:
    value = Decimal(value)
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value.normalize():,f}"


def date_text(day: date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else ""


def file_name(document: Document) -> str:
    """The attachment's name: Q-000123.pdf (only safe characters)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in document.number)
    return f"{safe or 'document'}.pdf"


def _p(text: str | None) -> str:
    return typeface.printable((text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))


class _DocumentPdf(FPDF):
    def __init__(self, title: str, office: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.family = typeface.add_fonts(self)
        self.doc_title = title
        self.office = office
        self.set_margins(LEFT, 18, 210 - RIGHT)
        self.set_auto_page_break(True, margin=18)
        self.set_title(title)
        self.set_author(office)
        self.set_creator("commstui")

    def header(self) -> None:
        if self.page_no() > 1:
            self.set_font(self.family, "", 8)
            self.set_text_color(GREY)
            self.set_xy(LEFT, 8)
            self.cell(0, 5, f"{self.office} — {self.doc_title} (continued)")
            self.set_text_color(0)
            self.set_y(self.t_margin)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(GREY)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)


def _letterhead(pdf: _DocumentPdf, head: Letterhead) -> None:
    pdf.set_xy(LEFT, 16)
    pdf.set_font(pdf.family, "B", 16)
    pdf.cell(100, 8, _p(head.name))
    contact = [_p(line) for line in (*head.address_lines, head.phone, head.email) if line and line.strip()]
    pdf.set_font(pdf.family, "", 8.5)
    pdf.set_text_color(GREY)
    for i, line in enumerate(contact[:6]):
        pdf.set_xy(RIGHT - 80, 14 + i * 4)
        pdf.cell(80, 4, line, align="R")
    pdf.set_text_color(0)
    pdf.set_draw_color(160)
    pdf.set_line_width(0.2)
    pdf.line(LEFT, 40, RIGHT, 40)


def _facts(pdf: _DocumentPdf, document: Document, party: DocumentParty) -> None:
    top = 48
    pdf.set_xy(LEFT, top)
    pdf.set_font(pdf.family, "B", 20)
    pdf.cell(90, 10, document.kind.label)
    pdf.set_font(pdf.family, "", 8.5)
    pdf.set_text_color(GREY)
    pdf.set_xy(LEFT, top + 13)
    pdf.cell(90, 5, "For")
    pdf.set_text_color(0)
    pdf.set_font(pdf.family, "B", 10.5)
    pdf.set_xy(LEFT, top + 18)
    pdf.multi_cell(95, 5, _p(party.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 10)
    pdf.multi_cell(95, 5, f"Account {_p(party.account_no)}", new_x="LMARGIN", new_y="NEXT")
    for line in party.address_lines:
        if line and line.strip():
            pdf.multi_cell(95, 5, _p(line), new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()

    due_label = "Valid until" if document.kind is DocumentKind.QUOTE else "Due"
    facts = [("Number", document.number), ("Issued", date_text(document.issued_on))]
    if document.due_on:
        facts.append((due_label, date_text(document.due_on)))
    facts.append(("Status", document.status.capitalize()))
    y = top + 2
    for label, value in facts:
        pdf.set_xy(125, y)
        pdf.set_font(pdf.family, "", 9)
        pdf.set_text_color(GREY)
        pdf.cell(25, 6, label)
        pdf.set_text_color(0)
        pdf.set_font(pdf.family, "B" if label == "Number" else "", 10)
        pdf.cell(RIGHT - 150, 6, _p(value), align="R")
        y += 6
    pdf.set_y(max(left_bottom, y) + 8)


def _lines(pdf: _DocumentPdf, document: Document) -> None:
    pdf.set_font(pdf.family, "", 9.5)
    headings = FontFace(emphasis="BOLD", fill_color=(225, 229, 235))
    with pdf.table(col_widths=(95, 18, 28, 29), headings_style=headings, line_height=5.5,
                   text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"), padding=1.5, repeat_headings=1,
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES, width=RIGHT - LEFT) as table:
        heading = table.row()
        for name in ("Description", "Qty", "Unit price", "Amount"):
            heading.cell(name)
        for line in document.lines:
            row = table.row()
            row.cell(_p(line.description))
            row.cell(quantity(line.quantity))
            row.cell(money(line.unit_price))
            row.cell(money(line.amount))
    pdf.ln(2)
    pdf.set_font(pdf.family, "B", 11)
    pdf.set_x(RIGHT - 70)
    pdf.cell(41, 7, "Total (incl. GST)", align="R")
    pdf.cell(29, 7, money(document.total), align="R", new_x="LMARGIN", new_y="NEXT")


def _notes(pdf: _DocumentPdf, notes: str) -> None:
    if not notes.strip():
        return
    pdf.ln(6)
    pdf.set_font(pdf.family, "B", 9.5)
    pdf.cell(0, 5, "Notes", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 9.5)
    pdf.multi_cell(0, 5, _p(notes.strip()), new_x="LMARGIN", new_y="NEXT")


def make_document_pdf(document: Document, party: DocumentParty, letterhead: Letterhead) -> tuple[bytes, int]:
    """The quote or invoice as PDF bytes, and its number of pages."""
    title = f"{document.kind.label} {document.number}"
    pdf = _DocumentPdf(_p(title), _p(letterhead.name))
    pdf.add_page()
    _letterhead(pdf, letterhead)
    _facts(pdf, document, party)
    if document.lines:
        _lines(pdf, document)
    else:
        pdf.set_font(pdf.family, "", 10)
        pdf.cell(0, 6, "No lines.", new_x="LMARGIN", new_y="NEXT")
    _notes(pdf, document.notes)
    return bytes(pdf.output()), pdf.pages_count

