"""The templates service over a real DuckDB file: who may do what, saving (checked part by part
at the line), names unique, the sample templates, and previews for real customers."""

from __future__ import annotations

import re

import pytest

from commstui.delivery import rendering
from commstui.domain import Channel, Template
from commstui.services import auth, templates
from commstui.services.errors import PermissionDenied, ValidationError
from commstui.services.templates import TemplateDraft
from commstui.store import customers as customers_store
from commstui.store import office as office_store
from commstui.store import templates as templates_store
from commstui.store.db import NotFound

SAMPLE_NAMES = {"Account activation", "Quote", "Invoice", "Statement reminder", "Building notice"}


def login(ctx, name: str):
    return auth.login(ctx, name, f"{name}-demo-1")


@pytest.fixture
def samples(ctx):
    """The sample templates (load_sample loads them once the lead wires load_samples in)."""
    ctx.db.run(lambda con: templates_store.load_samples(con, "test"))
    return {t.name: t for t in ctx.db.run(templates_store.list_all)}


def _draft(**changes) -> TemplateDraft:
    values = dict(name="Lift repairs", description="Lift out of service", subject="Lift at {{ building.name }}",
                  text_body="Dear {{ recipient.name }},\n\nThe lift is being repaired.\n")
    values.update(changes)
    return TemplateDraft(**values)


# -- who may do what -----------------------------------------------------------------------------------
ACTIONS = {
    "list": lambda ctx, u, t: templates.list_templates(ctx, u),
    "get": lambda ctx, u, t: templates.get_template(ctx, u, t.id),
    "preview": lambda ctx, u, t: templates.preview(ctx, u, {"subject": "Hi {{ customer.name }}"}),
    "save": lambda ctx, u, t: templates.save_template(ctx, u, _draft(name=f"by {u.username}")),
    "delete": lambda ctx, u, t: templates.delete_template(ctx, u, t.id),
}
EXPECTED = {
    "admin": {"list", "get", "preview", "save", "delete"},
    "super": {"list", "get", "preview", "save", "delete"},
    "templates": {"list", "get", "preview", "save", "delete"},
    "bulk-sender": {"list", "get", "preview"},
    "bulk-approver": set(),
    "viewer": set(),
    "operator": set(),
}


@pytest.mark.parametrize("role_user", sorted(EXPECTED))
def test_who_may_do_what(ctx, samples, role_user):
    user = login(ctx, role_user)
    allowed = set()
    for name, action in ACTIONS.items():
        target = ctx.db.run(lambda con: templates_store.get_by_name(con, "Quote"))
        try:
            action(ctx, user, target)
        except PermissionDenied as exc:
            assert user.username in str(exc)
            continue
        allowed.add(name)
    assert allowed == EXPECTED[role_user]
    names = {t.name for t in ctx.db.run(templates_store.list_all)}
    if "save" not in EXPECTED[role_user]:  # a refusal leaves nothing behind
        assert names == SAMPLE_NAMES
        assert "templates" in str(pytest.raises(PermissionDenied, templates.save_template, ctx, user,
                                                _draft()).value)
    else:
        assert names == SAMPLE_NAMES - {"Quote"} | {f"by {role_user}"}


def test_nobody_logged_in_is_refused(ctx, samples):
    with pytest.raises(PermissionDenied, match="not logged in"):
        templates.list_templates(ctx, None)


# -- saving ----------------------------------------------------------------------------------------------
def test_a_new_template_is_saved_and_read_back(ctx, samples):
    editor = login(ctx, "templates")
    saved = templates.save_template(ctx, editor, _draft(name="  Lift   repairs ", sms_body="Lift fixed Tue."))
    assert isinstance(saved, Template) and saved.id
    assert saved.name == "Lift repairs" and saved.updated_by == "templates" and saved.updated_at
    again = templates.get_template(ctx, editor, saved.id)
    assert again == saved
    assert templates.get_template(ctx, editor, "lift REPAIRS") == saved
    assert saved.supports(Channel.EMAIL) and saved.supports(Channel.SMS) and saved.supports(Channel.LETTER)


def test_a_change_keeps_the_id(ctx, samples):
    editor = login(ctx, "templates")
    quote = samples["Quote"]
    draft = TemplateDraft.of(quote)
    draft.subject = "Your quote, {{ customer.first_name }}"
    draft.name = "Quote (2027)"
    changed = templates.save_template(ctx, editor, draft)
    assert changed.id == quote.id and changed.name == "Quote (2027)"
    assert changed.subject == "Your quote, {{ customer.first_name }}"
    assert changed.text_body == quote.text_body
    assert len(templates.list_templates(ctx, editor)) == len(SAMPLE_NAMES)


def test_a_name_is_required_and_unique(ctx, samples):
    editor = login(ctx, "templates")
    with pytest.raises(ValidationError) as refused:
        templates.save_template(ctx, editor, _draft(name="   "))
    assert refused.value.field == "name"
    with pytest.raises(ValidationError) as refused:
        templates.save_template(ctx, editor, _draft(name="invoice"))  # any letter case
    assert refused.value.field == "name" and "already a template called 'Invoice'" in str(refused.value)
    # renaming one onto another is refused too
    draft = TemplateDraft.of(samples["Quote"])
    draft.name = "Invoice"
    with pytest.raises(ValidationError, match="already"):
        templates.save_template(ctx, editor, draft)
    assert {t.name for t in templates.list_templates(ctx, editor)} == SAMPLE_NAMES


def test_a_problem_in_a_part_is_refused_naming_the_part_and_line(ctx, samples):
    editor = login(ctx, "templates")
    body = "Dear {{ customer.first_name }},\n\n{{ customer.nmae }}\n"
    with pytest.raises(ValidationError) as refused:
        templates.save_template(ctx, editor, _draft(letter_body=body))
    assert refused.value.field == "letter_body"
    assert str(refused.value) == ("Letter body, line 3: customer.nmae is not a merge field; "
                                  "did you mean customer.name?")
    with pytest.raises(ValidationError) as refused:
        templates.save_template(ctx, editor, _draft(html_body="<p>\n{% if customer.email %}\n</p>",
                                                    sms_body="{{ nope }}"))
    assert refused.value.field == "html_body"
    assert str(refused.value).startswith("HTML body, line 2: {% if %} is not closed")
    assert "(1 more below)" in str(refused.value)
    assert {t.name for t in templates.list_templates(ctx, editor)} == SAMPLE_NAMES


def test_at_least_one_body_and_a_one_line_subject(ctx, samples):
    editor = login(ctx, "templates")
    with pytest.raises(ValidationError) as refused:
        templates.save_template(ctx, editor, _draft(text_body="  \n "))
    assert refused.value.field == "text_body" and "at least one body" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        templates.save_template(ctx, editor, _draft(subject="one\ntwo"))
    assert refused.value.field == "subject"


def test_delete(ctx, samples):
    editor = login(ctx, "templates")
    templates.delete_template(ctx, editor, samples["Invoice"].id)
    assert "Invoice" not in {t.name for t in templates.list_templates(ctx, editor)}
    with pytest.raises(NotFound):
        templates.delete_template(ctx, editor, samples["Invoice"].id)
    with pytest.raises(ValidationError, match="No template named 'Invoice'"):
        templates.get_template(ctx, editor, "Invoice")


def test_list_for_a_channel(ctx, samples):
    sender = login(ctx, "bulk-sender")
    assert {t.name for t in templates.list_templates(ctx, sender, Channel.SMS)} == {
        "Statement reminder", "Building notice"}
    assert {t.name for t in templates.list_templates(ctx, sender, Channel.LETTER)} == SAMPLE_NAMES
    assert [t.name for t in templates.list_templates(ctx, sender)] == sorted(SAMPLE_NAMES, key=str.lower)


# -- the store ----------------------------------------------------------------------------------------
def test_store_upsert_and_load_samples_once(ctx, samples):
    assert ctx.db.run(lambda con: templates_store.load_samples(con, "again")) == 0
    first = ctx.db.run(lambda con: templates_store.upsert(con, "Memo", "me", subject="a", text_body="b"))
    second = ctx.db.run(lambda con: templates_store.upsert(con, "Memo", "you", subject="c"))
    assert first == second
    memo = ctx.db.run(lambda con: templates_store.get(con, first))
    assert (memo.subject, memo.text_body, memo.updated_by) == ("c", "b", "you")
    with pytest.raises(ValueError):
        ctx.db.run(lambda con: templates_store.insert(con, "Bad", "me", body="x"))
    with pytest.raises(NotFound):
        ctx.db.run(lambda con: templates_store.get_by_name(con, "No such"))


def test_the_sample_templates(samples):
    assert set(samples) == SAMPLE_NAMES
    for template in samples.values():
        assert rendering.check(TemplateDraft.of(template).parts()) == [], template.name
        assert template.subject and template.text_body and template.description
    welcome = samples["Account activation"]
    assert "username is your email" in welcome.text_body and "{{ customer.email }}" in welcome.text_body
    assert samples["Statement reminder"].sms_body
    notice = samples["Building notice"]
    assert all((notice.text_body, notice.html_body, notice.letter_body, notice.sms_body))


# -- previews --------------------------------------------------------------------------------------------
def test_preview_for_a_real_customer(ctx, samples):
    editor = login(ctx, "templates")
    ctx.db.run(lambda con: office_store.put(con, {"timezone": "Australia/Sydney"}, "test"))
    parts = TemplateDraft.of(samples["Building notice"]).parts()
    shown = templates.preview(ctx, editor, parts)  # no customer chosen: the first account
    assert shown["account_no"] == "A1000001"
    assert shown["subject"] == "Notice for residents of Harbourview Towers: planned maintenance"
    assert shown["text_body"].startswith("Dear Olivia Bennett,\n\nWe are writing to let you know about planned "
                                         "maintenance at Harbourview Towers, 1 Wharf Rd Pyrmont NSW 2009.")
    assert "Tess Templates\nCoastal Living" in shown["text_body"]
    assert "as the customer for account A1000001" in shown["text_body"]
    assert rendering.sms_segments(shown["sms_body"])[2] == 1
    today = templates.preview(ctx, editor, {"subject": "{{ today }}"}, account_no="A1000002")["subject"]
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ 20\d\d", today)


def test_preview_by_id_and_merge_values_are_only_text(ctx, samples):
    editor = login(ctx, "templates")
    mallory = ctx.db.run(lambda con: customers_store.get_by_account(con, "A1000003"))
    evil = ctx.db.run(lambda con: customers_store.insert(
        con, account_no="Z9", name="<script>x</script> \x1b[2J Eve", customer_type="residential",
        status="active", preferred_delivery="email", email="eve@example.com"))
    parts = {"subject": "For {{ customer.name }}", "text_body": "{{ customer.name }}",
             "html_body": "<b>{{ customer.name }}</b>"}
    shown = templates.preview(ctx, editor, parts, mallory.id)
    assert shown["text_body"] == "[bold]Mallory[/bold] Tables"  # markup stays text
    shown = templates.preview(ctx, editor, parts, evil)
    assert shown["html_body"] == "<b>&lt;script&gt;x&lt;/script&gt; [2J Eve</b>"
    assert shown["subject"] == "For <script>x</script> [2J Eve"
    assert "\x1b" not in shown["subject"] + shown["text_body"]
    # a customer with no building, company or address: every field is simply empty
    assert templates.preview(ctx, editor, {"text_body": "[{{ building.name }}{{ company.name }}"
                                                        "{{ address.block }}]"}, evil)["text_body"] == "[]"


def test_preview_refusals_name_the_field(ctx, samples):
    editor = login(ctx, "templates")
    with pytest.raises(ValidationError) as refused:
        templates.preview(ctx, editor, {"subject": "x"}, account_no="NOPE1")
    assert refused.value.field == "preview_account" and "'NOPE1'" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        templates.preview(ctx, editor, {"subject": "x", "sms_body": "a\n{{ customer.nmae }}"})
    assert refused.value.field == "sms_body" and str(refused.value).startswith("SMS body, line 2:")
    with pytest.raises(ValidationError) as refused:
        templates.preview(ctx, editor, {"text_body": "ok\n{{ customer.name * customer.name }}"})
    assert refused.value.field == "text_body" and "line 2" in str(refused.value)


def test_every_sample_template_renders_for_every_sample_customer(ctx, samples):
    admin = login(ctx, "admin")
    accounts = [r[0] for r in ctx.db.run(lambda con: con.execute(
        "select account_no from customers order by account_no").fetchall())]
    assert len(accounts) >= 5
    for template in samples.values():
        parts = TemplateDraft.of(template).parts()
        for account in accounts:
            shown = templates.preview(ctx, admin, parts, account_no=account)
            assert "None" not in "".join(shown.values()), (template.name, account)
            assert "\n" not in shown["subject"]


def test_the_field_catalogue():
    assert [f.name for f in templates.field_catalogue()] == [f.name for f in rendering.FIELDS]
    assert templates.check({"subject": "{{ customer.nmae }}"})[0].line == 1
