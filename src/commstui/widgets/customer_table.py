"""The Customers grid: a DataTable that asks for more rows as the operator nears its end."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from ..domain import CustomerRow
from .format import literal

# (label, width): fixed widths so adding a page never re-measures every row
COLUMNS = (("Account", 9), ("Name", 22), ("Email", 28), ("Mobile", 12), ("Building", 20),
           ("Type", 11), ("Status", 8))


class CustomerTable(DataTable):
    """Rows are appended page by page; NearEnd says "load the next page now"."""

    BINDINGS = [
        Binding("enter", "select_cursor", "More details", tooltip="Open the highlighted customer"),
        Binding("d", "select_cursor", "More details", show=False),
        Binding("right", "cursor_right", "Columns", key_display="←→",
                tooltip="Scroll sideways to Building, Type and Status"),
        # Home/End go to the first/last loaded row (DataTable's default scrolls sideways)
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    class NearEnd(Message):
        """The viewport is within a screenful of the last loaded row."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def on_mount(self) -> None:
        for label, width in COLUMNS:
            self.add_column(label, width=width)

    def add_customers(self, rows: list[CustomerRow]) -> None:
        for r in rows:
            self.add_row(
                literal(r.account_no), literal(r.name), literal(r.email), literal(r.mobile),
                literal(r.building), literal(r.customer_type), literal(r.status),
                key=str(r.id),
            )

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.row_count and new_value >= self.max_scroll_y - self.scrollable_content_region.height:
            self.post_message(self.NearEnd())
