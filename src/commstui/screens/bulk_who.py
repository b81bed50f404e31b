"""Bulk wizard, step 1 "Who": by buildings (every brand) and customer types, by account
numbers pasted in, or by limits; plus owners and contacts; with a live count.

The count is asked for a moment after the last change (debounced), and an answer that
arrives after a newer question was asked is dropped, so a slow count never overwrites
a newer one.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.content import Content
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.timer import Timer
from textual.widgets import (Checkbox, ContentSwitcher, Label, RadioButton, RadioSet, Select, SelectionList,
                             Static, TextArea)

from ..services import bulk
from ..services.bulk import AccountCheck, Choices, Selection, SelectionCount
from ..widgets.format import clean, plural

COUNT_AFTER = 0.35      # seconds of quiet before the count is asked for
MODES = ("buildings", "accounts", "filter")
MAX_PROBLEMS_SHOWN = 200
YES_NO_ANY = [("Any", "any"), ("Yes", "yes"), ("No", "no")]


class CountAnswered(TextualMessage):
    def __init__(self, asked: int, count: SelectionCount | None, error: str | None = None) -> None:
        super().__init__()
        self.asked, self.count, self.error = asked, count, error


class AccountsChecked(TextualMessage):
    """The pasted numbers were judged; `then_next` when Next asked (the screen goes on)."""

    def __init__(self, text: str, check: AccountCheck, then_next: bool) -> None:
        super().__init__()
        self.text, self.check, self.then_next = text, check, then_next


def _tri(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def problems_text(check: AccountCheck) -> Content:
    """Each number left out, at its line, with the reason."""
    parts: list = [(check.summary + "\n", "bold")]
    for problem in check.problems[:MAX_PROBLEMS_SHOWN]:
        parts += [(f"line {problem.line}: ", "bold"), (clean(problem.token), "bold $text-warning"),
                  f" — {problem.reason}\n"]
    if len(check.problems) > MAX_PROBLEMS_SHOWN:
        parts.append(f"... and {len(check.problems) - MAX_PROBLEMS_SHOWN:,} more\n")
    return Content.assemble(*parts)


class WhoStep(Vertical):
    """Chooses the customers; `selection()` says who, as services.bulk understands it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.choices: Choices | None = None
        self.asked = 0                       # the latest count question
        self.count: SelectionCount | None = None
        self.checked: tuple[str, AccountCheck] | None = None   # the last account check, for its text
        self._count_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with RadioSet(id="who-mode", compact=True):
            yield RadioButton("Buildings", value=True, id="mode-buildings")
            yield RadioButton("Account numbers", id="mode-accounts")
            yield RadioButton("Limits (filters)", id="mode-filter")
        with ContentSwitcher(initial="who-lists", id="who-panes"):
            with VerticalScroll(id="who-lists"):
                with Horizontal(id="who-lists-row"):
                    yield SelectionList[int](id="buildings", compact=True)
                    yield SelectionList[str](id="types", compact=True)
                with Horizontal(id="who-filters"):
                    yield SelectionList[str](id="statuses", compact=True)
                    yield SelectionList[str](id="preferred", compact=True)
                    with Vertical(id="who-has"):
                        yield Label("Has email")
                        yield Select(YES_NO_ANY, id="has-email", allow_blank=False, value="any", compact=True)
                        yield Label("Has mobile")
                        yield Select(YES_NO_ANY, id="has-mobile", allow_blank=False, value="any", compact=True)
            with Vertical(id="who-accounts"):
                yield Label("Account numbers, separated by spaces, commas or line breaks:")
                yield TextArea(id="accounts", soft_wrap=True, show_line_numbers=True)
                yield Static("", id="account-problems")
        with Horizontal(id="who-options"):
            yield Checkbox("Include location owners", id="owners", compact=True)
            yield Checkbox("Include contacts flagged for notices", id="contacts", compact=True)
        yield Static("Counting...", id="who-count")

    def on_mount(self) -> None:
        self.query_one("#buildings").border_title = "Buildings (brand · building)"
        self.query_one("#types").border_title = "Customer types"
        self.query_one("#statuses").border_title = "Status"
        self.query_one("#preferred").border_title = "Preferred delivery"
        self.query_one("#who-filters").display = False
        self.query_one("#account-problems").display = False

    # -- filling in ------------------------------------------------------------------
    def load(self, choices: Choices) -> None:
        self.choices = choices
        self.query_one("#buildings", SelectionList).add_options(
            [(f"{clean(b.brand)} · {clean(b.name)} ({clean(b.code)})", b.id) for b in choices.buildings])
        self.query_one("#types", SelectionList).add_options([(clean(t), t) for t in choices.customer_types])
        self.query_one("#statuses", SelectionList).add_options(
            [(clean(s), s, s == "active") for s in choices.statuses])
        self.query_one("#preferred", SelectionList).add_options([(clean(d), d) for d in choices.deliveries])
        for lists in self.query(SelectionList):
            if lists.option_count:
                lists.highlighted = 0   # Space ticks at once, without a first arrow key
        self.changed()

    @property
    def mode(self) -> str:
        return MODES[max(0, self.query_one("#who-mode", RadioSet).pressed_index)]

    def selection(self) -> Selection:
        owners = self.query_one("#owners", Checkbox).value
        contacts = self.query_one("#contacts", Checkbox).value
        if self.mode == "accounts":
            return Selection(mode="accounts", accounts_text=self.query_one("#accounts", TextArea).text,
                             include_owners=owners, include_contacts=contacts)
        buildings = list(self.query_one("#buildings", SelectionList).selected)
        types = list(self.query_one("#types", SelectionList).selected)
        if self.mode == "buildings":
            return Selection(mode="buildings", building_ids=buildings, customer_types=types,
                             include_owners=owners, include_contacts=contacts)
        return Selection(mode="filter", building_ids=buildings, customer_types=types,
                         statuses=list(self.query_one("#statuses", SelectionList).selected),
                         preferred=list(self.query_one("#preferred", SelectionList).selected),
                         has_email=_tri(self.query_one("#has-email", Select).value),
                         has_mobile=_tri(self.query_one("#has-mobile", Select).value),
                         include_owners=owners, include_contacts=contacts)

    def describe(self) -> str:
        """One line for the steps after this one: who was chosen."""
        s = self.selection()
        extra = "".join([" + owners" if s.include_owners else "", " + contacts" if s.include_contacts else ""])
        count = f"{self.count.total:,} people" if self.count else ""
        if s.mode == "accounts":
            found = len(self.checked[1].accounts) if self.checked else 0
            return f"{plural(found, 'account')} listed{extra} · {count}"
        return f"{plural(len(s.building_ids), 'building')} ({s.mode}){extra} · {count}"

    def focus_first(self) -> None:
        target = "#accounts" if self.mode == "accounts" else "#buildings"
        self.query_one(target).focus()

    # -- changes ---------------------------------------------------------------------
    @on(RadioSet.Changed, "#who-mode")
    def _mode_changed(self) -> None:
        mode = self.mode
        self.query_one("#who-panes", ContentSwitcher).current = "who-accounts" if mode == "accounts" else "who-lists"
        self.query_one("#who-filters").display = mode == "filter"
        self.query_one("#buildings").border_title = ("Buildings (brand · building)" if mode == "buildings"
                                                     else "Buildings (none ticked: all)")
        self.changed()

    @on(SelectionList.SelectedChanged)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _picked(self) -> None:
        self.changed()

    @on(TextArea.Changed, "#accounts")
    def _accounts_typed(self) -> None:
        self.changed()

    def on_descendant_blur(self, event) -> None:
        # leaving the account numbers checks them: every problem is listed, with its line
        if getattr(event.widget, "id", None) == "accounts" and self.mode == "accounts":
            self.check_accounts()

    def changed(self) -> None:
        """Ask for the count again once the operator pauses."""
        if self.choices is None:
            return
        self.asked += 1
        self.query_one("#who-count", Static).update(Content.styled("Counting...", "italic"))
        if self._count_timer is not None:
            self._count_timer.stop()
        self._count_timer = self.set_timer(COUNT_AFTER, self._ask_count)

    def _ask_count(self) -> None:
        self._count_timer = None
        self._count(self.asked, self.selection())

    @work(thread=True, exit_on_error=False, group="bulk-count")
    def _count(self, asked: int, selection: Selection) -> None:
        try:
            found = bulk.count(self.app.ctx, self.app.user, selection)
        except Exception as exc:  # a count that cannot be had is said on the count line
            self.post_message(CountAnswered(asked, None, str(exc) or type(exc).__name__))
            return
        self.post_message(CountAnswered(asked, found))

    @on(CountAnswered)
    def _count_answered(self, event: CountAnswered) -> None:
        if event.asked != self.asked:
            return  # a newer question is on its way: this answer is out of date
        line = self.query_one("#who-count", Static)
        if event.count is None:
            line.update(Content.styled(f"Cannot count: {event.error}", "$text-error"))
            return
        self.count = c = event.count
        selection = self.selection()
        parts: list = [(plural(c.customers, "customer"), "bold")]
        if selection.include_owners:
            parts.append(f" + {plural(c.owners, 'owner')}")
        if selection.include_contacts:
            parts.append(f" + {plural(c.contacts, 'contact')}")
        parts.append((f" = {plural(c.total, 'recipient')} chosen", "bold"))
        if c.total == 0:
            parts.append((" — " + self.empty_hint(), "$text-warning"))
        line.update(Content.assemble(*parts))

    def empty_hint(self) -> str:
        return {"buildings": "tick at least one building (Space)",
                "accounts": "type or paste active account numbers",
                "filter": "loosen the limits"}[self.mode]

    # -- account numbers ------------------------------------------------------------------
    def check_accounts(self, then_next: bool = False) -> None:
        self._check_accounts(self.query_one("#accounts", TextArea).text, then_next)

    @work(thread=True, exit_on_error=False, group="bulk-accounts")
    def _check_accounts(self, text: str, then_next: bool) -> None:
        check = bulk.check_accounts(self.app.ctx, self.app.user, text)
        self.post_message(AccountsChecked(text, check, then_next))

    @on(AccountsChecked)
    def _accounts_checked(self, event: AccountsChecked) -> None:
        self.show_account_check(event.text, event.check)

    def show_account_check(self, text: str, check: AccountCheck) -> None:
        self.checked = (text, check)
        box = self.query_one("#account-problems", Static)
        box.display = bool(check.problems)
        box.update(problems_text(check))
