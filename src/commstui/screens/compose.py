"""Compose: write one email to a customer and queue it, now or at a time.

services.email is the judge of a draft. The form asks it field by field as the
operator leaves each one, so a bad address is pointed at by name (never dropped)
and warnings such as "no subject" show but never block. Send queues the message
(durable, with its Message-ID) and closes the dialog; the dispatcher sends it and
the customer's Emails tab follows it from there. Schedule… (Ctrl+T) asks when, in the
office's time zone, and queues it for then (once, or repeating).

With `editing`, the same form changes an email that is scheduled and has not gone yet:
Save keeps the new words, Schedule… moves it (services.schedule decides what may change).
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import ScreenResume
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static, TextArea

from ..domain import Customer, Message, Permission, Repeat, ScheduleRequest
from ..services import email, schedule
from ..services.email import EmailDraft
from ..services.errors import NoMailServer, ServiceError, ValidationError
from ..widgets.format import clean
from .schedule import ScheduleScreen, when_text

ADDRESS_FIELDS = ("to", "cc", "bcc")
FIELDS = (*ADDRESS_FIELDS, "subject")
LABELS = {"to": "To", "cc": "Cc", "bcc": "Bcc", "subject": "Subject"}


class ServerChecked(TextualMessage):
    def __init__(self, ready: bool) -> None:
        super().__init__()
        self.ready = ready


class DraftQueued(TextualMessage):
    def __init__(self, message: Message) -> None:
        super().__init__()
        self.message = message


class DraftScheduled(TextualMessage):
    def __init__(self, message: Message, verb: str, description: str = "") -> None:
        super().__init__()
        self.message = message
        self.verb = verb                # "Scheduled", "Rescheduled", "Saved"
        self.description = description  # "every Monday at 09:00" for a repeat


class OfficeZoneFound(TextualMessage):
    def __init__(self, zone_name: str, then_ask: bool) -> None:
        super().__init__()
        self.zone_name = zone_name
        self.then_ask = then_ask        # open the Schedule dialog with it


class CcSuggested(TextualMessage):
    def __init__(self, suggestion: email.CcSuggestion) -> None:
        super().__init__()
        self.suggestion = suggestion


class SendRefused(TextualMessage):
    def __init__(self, error: ServiceError) -> None:
        super().__init__()
        self.error = error


class ConfirmDiscard(ModalScreen[bool]):
    """Asked on Escape when something was typed: True means throw the draft away."""

    CSS_PATH = "compose.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Discard"),
        Binding("n,escape", "answer(False)", "Keep writing"),
        Binding("left,right", "app.focus_next", "Move", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog") as dialog:
            dialog.border_title = "Discard this email?"
            yield Static("What you typed will be lost.", id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                yield Button("Discard (y)", id="discard", variant="error", compact=True)
                yield Button("Keep writing (n)", id="keep", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def action_answer(self, discard: bool) -> None:
        self.dismiss(discard)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "discard")


class ComposeScreen(ModalScreen[Message | None]):
    """The "Email" pop-up of a customer's details: dismisses with the queued Message, or None."""

    CSS_PATH = "compose.tcss"
    AUTO_FOCUS = None  # on_mount picks: Subject when To is already filled in

    BINDINGS = [
        # one key, two meanings: check_action shows the one that applies (new or editing)
        Binding("ctrl+s", "send", "Send", priority=True,
                tooltip="Queue this email; it is sent in the background"),
        Binding("ctrl+s", "save", "Save", priority=True,
                tooltip="Keep the changes to this scheduled email"),
        Binding("ctrl+t", "schedule", "Schedule", priority=True,
                tooltip="Choose a date and time (and a repeat) to send it"),
        Binding("ctrl+t", "reschedule", "Reschedule", priority=True,
                tooltip="Choose another date and time (or repeat) for it"),
        Binding("escape", "cancel", "Cancel",
                tooltip="Close without sending (asks first if you typed something)"),
        Binding("f2", "mail_settings", "Mail settings", tooltip="Set up the mail server (administrators)"),
    ]

    def __init__(self, customer: Customer, editing: Message | None = None) -> None:
        super().__init__()
        self.customer = customer
        self.editing = editing
        if editing is None:
            self.heading = f"Email {clean(customer.name)} ({customer.account_no})"
            self._initial = EmailDraft(to=customer.email or "")
        else:
            self.heading = f"Edit scheduled email · {clean(customer.name)} ({customer.account_no})"
            self._initial = EmailDraft(to=", ".join(editing.to_addrs), cc=", ".join(editing.cc_addrs),
                                       bcc=", ".join(editing.bcc_addrs), subject=editing.subject,
                                       body=editing.body, is_html=editing.is_html)
        self.server_ready: bool | None = None  # None until asked
        self.sending = False
        self.asking_when = False   # the office zone is being read for the Schedule dialog
        self._not_done_words = "Not sent"  # how a refusal of the current attempt begins
        self.office_zone: str | None = None
        self._visited: set[str] = set()
        self._show_all = False
        self._html_chosen = editing is not None  # keep what was saved rather than guess again
        self.cc_suggestion: email.CcSuggestion | None = None  # None until read (new emails only)

    # -- layout --------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="compose-dialog") as dialog:
            dialog.border_title = Text(self.heading)
            yield Static("", id="server-notice")
            yield Static("", id="schedule-info", markup=False)
            with VerticalScroll(id="compose-form"):
                for name in FIELDS:
                    with Horizontal(classes="compose-row", id=f"{name}-row"):
                        yield Label(LABELS[name], classes="compose-label", id=f"{name}-label")
                        yield Input(getattr(self._initial, name), id=name, compact=True,
                                    placeholder=PLACEHOLDERS[name], select_on_focus=False)
                    yield Static("", classes="compose-error", id=f"{name}-error", markup=False)
                    if name == "cc":  # where a pre-filled Cc comes from
                        yield Static("", id="cc-hint", markup=False)
                yield Static("", id="warnings", markup=False)
                body = TextArea(self._initial.body, id="body", soft_wrap=True, tab_behavior="focus",
                                placeholder="Write your message here…")
                body.border_title = "Body"
                yield body
            yield Static("", id="send-error", markup=False)
            with Horizontal(id="compose-buttons"):
                yield Checkbox("HTML", bool(self._initial.is_html), id="html", compact=True,
                               tooltip="Ticked by itself when the body looks like HTML; "
                                       "tick or untick to decide")
                yield Button(self.send_label, id="send", variant="primary", compact=True)
                yield Button("Cancel  Esc", id="cancel", compact=True)
                yield Button("Reschedule…  ^T" if self.editing else "Schedule…  ^T", id="schedule",
                             compact=True, tooltip="Choose a date and time (and a repeat) to send it")
                yield Button("Mail settings  F2", id="open-settings", compact=True)
        yield Footer(compact=True)

    @property
    def send_label(self) -> str:
        if self.sending:
            return "Saving…" if self.editing else "Queueing…"
        return "Save  ^S" if self.editing else "Send  ^S"

    def on_mount(self) -> None:
        self.query_one("#open-settings", Button).display = False
        self.query_one("#schedule-info", Static).display = False
        self._show_judgement()
        self.query_one("#subject" if self._initial.to else "#to", Input).focus()
        hint = self.query_one("#cc-hint", Static)
        hint.display = False
        hint.styles.margin = (0, 0, 0, 9)
        hint.styles.text_style = "italic"
        if self.editing is not None:
            self._read_office_zone(then_ask=False)  # to say when it is due, in the office's zone
        else:
            self._suggest_cc()

    # -- Cc from the service addresses' additional contacts ------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="compose-cc")
    def _suggest_cc(self) -> None:
        self.post_message(CcSuggested(email.suggested_cc(self.app.ctx, self.app.user, self.customer.id)))

    @on(CcSuggested)
    def _cc_suggested(self, event: CcSuggested) -> None:
        cc = self.query_one("#cc", Input)
        found = self.cc_suggestion = event.suggestion
        if not found.addresses or cc.value.strip() != self._initial.cc.strip():
            return  # nothing to add, or the operator has already typed a Cc
        self._initial.cc = cc.value = ", ".join(found.addresses)
        hint = self.query_one("#cc-hint", Static)
        hint.update(found.hint)
        hint.display = True

    # -- the draft -------------------------------------------------------------
    def draft(self) -> EmailDraft:
        values = {name: self.query_one(f"#{name}", Input).value for name in FIELDS}
        is_html = self.query_one("#html", Checkbox).value if self._html_chosen else None
        return EmailDraft(**values, body=self.query_one("#body", TextArea).text, is_html=is_html)

    def is_touched(self) -> bool:
        draft = self.draft()
        return any(getattr(draft, n).strip() != getattr(self._initial, n).strip()
                   for n in (*FIELDS, "body"))

    def _show_judgement(self, clear_only: str | None = None) -> email.DraftReview:
        """Point at every bad field the operator has left (all of them after Send)."""
        verdict = email.review_draft(self.draft())
        for name in FIELDS:
            error = verdict.errors.get(name, "")
            shown = self.query_one(f"#{name}-error", Static)
            if clear_only is not None and (name != clear_only or error):
                continue  # while typing, only clear an error that is fixed
            if not (self._show_all or name in self._visited):
                error = ""
            shown.update(error)
            shown.display = bool(error)
            self.query_one(f"#{name}", Input).set_class(bool(error), "-invalid")
            self.query_one(f"#{name}-label", Label).set_class(bool(error), "-invalid")
        warnings = self.query_one("#warnings", Static)
        warnings.update("\n".join(f"⚠ {w}" for w in verdict.warnings))
        warnings.display = bool(verdict.warnings)
        if not self._html_chosen:
            checkbox = self.query_one("#html", Checkbox)
            with checkbox.prevent(Checkbox.Changed):
                checkbox.value = verdict.is_html
        return verdict

    @on(Input.Blurred)
    def _left_field(self, event: Input.Blurred) -> None:
        if event.input.id in FIELDS and self.is_attached:  # not while the dialog closes
            self._visited.add(event.input.id)
            self._show_judgement()

    @on(Input.Submitted)
    def _enter_in_field(self, event: Input.Submitted) -> None:
        # Enter moves on, like Tab: sending is a deliberate Ctrl+S or the Send button
        self.focus_next()

    @on(Input.Changed)
    def _field_changed(self, event: Input.Changed) -> None:
        if event.input.id in FIELDS and self.is_mounted and self.is_attached:
            self._show_judgement(clear_only=event.input.id)

    @on(TextArea.Changed, "#body")
    def _body_changed(self) -> None:
        self._show_judgement(clear_only="body")

    @on(Checkbox.Changed, "#html")
    def _html_chosen_by_hand(self) -> None:
        self._html_chosen = True

    # -- the mail server -----------------------------------------------------------
    def on_screen_resume(self, event: ScreenResume) -> None:
        # also after Mail settings closes: the administrator may have just set one up
        self._check_server()

    @work(thread=True, exclusive=True, exit_on_error=False, group="compose-server")
    def _check_server(self) -> None:
        self.post_message(ServerChecked(email.mail_server_ready(self.app.ctx, self.app.user)))

    @on(ServerChecked)
    def _server_checked(self, message: ServerChecked) -> None:
        self._set_server_ready(message.ready)

    def may_configure(self) -> bool:
        user = self.app.user
        return user is not None and user.can(Permission.MAIL_SETTINGS)

    def _set_server_ready(self, ready: bool) -> None:
        self.server_ready = ready
        notice = self.query_one("#server-notice", Static)
        if ready:
            notice.update("")
        elif self.may_configure():
            notice.update("⚠ No active mail server: this email cannot be sent yet. "
                          "Press F2 to set one up.")
        else:
            notice.update("⚠ No active mail server: this email cannot be sent yet. "
                          "Ask an administrator to set one up; your draft stays here meanwhile.")
        notice.display = not ready
        self.query_one("#open-settings", Button).display = not ready and self.may_configure()
        self._update_send_button()
        self.refresh_bindings()

    def _update_send_button(self) -> None:
        button = self.query_one("#send", Button)
        button.label = self.send_label
        button.disabled = self.sending or (self.editing is None and self.server_ready is False)
        self.query_one("#schedule", Button).disabled = not self._may_queue()

    def _may_queue(self) -> bool:
        """Send or schedule now? Not while busy; a new email not without a mail server
        (a scheduled one being edited is already queued: changing it needs none)."""
        if self.sending or self.asking_when:
            return False
        return self.editing is not None or self.server_ready is not False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "mail_settings":
            return self.server_ready is False and self.may_configure()
        if action == "send":
            if self.editing is not None:
                return False
            return None if (self.sending or self.server_ready is False) else True
        if action == "save":
            if self.editing is None:
                return False
            return None if self.sending else True
        if action in ("schedule", "reschedule"):
            if (action == "reschedule") != (self.editing is not None):
                return False
            return True if self._may_queue() else None
        return True

    def action_mail_settings(self) -> None:
        if self.may_configure():
            self.app.action_open_mail_settings()

    # -- send and cancel -----------------------------------------------------------
    def _form_ready(self, not_done: str = "Not sent") -> bool:
        """Point at every bad field; True when the draft may go to the service."""
        if self.sending or self.asking_when:
            return False
        if self.editing is None and self.server_ready is False:
            self.notify("No active mail server: this email cannot be sent yet.", title=not_done,
                        severity="warning")
            return False
        self._show_all = True
        verdict = self._show_judgement()
        if verdict.errors:
            first = next(n for n in FIELDS if n in verdict.errors)
            self.query_one(f"#{first}", Input).focus()
            self.notify(verdict.errors[first], title=f"{not_done}: please check the form", severity="error")
            return False
        return True

    def _start_sending(self, not_done: str) -> None:
        self._not_done_words = not_done
        self.sending = True
        self._show_send_error("")
        self._update_send_button()
        self.refresh_bindings()

    def action_send(self) -> None:
        if self.editing is not None:
            self.action_save()
            return
        if not self._form_ready():
            return
        self._start_sending("Not sent")
        self._queue(self.draft())

    def action_save(self) -> None:
        if self.editing is None:
            self.action_send()
            return
        if not self._form_ready("Not saved"):
            return
        self._start_sending("Not saved")
        self._save(self.editing.id, self.draft())

    @work(thread=True, exclusive=True, exit_on_error=False, group="compose-send")
    def _save(self, message_id: int, draft: EmailDraft) -> None:
        try:
            message = schedule.edit_scheduled(self.app.ctx, self.app.user, message_id, draft)
        except ServiceError as exc:
            self.post_message(SendRefused(exc))
            return
        self.post_message(DraftScheduled(message, "Saved"))

    # -- schedule ------------------------------------------------------------------
    def action_reschedule(self) -> None:
        self.action_schedule()

    def action_schedule(self) -> None:
        if not self._form_ready("Not scheduled"):
            return
        self.asking_when = True
        self._update_send_button()
        self.refresh_bindings()
        self._read_office_zone(then_ask=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compose-zone")
    def _read_office_zone(self, then_ask: bool) -> None:
        # the office's zone (the host's own until an administrator sets one)
        zone = schedule.get_office_settings(self.app.ctx, self.app.user).timezone
        self.post_message(OfficeZoneFound(zone, then_ask))

    @on(OfficeZoneFound)
    def _office_zone_found(self, event: OfficeZoneFound) -> None:
        self.office_zone = event.zone_name
        self._show_schedule_info()
        if not event.then_ask:
            return
        self.app.push_screen(
            ScheduleScreen(event.zone_name, self._initial_request(event.zone_name),
                           title="Reschedule" if self.editing else "Schedule send"),
            self._when_chosen)

    def _initial_request(self, zone_name: str) -> ScheduleRequest | None:
        """When editing: the message's own time (and rule) in the office zone."""
        message = self.editing
        if message is None:
            return None
        return schedule.request_for(message, zone_name)

    def _when_chosen(self, request: ScheduleRequest | None) -> None:
        self.asking_when = False
        if request is None or not self.is_attached:
            self._update_send_button()
            self.refresh_bindings()
            return
        self._start_sending("Not scheduled" if self.editing is None else "Not rescheduled")
        draft = self.draft()
        if self.editing is None:
            self._schedule(draft, request)
        else:
            self._reschedule(self.editing.id, draft if self.is_touched() else None, request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compose-send")
    def _schedule(self, draft: EmailDraft, request: ScheduleRequest) -> None:
        try:
            message = schedule.schedule_email(self.app.ctx, self.app.user, self.customer.id, draft, request)
        except ServiceError as exc:
            self.post_message(SendRefused(exc))
            return
        self.post_message(DraftScheduled(message, "Scheduled", _repeat_words(request, self.office_zone)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="compose-send")
    def _reschedule(self, message_id: int, draft: EmailDraft | None, request: ScheduleRequest) -> None:
        try:
            if draft is not None:  # keep what was typed before the time changes
                schedule.edit_scheduled(self.app.ctx, self.app.user, message_id, draft)
            message = schedule.reschedule(self.app.ctx, self.app.user, message_id, request)
        except ServiceError as exc:
            self.post_message(SendRefused(exc))
            return
        self.post_message(DraftScheduled(message, "Rescheduled", _repeat_words(request, self.office_zone)))

    @on(DraftScheduled)
    def _scheduled(self, event: DraftScheduled) -> None:
        if self.app.dispatcher is not None:  # it may sleep until the old next due time
            self.app.dispatcher.wake()
        message = event.message
        due = message.scheduled_at or message.due_at
        if event.verb == "Saved":
            text = "The scheduled email is changed."
        else:
            local = schedule.in_zone(due, self.office_zone or "UTC")
            text = f"{event.verb} for {when_text(local)} ({schedule.until(due)})."
            if event.description:
                text += f" Repeats {event.description}."
        self.app.notify(text, title=f"Email {event.verb.lower()}", markup=False)
        self.dismiss(message)

    def _show_schedule_info(self) -> None:
        info = self.query_one("#schedule-info", Static)
        message = self.editing
        due = message.scheduled_at or message.due_at if message is not None else None
        if due is None or self.office_zone is None:
            info.display = False
            return
        text = f"Scheduled for {when_text(schedule.in_zone(due, self.office_zone))} ({schedule.until(due)})"
        request = self._initial_request(self.office_zone)
        if request is not None and request.repeat is not Repeat.NONE:
            text += f", repeating {_repeat_words(request, self.office_zone)}"
        info.update(text + ".")
        info.display = True

    @work(thread=True, exclusive=True, exit_on_error=False, group="compose-send")
    def _queue(self, draft: EmailDraft) -> None:
        try:
            message = email.send_email(self.app.ctx, self.app.user, self.customer.id, draft)
        except ServiceError as exc:
            self.post_message(SendRefused(exc))
            return
        self.post_message(DraftQueued(message))

    @on(DraftQueued)
    def _queued(self, event: DraftQueued) -> None:
        if self.app.dispatcher is not None:  # send now rather than at the next look
            self.app.dispatcher.wake()
        to = ", ".join(event.message.to_addrs)
        self.app.notify(f"Queued for {to}. It is sent in the background; the Emails tab shows how it went.",
                        title="Email queued", markup=False)
        self.dismiss(event.message)

    @on(SendRefused)
    def _refused(self, event: SendRefused) -> None:
        self._sending_done()
        error = event.error
        if isinstance(error, ValidationError) and error.field in FIELDS:
            self._visited.add(error.field)
            self._show_judgement()
            self.query_one(f"#{error.field}", Input).focus()
        if isinstance(error, NoMailServer):
            self._set_server_ready(False)
        self._show_send_error(f"{self._not_done()}: {error}")
        self.notify(str(error), title=error.title, severity="error", timeout=10, markup=False)

    def _sending_done(self) -> None:
        self.sending = False
        self._update_send_button()
        self.refresh_bindings()

    def _show_send_error(self, text: str) -> None:
        shown = self.query_one("#send-error", Static)
        shown.update(text)
        shown.display = bool(text)

    def on_worker_state_changed(self, event) -> None:
        error = event.worker.error
        if error is None:
            return
        if event.worker.group == "compose-send":
            self._sending_done()
            self._show_send_error(f"{self._not_done()}: {error}")
        if event.worker.group == "compose-zone":
            self.asking_when = False
            self._update_send_button()
            self.refresh_bindings()
        self.app.show_error(error)

    def _not_done(self) -> str:
        return self._not_done_words

    def action_cancel(self) -> None:
        if not self.is_touched():
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmDiscard(), answered)

    @on(Button.Pressed, "#send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#open-settings")
    def _settings_pressed(self) -> None:
        self.action_mail_settings()

    @on(Button.Pressed, "#schedule")
    def _schedule_pressed(self) -> None:
        self.action_schedule()


def _repeat_words(request: ScheduleRequest, zone_name: str | None) -> str:
    if request.repeat is Repeat.NONE:
        return ""
    return schedule.preview(request, zone_name or "UTC").description


PLACEHOLDERS = {
    "to": "name@example.com — several allowed, separated by commas",
    "cc": "optional",
    "bcc": "optional: not shown to the other recipients",
    "subject": "may be left empty (you will be warned)",
}
