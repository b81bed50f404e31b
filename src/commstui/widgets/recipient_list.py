"""The bulk review list: one line per recipient with a tick, drawn only for the lines on
screen (the Line API), so 100,000 recipients cost a list and a bytearray, not 100,000
widgets. Space ticks or unticks the row under the cursor; A ticks or unticks them all."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence

from rich.cells import set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..domain import Recipient, RecipientKind
from .format import clean

# (heading, width): the seed's columns, then why a row cannot be reached
# (heading, width): the seed's columns, then why a row cannot be reached; at 80 columns the
# first six show, and the line under the table shows the whole row at the cursor
COLUMNS: tuple[tuple[str, int], ...] = (
    ("", 3), ("Account No", 10), ("Linked No", 10), ("Type", 8), ("Name", 20), ("Channel", 8),
    ("Destination", 36), ("Problem", 44))
TOTAL_WIDTH = sum(width + 1 for _, width in COLUMNS)
CHANNEL_LABELS = {"email": "Email", "letter": "Letter", "sms": "SMS", "robocall": "RoboCall"}


def cells(r: Recipient, ticked: bool) -> tuple[str, ...]:
    tick = "[x]" if ticked else "[ ]"
    return (tick, r.account_no or "", r.linked_account_no or "", RecipientKind(r.kind).label, clean(r.name),
            CHANNEL_LABELS.get(str(r.channel), str(r.channel)), clean(r.destination), r.problem or "")


def line_text(values: Sequence[str]) -> str:
    """The columns padded (or cut) to their widths, one space apart."""
    return "".join(set_cell_size(value, width) + " " for value, (_, width) in zip(values, COLUMNS))


class RecipientTable(ScrollView, can_focus=True):
    """Rows of Recipient, each ticked or not; the first line is a fixed heading."""

    COMPONENT_CLASSES = {"recipient-table--header", "recipient-table--cursor", "recipient-table--problem",
                         "recipient-table--unticked"}
    DEFAULT_CSS = """
    RecipientTable {
        height: 1fr;
        background: $surface;
        & > .recipient-table--header { text-style: bold; background: $panel; }
        & > .recipient-table--cursor { background: $block-cursor-blurred-background; }
        &:focus > .recipient-table--cursor { background: $block-cursor-background;
                                             color: $block-cursor-foreground; }
        & > .recipient-table--problem { color: $text-warning; }
        & > .recipient-table--unticked { color: $text-disabled; }
    }
    """
    BINDINGS = [
        Binding("space", "toggle_row", "Tick/untick"),
        Binding("a", "toggle_all", "All on/off"),
        Binding("p", "next_problem", "Next problem"),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]

    cursor: reactive[int] = reactive(0, init=False)

    class CursorMoved(Message):
        def __init__(self, table: RecipientTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> RecipientTable:
            return self.table

    class TicksChanged(Message):
        """How many are ticked changed (counts per channel, reachable only)."""

        def __init__(self, table: RecipientTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> RecipientTable:
            return self.table

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.recipients: list[Recipient] = []
        self.ticks = bytearray()
        self._problems: list[int] = []   # indexes of the rows that cannot be reached

    # -- data ------------------------------------------------------------------------
    def set_recipients(self, recipients: list[Recipient]) -> None:
        """Show a new list, every row ticked."""
        self.recipients = recipients
        self.ticks = bytearray(b"\x01") * len(recipients)
        self._problems = [i for i, r in enumerate(recipients) if r.problem is not None]
        self.virtual_size = Size(TOTAL_WIDTH, len(recipients) + 1)
        self.set_reactive(RecipientTable.cursor, 0)
        self.scroll_to(0, 0, animate=False)
        self.refresh()
        self.post_message(self.TicksChanged(self))
        self.post_message(self.CursorMoved(self))

    def ticked(self) -> list[Recipient]:
        """The rows the operator left ticked, in list order."""
        ticks = self.ticks
        return [r for i, r in enumerate(self.recipients) if ticks[i]]

    def ticked_counts(self) -> tuple[Counter, int]:
        """(ticked reachable per channel, ticked that cannot be reached)."""
        per_channel: Counter = Counter()
        unreachable = 0
        ticks = self.ticks
        for i, r in enumerate(self.recipients):
            if ticks[i]:
                if r.problem is None:
                    per_channel[str(r.channel)] += 1
                else:
                    unreachable += 1
        return per_channel, unreachable

    @property
    def current(self) -> Recipient | None:
        return self.recipients[self.cursor] if self.recipients else None

    # -- actions ---------------------------------------------------------------------
    def action_toggle_row(self) -> None:
        if self.recipients:
            self.ticks[self.cursor] ^= 1
            self._refresh_row(self.cursor)
            self.post_message(self.TicksChanged(self))
            self.post_message(self.CursorMoved(self))

    def action_toggle_all(self) -> None:
        """Untick all if every row is ticked; otherwise tick all."""
        if not self.recipients:
            return
        value = 0 if all(self.ticks) else 1
        self.ticks = bytearray([value]) * len(self.recipients)
        self.refresh()
        self.post_message(self.TicksChanged(self))

    def action_next_problem(self) -> None:
        if not self._problems:
            self.notify("Every recipient can be reached on their channel.", timeout=3)
            return
        at = bisect_right(self._problems, self.cursor)
        self.cursor = self._problems[at] if at < len(self._problems) else self._problems[0]  # then wrap

    def action_cursor(self, step: int) -> None:
        self._move(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_jump(self, where: int) -> None:
        self._move(where if where >= 0 else len(self.recipients) - 1)

    def _move(self, row: int) -> None:
        if self.recipients:
            self.cursor = max(0, min(len(self.recipients) - 1, row))

    def watch_cursor(self, old: int, new: int) -> None:
        self.post_message(self.CursorMoved(self))
        self._refresh_row(old)
        self._refresh_row(new)
        # keep the cursor in view; line 0 is the heading, so row r sits on line r + 1
        top = int(self.scroll_y)
        visible = max(1, self.scrollable_content_region.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False)

    def _refresh_row(self, row: int) -> None:
        y = row - int(self.scroll_y) + 1
        self.refresh(Region(0, y, self.size.width, 1))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._move(int(self.scroll_y) + event.y - 1)

    # -- drawing -----------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x = int(self.scroll_x)
        if y == 0:
            text = line_text([heading for heading, _ in COLUMNS])
            style = self.get_component_rich_style("recipient-table--header")
        else:
            row = int(self.scroll_y) + y - 1
            if row >= len(self.recipients):
                return Strip.blank(width, self.rich_style)
            r = self.recipients[row]
            ticked = bool(self.ticks[row])
            text = line_text(cells(r, ticked))
            style = self.rich_style
            if r.problem is not None:
                style += self.get_component_rich_style("recipient-table--problem")
            if not ticked:
                style += self.get_component_rich_style("recipient-table--unticked")
            if row == self.cursor:
                style += self.get_component_rich_style("recipient-table--cursor")
        full = Strip([Segment(set_cell_size(text, max(TOTAL_WIDTH, scroll_x + width)), style)])
        return full.crop(scroll_x, scroll_x + width)
