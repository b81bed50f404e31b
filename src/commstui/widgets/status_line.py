"""The top line of every screen: where you are, the dispatcher, who you are, which database.

It says as much as fits the width: at 80 columns "commstui ›" and the user's full name
give way to the dispatcher's figures, which shorten before anything else is dropped.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from .dispatcher_status import DispatcherStatusLine, DispatcherView

GAP = 2
# (place, dispatcher, session) detail levels, most informative first; the first that fits wins
FITS = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 2, 1), (1, 2, 2), (1, 3, 2)]


class StatusLine(Horizontal):
    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        dock: top;
        background: $panel;
        color: $foreground;
        padding: 0 1;
        #status-place { width: auto; text-style: bold; }
        #status-place.-fill { width: 1fr; }  /* no dispatcher shown: the place takes the room */
        DispatcherStatusLine { margin-left: 2; }
        #status-session { width: auto; margin-left: 2; color: $foreground-muted; }
    }
    """

    def __init__(self, place: str, *, dispatcher: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.place = place
        self.with_dispatcher = dispatcher  # False: this screen never shows the dispatcher

    def compose(self) -> ComposeResult:
        yield Label(self.place_text(0), id="status-place", markup=False)
        yield DispatcherStatusLine(id="status-dispatcher")
        yield Label(self.session_text(), id="status-session", markup=False)

    def on_mount(self) -> None:
        self.show_dispatcher(getattr(self.app, "dispatcher_view", None))

    # -- the three parts, each at its levels of detail -----------------------------
    def place_text(self, level: int) -> str:
        return f"commstui › {self.place}" if level == 0 else self.place

    def session_text(self, level: int = 0) -> str:
        app = self.app
        user = getattr(app, "user", None)
        if user is None:
            parts = ["not logged in"]
        elif level == 0 and user.display_name:
            parts = [f"{user.username} ({user.display_name})"]
        else:
            parts = [user.username]
        ctx = getattr(app, "ctx", None)
        if ctx is not None and level < 2:
            parts.append(ctx.db.path.name)
        if getattr(app, "demo_outbox", None) is not None:
            parts.append("DEMO")
        return " │ ".join(parts)

    # -- updates ---------------------------------------------------------------------
    def show_dispatcher(self, view: DispatcherView | None) -> None:
        """New figures from the app (None: nobody logged in, or nothing known yet)."""
        self.query_one(DispatcherStatusLine).show(view if self.with_dispatcher else None)
        self.fit()

    def refresh_session(self) -> None:
        self.fit()

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        """Choose the most detailed texts whose total fits the line."""
        width = self.content_size.width
        dispatcher = self.query_one(DispatcherStatusLine)
        shown = dispatcher.view is not None
        variants = [content.cell_length for content in dispatcher.variants()]
        choice = FITS[-1]
        for place, detail, session in FITS:
            needed = (cell_len(self.place_text(place)) + GAP + cell_len(self.session_text(session))
                      + (GAP + max(variants[detail], 1) if shown else 0))
            if needed <= width:
                choice = (place, detail, session)
                break
        place, detail, session = choice
        dispatcher.display = shown
        self.query_one("#status-place", Label).set_class(not shown, "-fill").update(self.place_text(place))
        self.query_one("#status-session", Label).update(self.session_text(session))
        dispatcher.show(dispatcher.view, detail)
