"""The merge-field catalogue as a list to pick from: name, what it is, an example.
Typing in the filter narrows it; Enter picks (the owner inserts "{{ name }}")."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option


class FieldCatalogue(Vertical):
    """A filter box above the fields. Posts FieldCatalogue.Picked with the field's name."""

    DEFAULT_CSS = """
    FieldCatalogue {
        height: auto;
        #field-filter { margin-bottom: 1; }
        #field-options { height: auto; max-height: 14; }
    }
    """

    class Picked(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, fields: Sequence, **kwargs) -> None:
        """fields: objects with .name, .description and .example (services.templates.field_catalogue())."""
        super().__init__(**kwargs)
        self.fields = list(fields)

    def compose(self) -> ComposeResult:
        yield Input(placeholder="type to narrow: name, building, date…", id="field-filter", compact=True)
        yield OptionList(*self._options(""), id="field-options", compact=True)

    def _options(self, text: str) -> list[Option]:
        words = text.lower().split()
        found = []
        for field in self.fields:
            haystack = f"{field.name} {field.description}".lower()
            if all(w in haystack for w in words):
                label = Text(field.name, style="bold")
                label.append(f"  {field.description}", style="")
                example = str(field.example).replace("\n", " ⏎ ")
                label.append(f"  e.g. {example}", style="dim")
                found.append(Option(label, id=field.name))
        return found

    @on(Input.Changed, "#field-filter")
    def _narrow(self, event: Input.Changed) -> None:
        options = self.query_one("#field-options", OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Submitted, "#field-filter")
    def _pick_first(self) -> None:
        options = self.query_one("#field-options", OptionList)
        index = options.highlighted if options.highlighted is not None else 0
        if options.option_count:
            self.post_message(self.Picked(options.get_option_at_index(index).id or ""))

    @on(OptionList.OptionSelected, "#field-options")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Picked(event.option.id or ""))

    def on_key(self, event) -> None:
        # up/down in the filter move through the list, so typing and picking need no Tab
        if event.key in ("down", "up") and self.query_one("#field-filter", Input).has_focus:
            options = self.query_one("#field-options", OptionList)
            if options.option_count:
                current = options.highlighted if options.highlighted is not None else -1
                step = 1 if event.key == "down" else -1
                options.highlighted = max(0, min(options.option_count - 1, current + step))
                event.stop()
