"""The Customers grid: a DataTable that asks for more rows as the operator nears its end."""

from __future__ import annotations

from textual.binding import Binding

from ..domain import CustomerRow
from .format import literal
from .paged_table import PagedTable

# (label, width): fixed widths so adding a page never re-measures every row
COLUMNS = (("Account", 9), ("Name", 22), ("Email", 28), ("Mobile", 12), ("Building", 20),
           ("Type", 11), ("Status", 8))


class CustomerTable(PagedTable):
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

    COLUMNS = COLUMNS

    def add_customers(self, rows: list[CustomerRow]) -> None:
        for r in rows:
            self.add_row(
                literal(r.account_no), literal(r.name), literal(r.email), literal(r.mobile),
                literal(r.building), literal(r.customer_type), literal(r.status),
                key=str(r.id),
            )
