"""Merging templates (delivery/rendering.py): the field catalogue, contexts, checks that point
at the line of a mistake, the sandbox, one-line subjects and SMS segments."""

from __future__ import annotations

import pytest

from commstui.delivery import rendering
from commstui.delivery.rendering import (FIELDS, Problem, RenderError, TemplateError, check, compile_parts,
                                         context_for, render, sample_context, sms_segments)

# exactly the merge fields of issue 4
ISSUE_FIELDS = {
    "customer": ["account_no", "name", "first_name", "last_name", "type", "status", "email", "mobile",
                 "preferred_delivery"],
    "recipient": ["name", "kind", "email", "mobile"],
    "building": ["code", "name", "brand", "address"],
    "address": ["line1", "line2", "city", "state", "postcode", "lines", "block"],
    "company": ["code", "name"],
    "sender": ["name", "email"],
}


def test_the_catalogue_is_exactly_the_merge_fields():
    expected = [f"{group}.{name}" for group, names in ISSUE_FIELDS.items() for name in names] + ["today"]
    assert [f.name for f in FIELDS] == expected
    assert all(f.description and f.example for f in FIELDS)
    # every field of the catalogue renders from the sample context
    for field in FIELDS:
        assert render({"text_body": field.placeholder}, sample_context())["text_body"] != ""


def test_a_context_has_no_none_and_missing_keys_are_empty():
    ctx = context_for({"name": None, "email": None})
    values = [render({"text_body": f.placeholder}, ctx)["text_body"] for f in FIELDS]
    assert values == ["[]" if f.name == "address.lines" else "" for f in FIELDS]  # lines: an empty list


def test_a_context_from_a_row():
    ctx = context_for({
        "account_no": "A1", "name": "Dr Jane van der Berg", "customer_type": "residential",
        "address_line1": "Apt 5", "address_line2": None, "city": "Glebe", "state": "NSW", "postcode": "2037",
        "recipient_kind": "owner", "recipient_name": "Sam Owner", "today": "1 March 2027"})
    assert (ctx["customer"].first_name, ctx["customer"].last_name) == ("Jane", "van der Berg")
    assert ctx["address"].lines == ["Apt 5", "Glebe NSW 2037"]
    assert ctx["address"].block == "Apt 5\nGlebe NSW 2037"
    assert ctx["recipient"].kind == "Owner" and ctx["today"] == "1 March 2027"
    assert context_for({"recipient_kind": "Contact"})["recipient"].kind == "Contact"


@pytest.mark.parametrize(("name", "ctype", "first", "last"), [
    ("Olivia Bennett", "residential", "Olivia", "Bennett"),
    ("Bennett, Olivia", "residential", "Olivia", "Bennett"),
    ("Mrs. Zoë O'Connor", "residential", "Zoë", "O'Connor"),
    ("Cher", "residential", "Cher", ""),
    ("Harbour Grind Café", "commercial", "Harbour Grind Café", ""),
    ("Mary Ann Smith", "residential", "Mary", "Smith"),
    ("Pieter de Vries", "Residential", "Pieter", "de Vries"),
    ("", "residential", "", ""),
])
def test_first_and_last_names(name, ctype, first, last):
    ctx = context_for({"name": name, "customer_type": ctype})
    assert (ctx["customer"].first_name, ctx["customer"].last_name) == (first, last)


def test_an_unknown_field_is_pointed_at_its_line_with_the_nearest_field():
    body = "Dear {{ customer.first_name }},\n\nYour name: {{ customer.nmae }}\n{{ account_no }}\n"
    assert check({"text_body": body}) == [
        Problem("text_body", 3, "customer.nmae is not a merge field; did you mean customer.name?"),
        Problem("text_body", 4, "account_no is not a merge field; did you mean customer.account_no?"),
    ]
    assert str(check({"text_body": body})[0]) == (
        "Text body, line 3: customer.nmae is not a merge field; did you mean customer.name?")


def test_more_unknown_names():
    problems = check({"subject": "{{ custmer.name }}", "letter_body": "a\nb\n{{ building['nam'] }}",
                      "sms_body": "{{ customer }}", "html_body": "{{ zzz }}"})
    assert [(p.part, p.line) for p in problems] == [("subject", 1), ("html_body", 1), ("letter_body", 3),
                                                   ("sms_body", 1)]
    by_part = {p.part: p.message for p in problems}
    assert "did you mean customer" in by_part["subject"]
    assert "building.nam is not a merge field; did you mean building.name?" == by_part["letter_body"]
    assert "customer is a group of fields" in by_part["sms_body"]
    assert by_part["html_body"].startswith("zzz is not a merge field")


def test_what_a_template_sets_itself_is_known():
    body = ("{% set greeting = 'Hello' %}{{ greeting }}\n"
            "{% for line in address.lines %}{{ loop.index }}. {{ line }}\n{% endfor %}"
            "{% for n in range(2) %}{{ n }}{% endfor %}")
    assert check({"text_body": body}) == []
    assert render({"text_body": body}, sample_context())["text_body"].startswith("Hello\n1. Apt 1201\n")


def test_syntax_errors_are_at_their_line():
    problems = check({"text_body": "one\ntwo\n{{ customer.name }\nfour", "letter_body": "a\n{% if x %}\nb\n",
                      "sms_body": "x\n{{ customer.name | shout }}"})
    assert [(p.part, p.line) for p in problems] == [("text_body", 3), ("letter_body", 2), ("sms_body", 2)]
    messages = {p.part: p.message for p in problems}
    assert "{% if %} is not closed" in messages["letter_body"]
    assert "shout" in messages["sms_body"]


def test_compile_names_the_first_problem():
    with pytest.raises(TemplateError) as refused:
        compile_parts({"subject": "ok", "text_body": "a\nb\n{{ customer.nmae }}\n{{ nope }}"})
    assert str(refused.value).startswith("Text body, line 3: customer.nmae is not a merge field")
    assert "(and 1 more problem)" in str(refused.value)
    assert len(refused.value.problems) == 2


def test_only_the_html_body_is_escaped_and_markup_is_just_text():
    ctx = context_for({"name": "[bold]Mallory[/bold] <b>Tables</b> & Co"})
    out = render({"subject": "{{ customer.name }}", "text_body": "{{ customer.name }}",
                  "html_body": "<p>{{ customer.name }}</p>", "letter_body": "{{ customer.name }}",
                  "sms_body": "{{ customer.name }}"}, ctx)
    assert out["html_body"] == "<p>[bold]Mallory[/bold] &lt;b&gt;Tables&lt;/b&gt; &amp; Co</p>"
    for part in ("subject", "text_body", "letter_body", "sms_body"):
        assert out[part] == "[bold]Mallory[/bold] <b>Tables</b> & Co"


def test_a_subject_is_one_line_without_control_characters():
    ctx = context_for({"name": "Eve\r\nBcc: victim@example.com", "building_name": "\x1b[31mRed\x1b[0m\x07"})
    out = render({"subject": "Hello {{ customer.name }}\nat {{ building.name }}",
                  "text_body": "{{ building.name }}\r\nnext"}, ctx)
    assert out["subject"] == "Hello Eve Bcc: victim@example.com at [31mRed[0m"
    assert "\x1b" not in out["text_body"] and "\r" not in out["text_body"]
    assert out["text_body"] == "[31mRed[0m\nnext"


def test_every_part_is_in_the_result():
    out = render({"sms_body": "hi"}, sample_context())
    assert out == {"subject": "", "text_body": "", "html_body": "", "letter_body": "", "sms_body": "hi"}


def test_a_failure_for_one_recipient_is_a_readable_render_error():
    compiled = compile_parts({"text_body": "fine\n{{ customer.name + 3 }}"})
    with pytest.raises(RenderError) as failed:
        compiled.render(sample_context())
    assert str(failed.value).startswith("Text body, line 2: TypeError")
    assert failed.value.part == "text_body" and failed.value.line == 2


def test_the_sandbox_refuses_python_internals_and_huge_output():
    compiled = compile_parts({"text_body": "{{ ''.__class__.__mro__ }}"})
    with pytest.raises(RenderError, match="not allowed|unsafe"):
        compiled.render(sample_context())
    with pytest.raises(RenderError, match="too many times"):
        compile_parts({"text_body": "{{ 'x' * 10**9 }}"}).render(sample_context())
    assert check({"text_body": "{{ customer.__class__ }}"})[0].message.startswith(
        "customer.__class__ is not a merge field")


def test_templates_are_compiled_once_and_reused():
    compiled = compile_parts({"subject": "For {{ customer.account_no }}"})
    names = [compiled.render(context_for({"account_no": f"A{i}"}))["subject"] for i in range(3)]
    assert names == ["For A0", "For A1", "For A2"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", ("GSM-7", 0, 0)),
    ("a", ("GSM-7", 1, 1)),
    ("a" * 160, ("GSM-7", 160, 1)),
    ("a" * 161, ("GSM-7", 161, 2)),
    ("a" * 306, ("GSM-7", 306, 2)),
    ("a" * 307, ("GSM-7", 307, 3)),
    ("€" * 80, ("GSM-7", 160, 1)),               # the extension table counts 2
    ("€" * 81, ("GSM-7", 162, 2)),
    ("{}[]~|^\\", ("GSM-7", 16, 1)),
    ("a" * 152 + "€" + "a" * 152, ("GSM-7", 306, 3)),  # an escape pair is never split between parts
    ("Hi 😀", ("UCS-2", 5, 1)),                  # one emoji makes the whole message UCS-2
    ("ł" * 70, ("UCS-2", 70, 1)),
    ("ł" * 71, ("UCS-2", 71, 2)),
    ("ł" * 134, ("UCS-2", 134, 2)),
    ("ł" * 135, ("UCS-2", 135, 3)),
    ("ç", ("UCS-2", 1, 1)),                      # only the capital Ç is in GSM-7
    ("Ça coûte 5 €", ("UCS-2", 12, 1)),           # û is not GSM-7
    ("Ça va 5 €", ("GSM-7", 10, 1)),
])
def test_sms_segments(text, expected):
    assert sms_segments(text) == expected


def test_sms_summary_words():
    assert rendering.sms_summary("a" * 161) == "GSM-7, 161 characters, 2 segments"
    assert rendering.sms_summary("a") == "GSM-7, 1 character, 1 segment"


def test_today_text():
    from datetime import date
    assert rendering.today_text(date(2026, 11, 3)) == "3 November 2026"


def test_an_end_tag_out_of_order_names_the_block_left_open():
    body = "a\n{% for line in address.lines %}\n{% if line %}\n{{ line }}\n{% endfor %}\n"
    assert check({"letter_body": body}) == [Problem(
        "letter_body", 5, "{% endfor %} comes before {% if %} (opened on line 3) is closed: "
                          "add {% endif %} before it")]
