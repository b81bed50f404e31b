"""Office settings (administrators): the office time zone every time is shown in, what
happens to a send whose time passed while no dispatcher ran, and how long a temporary
failure is retried; and the letterhead, the office's name, address, phone and email printed
at the top of every bulk letter. Below them, the dispatchers seen lately (read only).

These live in the database, so every operator and every dispatcher agrees on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.validation import Function
from textual.widgets import Button, Footer, Input, Label, RadioButton, RadioSet, Static

from ..domain import DispatcherStatus, MissedPolicy, OfficeSettings, Permission
from ..services import bulk, schedule
from ..services.bulk import LetterheadForm
from ..services.errors import ServiceError, ValidationError
from ..widgets.dispatcher_status import DispatcherViewChanged
from ..widgets.format import clean
from ..widgets.status_line import StatusLine

CLOCK_EVERY = 15.0  # seconds: the "now" shown next to the zone
# service field name -> widget id
FIELD_IDS = {"timezone": "timezone", "missed_policy": "missed-policy", "grace_minutes": "grace",
             "lifetime_hours": "lifetime", "letterhead_name": "lh-name", "letterhead_address": "lh-address1",
             "letterhead_phone": "lh-phone", "letterhead_email": "lh-email"}
ADDRESS_LINES = 4  # what fits above the window of the envelope (the service refuses more)
GRACE_MAX_MINUTES = 7 * 24 * 60
LIFETIME_MAX_HOURS = 30 * 24


@lru_cache(maxsize=1)
def zone_names() -> dict[str, str]:
    """Every IANA zone this machine knows, by lower-case name (typing case does not matter)."""
    return {name.lower(): name for name in sorted(available_timezones()) if "/" in name or name == "UTC"}


def known_zone(value: str) -> str | None:
    """The canonical spelling of a zone name, or None if there is no such zone."""
    return zone_names().get(value.strip().lower())


def zone_clock(zone: str, now: datetime | None = None) -> str:
    at = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone))
    return f"now {at:%a %d %b %H:%M} {at.tzname()}"


class OfficeLoaded(TextualMessage):
    def __init__(self, settings: OfficeSettings, status: DispatcherStatus | None, error: str | None,
                 letterhead: LetterheadForm | None = None, letterhead_error: str | None = None) -> None:
        super().__init__()
        self.settings, self.status, self.error = settings, status, error
        self.letterhead, self.letterhead_error = letterhead, letterhead_error


class OfficeSaved(TextualMessage):
    def __init__(self, settings: OfficeSettings, letterhead: LetterheadForm | None = None) -> None:
        super().__init__()
        self.settings, self.letterhead = settings, letterhead  # letterhead: None when it was not changed


class OfficeRefused(TextualMessage):
    def __init__(self, error: ServiceError, letterhead: LetterheadForm | None = None) -> None:
        super().__init__()
        self.error = error
        self.letterhead = letterhead  # saved before the refusal, if it was


def same_letterhead(a: LetterheadForm, b: LetterheadForm) -> bool:
    def plain(form: LetterheadForm) -> tuple:
        return (form.name.strip(), [line.strip() for line in form.address_lines if line.strip()],
                form.phone.strip(), form.email.strip())
    return plain(a) == plain(b)


def number_input(widget_id: str) -> Input:
    return Input(id=widget_id, type="integer", max_length=6, compact=True, select_on_focus=False)


def text_input(widget_id: str, placeholder: str = "") -> Input:
    return Input(id=widget_id, compact=True, select_on_focus=False, max_length=120, placeholder=placeholder,
                 classes="letterhead-input")


class OfficeSettingsScreen(Screen):
    CSS_PATH = "office_settings.tcss"
    AUTO_FOCUS = None  # on_mount focuses the zone (or Back, for someone who may not change it)

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True, tooltip="Save the office settings"),
        Binding("escape", "back", "Back", tooltip="Leave office settings (unsaved changes are dropped)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.saved: OfficeSettings | None = None
        self.letterhead: LetterheadForm | None = None  # as saved; None if it could not be read
        self.busy = False
        self.loaded = False  # the saved settings are on screen (or access was refused)
        self._refused_values: dict[str, str] = {}
        # the choice on screen; kept here because the RadioSet learns of a programmatic
        # choice only when its message arrives
        self._policy = MissedPolicy.HOLD  # widget id -> the value an error is about

    def compose(self) -> ComposeResult:
        yield StatusLine("Office settings")
        with VerticalScroll(id="office-form"):
            yield Static("", id="office-access", markup=False)
            with Horizontal(classes="office-row", id="timezone-row"):
                yield Label("Time zone", classes="office-label", id="timezone-label")
                yield Input(id="timezone", compact=True, select_on_focus=False,
                            placeholder="e.g. Australia/Sydney",
                            suggester=SuggestFromList(zone_names().values(), case_sensitive=False),
                            validators=[Function(lambda v: known_zone(v) is not None, "Not a time zone")],
                            validate_on=["changed", "submitted"])
                yield Label("", id="zone-clock")
            yield Static("", classes="office-error", id="timezone-error", markup=False)
            yield Static("every time is shown in this zone; → completes a name",
                         classes="office-hint", markup=False)
            # what happens to a message whose time passed while no dispatcher was running
            with Horizontal(classes="office-row", id="grace-row"):
                yield Label("Missed runs", classes="office-label", id="grace-label")
                yield Label("up to", classes="office-lead")
                yield number_input("grace")
                yield Label("minutes late: sent as usual", classes="office-note")
            yield Static("", classes="office-error", id="grace-error", markup=False)
            with Horizontal(classes="office-row", id="missed-policy-row"):
                yield Label("", classes="office-label", id="missed-policy-label")
                yield Label("later than that:", classes="office-lead")
            with RadioSet(id="missed-policy", compact=True):
                for policy in MissedPolicy:
                    yield RadioButton(policy.label, id=f"policy-{policy.value}", compact=True)
            yield Static("", classes="office-error", id="missed-policy-error", markup=False)
            with Horizontal(classes="office-row", id="lifetime-row"):
                yield Label("Retry for", classes="office-label", id="lifetime-label")
                yield number_input("lifetime")
                yield Label("hours, then a temporary failure is final", classes="office-note")
            yield Static("", classes="office-error", id="lifetime-error", markup=False)
            # the letterhead: what every bulk letter prints at its top (services.bulk keeps it)
            with Horizontal(classes="office-row", id="letterhead-row"):
                yield Label("Letterhead", classes="office-label", id="letterhead-label")
                yield Label("printed at the top of every bulk letter", classes="office-note",
                            id="letterhead-note", markup=False)
            yield Static("", classes="office-hint", id="letterhead-refused", markup=False)
            with Vertical(id="letterhead-fields"):
                with Horizontal(classes="office-row"):
                    yield Label("  Name", classes="office-label", id="lh-name-label")
                    yield text_input("lh-name", "the office's name, e.g. Harbour Towers Management")
                yield Static("", classes="office-error", id="lh-name-error", markup=False)
                for line in range(1, ADDRESS_LINES + 1):
                    with Horizontal(classes="office-row"):
                        yield Label("  Address" if line == 1 else "", classes="office-label",
                                    id=f"lh-address{line}-label")
                        yield text_input(f"lh-address{line}", "one line per box, up to four" if line == 1 else "")
                yield Static("", classes="office-error", id="lh-address1-error", markup=False)
                with Horizontal(classes="office-row"):
                    yield Label("  Phone", classes="office-label", id="lh-phone-label")
                    yield text_input("lh-phone")
                    yield Label("Email", classes="office-label-inline", id="lh-email-label")
                    yield text_input("lh-email", "blank: the mail server's From")
                yield Static("", classes="office-error", id="lh-phone-error", markup=False)
                yield Static("", classes="office-error", id="lh-email-error", markup=False)
            yield Static("", id="office-result", markup=False)
            yield Static("Dispatchers: …", id="dispatchers", markup=False)
        with Horizontal(id="office-buttons"):
            yield Button("Save  ^S", id="save", variant="primary", compact=True)
            yield Button("Back  Esc", id="back", compact=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_interval(CLOCK_EVERY, self._show_clock)
        if not self.may_configure():
            self._refuse(f"Office settings are for administrators; "
                         f"{getattr(self.app.user, 'username', 'you')} may not change them.")
        else:
            self.query_one("#timezone", Input).focus()
        view = getattr(self.app, "dispatcher_view", None)
        if view is not None and view.figures is not None:
            self._show_dispatchers(view.figures)
        self._load()

    def may_configure(self) -> bool:
        user = self.app.user
        return user is not None and user.can(Permission.MAIL_SETTINGS)

    def _refuse(self, reason: str) -> None:
        access = self.query_one("#office-access", Static)
        access.update(f"⚠ {reason}")
        access.display = True
        for widget in self.query("Input, RadioSet, #save"):
            widget.disabled = True
        self.query_one("#back", Button).focus()
        self.refresh_bindings()

    # -- the form ------------------------------------------------------------------
    def _show_form(self, settings: OfficeSettings) -> None:
        self.saved = settings
        self.query_one("#timezone", Input).value = settings.timezone
        self.query_one("#grace", Input).value = str(settings.grace_minutes)
        self.query_one("#lifetime", Input).value = str(settings.lifetime_hours)
        self._show_policy(settings.missed_policy)
        self._show_clock()

    def _show_letterhead(self, head: LetterheadForm) -> None:
        self.letterhead = head
        self.query_one("#lh-name", Input).value = head.name
        lines = [*head.address_lines, *[""] * ADDRESS_LINES][:ADDRESS_LINES]
        for number, line in enumerate(lines, start=1):
            self.query_one(f"#lh-address{number}", Input).value = line
        self.query_one("#lh-phone", Input).value = head.phone
        self.query_one("#lh-email", Input).value = head.email

    def letterhead_form(self) -> LetterheadForm | None:
        """The letterhead on screen, or None when it is as saved (or could not be read): a letterhead
        left alone is not written, so its defaults (e.g. the mail server's From) stay defaults."""
        if self.letterhead is None:
            return None
        form = LetterheadForm(
            name=self.query_one("#lh-name", Input).value.strip(),
            address_lines=[line for number in range(1, ADDRESS_LINES + 1)
                           if (line := self.query_one(f"#lh-address{number}", Input).value.strip())],
            phone=self.query_one("#lh-phone", Input).value.strip(),
            email=self.query_one("#lh-email", Input).value.strip())
        return None if same_letterhead(form, self.letterhead) else form

    def _show_policy(self, policy: MissedPolicy) -> None:
        self._policy = policy
        self.query_one(f"#policy-{policy.value}", RadioButton).value = True

    @on(RadioSet.Changed, "#missed-policy")
    def _policy_chosen(self, event: RadioSet.Changed) -> None:
        if event.pressed.id:
            self._policy = MissedPolicy(event.pressed.id.removeprefix("policy-"))

    def policy(self) -> MissedPolicy:
        return self._policy

    @on(Input.Changed, "#timezone")
    def _show_clock(self) -> None:
        zone = known_zone(self.query_one("#timezone", Input).value)
        self.query_one("#zone-clock", Label).update(zone_clock(zone) if zone else "")

    @on(Input.Changed)
    def _typing_clears_its_error(self, event: Input.Changed) -> None:
        widget_id = event.input.id
        # compared with the value now, not the event's: a late event from before the error says nothing
        if widget_id and self._refused_values.get(widget_id, event.input.value) != event.input.value:
            del self._refused_values[widget_id]
            self.query_one(f"#{widget_id}-error", Static).display = False
            self.query_one(f"#{widget_id}-label", Label).remove_class("-invalid")
            still_wrong = event.validation_result is not None and not event.validation_result.is_valid
            event.input.set_class(still_wrong, "-invalid")  # the zone's own check may still say so

    def _show_field_error(self, field: str | None, text: str) -> None:
        for name, widget_id in FIELD_IDS.items():
            error = text if name == field else ""
            shown = self.query_one(f"#{widget_id}-error", Static)
            shown.update(error)
            shown.display = bool(error)
            self.query_one(f"#{widget_id}").set_class(bool(error), "-invalid")
            self.query_one(f"#{widget_id}-label", Label).set_class(bool(error), "-invalid")

    def _refuse_field(self, field: str, text: str) -> None:
        self._show_field_error(field, text)
        widget = self.query_one(f"#{FIELD_IDS[field]}")
        if isinstance(widget, Input):  # typing something else there clears the error
            self._refused_values[widget.id] = widget.value
        self.query_one(f"#{FIELD_IDS[field]}").focus()
        self._show_result("", "")

    def form(self) -> OfficeSettings | None:
        """The settings on screen, or None after pointing at the first field that is wrong."""
        typed = self.query_one("#timezone", Input).value.strip()
        zone = known_zone(typed)
        if zone is None:
            self._refuse_field("timezone", f"Time zone: {typed!r} is not a time zone; type a name like "
                                           "Europe/London (→ completes it)." if typed else
                               "Time zone: enter the office's zone, e.g. Australia/Sydney.")
            return None
        numbers = {}
        for name, widget_id, low, high, what in (
                ("grace_minutes", "grace", 0, GRACE_MAX_MINUTES, "Missed runs: minutes late"),
                ("lifetime_hours", "lifetime", 1, LIFETIME_MAX_HOURS, "Retry for: hours")):
            text = self.query_one(f"#{widget_id}", Input).value.strip()
            try:
                numbers[name] = int(text)
            except ValueError:
                numbers[name] = None
            if numbers[name] is None or not low <= numbers[name] <= high:
                self._refuse_field(name, f"{what}, a whole number from {low} to {high:,}.")
                return None
        return OfficeSettings(timezone=zone, missed_policy=self.policy(), **numbers)

    # -- load and save --------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="office-load")
    def _load(self) -> None:
        ctx, user = self.app.ctx, self.app.user
        settings = schedule.get_office_settings(ctx, user)
        try:
            status, error = schedule.dispatcher_status(ctx, user), None
        except ServiceError as exc:
            status, error = None, str(exc)
        try:  # the letterhead is for administrators and bulk senders (the service decides)
            letterhead, letterhead_error = bulk.get_letterhead(ctx, user), None
        except ServiceError as exc:
            letterhead, letterhead_error = None, str(exc)
        self.post_message(OfficeLoaded(settings, status, error, letterhead, letterhead_error))

    @on(OfficeLoaded)
    def _loaded(self, event: OfficeLoaded) -> None:
        self._show_form(event.settings)
        if event.letterhead is not None:
            self._show_letterhead(event.letterhead)
        else:
            # not the fields, empty: they would read as a letterhead with no name
            refused = self.query_one("#letterhead-refused", Static)
            refused.update(f"Not shown: {event.letterhead_error or 'it could not be read'}")
            refused.display = True
            self.query_one("#letterhead-fields").display = False
            for widget in self.query(".letterhead-input"):
                widget.disabled = True
        self.loaded = True
        if event.status is not None:
            self._show_dispatchers(event.status)
        elif event.error:
            self.query_one("#dispatchers", Static).update(f"Dispatchers: cannot tell ({event.error})")

    def action_save(self) -> None:
        if self.busy or not self.may_configure() or not self.loaded:
            return
        settings = self.form()
        if settings is None:
            return
        self.busy = True
        self._save(settings, self.letterhead_form())

    @work(thread=True, exclusive=True, exit_on_error=False, group="office-save")
    def _save(self, settings: OfficeSettings, letterhead: LetterheadForm | None = None) -> None:
        ctx, user = self.app.ctx, self.app.user
        head = None
        try:
            # the letterhead first: the service checks it (the screen cannot), so a refused
            # letterhead leaves everything as it was
            if letterhead is not None:
                head = bulk.save_letterhead(ctx, user, letterhead)
            saved = schedule.save_office_settings(ctx, user, settings)
        except ServiceError as exc:
            self.post_message(OfficeRefused(exc, head))
            return
        self.post_message(OfficeSaved(saved, head))

    @on(OfficeSaved)
    def _saved(self, event: OfficeSaved) -> None:
        self.busy = False
        self._show_field_error(None, "")
        self._show_form(event.settings)
        if event.letterhead is not None:
            self._show_letterhead(event.letterhead)
        text = (f"Saved: times in {event.settings.timezone}; missed runs: {event.settings.missed_policy.label}"
                + ("; the new letterhead prints on letters generated from now on." if event.letterhead else "."))
        self._show_result(text, "success")
        self.notify(text, title="Office settings saved", markup=False)

    @on(OfficeRefused)
    def _refused(self, event: OfficeRefused) -> None:
        self.busy = False
        if event.letterhead is not None:  # saved before the rest was refused
            self._show_letterhead(event.letterhead)
        error = event.error
        if isinstance(error, ValidationError) and error.field in FIELD_IDS:
            self._refuse_field(error.field, str(error))
        else:
            self._show_result(f"Not saved: {error}", "error")
        self.notify(str(error), title=error.title, severity="error", timeout=8, markup=False)

    def _show_result(self, text: str, kind: str) -> None:
        shown = self.query_one("#office-result", Static)
        shown.update(Text(text))
        shown.display = bool(text)
        for name in ("success", "error"):
            shown.set_class(kind == name, f"-{name}")

    def on_worker_state_changed(self, event) -> None:
        error = event.worker.error
        if error is None:
            return
        self.busy = False
        if event.worker.group == "office-load" and isinstance(error, ServiceError):
            self._refuse(str(error))
            self.loaded = True
        self.app.show_error(error)

    # -- the dispatchers (read only) --------------------------------------------------
    @on(DispatcherViewChanged)
    def _dispatcher_view_changed(self, event: DispatcherViewChanged) -> None:
        if event.view is not None and event.view.figures is not None:
            self._show_dispatchers(event.view.figures)

    def _show_dispatchers(self, status: DispatcherStatus) -> None:
        zone = (self.saved.timezone if self.saved else None) or schedule.system_zone_name()
        now = datetime.now(UTC)
        text = Text()
        if status.paused:
            text.append(f" PAUSED by {clean(status.paused_by)} ", "bold reverse")
            text.append("  nothing new is claimed until an administrator resumes (F7)\n")
        if not status.dispatchers:
            text.append("Dispatchers: none seen lately. Queued emails wait for an open commstui "
                        "or `commstui dispatch`.")
        else:
            text.append("Dispatchers seen lately:", "bold")
            for seen in status.dispatchers:
                at = schedule.in_zone(seen.seen_at, zone)
                text.append(f"\n  {clean(seen.kind):<8} {clean(seen.owner)}  "
                            f"seen {at:%H:%M:%S} ({schedule.until(seen.seen_at, now)})")
        self.query_one("#dispatchers", Static).update(text)

    # -- buttons and leaving ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "save":
            return True if self.may_configure() else None
        return True

    def action_back(self) -> None:
        self.dismiss()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_back()
