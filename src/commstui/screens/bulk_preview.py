"""Bulk wizard, step 5 "Preview": the email, letter or text exactly as one recipient gets it,
and a test email to yourself. [ and ] step through the ticked recipients."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message as TextualMessage
from textual.widgets import Button, Label, Static

from ..domain import Recipient, RecipientKind
from ..services import bulk
from ..services.bulk import BulkCompose, EmailPreview, LetterPreview, TextPreview
from ..widgets.format import clean, plural
from ..widgets.recipient_list import CHANNEL_LABELS


PREVIEW_CHANNELS = {"email": ("email",), "letter": ("letter",), "text": ("sms", "robocall")}


class PreviewReady(TextualMessage):
    def __init__(self, preview: object) -> None:
        super().__init__()
        self.preview = preview


class TestQueued(TextualMessage):
    def __init__(self, to: str) -> None:
        super().__init__()
        self.to = to


def email_content(preview: EmailPreview) -> Content:
    parts: list = []
    for name, value in preview.headers:
        parts += [(f"{name}: ", "bold"), clean(value) + "\n"]
    for name, size in preview.attachments:
        parts += [("Attachment: ", "bold"), f"{clean(name)} ({size / 1024:,.0f} KB)\n"]
    if preview.html:
        parts.append(("(HTML email; a text-only mail reader shows this:)\n", "italic"))
    parts += ["\n", clean(preview.text, multiline=True)]
    return Content.assemble(*parts)


def letter_content(preview: LetterPreview) -> Content:
    return Content.assemble(("PDF written to: ", "bold"), (str(preview.path), "$text-accent"),
                            f" ({plural(preview.pages, 'page')})\n\n", clean(preview.text, multiline=True))


def text_content(preview: TextPreview) -> Content:
    return Content.assemble(("Message: ", "bold"),
                            f"{plural(preview.characters, 'character')} · {preview.encoding} · "
                            f"{plural(preview.segments, 'SMS segment')}\n\n", clean(preview.text, multiline=True))


class PreviewStep(Vertical):
    BINDINGS = [
        Binding("e", "preview('email')", "Email"),
        Binding("l", "preview('letter')", "Letter"),
        Binding("s", "preview('text')", "SMS/call"),
        Binding("t", "send_test", "Test to me"),
        Binding("left_square_bracket", "step(-1)", "Prev recipient", show=False),
        Binding("right_square_bracket", "step(1)", "Next recipient", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.recipients: list[Recipient] = []
        self.index = 0
        self.compose_value: BulkCompose | None = None
        self.channels: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-for")
        with Horizontal(id="preview-buttons"):
            yield Label("Preview:", id="preview-label")
            yield Button("Email (e)", id="preview-email", compact=True)
            yield Button("Letter (l)", id="preview-letter", compact=True)
            yield Button("SMS/call (s)", id="preview-text", compact=True)
            yield Button("Send test to me (t)", id="send-test", compact=True)
        with VerticalScroll(id="preview-scroll"):
            yield Static("", id="preview-output")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "preview":
            return self._offers(str(parameters[0]))
        if action == "send_test":
            return "email" in self.channels
        return True

    def _offers(self, kind: str) -> bool:
        return {"email": "email" in self.channels, "letter": "letter" in self.channels,
                "text": bool({"sms", "robocall"} & self.channels)}[kind]

    def show(self, recipients: list[Recipient], compose: BulkCompose) -> None:
        """The ticked recipients who can be reached, and what was written."""
        self.recipients = [r for r in recipients if r.problem is None]
        self.channels = {str(r.channel) for r in self.recipients}
        self.compose_value = compose
        self.index = 0
        for kind in ("email", "letter", "text"):
            self.query_one(f"#preview-{kind}").display = self._offers(kind)
        self.query_one("#send-test").display = "email" in self.channels
        self._show_for()
        self.query_one("#preview-output", Static).update(Content.styled(
            "Press E for the email, L for the letter, S for the SMS or call, as the recipient above gets it "
            "(or the next one who gets it that way); T sends you the email as a test.", "italic"))
        self.refresh_bindings()

    @property
    def recipient(self) -> Recipient | None:
        return self.recipients[self.index] if self.recipients else None

    def _show_for(self) -> None:
        r = self.recipient
        line = self.query_one("#preview-for", Static)
        if r is None:
            line.update("Nobody ticked can be reached: go back to Review.")
            return
        line.update(Content.assemble(
            ("For: ", "bold"), f"{self.index + 1:,} of {len(self.recipients):,} · ",
            (f"{r.account_no or ''} {clean(r.name)}", "bold"),
            f" ({RecipientKind(r.kind).label}, {CHANNEL_LABELS.get(str(r.channel), r.channel)}: "
            f"{clean(r.destination)})  ", ("[ ] other recipients", "dim")))

    def focus_first(self) -> None:
        for button in self.query("#preview-buttons Button"):
            if button.display:
                button.focus()
                return

    def action_step(self, step: int) -> None:
        if self.recipients:
            self.index = (self.index + step) % len(self.recipients)
            self._show_for()

    @on(Button.Pressed, "#preview-email")
    def _email(self) -> None:
        self.action_preview("email")

    @on(Button.Pressed, "#preview-letter")
    def _letter(self) -> None:
        self.action_preview("letter")

    @on(Button.Pressed, "#preview-text")
    def _text(self) -> None:
        self.action_preview("text")

    @on(Button.Pressed, "#send-test")
    def _test(self) -> None:
        self.action_send_test()

    def action_preview(self, kind: str) -> None:
        if self.recipient is None or self.compose_value is None:
            return
        wanted = PREVIEW_CHANNELS[kind]
        if str(self.recipient.channel) not in wanted:
            # preview it for someone who gets it that way: the next such recipient in the list
            n = len(self.recipients)
            found = next((i % n for i in range(self.index + 1, self.index + n)
                          if str(self.recipients[i % n].channel) in wanted), None)
            if found is not None:
                self.index = found
                self._show_for()
        self.query_one("#preview-output", Static).update(Content.styled("Rendering...", "italic"))
        self._make_preview(kind, self.recipient, self.compose_value)

    @work(thread=True, exit_on_error=False, group="bulk-preview", exclusive=True)
    def _make_preview(self, kind: str, recipient: Recipient, compose: BulkCompose) -> None:
        ctx, user = self.app.ctx, self.app.user
        if kind == "email":
            preview = bulk.preview_email(ctx, user, compose, recipient)
        elif kind == "letter":
            preview = bulk.preview_letter(ctx, user, compose, recipient)
        else:
            preview = bulk.preview_text(ctx, user, compose, recipient)
        self.post_message(PreviewReady(preview))

    @on(PreviewReady)
    def _ready(self, event: PreviewReady) -> None:
        preview = event.preview
        content = (email_content(preview) if isinstance(preview, EmailPreview)
                   else letter_content(preview) if isinstance(preview, LetterPreview) else text_content(preview))
        self.query_one("#preview-output", Static).update(content)
        self.query_one("#preview-scroll", VerticalScroll).scroll_home(animate=False)

    def action_send_test(self) -> None:
        if self.recipient is None or self.compose_value is None:
            return
        self._send_test(self.recipient, self.compose_value)

    @work(thread=True, exit_on_error=False, group="bulk-test")
    def _send_test(self, recipient: Recipient, compose: BulkCompose) -> None:
        self.post_message(TestQueued(bulk.send_test_to_me(self.app.ctx, self.app.user, compose, recipient)))

    @on(TestQueued)
    def _queued(self, event: TestQueued) -> None:
        self.notify(f"Test email queued to {event.to}; it goes in the background within seconds.",
                    title="Test sent", timeout=6)
