"""The Textual app: log in, then Customers; the command palette; the in-process dispatcher.

Screens call services in thread workers; the app owns what spans screens: who is
logged in, the dispatcher task, how errors and a busy database are reported.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message as TextualMessage
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from .delivery.dispatcher import Dispatcher
from .delivery.texts import TextSender
from .domain import DispatcherStatus, Permission, User
from .screens.customer_details import MessagesChanged
from .screens.customers import CustomersScreen, NoCustomersAccessScreen
from .screens.demo_outbox import DemoOutboxScreen
from .screens.login import LoginScreen
from .screens.mail_settings import MailSettingsScreen
from .screens.office_settings import OfficeSettingsScreen
from .services import auth, schedule
from .services.context import Context
from .services.errors import PermissionDenied, ServiceError
from .store.db import StoreError
from .widgets.dispatcher_status import DispatcherView, DispatcherViewChanged
from .widgets.status_line import StatusLine

log = logging.getLogger(__name__)

BUSY_NOTICE_EVERY = 3.0  # seconds between "database busy" toasts
DISPATCHER_STOP_TIMEOUT = 10.0
STATUS_EVERY = 5.0   # seconds between reads of the dispatcher's figures for the status line
STATUS_AFTER_CHANGE = 0.3  # after the dispatcher reports a change (coalesces a burst of sends)
PAUSED_NOTICE = ("Dispatching paused: sends in flight finish; nothing new is claimed by any "
                 "dispatcher until resumed.")
RESUMED_NOTICE = "Dispatching resumed: emails that are due are sent again."


class DispatcherStatusLoaded(TextualMessage):
    def __init__(self, user: User, view: DispatcherView | None, fresh: User | None = None) -> None:
        super().__init__()
        self.user, self.view = user, view
        self.fresh = fresh  # the user's record as stored now (None: could not be read)


class PauseChanged(TextualMessage):
    def __init__(self, user: User, figures: DispatcherStatus, paused: bool) -> None:
        super().__init__()
        self.user, self.figures, self.paused = user, figures, paused


class CommsCommands(Provider):
    """Palette entries named "Category: Action"; which ones show depends on who is logged in."""

    def commands(self) -> list[tuple[str, object, str]]:
        app: CommsApp = self.app  # type: ignore[assignment]
        user = app.user
        found: list[tuple[str, object, str]] = []
        if user is None:
            return found
        if user.is_portal:  # the portal is one screen: nothing else of the system is reachable
            return [("Session: Log out", app.action_logout, f"Log out {user.username}")]
        if user.can(Permission.CUSTOMER_VIEW):
            found.append(("Customers: Search", app.action_open_customers,
                          "Find a customer by account no, name, email or phone"))
        if user.can(Permission.CUSTOMER_VIEW) and user.can(Permission.CUSTOMER_EDIT):
            found.append(("Customers: Import from CSV", app.action_import_customers,
                          "Check a CSV file (every bad row with its line and column), then import it"))
        if (user.can(Permission.CUSTOMER_VIEW) and user.can(Permission.CUSTOMER_EDIT)) or (
                (user.can(Permission.COMPANY_VIEW) or user.can(Permission.COMPANY_VIEW_ASSIGNED))
                and (user.can(Permission.COMPANY_EDIT) or user.can(Permission.COMPANY_EDIT_ASSIGNED))):
            found.append(("Customers: Add customer", app.action_add_customer,
                          "Add a customer to a company: email as username, roles, optional welcome email"))
        if user.can(Permission.CUSTOMER_VIEW):
            found.append(("Customers: Export to CSV", app.action_export_customers,
                          "The customers the search and filters show, to a CSV file"))
        if user.can(Permission.COMPANY_VIEW) or user.can(Permission.COMPANY_VIEW_ASSIGNED):
            found.append(("Companies: Search", app.action_open_companies,
                          "Find a company by code or name and see its customers"))
        if user.can(Permission.CUSTOMER_VIEW):
            found.append(("Delivery: Needs attention", app.action_open_needs_attention,
                          "Emails held after missing their time: send, reschedule or cancel"))
        if user.can(Permission.BULK_SEND):
            found.append(("Bulk: Send wizard", app.action_open_bulk_wizard,
                          "Email, letter, SMS or RoboCall to buildings or lists of accounts"))
        if user.can(Permission.BULK_SEND) or user.can(Permission.BULK_APPROVE):
            found.append(("Bulk: Batches and approval", app.action_open_batches,
                          "Generated batches: approve or reject, results and error reports"))
        if user.can(Permission.BULK_SEND):
            found.append(("Bulk: Undelivered emails", app.action_open_undelivered_emails,
                          "Bulk emails queued, retrying or failed: retry or cancel"))
            found.append(("Bulk: Undelivered posted mail", app.action_open_unposted_letters,
                          "Letters not yet posted: print a batch PDF, mark them posted"))
        if user.can(Permission.TEMPLATES) or user.can(Permission.BULK_SEND):
            found.append(("Templates: Manage", app.action_open_templates,
                          "Create, edit and preview email, letter and SMS templates"))
        if user.can(Permission.MAIL_SETTINGS):
            # the one that applies; while the state is not known yet, Pause (harmless twice)
            if app.dispatching_paused():
                found.append(("Delivery: Resume dispatching", app.action_resume_dispatching,
                              "F7: let every dispatcher send what is due again"))
            else:
                found.append(("Delivery: Pause dispatching", app.action_pause_dispatching,
                              "F7: stop claiming new emails everywhere; sends in flight finish"))
            found.append(("Mail: Settings", app.action_open_mail_settings,
                          "Mail server, From address, pacing, send a test email"))
            found.append(("SMS: Settings", app.action_open_sms_settings,
                          "SMS and RoboCall provider: account, token, from number, send a test SMS"))
            found.append(("Settings: Office (time zone, missed runs, letterhead)", app.action_open_office_settings,
                          "Office time zone, missed sends, retry lifetime, the letterhead on letters"))
        if user.can(Permission.USERS_MANAGE):
            found.append(("Users: Manage", app.action_open_users,
                          "Add users, roles and group roles, companies, reset passwords, unlock, deactivate"))
            found.append(("Users: Audit log", app.action_open_audit_log,
                          "Who changed which user, role or access, and when"))
        if app.demo_outbox is not None:
            found.append(("Demo: Outbox", app.action_open_outbox,
                          "Emails, texts and calls the demo's local servers received"))
        found.append(("Session: Log out", app.action_logout, f"Log out {user.username}"))
        return found

    async def discover(self) -> Hits:
        for name, run, help_text in self.commands():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in self.commands():
            if (score := matcher.match(name)) > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)


class CommsApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "commstui"
    COMMANDS = App.COMMANDS | {CommsCommands}

    BINDINGS = [
        Binding("ctrl+p", "command_palette", "Commands", priority=True, show=False,
                tooltip="Every action, searchable"),
        Binding("ctrl+l", "logout", "Log out", tooltip="Log out and return to the login screen"),
        Binding("f9", "open_outbox", "Demo outbox",
                tooltip="Emails, texts and calls the demo's local servers received"),
        # one key, two actions: check_action enables whichever applies (administrators only).
        # Not in the footer (no room at 80 columns on every screen); the palette lists it.
        Binding("f7", "pause_dispatching", "Pause sending", show=False,
                tooltip="Pause dispatching: sends in flight finish, nothing new is claimed until resumed"),
        Binding("f7", "resume_dispatching", "Resume sending", show=False,
                tooltip="Resume dispatching: every dispatcher sends what is due again"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        # Priority, so focus moves before the next keys are handed on: over a slow SSH
        # link "name<Tab>password" arrives in one burst, and a non-priority Tab is only
        # seen after the field has already taken the characters typed after it.
        Binding("tab", "focus_next", "Next field", priority=True, show=False),
        Binding("shift+tab", "focus_previous", "Previous field", priority=True, show=False),
    ]

    def __init__(self, ctx: Context, user: User | None = None, *, demo_outbox: Path | None = None,
                 run_dispatcher: bool = True, login_name: str = "") -> None:
        super().__init__()
        self.ctx = ctx
        self.user: User | None = user
        self.dispatcher: Dispatcher | None = None
        self.demo_outbox = demo_outbox
        self.run_dispatcher = run_dispatcher
        self.login_name = login_name
        self._dispatch_task: asyncio.Task | None = None
        # SMS and RoboCall go beside email, with their own claims and provider
        self.text_sender: TextSender | None = None
        self._texts_task: asyncio.Task | None = None
        self._texts_stop: asyncio.Event | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._busy_shown_at = 0.0
        # the dispatcher's figures for every status line: one reader for the whole app
        self.dispatcher_view: DispatcherView | None = None
        self._status_timer: Timer | None = None
        self._status_soon: Timer | None = None
        self._status_loading = False
        self._status_again = False
        self._status_error_logged = False
        # the database calls this from worker threads while another process holds the file
        ctx.db.on_busy = self._database_busy
        if ctx.settings.theme in self.available_themes:
            self.theme = ctx.settings.theme

    # -- start, log in, log out ---------------------------------------------
    def on_mount(self) -> None:
        self._event_loop = asyncio.get_running_loop()
        if self.user is None:
            self.push_screen(LoginScreen(self.login_name))
        else:
            self.push_screen(self._home_screen())
            self._start_dispatcher()
            self._start_status()

    def _home_screen(self):
        if self.user is not None and self.user.is_portal:
            from .screens.portal import PortalScreen

            return PortalScreen()
        if self.user is not None and self.user.can(Permission.CUSTOMER_VIEW):
            return CustomersScreen()
        return NoCustomersAccessScreen()

    def login_succeeded(self, user: User) -> None:
        self.user = user
        self.switch_screen(self._home_screen())
        self._start_dispatcher()
        self._start_status()

    async def action_logout(self) -> None:
        if self.user is None:
            return
        await self._stop_dispatcher()
        name = self.user.username
        self.user = None
        self._show_dispatcher_view(None)
        while len(self.screen_stack) > 2:
            await self.pop_screen()
        await self.switch_screen(LoginScreen(name))
        self.notify(f"{name} logged out.", timeout=3)

    async def on_unmount(self) -> None:
        await self._stop_dispatcher()
        self._event_loop = None

    # -- the in-process dispatcher ------------------------------------------
    def ensure_dispatching(self) -> None:
        """Send what is due from this session even before anyone logs in (a password code
        asked for at the login screen must not wait for a login elsewhere)."""
        self._start_dispatcher()

    def _start_dispatcher(self) -> None:
        if not self.run_dispatcher or self._dispatch_task is not None:
            return
        self.text_sender = TextSender(self.ctx.db, self.ctx.settings)
        self.dispatcher = Dispatcher(self.ctx.db, self.ctx.settings, on_change=self._messages_changed,
                                     on_texts=self.text_sender.notice)
        self._dispatch_task = asyncio.create_task(self.dispatcher.run(), name="commstui dispatcher")
        self._dispatch_task.add_done_callback(self._dispatcher_ended)
        self._texts_stop = asyncio.Event()
        self._texts_task = asyncio.create_task(self.text_sender.run(self._texts_stop), name="commstui texts")
        self._texts_task.add_done_callback(self._texts_ended)

    def wake_senders(self) -> None:
        """Something became due now (a send, an approved batch): look at once, not at the next tick."""
        if self.dispatcher is not None:
            self.dispatcher.wake()
        if self.text_sender is not None:
            self.text_sender.wake()

    def _texts_ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("text sender crashed", exc_info=task.exception())
            if task is self._texts_task:
                self._texts_task = None
                self.text_sender = None
                self.notify(f"Background SMS/RoboCall sending stopped: {task.exception()}.",
                            title="Texts stopped", severity="error", timeout=15)

    async def _stop_dispatcher(self) -> None:
        texts, stop = self._texts_task, self._texts_stop
        self._texts_task = self._texts_stop = self.text_sender = None
        if texts is not None and stop is not None:
            stop.set()
            try:
                await asyncio.wait_for(asyncio.shield(texts), timeout=DISPATCHER_STOP_TIMEOUT)
            except TimeoutError:
                texts.cancel()
            except Exception:
                log.exception("text sender stopped with an error")
        task, dispatcher = self._dispatch_task, self.dispatcher
        self._dispatch_task = None
        self.dispatcher = None
        if task is None or dispatcher is None:
            return
        dispatcher.stop()
        try:
            # let a send in progress finish and its outcome be written
            await asyncio.wait_for(asyncio.shield(task), timeout=DISPATCHER_STOP_TIMEOUT)
        except TimeoutError:
            task.cancel()  # its lease runs out and another dispatcher resends it
        except Exception:
            log.exception("dispatcher stopped with an error")

    def _dispatcher_ended(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("dispatcher crashed", exc_info=task.exception())
        if task is self._dispatch_task:
            self._dispatch_task = None
            self.dispatcher = None
            self.refresh_dispatcher_status()
            self.notify(f"Background sending stopped: {task.exception()}. Queued emails wait for "
                        "another commstui or `commstui dispatch`.", title="Sending stopped",
                        severity="error", timeout=15)

    def _messages_changed(self, ids: list[int]) -> None:
        # called by the dispatcher on the event loop
        for screen in self.screen_stack:
            screen.post_message(MessagesChanged(ids))
        if self._status_soon is None:
            self._status_soon = self.set_timer(STATUS_AFTER_CHANGE, self._status_after_change)

    # -- the dispatcher's figures on every status line -----------------------
    def _start_status(self) -> None:
        if self._status_timer is None:
            self._status_timer = self.set_interval(STATUS_EVERY, self.refresh_dispatcher_status)
        self.refresh_dispatcher_status()

    def _status_after_change(self) -> None:
        self._status_soon = None
        self.refresh_dispatcher_status()

    def refresh_dispatcher_status(self) -> None:
        """Read the figures again now (at most one read at a time; a request meanwhile
        starts another read when this one is done)."""
        if self.user is None:
            return
        if self._status_loading:
            self._status_again = True
            return
        self._status_loading = True
        self._status_again = False
        self._load_dispatcher_status(self.user, self._dispatch_task is not None)

    @work(thread=True, exit_on_error=False, group="dispatcher-status")
    def _load_dispatcher_status(self, user: User, running_here: bool) -> None:
        try:
            view = DispatcherView(schedule.dispatcher_status(self.ctx, user), running_here)
        except PermissionDenied:
            view = None  # this user is not shown the dispatcher
        except Exception as exc:  # shown on the line; a toast every few seconds would bury the screen
            if not isinstance(exc, (ServiceError, StoreError)) and not self._status_error_logged:
                self._status_error_logged = True
                log.warning("cannot read the dispatcher status", exc_info=exc)
            view = DispatcherView(None, running_here, error=str(exc) or type(exc).__name__)
        try:  # an administrator may have deactivated this user or changed their roles since login
            fresh = auth.get_user(self.ctx, user.username)
        except (ServiceError, StoreError):
            fresh = None
        self.post_message(DispatcherStatusLoaded(user, view, fresh))

    @on(DispatcherStatusLoaded)
    def _dispatcher_status_loaded(self, event: DispatcherStatusLoaded) -> None:
        self._status_loading = False
        if not self.screen_stack:  # the app is closing: a late answer has nowhere to go
            return
        if event.user is self.user:  # not logged out (or in as someone else) meanwhile
            self._show_dispatcher_view(event.view)
            if event.fresh is not None and self._access_changed(event.fresh):
                return
        if self._status_again:
            self.refresh_dispatcher_status()

    def _access_changed(self, fresh: User) -> bool:
        """Apply an administrator's change to the logged-in user: deactivated means logged
        out; changed roles apply from now on (the services check the user they are given)."""
        user = self.user
        if user is None:
            return False
        if not fresh.active:
            self.run_worker(self._logged_out_by_admin(user.username), exclusive=True, group="access")
            return True
        if (fresh.effective_roles, fresh.customer_id) != (user.effective_roles, user.customer_id):
            self.user = fresh
            self.refresh_bindings()
            self.notify("An administrator changed your roles; they apply now. Log in again if a screen "
                        "still offers something you can no longer do.", title="Access changed", timeout=8)
        return False

    async def _logged_out_by_admin(self, name: str) -> None:
        await self.action_logout()
        self.notify(f"{name} was deactivated by an administrator.", title="Logged out", severity="warning",
                    timeout=10)

    def _show_dispatcher_view(self, view: DispatcherView | None) -> None:
        was_paused = self.dispatching_paused()
        self.dispatcher_view = view
        for screen in self.screen_stack:
            for line in screen.query(StatusLine):
                line.show_dispatcher(view)
            screen.post_message(DispatcherViewChanged(view))  # for screens that show more of it
        if self.dispatching_paused() != was_paused and self.screen_stack:
            self.refresh_bindings()  # F7 says Pause or Resume

    def dispatching_paused(self) -> bool | None:
        """Paused, running, or None when the figures are not known."""
        view = self.dispatcher_view
        return None if view is None or view.figures is None else view.figures.paused

    # -- pause and resume (administrators) -----------------------------------
    def action_pause_dispatching(self) -> None:
        self._request_pause(True)

    def action_resume_dispatching(self) -> None:
        self._request_pause(False)

    def _request_pause(self, paused: bool) -> None:
        if self.user is None or not self.user.can(Permission.MAIL_SETTINGS):
            self.notify("Pausing and resuming the dispatcher is for administrators.", title="Not allowed",
                        severity="warning")
            return
        self._set_paused(self.user, paused)

    @work(thread=True, exit_on_error=False, group="dispatcher-pause")
    def _set_paused(self, user: User, paused: bool) -> None:
        figures = schedule.set_paused(self.ctx, user, paused)
        self.post_message(PauseChanged(user, figures, paused))

    @on(PauseChanged)
    def _pause_changed(self, event: PauseChanged) -> None:
        if event.paused:
            self.notify(PAUSED_NOTICE, title="Paused", severity="warning", timeout=8)
        else:
            self.notify(RESUMED_NOTICE, title="Resumed", timeout=5)
            self.wake_senders()
        if event.user is self.user:
            self._show_dispatcher_view(DispatcherView(event.figures, self._dispatch_task is not None))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "dispatcher-pause":
            self.show_error(event.worker.error)

    # -- reporting problems --------------------------------------------------
    def show_error(self, error: BaseException) -> None:
        """The one place a failed worker is reported: a toast, never a traceback."""
        if isinstance(error, (ServiceError, StoreError)):
            self.notify(str(error), title=error.title, severity="error", timeout=8)
        else:
            log.error("unexpected error", exc_info=error)
            self.notify(f"{type(error).__name__}: {error}", title="Unexpected error", severity="error",
                        timeout=10)

    def _database_busy(self, waited: float) -> None:
        now = time.monotonic()
        if now - self._busy_shown_at < BUSY_NOTICE_EVERY or self._event_loop is None:
            return
        self._busy_shown_at = now
        notice = partial(self.notify, "Database busy, retrying...", title="Please wait",
                         severity="warning", timeout=BUSY_NOTICE_EVERY)
        try:  # never block the waiting thread on the UI
            self._event_loop.call_soon_threadsafe(notice)
        except RuntimeError:  # the app has closed meanwhile
            pass

    # -- navigation ----------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "logout":
            return self.user is not None
        if action == "open_outbox":
            # only the demo has an outbox; hidden from the footer elsewhere
            # (never for a portal customer: it holds everyone's demo mail)
            return self.user is not None and not self.user.is_portal and self.demo_outbox is not None
        if action in ("pause_dispatching", "resume_dispatching"):
            if self.user is None or not self.user.can(Permission.MAIL_SETTINGS):
                return False
            # unknown state: offer Pause (pausing twice is harmless)
            return (self.dispatching_paused() is True) == (action == "resume_dispatching")
        return True

    def action_open_customers(self) -> None:
        if self.user is None or not self.user.can(Permission.CUSTOMER_VIEW):
            self.notify("You have no access to Customers; ask an administrator.", title="Not allowed",
                        severity="warning")
            return
        for depth, screen in enumerate(reversed(self.screen_stack)):
            if isinstance(screen, CustomersScreen):
                for _ in range(depth):
                    self.pop_screen()
                return
        self.push_screen(CustomersScreen())

    def action_open_mail_settings(self) -> None:
        if self.user is None or not self.user.can(Permission.MAIL_SETTINGS):
            self.notify("Mail server settings are for administrators.", title="Not allowed",
                        severity="warning")
            return
        self.push_screen(MailSettingsScreen())

    def action_open_office_settings(self) -> None:
        if self.user is None or not self.user.can(Permission.MAIL_SETTINGS):
            self.notify("Office settings are for administrators.", title="Not allowed", severity="warning")
            return
        self.push_screen(OfficeSettingsScreen())

    def action_open_needs_attention(self) -> None:
        if self.user is None or not self.user.can(Permission.CUSTOMER_VIEW):
            self.notify("You have no access to customers' emails; ask an administrator.", title="Not allowed",
                        severity="warning")
            return
        try:  # imported here: the screen is written alongside, and the app must start without it
            from .screens.needs_attention import NeedsAttentionScreen
        except ImportError as exc:
            log.warning("Needs attention is not available", exc_info=exc)
            self.notify("The Needs attention list is not available in this version.",
                        title="Not available", severity="warning")
            return
        self.push_screen(NeedsAttentionScreen())

    def _push_screen_from(self, module: str, name: str, allowed: bool, refusal: str, **kwargs) -> None:
        """Open a screen by module and class name (imported when first used: keeps start-up fast)."""
        if self.user is None or not allowed:
            self.notify(refusal, title="Not allowed", severity="warning")
            return
        from importlib import import_module

        self.push_screen(getattr(import_module(f".screens.{module}", __package__), name)(**kwargs))

    def action_open_bulk_wizard(self) -> None:
        self._push_screen_from("bulk_wizard", "BulkWizardScreen", self._can(Permission.BULK_SEND),
                               "Bulk sending needs the role bulkSend; ask an administrator.")

    def action_open_batches(self, batch_id: int | None = None) -> None:
        self._push_screen_from("batches", "BatchesScreen",
                               self._can(Permission.BULK_SEND) or self._can(Permission.BULK_APPROVE),
                               "Batches are for bulk senders and approvers (bulkSend, bulkApprove).")

    def action_open_undelivered_emails(self, batch_id: int | None = None) -> None:
        self._push_screen_from("undelivered_emails", "UndeliveredEmailsScreen", self._can(Permission.BULK_SEND),
                               "The Undelivered Emails dashboard needs the role bulkSend.", batch_id=batch_id)

    def action_open_unposted_letters(self, batch_id: int | None = None) -> None:
        self._push_screen_from("unposted_letters", "UnpostedLettersScreen", self._can(Permission.BULK_SEND),
                               "The Undelivered Posted Mail dashboard needs the role bulkSend.", batch_id=batch_id)

    def action_open_templates(self) -> None:
        self._push_screen_from("templates", "TemplatesScreen",
                               self._can(Permission.TEMPLATES) or self._can(Permission.BULK_SEND),
                               "Templates are for the roles templates (edit) and bulkSend (read).")

    def action_open_sms_settings(self) -> None:
        self._push_screen_from("sms_settings", "SmsSettingsScreen", self._can(Permission.MAIL_SETTINGS),
                               "SMS and RoboCall settings are for administrators.")

    def action_open_companies(self) -> None:
        self._push_screen_from("companies", "CompaniesScreen",
                               self._can(Permission.COMPANY_VIEW) or self._can(Permission.COMPANY_VIEW_ASSIGNED),
                               "Companies need the role companyView or crmCompanyView; ask an administrator.")

    def action_import_customers(self) -> None:
        self._push_screen_from("customer_import", "CustomerImportScreen",
                               self._can(Permission.CUSTOMER_VIEW) and self._can(Permission.CUSTOMER_EDIT),
                               "Importing customers needs the roles customerView and customerEdit.")

    def action_export_customers(self) -> None:
        current = self.screen.current_filter() if isinstance(self.screen, CustomersScreen) else None
        self._push_screen_from("customer_import", "CustomerExportScreen", self._can(Permission.CUSTOMER_VIEW),
                               "Exporting customers needs the role customerView.", flt=current)

    def action_add_customer(self) -> None:
        from .screens.add_customer import AddCustomerScreen
        from .screens.customer_details import CustomerDetailsScreen

        def added(customer) -> None:
            if customer is not None and self.user is not None and self.user.can(Permission.CUSTOMER_VIEW):
                self.push_screen(CustomerDetailsScreen(customer.id))

        self.push_screen(AddCustomerScreen(), added)

    def action_open_users(self) -> None:
        self._push_screen_from("users", "UsersScreen", self._can(Permission.USERS_MANAGE),
                               "Managing users is for administrators.")

    def action_open_audit_log(self) -> None:
        self._push_screen_from("audit_log", "AuditLogScreen", self._can(Permission.USERS_MANAGE),
                               "The audit log is for administrators.")

    def get_system_commands(self, screen):
        if self.user is not None and self.user.is_portal:
            return  # a portal customer: log out (the app's own palette entry) and nothing else
        yield from super().get_system_commands(screen)

    def _can(self, permission: Permission) -> bool:
        return self.user is not None and self.user.can(permission)

    def action_open_outbox(self) -> None:
        if self.user is not None and self.user.is_portal:
            return
        if self.demo_outbox is None:
            self.notify("The outbox exists only in `commstui demo`.", severity="warning")
            return
        self.push_screen(DemoOutboxScreen(self.demo_outbox))
