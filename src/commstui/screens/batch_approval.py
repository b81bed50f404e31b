"""Bulk: Approve a batch — its summary, a few generated messages per channel, the
attachment, and Approve or Reject with a comment.

Nothing of a batch is sent before an approver releases it. The approver may not be
the one who generated it (administrators may approve their own); when this user may
not decide, the screen says why and the buttons stay off (the service refuses too).
Rejecting needs a comment: the sender reads it. Approving makes the emails and texts
due at once (this app's dispatcher is woken); letters wait on the Undelivered Posted
Mail dashboard to be printed and posted.
"""

from __future__ import annotations

from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static
from textual.worker import WorkerState, get_current_worker

from ..domain import Batch, Channel
from ..services import batches
from ..services.batches import ApprovalSummary, Sample
from ..services.errors import ValidationError
from ..widgets.format import literal, plural
from ..widgets.status_line import StatusLine
from .batch_results import BatchResultsScreen
from .batch_text import STATUS_STYLE, counts_text, mode_label, office_zone_name, size_text, status_label, when

SAMPLE_LINES = 8   # of each sample's body; the rest is summed up
CHANNEL_NAMES = {"email": "Email", "letter": "Letter", "sms": "SMS", "robocall": "RoboCall"}


class SummaryLoaded(TextualMessage):
    def __init__(self, summary: ApprovalSummary, zone: str | None) -> None:
        super().__init__()
        self.summary, self.zone = summary, zone


class Decided(TextualMessage):
    def __init__(self, batch: Batch, approved: bool) -> None:
        super().__init__()
        self.batch, self.approved = batch, approved


class DecisionRefused(TextualMessage):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


def _channel_total(batch: Batch, channel: str) -> int:
    return {"email": batch.emails, "letter": batch.letters, "sms": batch.sms,
            "robocall": batch.robocalls}.get(channel, 0)


def summary_table(s: ApprovalSummary, zone: str | None) -> Table:
    b = s.batch
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=11)
    grid.add_column()
    grid.add_row("Batch", Text.assemble((f"{b.id} ", "bold"), literal(b.title, style="bold")))
    grid.add_row("Status", Text(status_label(b), style=STATUS_STYLE.get(b.status, "")))
    grid.add_row("Recipients", Text(f"{b.recipients:,} chosen: {counts_text(b)}"))
    if s.failures:
        grid.add_row("", Text(f"{plural(s.failures, 'recipient')} will get nothing (r: Results says why)",
                              style="yellow"))
    grid.add_row("Channel", mode_label(b))
    grid.add_row("Template", literal(b.template_name) if b.template_name else Text("adhoc message"))
    grid.add_row("Generated", Text.assemble("by ", literal(b.created_by),
                                            f" · {when(b.generated_at or b.created_at, zone)}"))
    if b.attachment is not None:
        a = b.attachment
        pages = f" · {plural(a.pages, 'page')}" if a.pages else ""
        grid.add_row("Attachment", Text.assemble(literal(a.filename), f" · {size_text(a.size)}{pages}"))
    else:
        grid.add_row("Attachment", Text("none", style="dim"))
    if b.decided_by:
        grid.add_row("Decided", Text.assemble(f"{status_label(b)} by ", literal(b.decided_by),
                                              f" · {when(b.decided_at, zone)}"))
    if b.decision_comment:
        grid.add_row("Comment", literal(b.decision_comment, multiline=True))
    if b.error:
        grid.add_row("Problem", literal(b.error, style="red", multiline=True))
    return grid


def sample_view(sample: Sample, shown: int, total: int) -> Group:
    name = CHANNEL_NAMES.get(sample.channel, sample.channel)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=8)
    grid.add_column()
    grid.add_row("Address" if sample.channel == Channel.LETTER else "To", literal(sample.to, multiline=True))
    if sample.channel in (Channel.EMAIL, Channel.LETTER):
        grid.add_row("Subject", literal(sample.subject or "(no subject)"))
    lines = (sample.body or "").splitlines()
    body = literal("\n".join(lines[:SAMPLE_LINES]) or "(empty)", multiline=True)
    if len(lines) > SAMPLE_LINES:
        body.append(f"\n… {plural(len(lines) - SAMPLE_LINES, 'more line')}", style="dim")
    return Group(Text(""), Rule(Text(f"{name} {shown} of {total:,}", style="bold"), align="left", style="dim"),
                 grid, body)


def samples_view(s: ApprovalSummary) -> Group:
    if not s.samples:
        return Group(Text("\nNo messages were generated for this batch.", style="dim"))
    seen: dict[str, int] = {}
    parts = []
    for sample in s.samples:
        seen[sample.channel] = seen.get(sample.channel, 0) + 1
        parts.append(sample_view(sample, seen[sample.channel], _channel_total(s.batch, sample.channel)))
    return Group(*parts)


class ApprovalScreen(Screen):
    CSS_PATH = "batch_approval.tcss"
    AUTO_FOCUS = "#approval-body"

    BINDINGS = [
        Binding("a", "approve", "Approve", tooltip="Release the batch: its emails and texts are sent now"),
        Binding("x", "reject", "Reject", tooltip="Reject the batch (say why in the comment): nothing is sent"),
        Binding("c", "focus_comment", "Comment", tooltip="Write the comment the sender reads"),
        Binding("r", "results", "Results", tooltip="Who gets it, who does not and why"),
        Binding("escape", "back", "Back", tooltip="Back to the batches"),
        Binding("ctrl+l", "app.logout", "Log out", show=False),
        Binding("f9", "app.open_outbox", "Demo outbox", show=False),
    ]

    def __init__(self, batch_id: int) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.summary: ApprovalSummary | None = None
        self.zone: str | None = None
        self.deciding = False

    def compose(self) -> ComposeResult:
        yield StatusLine(f"Bulk: Approve batch {self.batch_id}")
        with VerticalScroll(id="approval-body", can_focus=True):
            yield Static("Loading…", id="approval-summary")
            yield Static("", id="approval-samples")
        yield Static("", id="approval-why")
        yield Input(placeholder="Comment for the sender (required to reject)", id="comment", compact=True,
                    max_length=500)
        yield Static("", id="comment-error")
        with Horizontal(id="approval-buttons"):
            yield Button("Approve (a)", id="approve", variant="success", compact=True, disabled=True)
            yield Button("Reject (x)", id="reject", variant="error", compact=True, disabled=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#approval-why").display = False
        self.query_one("#comment-error").display = False
        self._load()

    # -- loading -------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="approval")
    def _load(self) -> None:
        ctx, user = self.app.ctx, self.app.user
        summary = batches.approval_summary(ctx, user, self.batch_id)
        zone = office_zone_name(ctx, user)
        if not get_current_worker().is_cancelled:
            self.post_message(SummaryLoaded(summary, zone))

    def on_worker_state_changed(self, event) -> None:
        if event.state != WorkerState.ERROR:   # (a cancelled load is not an error)
            return
        error = event.worker.error
        if event.worker.group == "decide":
            self.post_message(DecisionRefused(error))
        else:
            self.app.show_error(error)
            if self.summary is None:
                self.query_one("#approval-summary", Static).update(
                    Text(f"Batch {self.batch_id} could not be loaded: {error}", style="red"))

    @on(SummaryLoaded)
    def _loaded(self, event: SummaryLoaded) -> None:
        self.summary, self.zone = event.summary, event.zone
        s = event.summary
        self.query_one("#approval-summary", Static).update(summary_table(s, event.zone))
        self.query_one("#approval-samples", Static).update(samples_view(s))
        why = self.query_one("#approval-why", Static)
        why.display = not s.may_decide
        why.update(Text(s.why_not or "", style="bold yellow"))
        self._enable()

    def _enable(self) -> None:
        may = self.summary is not None and self.summary.may_decide and not self.deciding
        self.query_one("#approve", Button).disabled = not may
        self.query_one("#reject", Button).disabled = not may
        self.query_one("#comment", Input).disabled = not may
        self.refresh_bindings()

    # -- deciding ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve", "reject", "focus_comment"):
            return bool(self.summary and self.summary.may_decide and not self.deciding)
        return True

    def action_approve(self) -> None:
        self._start(True)

    def action_reject(self) -> None:
        self._start(False)

    @on(Button.Pressed, "#approve")
    def _approve_pressed(self) -> None:
        self._start(True)

    @on(Button.Pressed, "#reject")
    def _reject_pressed(self) -> None:
        self._start(False)

    @on(Input.Submitted, "#comment")
    def _comment_done(self) -> None:
        self.query_one("#approve", Button).focus()

    @on(Input.Changed, "#comment")
    def _comment_changed(self) -> None:
        self.query_one("#comment-error").display = False

    def _start(self, approve: bool) -> None:
        if self.summary is None or self.deciding:
            return
        # No check of who may decide here: the service is the judge (the buttons only mirror it)
        self.deciding = True
        self._enable()
        self._decide(approve, self.query_one("#comment", Input).value)

    @work(thread=True, exit_on_error=False, group="decide")
    def _decide(self, approve: bool, comment: str) -> None:
        ctx, user = self.app.ctx, self.app.user
        if approve:
            batch = batches.approve(ctx, user, self.batch_id, comment)
        else:
            batch = batches.reject(ctx, user, self.batch_id, comment)
        self.post_message(Decided(batch, approve))

    @on(Decided)
    def _decided(self, event: Decided) -> None:
        self.deciding = False
        b = event.batch
        if event.approved:
            if self.app.dispatcher is not None:
                self.app.dispatcher.wake()
            parts = []
            sent_now = b.emails + b.sms + b.robocalls
            if sent_now:
                parts.append(f"{plural(sent_now, 'message')} (email, SMS, calls) go out now")
            if b.letters:
                parts.append(f"{plural(b.letters, 'letter')} wait on Undelivered Posted Mail to be printed")
            self.notify("; ".join(parts) + "." if parts else "Approved.", title=f"Batch {b.id} approved",
                        markup=False, timeout=8)
        else:
            self.notify("Nothing of it is sent; the sender sees your comment.", title=f"Batch {b.id} rejected",
                        markup=False, timeout=8)
        self.query_one("#comment", Input).value = ""
        self._load()

    @on(DecisionRefused)
    def _refused(self, event: DecisionRefused) -> None:
        self.deciding = False
        error = event.error
        if isinstance(error, ValidationError) and error.field == "comment":
            shown = self.query_one("#comment-error", Static)
            shown.update(Text(str(error), style="red"))
            shown.display = True
            self._enable()
            self.query_one("#comment", Input).focus()
            return
        self.app.show_error(error)
        self._load()   # e.g. decided by someone else meanwhile: show what is true now

    # -- elsewhere -----------------------------------------------------------
    def action_focus_comment(self) -> None:
        self.query_one("#comment", Input).focus()

    def action_results(self) -> None:
        self.app.push_screen(BatchResultsScreen(self.batch_id))

    def action_back(self) -> None:
        self.dismiss()
