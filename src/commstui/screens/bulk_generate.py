"""Bulk wizard, step 6 "Generate": the confirmation with counts per channel, the progress of
generation (cancellable), and the outcome: the batch waiting for approval, and who got
nothing and why."""

from __future__ import annotations

from collections import Counter

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, ProgressBar, Static

from ..domain import Batch, BatchFailure, BatchStatus, RecipientKind
from ..services.bulk import GenerateResult, Progress
from ..widgets.format import clean, plural
from ..widgets.recipient_list import CHANNEL_LABELS

CHANNEL_ORDER = ("email", "letter", "sms", "robocall")
MAX_FAILURES_SHOWN = 1000


def channel_lines(per_channel: Counter | dict) -> list[str]:
    return [f"{per_channel[c]:,} {CHANNEL_LABELS[c]}{'s' if c != 'sms' and per_channel[c] != 1 else ''}"
            for c in CHANNEL_ORDER if per_channel.get(c)]


class ConfirmGenerate(ModalScreen[bool]):
    """How many of each will be made; dismisses True to generate, False to go back."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes, generate"),
        Binding("n,escape", "answer(False)", "No, go back"),
        Binding("left,right", "app.focus_next", "Move", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmGenerate { align: center middle; }
    ConfirmGenerate #confirm-dialog { width: 64; height: auto; border: thick $primary; background: $surface;
                                      padding: 0 1; border-title-style: bold; }
    ConfirmGenerate #confirm-buttons { height: auto; align: center middle; margin-top: 1; }
    ConfirmGenerate #confirm-buttons Button { margin: 0 1; }
    """

    def __init__(self, per_channel: Counter, unreachable: int) -> None:
        super().__init__()
        self.per_channel, self.unreachable = per_channel, unreachable

    def compose(self) -> ComposeResult:
        total = sum(self.per_channel.values())
        parts: list = [("Generate " + plural(total, "message") + ":\n", "bold")]
        parts += [f"  {line}\n" for line in channel_lines(self.per_channel)]
        if self.unreachable:
            parts.append((f"{plural(self.unreachable, 'recipient')} cannot be reached: they are recorded as "
                          "not sent, with the reason.\n", "$text-warning"))
        parts.append("The batch then waits for approval: nothing is sent before someone with the approve "
                     "permission releases it.")
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = "Generate this bulk send?"
            yield Static(Content.assemble(*parts), id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes, generate (y)", id="yes", variant="primary", compact=True)
                yield Button("No, go back (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


def outcome_content(result: GenerateResult) -> Content:
    batch: Batch = result.batch
    made = {"email": batch.emails, "letter": batch.letters, "sms": batch.sms, "robocall": batch.robocalls}
    if result.cancelled:
        head = (f"Generation cancelled: batch {batch.id} is {BatchStatus(batch.status).label} and nothing of it "
                "will be sent.\n", "bold $text-warning")
    elif batch.status == BatchStatus.PENDING:
        head = (f"Batch {batch.id} generated: waiting for approval.\n", "bold $text-success")
    else:
        head = (f"Batch {batch.id} is {BatchStatus(batch.status).label}.\n", "bold $text-error")
    parts: list = [head, ("Made: ", "bold"), (" · ".join(channel_lines(made)) or "nothing") + "\n"]
    if result.failures:
        parts.append((f"{plural(len(result.failures), 'recipient')} got nothing (partial success): "
                      "listed below.\n", "$text-warning"))
    if not result.cancelled and batch.status == BatchStatus.PENDING:
        parts.append(("Emails go to Undelivered Emails and letters to Undelivered Posted Mail once approved.",
                      "dim"))
    return Content.assemble(*parts)


class GenerateStep(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="generate-phase")
        yield ProgressBar(id="generate-progress", show_eta=True)
        yield Static("", id="generate-outcome")
        yield DataTable(id="failures", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#failures").display = False
        self.query_one("#generate-outcome").display = False

    def start(self, total: int) -> None:
        self.query_one("#generate-phase", Static).update(f"Generating for {plural(total, 'recipient')}... "
                                                         "(C cancels)")
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=max(total, 1), progress=0)
        self.query_one("#failures").display = False
        self.query_one("#generate-outcome").display = False

    def progress(self, step: Progress) -> None:
        phase = {"letters": "Making letters (PDF)"}.get(step.phase, "Merging and storing messages")
        self.query_one("#generate-phase", Static).update(
            f"{phase}: {step.done:,} of {step.total:,}... (C cancels)")
        self.query_one(ProgressBar).update(total=max(step.total, 1), progress=step.done)

    def cancelling(self) -> None:
        self.query_one("#generate-phase", Static).update("Cancelling: the part in hand finishes first...")

    def finish(self, result: GenerateResult) -> None:
        self.query_one("#generate-phase", Static).display = False
        self.query_one(ProgressBar).display = False
        outcome = self.query_one("#generate-outcome", Static)
        outcome.display = True
        outcome.update(outcome_content(result))
        table = self.query_one("#failures", DataTable)
        table.display = bool(result.failures)
        if result.failures:
            table.clear(columns=True)
            table.add_columns("Account No", "Linked Account No", "Type", "Name", "Channel", "Destination",
                              "Why nothing was made")
            for failure in result.failures[:MAX_FAILURES_SHOWN]:
                table.add_row(*failure_cells(failure))
            if len(result.failures) > MAX_FAILURES_SHOWN:
                table.add_row("", "", "", f"... and {len(result.failures) - MAX_FAILURES_SHOWN:,} more: "
                              "see the batch's results", "", "", "")
            table.focus()

    def failed(self, error: str) -> None:
        self.query_one(ProgressBar).display = False
        self.query_one("#generate-phase", Static).update(Content.styled(
            f"Generation stopped: {error}\nNothing of this batch will be sent. Esc goes back.", "$text-error"))


def failure_cells(f: BatchFailure) -> tuple[str, ...]:
    return (f.account_no or "", f.linked_account_no or "", RecipientKind(f.kind).label, clean(f.name),
            CHANNEL_LABELS.get(str(f.channel), str(f.channel)), clean(f.destination), f.reason)
