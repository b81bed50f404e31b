"""The question before a scheduled email is cancelled. For an occurrence of a
recurring series it asks which: this email only, or the whole series."""

from __future__ import annotations

from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..domain import Message
from ..services import schedule as schedules
from ..widgets.format import clean
from ..widgets.message_text import long_time

ONE = "one"
SERIES = "series"


class CancelEmailScreen(ModalScreen[str | None]):
    """Dismisses with "one" (this email), "series" (the whole series) or None (keep it)."""

    CSS_PATH = "cancel_email.tcss"
    BINDINGS = [
        Binding("y", "cancel_it", "Cancel it"),
        Binding("o", "only_this", "This email only"),
        Binding("s", "whole_series", "The whole series"),
        Binding("n,escape", "keep", "Keep it"),
        Binding("left", "app.focus_previous", "Move", show=False),
        Binding("right", "app.focus_next", "Move", show=False),
    ]

    def __init__(self, message: Message, due: str = "") -> None:
        super().__init__()
        self.message = message
        self.due = due
        self.in_series = message.series_id is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_it":
            return not self.in_series
        if action in ("only_this", "whole_series"):
            return self.in_series
        return True

    def compose(self) -> ComposeResult:
        subject = clean(self.message.subject) if self.message.subject else "(no subject)"
        with Vertical(id="cancel-dialog") as dialog:
            dialog.border_title = ("Cancel this email or the series?" if self.in_series
                                   else "Cancel this email?")
            text = Text()
            text.append(subject, style="bold")
            text.append(f"\nto {clean(', '.join(self.message.to_addrs))}")
            if self.due:
                text.append(f"\ndue {self.due}")
            if self.in_series:
                text.append("\n\nThis email is one of a recurring series. Cancel only this one "
                            "(the series goes on), or the whole series (no more are sent)?")
            text.append("\nCancelled emails stay in the log as cancelled.", style="dim")
            yield Static(text, id="cancel-text")
            with Horizontal(id="cancel-buttons"):
                if self.in_series:
                    yield Button("This email only (o)", id="cancel-one", variant="warning", compact=True)
                    yield Button("The whole series (s)", id="cancel-series", variant="error", compact=True)
                else:
                    yield Button("Cancel it (y)", id="cancel-one", variant="error", compact=True)
                yield Button("Keep it (n)", id="keep", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def action_cancel_it(self) -> None:
        self.dismiss(ONE)

    def action_only_this(self) -> None:
        self.dismiss(ONE)

    def action_whole_series(self) -> None:
        self.dismiss(SERIES)

    def action_keep(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"cancel-one": ONE, "cancel-series": SERIES}.get(event.button.id or ""))


class EmailChanged(TextualMessage):
    """A cancel, reschedule or send-now went through."""

    def __init__(self, message: Message, done: str, wake: bool = False) -> None:
        super().__init__()
        self.message = message
        self.done = done
        self.wake = wake


class CancelsEmails:
    """For screens offering "c Cancel" on an email: ask (this one or the whole series),
    cancel in a worker, post EmailChanged. The screen sets `zone` (the office zone)."""

    zone: str

    def ask_to_cancel(self, message: Message) -> None:
        due = long_time(message.scheduled_at or message.due_at, self.zone)
        self.app.push_screen(CancelEmailScreen(message, due), partial(self._cancel_answered, message))

    def _cancel_answered(self, message: Message, answer: str | None) -> None:
        if answer is not None:
            self._cancel(message.id, answer == SERIES)

    @work(thread=True, exit_on_error=False, group="email-change")
    def _cancel(self, message_id: int, whole_series: bool) -> None:
        done = schedules.cancel(self.app.ctx, self.app.user, message_id, whole_series=whole_series)
        self.post_message(EmailChanged(done, "Series cancelled: no more are sent" if whole_series
                                       else "Email cancelled"))
