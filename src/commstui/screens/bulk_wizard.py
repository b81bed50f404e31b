"""The Bulk Send wizard: Who → How → Review → Compose → Preview → Generate, one step on
screen at a time, each saying what to press next. Ctrl+N goes on (after the step's
checks), Esc goes back. Every service call runs in a thread worker; the answers come back
as messages. Nothing is sent from here: generation makes a batch that waits for approval.
"""

from __future__ import annotations

import inspect
import threading
from collections import Counter

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static
from textual.worker import Worker, WorkerState

from ..domain import ChannelMode, Recipient
from ..services import bulk
from ..services.bulk import BulkCompose, Choices, ComposeCheck, GenerateResult, Prerequisite, Progress, Selection
from ..services.errors import ServiceError
from ..widgets.format import plural
from ..widgets.status_line import StatusLine
from .bulk_compose import ComposeStep, MergeFieldsHelp
from .bulk_generate import ConfirmGenerate, GenerateStep
from .bulk_how import HowChanged, HowStep, channels_of
from .bulk_preview import PreviewStep
from .bulk_review import ReviewStep
from .bulk_who import AccountsChecked, WhoStep

STEPS = ("who", "how", "review", "compose", "preview", "generate")
TITLES = {"who": "Who", "how": "How", "review": "Review", "compose": "Compose", "preview": "Preview",
          "generate": "Generate"}
HINTS = {
    "who": "Choose who gets it. Space ticks, Tab moves between lists. Ctrl+N: next (How).",
    "how": "Choose how it reaches them (↑↓ then Enter). Ctrl+N lists the recipients.",
    "review": "Space unticks/ticks a row, A all, P next problem. Ctrl+N: compose the message.",
    "compose": "A template, or adhoc: {{ customer.name }} merges (F1: fields). Ctrl+N: check.",
    "preview": "E/L/S preview it ([ ] other recipient), T emails you a test. Ctrl+N: generate.",
    "generate": "Generating: C cancels.",
}
SHORT_MISSING = {"mail": "No active mail server: emails cannot be sent",
                 "sms": "No SMS/RoboCall provider: texts and calls cannot be sent"}
DONE_HINT = "Done. Esc closes the wizard."
DONE_HINT_BATCHES = "Done. O opens the batch (results and approval); Esc closes the wizard."


class ChoicesLoaded(TextualMessage):
    def __init__(self, choices: Choices, missing: list[Prerequisite]) -> None:
        super().__init__()
        self.choices, self.missing = choices, missing


class PrerequisitesChecked(TextualMessage):
    """What is missing for `channels`; `then` is the step to go to if nothing is."""

    def __init__(self, missing: list[Prerequisite], then: str | None) -> None:
        super().__init__()
        self.missing, self.then = missing, then


class RecipientsResolved(TextualMessage):
    def __init__(self, found: bulk.RecipientList) -> None:
        super().__init__()
        self.found = found


class ComposeChecked(TextualMessage):
    def __init__(self, check: ComposeCheck, compose: BulkCompose) -> None:
        super().__init__()
        self.check, self.compose = check, compose


class GenerateProgress(TextualMessage):
    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress


class Generated(TextualMessage):
    def __init__(self, result: GenerateResult) -> None:
        super().__init__()
        self.result = result


def batches_screen():
    """helper F's BatchesScreen, when this version has it."""
    try:
        from .batches import BatchesScreen
    except ImportError:
        return None
    return BatchesScreen


def sms_settings_screen():
    """helper D's SMS settings screen, when this version has it."""
    try:
        from .sms_settings import SmsSettingsScreen
    except ImportError:
        return None
    return SmsSettingsScreen


class BulkWizardScreen(Screen):
    CSS_PATH = "bulk_wizard.tcss"
    AUTO_FOCUS = None

    BINDINGS = [
        # one key, two meanings: check_action shows the one that applies
        Binding("ctrl+n", "next", "Next", priority=True, tooltip="Check this step and go on to the next"),
        Binding("ctrl+n", "generate", "Generate", priority=True,
                tooltip="Confirm, then generate the batch (it waits for approval)"),
        Binding("escape", "back", "Back", tooltip="Back to the previous step (on the first: close the wizard)"),
        Binding("escape", "close", "Close", tooltip="Close the wizard"),
        Binding("f1", "fields", "Merge fields", tooltip="The merge fields a message can use"),
        Binding("f2", "mail_settings", "Mail settings", tooltip="Set up the mail server"),
        Binding("f3", "sms_settings", "SMS settings", tooltip="Set up the SMS/RoboCall provider"),
        Binding("c", "cancel_generation", "Cancel", tooltip="Stop generating: nothing of the batch is sent"),
        Binding("o", "open_batch", "Open batch", tooltip="The batch's results and approval"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.step = "who"
        self.busy: str | None = None          # what the screen is waiting for, if anything
        self.missing: list[Prerequisite] = []
        self.selection: Selection | None = None
        self.mode: ChannelMode = ChannelMode.PREFERRED
        self.compose_value: BulkCompose | None = None
        self.chosen: list[Recipient] = []
        self.generating = False
        self.cancel_event: threading.Event | None = None
        self.result: GenerateResult | None = None
        self.accounts_confirmed: str | None = None   # account text whose problems the operator has seen

    def compose(self) -> ComposeResult:
        yield StatusLine("Bulk send")
        with Vertical(id="wizard"):
            yield Static("", id="wizard-steps")
            yield Static("", id="wizard-hint")
            yield Static("", id="wizard-banner")
            with ContentSwitcher(initial="step-who", id="wizard-body"):
                yield WhoStep(id="step-who")
                yield HowStep(id="step-how")
                yield ReviewStep(id="step-review")
                yield ComposeStep(id="step-compose")
                yield PreviewStep(id="step-preview")
                yield GenerateStep(id="step-generate")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#wizard-banner").display = False
        self._show_step()
        self._load_choices()

    # -- steps -----------------------------------------------------------------------------
    def _show_step(self) -> None:
        parts: list = []
        for n, step in enumerate(STEPS, start=1):
            if n > 1:
                parts.append((" › ", "dim"))
            label = f"{n} {TITLES[step]}"
            parts.append((f" {label} ", "bold reverse") if step == self.step else
                         (label, "dim" if STEPS.index(step) > STEPS.index(self.step) else ""))
        self.query_one("#wizard-steps", Static).update(Content.assemble(*parts))
        hint = HINTS[self.step]
        if self.step == "generate" and not self.generating:
            hint = DONE_HINT_BATCHES if self.result and batches_screen() else DONE_HINT
        self.query_one("#wizard-hint", Static).update(hint)
        self.query_one("#wizard-body", ContentSwitcher).current = f"step-{self.step}"
        self.refresh_bindings()

    def go(self, step: str) -> None:
        self.step = step
        self.busy = None
        self._show_step()
        widget = self.query_one(f"#step-{step}")
        if hasattr(widget, "focus_first"):
            self.call_after_refresh(widget.focus_first)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        step = self.step
        if action == "next":
            return step not in ("preview", "generate")
        if action == "generate":
            return step == "preview"
        if action == "back":
            return step != "who" and (step != "generate" or (not self.generating and self.result is None))
        if action == "close":
            return step == "who" or (step == "generate" and self.result is not None)
        if action == "fields":
            return step == "compose"
        if action == "mail_settings":
            return any(m.fix == "mail" and m.can_fix for m in self.missing)
        if action == "sms_settings":
            return any(m.fix == "sms" and m.can_fix for m in self.missing)
        if action == "cancel_generation":
            return self.generating
        if action == "open_batch":
            return step == "generate" and self.result is not None and batches_screen() is not None
        return True

    @property
    def who(self) -> WhoStep:
        return self.query_one(WhoStep)

    @property
    def review(self) -> ReviewStep:
        return self.query_one(ReviewStep)

    @property
    def composer(self) -> ComposeStep:
        return self.query_one(ComposeStep)

    def action_next(self) -> None:
        if self.busy:
            self.notify(f"Still {self.busy}: one moment.", timeout=2)
            return
        getattr(self, f"_next_from_{self.step}")()

    def action_back(self) -> None:
        if self.step == "who" or self.generating:
            return
        previous = STEPS[STEPS.index(self.step) - 1]
        self.go("preview" if self.step == "generate" else previous)

    def action_close(self) -> None:
        self.app.pop_screen()

    # -- 0. what the Who step offers, and what is missing from the start ---------------------
    @work(thread=True, exit_on_error=False, group="bulk-start")
    def _load_choices(self) -> None:
        ctx, user = self.app.ctx, self.app.user
        choices = bulk.choices(ctx, user)
        self.post_message(ChoicesLoaded(choices, bulk.prerequisites(ctx, user, ["email", "sms"])))

    @on(ChoicesLoaded)
    def _choices_loaded(self, event: ChoicesLoaded) -> None:
        self.who.load(event.choices)
        self._show_missing(event.missing, at_start=True)
        self.who.focus_first()

    def _show_missing(self, missing: list[Prerequisite], at_start: bool = False) -> None:
        self.missing = missing
        banner = self.query_one("#wizard-banner", Static)
        banner.display = bool(missing)
        parts: list = []
        for item in missing:
            key = {"mail": "F2", "sms": "F3"}.get(item.fix or "")
            fix = (f" ({key} sets it up)" if item.can_fix and key else " (ask an administrator to set it up)")
            parts += [(SHORT_MISSING.get(item.fix or "", item.message), "bold"), fix + "\n"]
        if at_start and missing:
            parts.append(("You can still choose recipients; the channel you pick must be set up.", "dim"))
        banner.update(Content.assemble(*parts).rstrip())
        self.refresh_bindings()

    def on_screen_resume(self) -> None:
        # back from the settings: look again at what is missing
        if self.missing:
            channels = ["email", "sms"] if self.step == "who" else self._channels_in_play()
            self._check_prerequisites(channels, None)

    def _channels_in_play(self) -> list[str]:
        if self.step in ("who", "how"):
            return channels_of(self.query_one(HowStep).mode)
        per_channel, _ = self.review.table.ticked_counts()
        return sorted(per_channel) or channels_of(self.mode)

    @work(thread=True, exit_on_error=False, group="bulk-prerequisites")
    def _check_prerequisites(self, channels: list[str], then: str | None) -> None:
        self.post_message(PrerequisitesChecked(bulk.prerequisites(self.app.ctx, self.app.user, channels), then))

    @on(PrerequisitesChecked)
    def _prerequisites_checked(self, event: PrerequisitesChecked) -> None:
        self._show_missing(event.missing)
        self.busy = None
        if event.missing:
            if event.then:
                self.notify("Set that up first (or choose another channel), then press Ctrl+N again.",
                            title="Cannot go on yet", severity="warning", timeout=6)
            return
        if event.then == "review":
            self._resolve_recipients()
        elif event.then == "compose":
            self._enter_compose()

    def action_mail_settings(self) -> None:
        from .mail_settings import MailSettingsScreen

        self.app.push_screen(MailSettingsScreen())

    def action_sms_settings(self) -> None:
        screen = sms_settings_screen()
        if screen is None:
            self.notify("SMS settings are not available in this version.", severity="warning")
            return
        self.app.push_screen(screen())

    # -- 1. Who --------------------------------------------------------------------------------
    def _next_from_who(self) -> None:
        who = self.who
        if who.choices is None:
            return
        selection = who.selection()
        if selection.mode == "buildings" and not selection.building_ids:
            self.notify("Tick at least one building (Space), then press Ctrl+N.", title="Who gets it?",
                        severity="warning")
            who.focus_first()
            return
        if selection.mode == "accounts":
            self.busy = "checking the account numbers"
            who.check_accounts(then_next=True)
            return
        self._leave_who(selection)

    @on(AccountsChecked)
    def _accounts_checked(self, event: AccountsChecked) -> None:
        if not event.then_next or self.step != "who":
            return
        self.busy = None
        check = event.check
        if not check.accounts:
            self.notify("None of the numbers is an active account (see the list). Correct them, then press "
                        "Ctrl+N.", title="No accounts", severity="error", timeout=8)
            return
        if check.problems and self.accounts_confirmed != event.text:
            self.accounts_confirmed = event.text
            self.notify(f"{plural(len(check.problems), 'number')} left out, each listed with its line and "
                        f"reason. Correct them, or press Ctrl+N again to go on with "
                        f"{plural(len(check.accounts), 'account')}.", title="Check the account numbers",
                        severity="warning", timeout=10)
            return
        self._leave_who(self.who.selection())

    def _leave_who(self, selection: Selection) -> None:
        self.selection = selection
        self.go("how")
        self._check_prerequisites(channels_of(self.query_one(HowStep).mode), None)

    # -- 2. How --------------------------------------------------------------------------------
    @on(HowChanged)
    def _how_changed(self, event: HowChanged) -> None:
        self._check_prerequisites(channels_of(event.mode), None)

    def _next_from_how(self) -> None:
        self.mode = self.query_one(HowStep).mode
        self.busy = "checking the settings"
        self._check_prerequisites(channels_of(self.mode), "review")

    def _resolve_recipients(self) -> None:
        self.busy = "listing the recipients"
        self.query_one("#wizard-hint", Static).update("Listing the recipients...")
        self._recipients(self.selection, self.mode)

    @work(thread=True, exit_on_error=False, group="bulk-recipients")
    def _recipients(self, selection: Selection, mode: ChannelMode) -> None:
        self.post_message(RecipientsResolved(bulk.recipients(self.app.ctx, self.app.user, selection, mode)))

    @on(RecipientsResolved)
    def _recipients_resolved(self, event: RecipientsResolved) -> None:
        self.busy = None
        found = event.found.recipients
        if not found:
            self._show_step()
            self.notify("Nobody matches that choice: go back (Esc) and choose others.", title="No recipients",
                        severity="warning", timeout=8)
            return
        self.review.show(found)
        self.go("review")
        unreachable = len(event.found.unreachable)
        if unreachable:
            self.notify(f"{plural(unreachable, 'recipient')} cannot be reached on their channel: listed with "
                        "the reason (P jumps to them).", timeout=6)

    # -- 3. Review -------------------------------------------------------------------------------
    def _next_from_review(self) -> None:
        per_channel, unreachable = self.review.table.ticked_counts()
        if not per_channel:
            self.notify("No ticked recipient can be reached: tick some (Space, or A for all), or go back and "
                        "choose another channel.", title="Nobody to send to", severity="warning", timeout=8)
            return
        self.busy = "checking the settings"
        self._check_prerequisites(sorted(per_channel), "compose")

    def _enter_compose(self) -> None:
        self.chosen = self.review.table.ticked()
        per_channel, _ = self.review.table.ticked_counts()
        self.composer.set_channels(sorted(per_channel))
        self.go("compose")

    # -- 4. Compose ------------------------------------------------------------------------------
    def action_fields(self) -> None:
        self.app.push_screen(MergeFieldsHelp())

    def _next_from_compose(self) -> None:
        compose = self.composer.value()
        self.busy = "checking the message"
        self._check_compose(compose, list(self.composer.channels))

    @work(thread=True, exit_on_error=False, group="bulk-check")
    def _check_compose(self, compose: BulkCompose, channels: list[str]) -> None:
        self.post_message(ComposeChecked(bulk.check_compose(self.app.ctx, self.app.user, compose, channels),
                                         compose))

    @on(ComposeChecked)
    def _compose_checked(self, event: ComposeChecked) -> None:
        self.busy = None
        self.composer.show_problems(event.check.problems)
        if event.check.problems:
            self.notify(f"{plural(len(event.check.problems), 'problem')} to correct, each shown at its part "
                        "and line.", title="Please check the message", severity="error", timeout=8)
            return
        for warning in event.check.warnings:
            self.notify(warning, title="Note", severity="warning", timeout=8)
        self.compose_value = event.compose
        self.query_one(PreviewStep).show(self.chosen, event.compose)
        self.go("preview")

    # -- 6. Generate -----------------------------------------------------------------------------
    def action_generate(self) -> None:
        if self.busy or self.compose_value is None:
            return
        per_channel: Counter = Counter(str(r.channel) for r in self.chosen if r.problem is None)
        unreachable = sum(1 for r in self.chosen if r.problem is not None)
        self.app.push_screen(ConfirmGenerate(per_channel, unreachable), self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if not yes:
            return  # No: back where we were (Preview)
        self.generating = True
        self.result = None
        self.cancel_event = threading.Event()
        self.go("generate")
        self.query_one(GenerateStep).start(sum(1 for r in self.chosen if r.problem is None))
        self._generate(self.selection, self.mode, self.compose_value, self.chosen, self.cancel_event)

    @work(thread=True, exit_on_error=False, group="bulk-generate")
    def _generate(self, selection: Selection, mode: ChannelMode, compose: BulkCompose, chosen: list[Recipient],
                  cancel: threading.Event) -> None:
        result = bulk.generate(self.app.ctx, self.app.user, selection, mode, compose, chosen,
                               progress=lambda p: self.post_message(GenerateProgress(p)), cancel=cancel)
        self.post_message(Generated(result))

    @on(GenerateProgress)
    def _progress(self, event: GenerateProgress) -> None:
        if self.generating and not (self.cancel_event and self.cancel_event.is_set()):
            self.query_one(GenerateStep).progress(event.progress)

    def action_cancel_generation(self) -> None:
        if self.generating and self.cancel_event is not None:
            self.cancel_event.set()
            self.query_one(GenerateStep).cancelling()

    @on(Generated)
    def _generated(self, event: Generated) -> None:
        self.generating = False
        self.result = event.result
        self.query_one(GenerateStep).finish(event.result)
        self._show_step()

    def action_open_batch(self) -> None:
        screen = batches_screen()
        if screen is None or self.result is None:
            return
        batch_id = self.result.batch.id
        takes_id = "batch_id" in inspect.signature(screen).parameters
        self.app.pop_screen()
        self.app.push_screen(screen(batch_id=batch_id) if takes_id else screen())

    # -- failures ----------------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or not (event.worker.group or "").startswith("bulk-"):
            return
        event.stop()
        error = event.worker.error
        self.busy = None
        if event.worker.group == "bulk-generate":
            self.generating = False
            self.query_one(GenerateStep).failed(str(error) or type(error).__name__)
            self._show_step()
        elif event.worker.group == "bulk-recipients":
            self._show_step()
        if event.worker.group == "bulk-count":
            return  # shown on the count line
        if isinstance(error, ServiceError) and getattr(error, "field", None) and self.step == "compose":
            self.composer.show_problems([])
        self.app.show_error(error)
