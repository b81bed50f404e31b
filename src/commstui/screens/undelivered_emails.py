"""Bulk: Undelivered Emails — the emails of bulk sends not (yet) accepted by the mail
server: queued, retrying after a temporary refusal, failed (with the server's words),
or needing attention. Space ticks rows; R retries them now, C cancels them (asked
first). Filter by batch with f. The list follows the dispatcher as it sends.
"""

from __future__ import annotations

from collections import Counter

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message as TextualMessage

from ..services import batches
from ..services.batches import UnsentEmail
from ..widgets.format import DASH, literal, plural
from .batch_dashboard import COMMON_BINDINGS, BatchDashboard
from .batch_text import when
from .confirm import ConfirmScreen

STATE_STYLE = {"queued": "yellow", "retrying": "yellow", "sending": "cyan", "failed": "red",
               "needs attention": "bold magenta"}
NAMES_IN_QUESTION = 5


class EmailsChanged(TextualMessage):
    def __init__(self, done: str, wake: bool) -> None:
        super().__init__()
        self.done, self.wake = done, wake


class UndeliveredEmailsScreen(BatchDashboard):
    PLACE = "Bulk: Undelivered emails"
    NOUN = ("email", "emails")
    # the reason scrolls in sideways, and is shown in full underneath
    COLUMNS = (("Batch", 5), ("Account", 8), ("Name", 14), ("To", 20), ("State", 9), ("Tries", 5),
               ("Reason", 0))
    EMPTY = ("No bulk emails are waiting: every one was accepted by the mail server (or cancelled).\n\n"
             "Emails of an approved bulk send show here until the mail server takes them: queued, "
             "retrying after a temporary refusal, or failed with the server's reason.")

    BINDINGS = [
        Binding("R", "retry", "Retry", tooltip="Send the ticked emails (or the highlighted one) again now"),
        Binding("C", "cancel_emails", "Cancel", tooltip="Cancel the ticked emails (or the highlighted one)"),
        *COMMON_BINDINGS,
    ]

    def fetch(self, ctx, user, batch_id: int | None) -> list[UnsentEmail]:
        return batches.undelivered_emails(ctx, user, batch_id)

    def cells(self, e: UnsentEmail, zone: str | None) -> tuple:
        return (str(e.batch_id), literal(e.account_no), literal(e.name), literal(e.to),
                Text(e.state, style=STATE_STYLE.get(e.state, "")), str(e.attempts),
                literal(e.reason or "", style="red" if e.state == "failed" else ""))

    def detail(self, e: UnsentEmail, zone: str | None) -> Table:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True, width=7)
        grid.add_column()
        grid.add_row("To", Text.assemble(literal(e.to), " · ", literal(e.name), " (", literal(e.account_no),
                                         f") · batch {e.batch_id}"))
        state = Text(e.state, style=STATE_STYLE.get(e.state, ""))
        state.append(f" · {plural(e.attempts, 'attempt')}", style="")
        if e.state in ("queued", "retrying"):
            state.append(f" · due {when(e.due_at, zone)}", style="")
        grid.add_row("State", state)
        grid.add_row("Reason", literal(e.reason, style="red" if e.state == "failed" else "", multiline=True)
                     if e.reason else Text(DASH, style="dim"))
        return grid

    def summary(self, rows: list[UnsentEmail]) -> Text:
        text = Text(plural(len(rows), "email") + " not yet accepted")
        counts = Counter(e.state for e in rows)
        for state in ("queued", "retrying", "sending", "failed", "needs attention"):
            if counts[state]:
                text.append(" · ")
                text.append(f"{counts[state]:,} {state}", style=STATE_STYLE[state])
        return text

    # -- actions ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "cancel_emails") and not self.rows:
            return None
        return super().check_action(action, parameters)

    def action_retry(self) -> None:
        chosen = self.targets()
        if chosen:
            self._retry([e.message_id for e in chosen])

    @work(thread=True, exit_on_error=False, group="dashboard-change")
    def _retry(self, ids: list[int]) -> None:
        done = batches.retry_emails(self.app.ctx, self.app.user, ids)
        skipped = len(ids) - done
        text = f"{plural(done, 'email')} due again now"
        if skipped:
            text += f"; {plural(skipped, 'was', 'were')} already on the way or gone"
        self.post_message(EmailsChanged(text + ".", wake=bool(done)))

    def action_cancel_emails(self) -> None:
        chosen = self.targets()
        if not chosen:
            return
        one = len(chosen) == 1
        question = Text(f"{plural(len(chosen), 'email')} will not be sent. "
                        f"{'It stays' if one else 'They stay'} in the log as cancelled.\n\n")
        for e in chosen[:NAMES_IN_QUESTION]:
            question.append_text(literal(f"{e.name} <{e.to}>"))
            question.append("\n")
        if len(chosen) > NAMES_IN_QUESTION:
            question.append(f"… and {len(chosen) - NAMES_IN_QUESTION:,} more\n", style="dim")
        question.rstrip()
        ids = [e.message_id for e in chosen]
        self.app.push_screen(ConfirmScreen(f"Cancel {plural(len(chosen), 'email')}?", question,
                                           yes="Cancel it" if one else "Cancel them", no="Keep it" if one else "Keep them"),
                             lambda yes: self._cancel(ids) if yes else None)

    @work(thread=True, exit_on_error=False, group="dashboard-change")
    def _cancel(self, ids: list[int]) -> None:
        done = batches.cancel_emails(self.app.ctx, self.app.user, ids)
        text = f"{plural(done, 'email')} cancelled"
        if done < len(ids):
            text += f"; {plural(len(ids) - done, 'was', 'were')} already sent or being sent"
        self.post_message(EmailsChanged(text + ".", wake=False))

    @on(EmailsChanged)
    def _changed(self, event: EmailsChanged) -> None:
        if event.wake and self.app.dispatcher is not None:
            self.app.dispatcher.wake()
        self.ticked.clear()
        self.notify(event.done, markup=False)
        self._load()
