"""The dispatcher at a glance, for the status line: running or paused, and what waits.

"Dispatcher: running · 12 queued · 3 due next hour · 2 retrying · 1 failed in 24 h ·
1 needs attention" when there is room, "● running · 12 queued · 3 <1h · 1 held" when
there is not. Counts of zero are left out. The app loads the figures (one worker for
the whole app) and hands them to every status line as a DispatcherView.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from ..domain import DispatcherStatus as Figures
from ..services.schedule import until
from .format import clean

SEPARATOR = " · "
LEVELS = 4  # 0: in words ... 3: shortest


@dataclass(frozen=True)
class DispatcherView:
    """What the status line shows: the figures (None if they could not be read) and why not."""

    figures: Figures | None
    running_here: bool = False          # this app's own dispatcher is running
    error: str | None = None            # the figures could not be read
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def paused(self) -> bool:
        return self.figures is not None and self.figures.paused

    @property
    def running(self) -> bool:
        return self.running_here or bool(self.figures and self.figures.dispatchers)


class DispatcherViewChanged(Message, bubble=False):
    """Posted by the app to every screen when it has read the dispatcher's figures again."""

    def __init__(self, view: DispatcherView | None) -> None:
        super().__init__()
        self.view = view


def _state(view: DispatcherView, level: int) -> list[tuple[str, str]]:
    """The first part: running / PAUSED / not running, as (text, style) pieces."""
    prefix = [("Dispatcher: ", "")] if level == 0 else []
    figures = view.figures
    if figures is None:
        return prefix + [("?", "bold $warning"), (" status unknown" if level < 2 else "", "$warning")]
    if figures.paused:
        who = f" by {clean(figures.paused_by)}" if figures.paused_by and level < 3 else ""
        return prefix + [(f" PAUSED{who} ", "bold reverse $warning")]
    if view.running:
        if level == 0:
            return prefix + [("running", "")]
        return [("●", "bold $success"), (" running" if level < 3 else "", "")]
    # nobody is sending: worth a warning only if something waits
    style = "$warning" if figures.queued else "$foreground-muted"
    if level == 0:
        return prefix + [("not running", style)]
    return [("○ not running" if level < 3 else "○ off", style)]


def _counts(view: DispatcherView, level: int) -> list[tuple[str, str]]:
    figures = view.figures
    if figures is None:
        return []
    words = level == 0
    parts: list[tuple[str, str]] = []
    if figures.queued:
        parts.append((f"{figures.queued:,} queued", ""))
    if figures.due_next_hour:
        parts.append((f"{figures.due_next_hour:,} " + ("due next hour" if words else "<1h"), ""))
    elif words and figures.queued and figures.next_due is not None:
        parts.append((f"next {until(figures.next_due, view.at)}", "$foreground-muted"))
    if figures.retrying:
        parts.append((f"{figures.retrying:,} " + ("retry" if level >= 2 else "retrying"), "$warning"))
    if figures.failing:
        parts.append((f"{figures.failing:,} failed" + (" in 24 h" if words else ""), "bold $error"))
    if figures.needs_attention:
        parts.append((f"{figures.needs_attention:,} " + ("needs attention" if words else "held"),
                      "bold $warning"))
    return parts


def describe(view: DispatcherView | None, level: int = 0) -> Content:
    """The status at one level of detail (0 = in words ... LEVELS-1 = shortest)."""
    if view is None:
        return Content("")
    pieces: list[tuple[str, str] | str] = list(_state(view, level))
    bare = len("".join(text for text, _style in _state(view, level))) == 1  # just "●"
    for n, (text, style) in enumerate(_counts(view, level)):
        pieces += [" " if bare and n == 0 else SEPARATOR, (text, style)]
    return Content.assemble(*[p for p in pieces if p and (isinstance(p, str) or p[0])])


class DispatcherStatusLine(Static):
    """One line: the dispatcher's state at the most detailed level that fits its width."""

    DEFAULT_CSS = """
    DispatcherStatusLine {
        width: 1fr;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self.view: DispatcherView | None = None
        self.level = 0

    def variants(self) -> list[Content]:
        """Every level of detail, most detailed first (empty while nothing is known)."""
        return [describe(self.view, level) for level in range(LEVELS)]

    def show(self, view: DispatcherView | None, level: int | None = None) -> None:
        self.view = view
        if level is not None:
            self.level = level
        self.update(describe(view, self.level))

    @property
    def plain(self) -> str:
        return describe(self.view, self.level).plain


# The name the team agreed on for this widget.
DispatcherStatus = DispatcherStatusLine
