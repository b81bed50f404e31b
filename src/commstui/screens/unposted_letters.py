"""Bulk: Undelivered Posted Mail — letters of approved bulk sends not yet posted.

Tick letters with Space (a ticks all); P prints them as one PDF (each letter followed
by its batch's attachment, in list order), written under the data directory with
its path shown; once they are in the post, M marks them posted (asked first): they
leave this list and a note is saved on each account. Filter by batch with f.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message as TextualMessage
from textual.worker import WorkerState

from ..config import data_dir
from ..services import batches
from ..services.batches import UnpostedLetter
from ..widgets.format import literal, plural
from .batch_dashboard import COMMON_BINDINGS, BatchDashboard
from .batch_text import when
from .confirm import ConfirmScreen

NAMES_IN_QUESTION = 5


def print_path(batch_id: int | None, now: datetime | None = None) -> Path:
    """A new file each time (an earlier one may still be printing)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = f"batch-{batch_id}-letters-{stamp}.pdf" if batch_id is not None else f"letters-{stamp}.pdf"
    return data_dir() / "print" / name


class LettersPrinted(TextualMessage):
    def __init__(self, path: Path, letters: int) -> None:
        super().__init__()
        self.path, self.letters = path, letters


class LettersPosted(TextualMessage):
    def __init__(self, posted: int, asked: int) -> None:
        super().__init__()
        self.posted, self.asked = posted, asked


class UnpostedLettersScreen(BatchDashboard):
    PLACE = "Bulk: Undelivered posted mail"
    NOUN = ("letter", "letters")
    # when each was made is shown underneath, for the highlighted letter
    COLUMNS = (("Batch", 5), ("Account", 8), ("Name", 16), ("Address", 28), ("Pages", 5))
    EMPTY = ("No letters are waiting to be posted.\n\nLetters of an approved bulk send show here until "
             "someone prints them (P) and marks them posted (M).")

    BINDINGS = [
        Binding("P", "print_letters", "Print", tooltip="One PDF of the ticked letters (or the highlighted one)"),
        Binding("M", "mark_posted", "Mark posted", tooltip="The ticked letters (or the highlighted one) are in "
                "the post"),
        *COMMON_BINDINGS,
    ]

    def __init__(self, batch_id: int | None = None) -> None:
        super().__init__(batch_id)
        self.printing = False
        self.last_print: Path | None = None

    def fetch(self, ctx, user, batch_id: int | None) -> list[UnpostedLetter]:
        return batches.unposted_letters(ctx, user, batch_id)

    def cells(self, letter: UnpostedLetter, zone: str | None) -> tuple:
        return (str(letter.batch_id), literal(letter.account_no), literal(letter.name), literal(letter.address),
                str(letter.pages))

    def detail(self, letter: UnpostedLetter, zone: str | None) -> Table:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True, width=7)
        grid.add_column()
        grid.add_row("To", Text.assemble(literal(letter.name), " (", literal(letter.account_no), ")"))
        grid.add_row("Address", literal(letter.address, multiline=True))
        grid.add_row("Letter", Text(f"batch {letter.batch_id} · {plural(letter.pages, 'page')} · made "
                                    f"{when(letter.created_at, zone)}"))
        return grid

    def summary(self, rows: list[UnpostedLetter]) -> Text:
        pages = sum(r.printed_pages for r in rows)
        return Text(f"{plural(len(rows), 'letter')} to post ({plural(pages, 'page')})")

    # -- actions ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("print_letters", "mark_posted") and not self.rows:
            return None
        if action == "print_letters" and self.printing:
            return False
        return super().check_action(action, parameters)

    def action_print_letters(self) -> None:
        chosen = self.targets()
        if not chosen or self.printing:
            return
        self.printing = True
        self.refresh_bindings()
        self.notify(f"Putting {plural(len(chosen), 'letter')} into one PDF…", timeout=3)
        self._print([r.message_id for r in chosen], print_path(self.batch_id))

    @work(thread=True, exit_on_error=False, group="dashboard-print")
    def _print(self, ids: list[int], out: Path) -> None:
        path, count = batches.print_letters(self.app.ctx, self.app.user, ids, out)
        self.post_message(LettersPrinted(path, count))

    def on_worker_state_changed(self, event) -> None:
        # (Textual calls BatchDashboard's handler too: it shows the error)
        if event.worker.group == "dashboard-print" and event.state == WorkerState.ERROR:
            self.printing = False
            self.refresh_bindings()

    @on(LettersPrinted)
    def _printed(self, event: LettersPrinted) -> None:
        self.printing = False
        self.last_print = event.path
        self.refresh_bindings()
        self.notify(f"{event.path}\nOnce they are in the post, mark them posted (M).",
                    title=f"{plural(event.letters, 'letter')} ready to print", markup=False, timeout=20)

    def action_mark_posted(self) -> None:
        chosen = self.targets()
        if not chosen:
            return
        question = Text(f"{plural(len(chosen), 'letter')} leave this list, and a note is saved on each "
                        "account. Do this once they are printed and in the post.\n\n")
        for r in chosen[:NAMES_IN_QUESTION]:
            question.append_text(literal(f"{r.name} ({r.account_no or '—'})"))
            question.append("\n")
        if len(chosen) > NAMES_IN_QUESTION:
            question.append(f"… and {len(chosen) - NAMES_IN_QUESTION:,} more\n", style="dim")
        question.rstrip()
        ids = [r.message_id for r in chosen]
        self.app.push_screen(ConfirmScreen(f"Mark {plural(len(chosen), 'letter')} posted?", question,
                                           yes="Mark posted", no="Not yet"),
                             lambda yes: self._post(ids) if yes else None)

    @work(thread=True, exit_on_error=False, group="dashboard-change")
    def _post(self, ids: list[int]) -> None:
        done = batches.mark_posted(self.app.ctx, self.app.user, ids)
        self.post_message(LettersPosted(done, len(ids)))

    @on(LettersPosted)
    def _posted(self, event: LettersPosted) -> None:
        text = f"{plural(event.posted, 'letter')} marked posted; a note is on each account."
        if event.posted < event.asked:
            text += f" {plural(event.asked - event.posted, 'was', 'were')} already posted by someone else."
        self.ticked.clear()
        self.notify(text, markup=False)
        self._load()
