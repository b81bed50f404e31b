"""Bulk wizard, step 3 "Review": every recipient on their channel, those who cannot be
reached listed with the reason; rows can be unticked."""

from __future__ import annotations

from collections import Counter

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from ..domain import Recipient
from ..widgets.format import clean, plural
from ..widgets.recipient_list import CHANNEL_LABELS, RecipientTable

CHANNEL_ORDER = ("email", "letter", "sms", "robocall")


def counts_text(per_channel: Counter, unreachable: int) -> Content:
    """"Ticked: 48 email · 10 letter · 6 SMS; 1 cannot be reached (reported as not sent)"."""
    shown = [f"{per_channel[c]:,} {CHANNEL_LABELS[c]}" for c in CHANNEL_ORDER if per_channel.get(c)]
    parts: list = [("Ticked: ", "bold"), (" · ".join(shown) or "nobody", "bold")]
    if unreachable:
        parts.append(("; " + plural(unreachable, "cannot be reached", "cannot be reached")
                      + " (they will be reported as not sent)", "$text-warning"))
    return Content.assemble(*parts)


class ReviewStep(Vertical):
    def compose(self) -> ComposeResult:
        yield RecipientTable(id="recipients")
        yield Static("", id="review-row")
        yield Static("", id="review-counts")

    def show(self, recipients: list[Recipient]) -> None:
        self.query_one(RecipientTable).set_recipients(recipients)

    @property
    def table(self) -> RecipientTable:
        return self.query_one(RecipientTable)

    def focus_first(self) -> None:
        self.table.focus()

    @on(RecipientTable.CursorMoved)
    def _cursor_moved(self) -> None:
        table = self.table
        r = table.current
        line = self.query_one("#review-row", Static)
        if r is None:
            line.update("")
            return
        parts: list = [(f"{table.cursor + 1:,}/{len(table.recipients):,} ", "dim"),
                       (f"{clean(r.name)}", "bold"),
                       f" · {CHANNEL_LABELS.get(str(r.channel), r.channel)}: {clean(r.destination)}"]
        if r.problem:
            parts.append((f" — {r.problem}", "bold $text-warning"))
        line.update(Content.assemble(*parts))

    @on(RecipientTable.TicksChanged)
    def _ticks_changed(self) -> None:
        self.query_one("#review-counts", Static).update(counts_text(*self.table.ticked_counts()))
