"""Templates, driven like an operator at 80x24: the list, a new template with a mistake shown
at its line before Save (and Save refused at it), editing, the field catalogue, the live
preview for a chosen customer, deleting, and who may do what. Real DuckDB file."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static, TabbedContent, TextArea

import commstui.app as app_module
from commstui.app import CommsApp
from commstui.screens.template_editor import FieldPicker, TemplateConfirm, TemplateEditorScreen
from commstui.screens.templates import TemplatesScreen
from commstui.services import auth
from commstui.store import templates as templates_store

from tui_helpers import notifications, screen_text, static_text, until

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def _no_periodic_refresh(monkeypatch):
    monkeypatch.setattr(app_module, "STATUS_EVERY", 600.0)


@pytest.fixture
def samples(ctx):
    ctx.db.run(lambda con: templates_store.load_samples(con, "test"))


def login(ctx, name: str):
    return auth.login(ctx, name, f"{name}-demo-1")


def stored(ctx) -> dict:
    return {t.name: t for t in ctx.db.run(templates_store.list_all)}


async def opened(pilot) -> TemplatesScreen:
    app = pilot.app
    await until(pilot, lambda: app.screen is not None and app.screen.is_mounted, "the first screen")
    app.push_screen(TemplatesScreen())
    await until(pilot, lambda: isinstance(app.screen, TemplatesScreen), "Templates")
    screen = app.screen
    await until(pilot, lambda: screen.loaded, "the list")
    return screen


async def editor_open(pilot) -> TemplateEditorScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, TemplateEditorScreen), "the editor")
    editor = pilot.app.screen
    await until(pilot, lambda: editor.checks_done >= 1, "the first check")
    return editor


def problems_text(editor) -> str:
    return static_text(editor.query_one("#problems", Static)).strip()


async def test_the_list_shows_each_template_and_its_channels(ctx, admin, samples):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        table = screen.query_one("#templates-table", DataTable)
        assert table.row_count == 5
        text = screen_text(app)
        assert "Building notice             Email / Letter / SMS" in text
        assert "Quote                       Email / Letter " in text
        assert "5 templates. Enter or e edits" in text
        await until(pilot, lambda: "n New" in screen_text(app), "the footer")
        assert "e Edit" in screen_text(app) and "d Delete" in screen_text(app)


async def test_a_new_template_with_a_mistake_is_shown_at_its_line_and_refused(ctx, admin, samples):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("n")
        editor = await editor_open(pilot)
        assert editor.query_one("#name", Input).has_focus
        await pilot.press(*"Lift repairs", "tab", *"Lift out of service", "tab")
        await pilot.press(*"Lift at {{ building.name }}", "tab", "tab")  # past the tabs into the text
        body = editor.query_one("#text_body", TextArea)
        assert body.has_focus
        await pilot.press(*"Dear {{ customer.first_name }},", "enter", "enter", *"The lift {{ building.nmae }}")
        await until(pilot, lambda: "line 3" in problems_text(editor), "the problem, as typed")
        assert problems_text(editor) == ("✗ Text body, line 3: building.nmae is not a merge field; "
                                         "did you mean building.name?")
        tabs = editor.query_one("#parts", TabbedContent)
        assert str(tabs.get_tab("text_body-pane").label) == "Text ✗"
        # Save is refused at the part and line: the Text tab, line 3 selected
        editor.query_one("#name", Input).focus()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("Not saved" in n for n in notifications(app)), "the refusal")
        assert isinstance(app.screen, TemplateEditorScreen)
        assert body.has_focus and tabs.active == "text_body-pane"
        assert body.selection.start[0] == 2 and body.selected_text.startswith("The lift")
        assert "Lift repairs" not in stored(ctx)
        # fixed, it saves and the list shows it
        body.select_line(2)
        await pilot.press(*"The lift at {{ building.name }} is being repaired.")
        await until(pilot, lambda: "No problems" in problems_text(editor), "the problem gone")
        assert str(tabs.get_tab("text_body-pane").label) == "Text"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TemplatesScreen), "back to the list")
        await until(pilot, lambda: "Lift repairs" in screen_text(app), "the new template listed")
        assert any("Template saved" in n for n in notifications(app))
    saved = stored(ctx)["Lift repairs"]
    assert saved.description == "Lift out of service" and saved.subject == "Lift at {{ building.name }}"
    assert saved.text_body == ("Dear {{ customer.first_name }},\n\nThe lift at {{ building.name }} is being "
                               "repaired.")
    assert saved.updated_by == "admin"


async def test_a_syntax_error_is_shown_at_its_line(ctx, admin, samples):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("n")
        editor = await editor_open(pilot)
        await pilot.press("f2")  # the HTML tab
        html = editor.query_one("#html_body", TextArea)
        assert html.has_focus
        await pilot.press(*"<p>Hello</p>", "enter", *"{% if customer.email %}", "enter", *"<p>x</p>")
        await until(pilot, lambda: "HTML body, line 2" in problems_text(editor), "the syntax error")
        assert "{% if %} is not closed: add {% endif %}" in problems_text(editor)
        assert "No preview until the problems are fixed" in static_text(editor.query_one("#preview", Static))


async def test_editing_and_the_live_preview_for_a_chosen_customer(ctx, admin, samples):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        names = [t.name for t in screen.found]
        screen.query_one("#templates-table", DataTable).move_cursor(row=names.index("Building notice"))
        await pilot.press("enter")
        editor = await editor_open(pilot)
        assert editor.query_one("#name", Input).value == "Building notice"
        await pilot.press("f3")
        account = editor.query_one("#preview_account", Input)
        preview = editor.query_one("#preview", Static)
        await until(pilot, lambda: "Dear Olivia Bennett" in static_text(preview), "the first account")
        assert "Subject: Notice for residents of Harbourview Towers: planned maintenance" in static_text(preview)
        assert "SMS / RoboCall · GSM-7" in static_text(preview)
        assert account.has_focus
        await pilot.press(*"A1000003")
        await until(pilot, lambda: "[bold]Mallory[/bold] Tables" in static_text(preview), "Mallory, verbatim")
        assert "Parkside Gardens" in static_text(preview)
        await pilot.press("backspace")  # A100000: no such account
        await until(pilot, lambda: "No preview" in static_text(preview), "the refusal")
        assert "No customer with account number 'A100000'" in static_text(preview)
        # change the subject and save
        subject = editor.query_one("#subject", Input)
        subject.value = "Planned maintenance at {{ building.name }}"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, TemplatesScreen), "back to the list")
    assert stored(ctx)["Building notice"].subject == "Planned maintenance at {{ building.name }}"


async def test_the_field_catalogue_inserts_at_the_cursor(ctx, admin, samples):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("n")
        editor = await editor_open(pilot)
        letter = editor.query_one("#letter_body", TextArea)
        await pilot.press("f2", "f2")
        assert letter.has_focus
        await pilot.press(*"Dear ", "f4")
        await until(pilot, lambda: isinstance(app.screen, FieldPicker), "the catalogue")
        assert "customer.account_no" in screen_text(app)
        await pilot.press(*"first", "enter")
        await until(pilot, lambda: isinstance(app.screen, TemplateEditorScreen), "back in the editor")
        assert letter.text == "Dear {{ customer.first_name }}"
        assert letter.has_focus and letter.cursor_location == (0, len(letter.text))
        # the subject too, when it was the last part written in
        editor.query_one("#subject", Input).focus()
        await pilot.press(*"For ", "f4", *"acc", "down", "up", "enter")
        await until(pilot, lambda: isinstance(app.screen, TemplateEditorScreen), "back in the editor")
        assert editor.query_one("#subject", Input).value == "For {{ customer.account_no }}"
        # Escape with changes asks first; "n" keeps editing
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TemplateConfirm), "the question")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TemplateEditorScreen), "still editing")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, TemplateConfirm), "the question")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, TemplatesScreen), "the list")
    assert len(stored(ctx)) == 5


async def test_delete_asks_first(ctx, admin, samples):
    app = CommsApp(ctx, admin, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        first = screen.current().name
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, TemplateConfirm), "the question")
        assert f"Delete {first}?" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, "the list")
        assert first in stored(ctx)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, TemplateConfirm), "the question")
        await pilot.press("y")
        await until(pilot, lambda: screen.query_one("#templates-table", DataTable).row_count == 4, "one fewer")
        assert any("Template deleted" in n for n in notifications(app))
    assert first not in stored(ctx)


async def test_a_bulk_sender_may_read_and_preview_but_not_change(ctx, samples):
    sender = login(ctx, "bulk-sender")
    app = CommsApp(ctx, sender, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert screen.query_one("#templates-table", DataTable).row_count == 5
        await until(pilot, lambda: "v View" in screen_text(app), "the footer")
        text = screen_text(app)
        assert "n New" not in text and "d Delete" not in text
        await pilot.press("n", "d")
        assert app.screen is screen
        await pilot.press("enter")  # or v
        editor = await editor_open(pilot)
        assert editor.read_only and editor.query_one("#text_body", TextArea).read_only
        assert editor.query_one("#name", Input).disabled
        assert "Read only" in problems_text(editor)
        assert "^s Save" not in screen_text(app)
        await pilot.press("ctrl+s", "f3")
        preview = editor.query_one("#preview", Static)
        await until(pilot, lambda: "Dear Olivia" in static_text(preview), "the preview")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "the list, without a question")
    assert len(stored(ctx)) == 5


async def test_someone_without_templates_or_bulk_send_is_refused(ctx, viewer, samples):
    app = CommsApp(ctx, viewer, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        access = screen.query_one("#templates-access", Static)
        assert access.display
        assert "viewer is not allowed to edit templates (role templates) or send bulk" in static_text(access)
        await pilot.press("n", "enter")
        assert app.screen is screen


async def test_the_templates_role_alone(ctx, samples):
    editor_user = login(ctx, "templates")
    app = CommsApp(ctx, editor_user, run_dispatcher=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("e")
        editor = await editor_open(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: "Tess Templates" in static_text(editor.query_one("#preview", Static)),
                    "the sender in the preview")
