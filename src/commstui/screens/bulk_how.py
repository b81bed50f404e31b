"""Bulk wizard, step 2 "How": each customer's preferred delivery, or one channel for all."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message as TextualMessage
from textual.widgets import RadioButton, RadioSet, Static

from ..domain import ChannelMode

MODES = (ChannelMode.PREFERRED, ChannelMode.EMAIL, ChannelMode.SMS, ChannelMode.ROBOCALL, ChannelMode.LETTER)
EXPLAIN = {
    ChannelMode.PREFERRED: "Each customer the way they asked: an email, or a letter by post (those who "
                           "prefer SMS get a text). Contacts always get an email.",
    ChannelMode.EMAIL: "An email to everyone. Those without an email address are listed, not dropped.",
    ChannelMode.SMS: "A text message to everyone. Those without a mobile number, or not opted in to SMS, "
                     "are listed with the reason.",
    ChannelMode.ROBOCALL: "An automated phone call to everyone. Those without a phone number are listed.",
    ChannelMode.LETTER: "A printed letter to everyone (PDFs to print and post). Those without a postal "
                        "address are listed.",
}


def channels_of(mode: ChannelMode) -> list[str]:
    """The channels a mode can use, for the prerequisites (texts only if someone prefers them)."""
    if mode == ChannelMode.PREFERRED:
        return ["email", "letter"]
    return [mode.value]


class HowChanged(TextualMessage):
    def __init__(self, mode: ChannelMode) -> None:
        super().__init__()
        self.mode = mode


class HowStep(Vertical):
    def compose(self) -> ComposeResult:
        with RadioSet(id="how-mode"):
            for index, mode in enumerate(MODES):
                yield RadioButton(mode.label, value=index == 0, id=f"how-{mode.value}")
        yield Static(EXPLAIN[MODES[0]], id="how-explain")

    @property
    def mode(self) -> ChannelMode:
        return MODES[max(0, self.query_one("#how-mode", RadioSet).pressed_index)]

    def focus_first(self) -> None:
        self.query_one("#how-mode").focus()

    @on(RadioSet.Changed, "#how-mode")
    def _changed(self) -> None:
        self.query_one("#how-explain", Static).update(EXPLAIN[self.mode])
        self.post_message(HowChanged(self.mode))
