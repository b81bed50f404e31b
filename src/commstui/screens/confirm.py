"""A yes/no question before something that cannot be undone (cancel emails, mark
letters posted). Dismisses with True (go ahead) or False; the safe answer has focus."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = "confirm.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("left", "app.focus_previous", "Move", show=False),
        Binding("right", "app.focus_next", "Move", show=False),
    ]

    def __init__(self, title: str, text: str | Text, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = Text(self.title_text)  # titles carry names: literal, never markup
            # plain text unless the caller built a Text: names in it are never markup
            yield Static(self.text if isinstance(self.text, Text) else Text(self.text), id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", id="confirm-yes", variant="warning", compact=True)
                yield Button(f"{self.no} (n)", id="confirm-no", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")
