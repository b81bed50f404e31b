"""The top line of every screen: where you are, who you are, which database."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label


class StatusLine(Horizontal):
    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        dock: top;
        background: $panel;
        color: $foreground;
        padding: 0 1;
        #status-place { width: 1fr; text-style: bold; }
        #status-session { width: auto; color: $foreground-muted; }
    }
    """

    def __init__(self, place: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.place = place

    def compose(self) -> ComposeResult:
        yield Label(f"commstui › {self.place}", id="status-place", markup=False)
        yield Label(self.session_text(), id="status-session", markup=False)

    def session_text(self) -> str:
        app = self.app
        user = getattr(app, "user", None)
        parts = [f"{user.username} ({user.display_name})" if user else "not logged in"]
        ctx = getattr(app, "ctx", None)
        if ctx is not None:
            parts.append(ctx.db.path.name)
        if getattr(app, "demo_outbox", None) is not None:
            parts.append("DEMO")
        return " │ ".join(parts)

    def refresh_session(self) -> None:
        self.query_one("#status-session", Label).update(self.session_text())
