"""Turning data into display text. Customer-provided text is shown literally:
never parsed as markup, and control characters (escape codes) made visible."""

from __future__ import annotations

import re
from datetime import datetime

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f]")
DASH = "—"


def _picture(match: re.Match) -> str:
    # U+2400.. "control pictures": ␛ for ESC, so an escape code shows instead of acting
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code)


def clean(value: object, multiline: bool = False) -> str:
    """A value as safe plain text (None -> a dash)."""
    if value is None or value == "":
        return DASH
    text = str(value)
    return (_CONTROL if multiline else _CONTROL_LINE).sub(_picture, text)


def literal(value: object, style: str = "", multiline: bool = False) -> Text:
    """Text that displays exactly what it holds: no markup, visible control characters."""
    return Text(clean(value, multiline), style=style, no_wrap=not multiline, overflow="ellipsis")


def local_time(value: datetime | None) -> str:
    """A stored (UTC) time in the office's local zone, to the minute."""
    if value is None:
        return DASH
    if value.tzinfo is not None:
        value = value.astimezone()
    return value.strftime("%Y-%m-%d %H:%M")


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
