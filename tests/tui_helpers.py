"""Helpers shared by the TUI tests: wait for a condition, read what is on screen."""

from __future__ import annotations

import io
import time

from rich.console import Console
from textual.app import App


async def until(pilot, condition, what: str = "condition", timeout: float = 30.0) -> None:
    """Poll a condition with a bounded deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def screen_text(app) -> str:
    """What the operator sees, as plain text (as App.export_screenshot renders it)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system="truecolor", legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def text_of(widget) -> str:
    """The text of one widget on the screen: the screen's lines cropped to its region."""
    region = widget.region
    lines = screen_text(widget.app).splitlines()[region.y:region.bottom]
    return "\n".join(line[region.x:region.right] for line in lines)


def static_text(widget) -> str:
    """A Static's whole content as plain text, including any part scrolled out of view."""
    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def notifications(app: App) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]
