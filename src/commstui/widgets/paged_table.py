"""A DataTable filled page by page (keyset paging): it asks for the next page as the
operator nears the end of what is loaded, so the whole result is never loaded."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import DataTable


class PagedTable(DataTable):
    """Subclasses set COLUMNS: (label, width) pairs, fixed so a new page never re-measures every row."""

    COLUMNS: tuple[tuple[str, int], ...] = ()

    class NearEnd(Message):
        """The viewport is within a screenful of the last loaded row: load the next page now."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def on_mount(self) -> None:
        for label, width in self.COLUMNS:
            self.add_column(label, width=width)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.row_count and new_value >= self.max_scroll_y - self.scrollable_content_region.height:
            self.post_message(self.NearEnd())
