"""The Unicode typeface letters and reports are printed in: Noto Sans.

fpdf2's built-in fonts are Latin-1 only, so "Nguyễn" or "Łukasz" would not print.
Noto Sans (SIL Open Font License 1.1) comes from the pip package
`fontpkg-noto-sans` as one 2 MB variable font. Preparing it once — cut down to the
European scripts and Vietnamese, then fixed at regular (400) and bold (700) weight —
takes about a second, so the two static fonts (~115 KB each) are kept in the user's
cache directory and reused by every process after that.

Speed, for 10,000 letters (bench/letters.py). Per PDF, fpdf2 (a) reads and measures
the font in `add_font` and (b) cuts the subset of glyphs the PDF uses out of it with
fontTools when it writes the file; (b) was two thirds of a letter. So:
- `add_fonts` copies a font object measured once per process and gives it only what is
  per document: a fresh, lazily read font file to cut this document's subset from;
- every document's regular font holds all of printable ASCII, so letters of a batch
  mostly need the very same glyphs, and `_MemoSubsetter` (installed as fpdf2's
  subsetter) remembers the subset cut for a set of glyphs and reuses it. It only
  memoises fonts marked by `add_fonts`; any other font is cut as before.
"""

from __future__ import annotations

import copy
import io
import os
import tempfile
import threading
import unicodedata
from collections import OrderedDict
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import platformdirs
from fontTools import subset as ftsubset
from fontTools import ttLib
from fontTools.varLib import instancer
from fpdf import FPDF
from fpdf import output as fpdf_output
from fpdf.fonts import SubsetMap, TTFFont

FAMILY = "NotoSans"
PACKAGE = "fontpkg-noto-sans"
RECIPE = 1  # bump when the ranges or options below change, so old cached files are not reused
WEIGHTS = {"": 400, "B": 700}

# What a letter to a customer can need: Latin (with every European accent and Vietnamese),
# Greek, Cyrillic, combining accents, punctuation, currency signs, № and ™.
UNICODE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x024F),  # Latin-1 Supplement, Latin Extended-A and -B
    (0x02B0, 0x036F),  # spacing modifiers (ʻokina, ˆ) and combining diacritical marks
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x052F),  # Cyrillic and its supplement
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese: ễ, ộ, ự ...)
    (0x2000, 0x206F),  # General Punctuation: dashes, quotes, bullet, ellipsis
    (0x20A0, 0x20C0),  # currency signs (€, ₫, ₹ ...)
    (0x2100, 0x214F),  # letterlike symbols (№, ℮, ™)
    (0x2190, 0x21FF),  # arrows
    (0xFFFD, 0xFFFD),  # replacement character
)


class TypefaceError(RuntimeError):
    """The typeface cannot be found or prepared (a broken install)."""


def cache_dir() -> Path:
    return Path(os.environ.get("COMMSTUI_CACHE_DIR") or platformdirs.user_cache_dir("commstui")) / "fonts"


def _source() -> tuple[Path, str]:
    try:
        import fontpkg_noto_sans
    except ImportError as exc:  # a dependency of commstui: only a broken install gets here
        raise TypefaceError(f"The letter font is missing: install it with `pip install {PACKAGE}`.") from exc
    root = Path(fontpkg_noto_sans.ROOT) / "files"
    variable = next(iter(sorted(root.glob("NotoSans[[]*.ttf"))), None)
    if variable is None:
        raise TypefaceError(f"{PACKAGE} has no upright Noto Sans file in {root}: reinstall it.")
    return variable, metadata.version(PACKAGE)


def _prepare(variable: Path) -> dict[str, bytes]:
    """Cut the variable font to our ranges first (instancing 1,400 glyphs is ~10x faster
    than instancing 4,000), then fix each weight as a static font."""
    font = ttLib.TTFont(variable)
    options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True, glyph_names=True,
                               hinting=False, layout_features=[], name_IDs=["*"])
    # fpdf2 drops the layout tables when it embeds a font anyway
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "STAT", "gasp"]
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=[u for lo, hi in UNICODE_RANGES for u in range(lo, hi + 1)])
    subsetter.subset(font)
    # one cmap subtable (Windows Unicode BMP) is all fpdf2 reads; a second doubles the work per letter
    font["cmap"].tables = [t for t in font["cmap"].tables if (t.platformID, t.platEncID) == (3, 1)]
    cut = io.BytesIO()
    font.save(cut)
    fonts = {}
    for style, weight in WEIGHTS.items():
        static = instancer.instantiateVariableFont(ttLib.TTFont(io.BytesIO(cut.getvalue())),
                                                   {"wght": weight, "wdth": 100}, static=True)
        out = io.BytesIO()
        static.save(out)
        fonts[style] = out.getvalue()
    return fonts


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # another process preparing at the same time writes the same bytes
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@lru_cache(maxsize=1)
def font_files() -> dict[str, Path]:
    """The static regular ("") and bold ("B") fonts, prepared on first use and cached on disk."""
    variable, version = _source()
    wanted = {style: f"{FAMILY}-{weight}-{version}-r{RECIPE}.ttf" for style, weight in WEIGHTS.items()}
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / f"commstui-fonts-{os.getuid()}"):
        paths = {style: folder / name for style, name in wanted.items()}
        if all(p.is_file() and p.stat().st_size > 0 for p in paths.values()):
            return paths
        try:
            for style, data in _prepare(variable).items():
                _write_atomically(paths[style], data)
            return paths
        except OSError:
            continue  # a read-only cache directory: try the temporary one
    raise TypefaceError("Cannot write the prepared letter font to the cache or temporary directory.")


@lru_cache(maxsize=4)
def _prototype(style: str) -> tuple[TTFFont, bytes]:
    path = font_files()[style]
    return TTFFont(FPDF(), path, f"{FAMILY.lower()}{style}", style), path.read_bytes()


def _copy_font(pdf: FPDF, style: str) -> TTFFont:
    proto, data = _prototype(style)
    font = copy.copy(proto)  # widths, cmap and descriptor are read-only: shared
    font.i = len(pdf.fonts) + 1
    # per document: the file fpdf2 cuts this PDF's subset from (it edits it in place).
    # recalcBBoxes=False: the glyphs' boxes are already right, and recomputing them
    # would decode every outline again (a third of the time of a letter).
    font.ttfont = _open(data)
    setattr(font.ttfont, _MARK, style)
    font.subset = SubsetMap(font)
    font.biggest_size_pt = 0
    font.missing_glyphs = []
    if style == "":
        for code in range(0x21, 0x7F):  # all of ASCII, so most letters share one glyph set
            font.subset.pick(code)
    return font


def _open(data: bytes) -> ttLib.TTFont:
    return ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)


# -- remembering subsets -----------------------------------------------------------------

_MARK = "_commstui_style"  # set on the TTFont objects add_fonts makes: which of our fonts it is
# (font file, glyphs, options) -> (the cut font file, its glyph names in order)
_subsets: OrderedDict[tuple, tuple[bytes, tuple[str, ...]]] = OrderedDict()
_SUBSETS_KEPT = 256  # ~15 KB each; a batch uses a handful
_subsets_lock = threading.Lock()


class _MemoSubsetter:
    """fontTools' Subsetter, as fpdf2 uses it (populate(glyphs=...), then subset(font)),
    remembering the result for our fonts. Cutting the same glyphs from the same font
    with the same options always gives the same font, so a remembered one is reused
    by loading its bytes into the TTFont fpdf2 handed us (fpdf2 then reads glyph ids
    from it and saves it into the PDF, as it would after a real cut)."""

    def __init__(self, options=None, **kwargs) -> None:
        self._inner = ftsubset.Subsetter(options, **kwargs)
        self._glyphs: frozenset[str] | None = None

    def populate(self, glyphs=(), gids=(), unicodes=(), text="") -> None:
        self._glyphs = frozenset(glyphs) if not (gids or unicodes or text) else None
        self._inner.populate(glyphs=glyphs, gids=gids, unicodes=unicodes, text=text)

    def subset(self, font: ttLib.TTFont) -> None:
        style = getattr(font, _MARK, None)
        if style is None or self._glyphs is None:
            self._inner.subset(font)
            return
        options = repr(sorted(vars(self._inner.options).items()))
        key = (font_files()[style].name, self._glyphs, options)
        with _subsets_lock:
            cut = _subsets.get(key)
            if cut is not None:
                _subsets.move_to_end(key)
        if cut is None:
            self._inner.subset(font)
            out = io.BytesIO()
            font.save(out)
            # the cut font's file has no glyph names (fpdf2's options drop them); fpdf2 looks
            # glyphs up by the names they had, so keep the order of names with the bytes
            cut = (out.getvalue(), tuple(font.getGlyphOrder()))
            with _subsets_lock:
                _subsets[key] = cut
                while len(_subsets) > _SUBSETS_KEPT:
                    _subsets.popitem(last=False)
        # become the cut font: reopen from its bytes (drops every cached table of the full font)
        data, glyph_order = cut
        vars(font).clear()
        font.__init__(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        font.setGlyphOrder(list(glyph_order))
        setattr(font, _MARK, style)


class _Subsetting:
    """Stands in for the `fontTools.subset` module inside fpdf2's output module."""

    Options = ftsubset.Options
    Subsetter = _MemoSubsetter

    def __getattr__(self, name):
        return getattr(ftsubset, name)


def _install() -> bool:
    if getattr(fpdf_output, "ftsubset", None) is ftsubset:
        fpdf_output.ftsubset = _Subsetting()
    return isinstance(getattr(fpdf_output, "ftsubset", None), _Subsetting)


_memo_installed = _install()


_fast = True


def add_fonts(pdf: FPDF) -> str:
    """Make regular and bold Noto Sans available in `pdf`; returns the family name for set_font."""
    global _fast
    if _fast:
        try:
            for style in WEIGHTS:
                pdf.fonts[f"{FAMILY.lower()}{style}"] = _copy_font(pdf, style)
            return FAMILY
        except (AttributeError, TypeError):  # fpdf2 changed its font object: the ordinary way still works
            _fast = False
            for style in WEIGHTS:
                pdf.fonts.pop(f"{FAMILY.lower()}{style}", None)
    for style, path in font_files().items():
        pdf.add_font(FAMILY, style, path)
    return FAMILY


def fast_path_in_use() -> bool:
    """Both speed-ups are active (tests check this, so an fpdf2 upgrade that defeats them is noticed)."""
    return _fast and _memo_installed


def printable(text: str) -> str:
    """`text` as printed: NFC-composed (so "e" + combining acute uses the single glyph é)."""
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    return frozenset(_prototype("")[0].cmap)


def unprintable(text: str) -> list[str]:
    """The characters of `text` the typeface has no glyph for (they would print as a box)."""
    covered = _covered()
    seen: dict[str, None] = {}
    for ch in printable(text):
        if ord(ch) not in covered and ch not in "\n\r\t" and ch not in seen:
            seen[ch] = None
    return list(seen)
