"""Compose: what the form accepts, what it points at, and what it refuses."""

from __future__ import annotations

from datetime import datetime

import pytest

from commstui.services import email
from commstui.services.email import EmailDraft, check_draft, parse_addresses
from commstui.services.errors import NoMailServer, ValidationError
from commstui.store.db import NotFound


def draft(**kw) -> EmailDraft:
    return EmailDraft(**{"to": "tess@example.com", "subject": "Hello", "body": "Hi Tess.", **kw})


# -- addresses -----------------------------------------------------------------------

BAD = {
    "no domain": ("bob@", "bob@"),
    "spaces": ("a b c", "'a'"),  # split on spaces: the first word is pointed at
    "two at-signs": ("x@@y", "x@@y"),
    "empty brackets": ("<>", "<>"),
    "local part too long": ("x" * 300 + "@example.com", "x" * 300),
    "no dot in domain": ("ops@localhost", "ops@localhost"),
    "trailing bracket": ("bob@example.com>", "bob@example.com>"),
}


@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
@pytest.mark.parametrize("text,named", BAD.values(), ids=BAD.keys())
def test_a_bad_address_is_pointed_at_in_its_field(field, text, named):
    with pytest.raises(ValidationError) as err:
        check_draft(draft(**{field: f"good@example.com, {text}" if field == "to" else text}))
    assert err.value.field == field
    assert str(err.value).startswith(f"{field.capitalize()}:")
    assert named in str(err.value)


def test_a_bad_address_among_good_ones_is_not_dropped():
    with pytest.raises(ValidationError, match="bob@"):
        parse_addresses("ann@example.com; bob@\ncarl@example.com")


@pytest.mark.parametrize("sep", [",", ";", " ", "\n", ", ", " ; ", "\r\n", ",\n"])
def test_several_addresses_with_any_separator(sep):
    text = sep.join(["ann@example.com", "bob@example.org", "carl@example.net"])
    assert parse_addresses(text) == ["ann@example.com", "bob@example.org", "carl@example.net"]


def test_a_named_address_keeps_only_the_address():
    assert parse_addresses("Ann Lee <ann@example.com>") == ["ann@example.com"]
    assert parse_addresses("Ann Lee <ann@example.com>, bob@example.org") == ["ann@example.com", "bob@example.org"]


def test_a_quoted_name_with_a_comma_is_one_address():
    # what Outlook puts on the clipboard: "Lee, Ann" <ann@example.com>
    assert parse_addresses('"Lee, Ann" <ann@example.com>; bob@example.org') == ["ann@example.com",
                                                                                "bob@example.org"]


@pytest.mark.parametrize("text", [
    "Ann Lee <ann@example.com> bob@example.org",
    "bob@example.org Ann Lee <ann@example.com>",
])
def test_a_named_address_next_to_a_bare_one_separated_by_a_space_loses_neither(text):
    # neither silently dropped nor glued together into one wrong address
    try:
        found = parse_addresses(text)
    except ValidationError:
        return  # pointing at the input is acceptable too
    assert sorted(found) == ["ann@example.com", "bob@example.org"]


def test_duplicates_collapse_keeping_the_first():
    assert parse_addresses("ann@example.com, bob@example.org; ann@example.com\nAnn <ann@EXAMPLE.com>") == [
        "ann@example.com", "bob@example.org"]


@pytest.mark.parametrize("to", ["", "   ", " ,; \n "])
def test_to_is_required(to):
    with pytest.raises(ValidationError) as err:
        check_draft(draft(to=to))
    assert err.value.field == "to"
    assert "required" in str(err.value)


def test_cc_and_bcc_are_optional():
    checked = check_draft(draft(cc="", bcc=""))
    assert (checked.cc, checked.bcc) == ([], [])


# -- subject and body ------------------------------------------------------------------

def test_an_empty_subject_is_allowed_with_a_warning():
    checked = check_draft(draft(subject="   "))
    assert checked.subject == ""
    assert any("subject is empty" in w for w in checked.warnings)
    assert not check_draft(draft()).warnings


@pytest.mark.parametrize("subject", [
    "Hello\r\nBcc: victim@example.org", "Hello\nworld", "Hello\rworld",
    "Hello\x85world", "Hello\u2028world", "Hello\u2029world",  # line breaks to Python's email package too
])
def test_a_line_break_in_the_subject_is_refused(subject):
    with pytest.raises(ValidationError) as err:
        check_draft(draft(subject=subject))
    assert err.value.field == "subject"


@pytest.mark.parametrize("subject", ["bell\x07", "esc \x1b[31mred", "nul\x00", "del\x7f", "csi \x9b31m", "vt\x0b"])
def test_control_characters_in_the_subject_are_refused(subject):
    with pytest.raises(ValidationError) as err:
        check_draft(draft(subject=subject))
    assert err.value.field == "subject"


def test_a_tab_and_markup_in_the_subject_are_just_text():
    assert check_draft(draft(subject="Rent\tdue [bold]now[/bold]")).subject == "Rent\tdue [bold]now[/bold]"


@pytest.mark.parametrize("body,is_html", [
    ("<p>Hello</p>", True),
    ("<html><body>Hi</body></html>", True),
    ("Line one<br>Line two", True),
    ('Click <a href="https://example.com">here</a>', True),
    ("Plain words only.", False),
    ("I <3 our tenants and 2 < 3 > 1", False),
    ("Reply to Ann <ann@example.com> please", False),
    ("Use the <angle> brackets", False),
])
def test_html_is_detected_from_the_body(body, is_html):
    assert check_draft(draft(body=body)).is_html is is_html


def test_an_explicit_choice_beats_detection():
    assert check_draft(draft(body="<p>Hello</p>", is_html=False)).is_html is False
    assert check_draft(draft(body="plain", is_html=True)).is_html is True


# -- queueing through the service -------------------------------------------------------

def test_send_to_an_unknown_account_says_which(ctx, operator, mail_server):
    with pytest.raises(NotFound) as err:
        email.send_email_to_account(ctx, operator, "Z9999999", draft())
    assert "Z9999999" in str(err.value) and "account" in str(err.value)
    assert err.value.title == "Not found"


def test_send_to_an_unknown_customer_id_is_refused(ctx, operator, mail_server):
    with pytest.raises(NotFound):
        email.send_email(ctx, operator, 987654321, draft())


def test_without_an_active_mail_server_nothing_is_queued(ctx, operator):
    assert email.mail_server_ready(ctx, operator) is False
    with pytest.raises(NoMailServer) as err:
        email.send_email_to_account(ctx, operator, "A1000001", draft())
    assert "mail server" in str(err.value)
    assert email.log(ctx, operator) == []


def test_send_email_to_account_defaults_to_the_customers_email(ctx, operator, mail_server):
    queued = email.send_email_to_account(ctx, operator, "A1000001", draft(to=""))
    assert queued.status == "queued"
    assert queued.to_addrs == ("olivia.bennett@example.com",)
    assert queued.account_no == "A1000001"
    assert queued.created_by == "operator"
    assert [m.id for m in email.log(ctx, operator, "A1000001")] == [queued.id]


def test_a_customer_without_email_needs_an_explicit_to(ctx, operator, mail_server):
    no_email = next(r for r in _sample_rows(ctx, operator) if r.email is None)
    with pytest.raises(ValidationError) as err:
        email.send_email_to_account(ctx, operator, no_email.account_no, draft(to=""))
    assert err.value.field == "to" and no_email.account_no in str(err.value)


def test_a_schedule_time_needs_a_time_zone(ctx, operator, mail_server):
    with pytest.raises(ValidationError) as err:
        email.send_email_to_account(ctx, operator, "A1000001", draft(), due_at=datetime(2030, 1, 1, 9, 0))
    assert err.value.field == "due_at"


def test_validation_happens_before_anything_is_queued(ctx, operator, mail_server):
    with pytest.raises(ValidationError):
        email.send_email_to_account(ctx, operator, "A1000001", draft(to="bob@"))
    assert email.log(ctx, operator) == []


def _sample_rows(ctx, user):
    from commstui.services.customers import CustomerFilter, search
    return search(ctx, user, CustomerFilter(), limit=1000).rows


def test_review_names_every_bad_field_at_once_and_check_draft_raises_the_first():
    from commstui.services.email import review_draft

    bad = EmailDraft(to="bob@", cc="ok@example.com", bcc="x@@y", subject="two\nlines", body="")
    review = review_draft(bad)
    assert list(review.errors) == ["to", "bcc", "subject"]
    assert "'bob@'" in review.errors["to"] and "'x@@y'" in review.errors["bcc"]
    assert review.checked is None
    assert "The body is empty." in review.warnings  # warnings still shown beside errors
    with pytest.raises(ValidationError) as raised:
        check_draft(bad)
    assert raised.value.field == "to" and str(raised.value) == review.errors["to"]

    empty_to = review_draft(EmailDraft(to="  ", subject="Hi", body="x"))
    assert empty_to.errors == {"to": "To: at least one address is required."}
