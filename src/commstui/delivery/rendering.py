"""Merging templates: jinja2 in its sandbox, the merge fields every template sees, checks
that point at the line of a mistake, and SMS length in segments.

A bulk send renders one template for up to 100,000 recipients, so templates are
compiled once (`compile_parts`) and the per-recipient work is building a context
(`context_for`, a few µs) and running the compiled code. Templates are written by
staff, but merge values come from customers' records: they are only ever text
(never markup), the HTML body is autoescaped, and a subject is kept to one line
because a line break in a subject header would let a value add headers.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections import namedtuple
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

# -- the merge fields ---------------------------------------------------------------------------

PARTS = ("subject", "text_body", "html_body", "letter_body", "sms_body")
PART_LABELS = {"subject": "Subject", "text_body": "Text body", "html_body": "HTML body",
               "letter_body": "Letter body", "sms_body": "SMS body"}
BODIES = PARTS[1:]


@dataclass(frozen=True)
class Field:
    name: str          # as written in a template: customer.name
    description: str
    example: str

    @property
    def placeholder(self) -> str:
        return "{{ " + self.name + " }}"


FIELDS: tuple[Field, ...] = (
    Field("customer.account_no", "The customer's account number", "A1000001"),
    Field("customer.name", "The customer's full name", "Olivia Bennett"),
    Field("customer.first_name", "First name (a business: its whole name)", "Olivia"),
    Field("customer.last_name", "Last name (empty for a business)", "Bennett"),
    Field("customer.type", "Customer type", "residential"),
    Field("customer.status", "Account status", "active"),
    Field("customer.email", "The customer's email address", "olivia.bennett@example.com"),
    Field("customer.mobile", "The customer's mobile number", "+61412345001"),
    Field("customer.preferred_delivery", "How the customer prefers to hear from us", "email"),
    Field("recipient.name", "The person this copy goes to (customer, contact or owner)", "Olivia Bennett"),
    Field("recipient.kind", "Customer, Contact or Owner", "Customer"),
    Field("recipient.email", "The recipient's email address", "olivia.bennett@example.com"),
    Field("recipient.mobile", "The recipient's mobile number", "+61412345001"),
    Field("building.code", "The building's code", "HARB"),
    Field("building.name", "The building's name", "Harbourview Towers"),
    Field("building.brand", "The brand the building trades under", "Coastal Living"),
    Field("building.address", "The building's street address", "1 Wharf Rd Pyrmont NSW 2009"),
    Field("address.line1", "Postal address, first line", "Apt 1201"),
    Field("address.line2", "Postal address, second line", "1 Wharf Rd"),
    Field("address.city", "City or suburb", "Pyrmont"),
    Field("address.state", "State", "NSW"),
    Field("address.postcode", "Postcode", "2009"),
    Field("address.lines", "The non-empty address lines, a list (for a loop)", "['Apt 1201', ...]"),
    Field("address.block", "The address lines joined by line breaks", "Apt 1201\n1 Wharf Rd\nPyrmont NSW 2009"),
    Field("company.code", "The managing company's code", "ACME"),
    Field("company.name", "The managing company's name", "Acme Property Services"),
    Field("sender.name", "Who generated the message", "Demo Administrator"),
    Field("sender.email", "The sender's email address", "admin@commstui.example"),
    Field("today", "Today's date in the office's time zone", "23 November 2026"),
)

# The groups are namedtuples: attribute reads are C-speed and the sandbox allows them,
# while an unknown attribute is still undefined (and StrictUndefined raises on it).
_GROUP_FIELDS: dict[str, tuple[str, ...]] = {}
for _field in FIELDS:
    if "." in _field.name:
        _group, _attr = _field.name.split(".")
        _GROUP_FIELDS.setdefault(_group, ())
        _GROUP_FIELDS[_group] += (_attr,)
_CustomerFields = namedtuple("customer", _GROUP_FIELDS["customer"])
_RecipientFields = namedtuple("recipient", _GROUP_FIELDS["recipient"])
_BuildingFields = namedtuple("building", _GROUP_FIELDS["building"])
_AddressFields = namedtuple("address", _GROUP_FIELDS["address"])
_CompanyFields = namedtuple("company", _GROUP_FIELDS["company"])
_SenderFields = namedtuple("sender", _GROUP_FIELDS["sender"])
_FIELDS_OF_TYPE = {t: frozenset(t._fields) for t in (_CustomerFields, _RecipientFields, _BuildingFields,
                                                    _AddressFields, _CompanyFields, _SenderFields)}
TOP_LEVEL = frozenset({*_GROUP_FIELDS, *(f.name for f in FIELDS if "." not in f.name)})
FIELD_NAMES = tuple(f.name for f in FIELDS)

_KIND_LABELS = {"customer": "Customer", "contact": "Contact", "owner": "Owner"}
_BUSINESS_TYPES = frozenset({"commercial", "business", "company", "strata", "government"})
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"})
# lower-case particles that belong to the family name: "Jane van der Berg" -> "van der Berg"
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "da", "di", "del", "della", "dos", "du", "le", "la",
                        "ter", "ten", "bin", "binti", "al", "el"})


def today_text(day: date) -> str:
    """The date as templates show it: 23 November 2026."""
    return f"{day.day} {day:%B %Y}"


def split_name(name: str, customer_type: str = "") -> tuple[str, str]:
    """(first, last) of a person's name; a business keeps its whole name as the first."""
    if not name:
        return "", ""
    if customer_type.lower() in _BUSINESS_TYPES:
        return name, ""
    if "," in name:  # "Bennett, Olivia"
        last, _, first = name.partition(",")
        return first.strip(), last.strip()
    words = name.split()
    if len(words) > 1 and words[0].lower().rstrip(".") in _TITLES:
        words = words[1:]
    if len(words) == 1:
        return words[0], ""
    start = len(words) - 1
    while start > 1 and words[start - 1] in _PARTICLES:
        start -= 1
    return words[0], " ".join(words[start:])


def context_for(row: Mapping) -> dict:
    """The merge context for one recipient, from a flat mapping with the keys
    account_no, name, customer_type, status, email, mobile, preferred_delivery,
    building_code, building_name, brand, building_address, address_line1, address_line2,
    city, state, postcode, company_code, company_name, recipient_name, recipient_kind,
    recipient_email, recipient_mobile, sender_name, sender_email and today (text).
    Missing keys and None become "" so a template never prints "None"."""
    get = row.get
    account_no = get("account_no")
    name = get("name") or ""
    ctype = get("customer_type") or ""
    first, last = split_name(name, ctype)
    line1, line2 = get("address_line1") or "", get("address_line2") or ""
    city, state, postcode = get("city") or "", get("state") or "", get("postcode") or ""
    city_line = " ".join(p for p in (city, state, postcode) if p)
    lines = [p for p in (line1, line2, city_line) if p]
    kind = get("recipient_kind") or ""
    return {
        "customer": _CustomerFields("" if account_no is None else str(account_no), name, first, last, ctype, get("status") or "",
                                    get("email") or "", get("mobile") or "", get("preferred_delivery") or ""),
        "recipient": _RecipientFields(get("recipient_name") or "", _KIND_LABELS.get(kind.lower(), kind),
                                      get("recipient_email") or "", get("recipient_mobile") or ""),
        "building": _BuildingFields(get("building_code") or "", get("building_name") or "",
                                    get("brand") or "", get("building_address") or ""),
        "address": _AddressFields(line1, line2, city, state, postcode, lines, "\n".join(lines)),
        "company": _CompanyFields(get("company_code") or "", get("company_name") or ""),
        "sender": _SenderFields(get("sender_name") or "", get("sender_email") or ""),
        "today": get("today") or "",
    }


def sample_context() -> dict:
    """A realistic context for previews without a customer (and for tests)."""
    return context_for({
        "account_no": "A1000001", "name": "Olivia Bennett", "customer_type": "residential", "status": "active",
        "email": "olivia.bennett@example.com", "mobile": "+61412345001", "preferred_delivery": "email",
        "building_code": "HARB", "building_name": "Harbourview Towers", "brand": "Coastal Living",
        "building_address": "1 Wharf Rd Pyrmont NSW 2009", "address_line1": "Apt 1201",
        "address_line2": "1 Wharf Rd", "city": "Pyrmont", "state": "NSW", "postcode": "2009",
        "company_code": "ACME", "company_name": "Acme Property Services", "recipient_name": "Olivia Bennett",
        "recipient_kind": "customer", "recipient_email": "olivia.bennett@example.com",
        "recipient_mobile": "+61412345001", "sender_name": "Demo Administrator",
        "sender_email": "admin@commstui.example", "today": "23 November 2026",
    })


# -- the sandbox ----------------------------------------------------------------------------------

MAX_OUTPUT = 1_000_000  # characters one string operation may make ("x" * 10**9 is refused)


class _Sandbox(SandboxedEnvironment):
    # only these operators pay for interception; everything else runs at full speed
    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj, attribute):
        # the hot path of a bulk render: a merge field of one of our own groups is safe
        # to read without the sandbox's general checks (measured: a third of render time)
        fields = _FIELDS_OF_TYPE.get(type(obj))
        if fields is not None and attribute in fields:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context, op, left, right):
        if op == "**":
            if isinstance(right, int) and abs(right) > 100:
                raise SecurityError("a power above 100 is not allowed in a template")
            return operator.pow(left, right)
        if isinstance(right, int) and isinstance(left, (str, list, tuple)) and len(left) * right > MAX_OUTPUT:
            raise SecurityError("that repeats text too many times")
        if isinstance(left, int) and isinstance(right, (str, list, tuple)) and len(right) * left > MAX_OUTPUT:
            raise SecurityError("that repeats text too many times")
        return operator.mul(left, right)


ENV = _Sandbox(
    undefined=StrictUndefined,
    autoescape=lambda name: name == "html_body",  # the other parts are plain text
    trim_blocks=True, lstrip_blocks=True,           # {% if %} lines leave no blank line behind
    keep_trailing_newline=True,
    auto_reload=False, cache_size=0,
)
# a plain dict: each render copies the globals, and copying jinja's ChainMap costs
# more than the rest of a short template's render
_GLOBALS = dict(ENV.globals)

# -- checking -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    part: str          # subject | text_body | html_body | letter_body | sms_body
    line: int | None   # None: about the part as a whole (e.g. "is empty")
    message: str

    def __str__(self) -> str:
        where = PART_LABELS.get(self.part, self.part) + (f", line {self.line}" if self.line else "")
        return f"{where}: {self.message}"


class TemplateError(Exception):
    """A template that cannot be used; `problems` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "the template has a problem"
        more = len(problems) - 1
        super().__init__(first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""))


class RenderError(Exception):
    """A template failed for one recipient (e.g. a value of the wrong kind)."""

    def __init__(self, part: str, line: int | None, message: str) -> None:
        self.part, self.line = part, line
        where = PART_LABELS.get(part, part) + (f", line {line}" if line else "")
        super().__init__(f"{where}: {message}")


def _suggest(name: str) -> str | None:
    tail = name.rpartition(".")[2]
    same_tail = [f for f in FIELD_NAMES if f.rpartition(".")[2] == tail and f != name]
    if same_tail:  # "account_no" or "building.account_no" -> customer.account_no
        return same_tail[0]
    close = difflib.get_close_matches(name, FIELD_NAMES, n=1, cutoff=0.6)
    if close:
        return close[0]
    close = difflib.get_close_matches(tail, [f.rpartition(".")[2] for f in FIELD_NAMES], n=1, cutoff=0.75)
    if close:
        return next(f for f in FIELD_NAMES if f.rpartition(".")[2] == close[0])
    return None


def _unknown(name: str) -> str:
    hint = _suggest(name)
    return f"{name} is not a merge field" + (f"; did you mean {hint}?" if hint else
                                             "; press F4 for the list of fields.")


def _declared(tree: nodes.Template) -> set[str]:
    """Names a template sets itself (loop variables, set, macro arguments...)."""
    names: set[str] = {"loop", "caller", "varargs", "kwargs"}
    for node in tree.find_all((nodes.For, nodes.Assign, nodes.AssignBlock, nodes.With)):
        targets = [node.target] if not isinstance(node, nodes.With) else node.targets
        for target in targets:
            names.update(n.name for n in target.find_all(nodes.Name))
            if isinstance(target, nodes.Name):
                names.add(target.name)
    for node in tree.find_all((nodes.Macro, nodes.CallBlock)):
        names.update(arg.name for arg in node.args)
        if isinstance(node, nodes.Macro):
            names.add(node.name)
    return names


def _field_problems(part: str, tree: nodes.Template) -> list[Problem]:
    declared = _declared(tree)
    known = TOP_LEVEL | declared | set(ENV.globals)
    problems: list[Problem] = []
    used_as_group: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node
        if not isinstance(base, nodes.Name) or base.name not in _GROUP_FIELDS or base.name in declared:
            continue
        used_as_group.add(id(base))
        if isinstance(node, nodes.Getattr):
            attr = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            attr = node.arg.value
        else:
            continue  # customer[some_variable]: cannot tell before it runs
        if attr not in _GROUP_FIELDS[base.name]:
            problems.append(Problem(part, node.lineno, _unknown(f"{base.name}.{attr}")))
    for node in tree.find_all(nodes.Name):
        if node.ctx != "load":
            continue
        if node.name not in known:
            problems.append(Problem(part, node.lineno, _unknown(node.name)))
        elif node.name in _GROUP_FIELDS and node.name not in declared and id(node) not in used_as_group:
            example = f"{node.name}.{'block' if node.name == 'address' else 'name'}"
            problems.append(Problem(part, node.lineno,
                                    f"{node.name} is a group of fields, not one; did you mean {example}?"))
    return problems


def check(parts: Mapping[str, str]) -> list[Problem]:
    """Every problem in the parts, in part and line order: syntax errors (at their line)
    and names that are not merge fields (with the nearest field that is)."""
    problems: list[Problem] = []
    for part in PARTS:
        source = parts.get(part) or ""
        if not source:
            continue
        try:
            tree = ENV.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(_syntax_problem(part, source, exc))
            continue
        found = _field_problems(part, tree)
        if not found:
            try:  # unknown filters and tests are only found when compiling
                ENV.compile(source, name=part)
            except TemplateSyntaxError as exc:
                found.append(_syntax_problem(part, source, exc))
        problems.extend(sorted(found, key=lambda p: p.line or 0))
    return problems


_INNERMOST = re.compile(r"innermost block that needs to be closed is '(\w+)'")
_UNKNOWN_TAG = re.compile(r"Encountered unknown tag '(end\w+)'")
_BLOCK_TAGS = frozenset({"if", "for", "macro", "call", "filter", "with", "autoescape", "block", "set", "trans"})


def _syntax_problem(part: str, source: str, exc: TemplateSyntaxError) -> Problem:
    text = (exc.message or "syntax error").strip()
    block = _INNERMOST.search(text)
    if block and text.lower().startswith("unexpected end of template"):
        tag = block.group(1)
        opened = _unclosed_block_line(source, tag) or exc.lineno or 1
        return Problem(part, opened, f"{{% {tag} %}} is not closed: add {{% end{tag} %}} where it should end")
    stray = _UNKNOWN_TAG.match(text)
    if block and stray:
        tag = block.group(1)
        opened = _unclosed_block_line(source, tag)
        where = f" (opened on line {opened})" if opened else ""
        return Problem(part, exc.lineno or 1, f"{{% {stray.group(1)} %}} comes before {{% {tag} %}}{where} is "
                                              f"closed: add {{% end{tag} %}} before it")
    return Problem(part, exc.lineno or 1, text)


def _unclosed_block_line(source: str, tag: str) -> int | None:
    """The line where the innermost block left open begins (jinja says only which tag)."""
    stack: list[tuple[str, int]] = []
    try:
        tokens = [t for t in ENV.lex(source) if t[1] != "whitespace"]
    except TemplateSyntaxError:
        return None
    for i, (lineno, kind, value) in enumerate(tokens):
        if kind != "name" or i == 0 or tokens[i - 1][1] != "block_begin":
            continue
        if value.startswith("end") and stack and stack[-1][0] == value[3:]:
            stack.pop()
        elif value in _BLOCK_TAGS:
            if value == "set" and any(t[1] == "assign" for t in _until_block_end(tokens, i)):
                continue  # {% set x = ... %} has no end tag
            stack.append((value, lineno))
    return next((line for name, line in reversed(stack) if name == tag), None)


def _until_block_end(tokens: list, start: int):
    for token in tokens[start:]:
        if token[1] == "block_end":
            return
        yield token


# -- compiling and rendering ----------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"\s*(?:\r\n|[\r\n\x0b\x0c\x85\u2028\u2029])\s*")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # keeps \t and \n
_SUBJECT_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: str) -> str:
    """A subject as one header-safe line: line breaks become spaces, controls go."""
    return _SUBJECT_CONTROLS.sub("", _LINE_BREAKS.sub(" ", text)).strip()


def clean_body(text: str) -> str:
    """A body with Unix line ends and no control characters (an escape code from a
    record must not reach a terminal, a letter or a phone)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)


class Compiled:
    """Parts compiled once; render() merges them for one recipient. The result has
    every part: "" for a part that was left empty."""

    def __init__(self, templates: dict[str, object]) -> None:
        self._templates = templates
        self.parts = tuple(templates)   # the parts that have a template

    def render(self, context: Mapping) -> dict[str, str]:
        out = dict.fromkeys(PARTS, "")
        for part, template in self._templates.items():
            try:
                text = template.render(context)
            except Exception as exc:  # anything a template can raise for one recipient
                raise RenderError(part, _template_line(exc, part), _render_words(exc)) from None
            out[part] = one_line(text) if part == "subject" else clean_body(text)
        return out


def compile_parts(parts: Mapping[str, str]) -> Compiled:
    """Check and compile the non-empty parts; raises TemplateError naming the first problem."""
    problems = check(parts)
    if problems:
        raise TemplateError(problems)
    templates = {}
    for part in PARTS:
        source = parts.get(part) or ""
        if source:
            code = ENV.compile(source, name=part, filename=part)
            templates[part] = ENV.template_class.from_code(ENV, code, _GLOBALS, None)
    return Compiled(templates)


def render(parts: Mapping[str, str], context: Mapping) -> dict[str, str]:
    """Compile and render once (previews); bulk sends compile once and reuse."""
    return compile_parts(parts).render(context)


def _template_line(exc: BaseException, part: str) -> int | None:
    # jinja rewrites tracebacks so template frames carry the template's line numbers
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == part:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_words(exc: BaseException) -> str:
    if isinstance(exc, JinjaError) and not isinstance(exc, SecurityError):
        text = exc.message or type(exc).__name__
        if "is undefined" in text:
            return f"{text} (not a merge field for this recipient)"
        return text
    if isinstance(exc, SecurityError):
        return f"not allowed in a template: {exc}"
    return f"{type(exc).__name__}: {exc}"


# -- SMS length -----------------------------------------------------------------------------------

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + one septet)
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM_SINGLE, GSM_PART = 160, 153     # septets: one message, each part of a long one
UCS2_SINGLE, UCS2_PART = 70, 67     # UTF-16 code units


def sms_segments(text: str) -> tuple[str, int, int]:
    """(encoding, characters, segments) of an SMS: "GSM-7" counting extension characters
    as 2, else "UCS-2" counting UTF-16 units. A long message is split into parts that
    never cut an escape sequence or a surrogate pair, as handsets and carriers do."""
    if not text:
        return "GSM-7", 0, 0
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        units = [2 if ch in GSM_EXTENSION else 1 for ch in text]
        encoding, single, part = "GSM-7", GSM_SINGLE, GSM_PART
    else:
        units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        encoding, single, part = "UCS-2", UCS2_SINGLE, UCS2_PART
    total = sum(units)
    if total <= single:
        return encoding, total, 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments += 1
            used = 0
        used += size
    return encoding, total, segments


def sms_summary(text: str) -> str:
    encoding, characters, segments = sms_segments(text)
    return f"{encoding}, {characters} character{'s' if characters != 1 else ''}, " \
           f"{segments} segment{'s' if segments != 1 else ''}"


__all__ = ["FIELDS", "Field", "Problem", "TemplateError", "RenderError", "Compiled", "check",
           "compile_parts", "render", "context_for", "sample_context", "sms_segments", "sms_summary",
           "today_text", "split_name", "one_line", "PARTS", "PART_LABELS", "BODIES"]
