"""Customers from a CSV file (checked row by row first) and a filtered list out to CSV.

Decisions an operator can rely on (README "Import and export"):

- Columns are those of sample_data/customers.csv. account_no and name must be in
  the header; a column left out of the header keeps its default for new customers
  and is left as it is on existing ones. An unknown or repeated column stops the
  whole file (nothing is guessed).
- Re-runnable: in mode "add new only" (the default) a row whose account is already
  in the database is skipped and counted, not changed and not an error; in mode
  "add and update" the row overwrites that customer's columns from the file (an
  empty cell clears the field). Running the same file twice changes nothing more.
- An account number that appears on more than one line is refused on every one of
  those lines: we cannot know which line is right.
- Mobile numbers are read as Australian when they have no country code and are
  stored as E.164 (+61412345678), the form SMS sending and search use. A number
  must have the right length for its country; whether its range is in use is
  left to the SMS provider (seeded and test numbers often are not).
- Email addresses are checked for syntax only (no DNS) and stored normalised.
- Strict: any bad row means nothing is written. Otherwise the good rows are
  written and the bad ones reported by line, column and reason.
- Export writes UTF-8 with a byte order mark (Excel then shows "Zoë" right) and
  CRLF line ends. A cell starting with = + - @ tab or CR gets a leading ' so a
  spreadsheet shows it as text instead of running it as a formula (OWASP CSV
  injection). A mobile number in E.164 (+ then digits only) is left as it is: it
  cannot form a formula and stays dialable. Import removes the ' again, so an
  export re-imports to the same data.
"""

from __future__ import annotations

import codecs
import csv
import enum
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ..domain import Permission, User
from ..store import customer_import as import_store
from .context import Context, require
from .customers import CustomerFilter
from .errors import ValidationError

COLUMNS = (
    "account_no", "name", "customer_type", "status", "company_code", "building_code",
    "preferred_delivery", "email", "mobile", "sms_opt_in",
    "address_line1", "address_line2", "city", "state", "postcode",
)
REQUIRED = ("account_no", "name")
CUSTOMER_TYPES = frozenset({"residential", "commercial"})  # plus any already in the database
STATUSES = frozenset({"active", "inactive"})
DELIVERY = ("email", "post", "sms")
MAX_LENGTH = {"account_no": 32, "name": 200, "customer_type": 32, "status": 32, "company_code": 32,
              "building_code": 32, "preferred_delivery": 8, "email": 254, "mobile": 32, "sms_opt_in": 5,
              "address_line1": 200, "address_line2": 200, "city": 100, "state": 50, "postcode": 16}
PHONE_REGION = "AU"
CHUNK = 20_000

_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_CHARS = re.compile(r"^\+?[0-9\s().-]+$")
_E164 = re.compile(r"^\+[0-9]{6,15}$")
# what to write instead of these columns (the database keeps ids)
_CODE_TO_ID = {"company_code": "company_id", "building_code": "building_id"}

Progress = Callable[[str, int, int], None]  # (phase "checking"/"importing", done, total)


class ImportMode(enum.StrEnum):
    ADD = "add"        # add new customers only; existing accounts are skipped
    UPDATE = "update"  # add new customers and overwrite existing ones from the file

    @property
    def label(self) -> str:
        return "add new only" if self is ImportMode.ADD else "add and update"


@dataclass(frozen=True)
class RowProblem:
    line: int      # the file's line number (the header is line 1)
    column: str    # "" when the problem is the whole line
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        shown = self.value if len(self.value) <= 60 else self.value[:59] + "…"
        # repr: a control character in the value shows as \x07, never reaches the terminal
        return f"{where}: {shown!r} {self.reason}" if self.value and self.column else f"{where}: {self.reason}"


@dataclass
class ImportReport:
    path: Path
    mode: ImportMode
    strict: bool
    dry_run: bool
    rows: int = 0        # customer rows read (not the header)
    new: int = 0         # good rows for accounts not in the database
    existing: int = 0    # good rows for accounts already in the database
    added: int = 0       # written: new customers
    updated: int = 0     # written: existing customers overwritten (mode update)
    skipped: int = 0     # existing accounts left as they are (mode add)
    header_ok: bool = True
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def bad_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems})

    @property
    def refused(self) -> int:
        """Rows not imported because of a problem (every row, if the header is wrong)."""
        return self.rows if not self.header_ok else len(self.bad_lines)

    @property
    def good(self) -> int:
        return self.new + self.existing

    @property
    def imported(self) -> bool:
        return bool(self.added or self.updated)

    def summary(self) -> str:
        if self.dry_run:
            verb = "Checked"
            outcome = (f"{self.new:,} would be added, "
                       + (f"{self.existing:,} would be updated" if self.mode is ImportMode.UPDATE
                          else f"{self.existing:,} already there would be skipped"))
        else:
            verb = "Imported" if self.imported else "Imported nothing from"
            outcome = f"{self.added:,} added, {self.updated:,} updated, {self.skipped:,} already there skipped"
        text = f"{verb} {self.path.name}: {self.rows:,} rows; {outcome}; {self.refused:,} refused"
        if self.strict and self.problems and not self.dry_run:
            text += " (strict: nothing was imported because of the refused rows)"
        elif not self.header_ok:
            text += " (the header must be fixed first)"
        return text + "."


# -- reading the file --------------------------------------------------------------
def _scan(path: Path) -> int:
    """Check the file is UTF-8 text and count its lines (for progress), without holding it."""
    if not path.exists():
        raise ValidationError(f"There is no file {path}. Check the path.", "file")
    if path.is_dir():
        raise ValidationError(f"{path} is a folder; choose a .csv file.", "file")
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    lines = 0
    with path.open("rb") as f:
        head = f.read(8)
        if not head:
            raise ValidationError(f"{path.name} is empty: it needs a header line and customer rows.", "file")
        if head.startswith(b"PK\x03\x04"):
            raise ValidationError(f"{path.name} is a spreadsheet (xlsx) or zip, not CSV. In Excel use "
                                  "Save As > 'CSV UTF-8 (Comma delimited)'.", "file")
        if head.startswith(b"%PDF"):
            raise ValidationError(f"{path.name} is a PDF, not a CSV file.", "file")
        f.seek(0)
        while chunk := f.read(1 << 20):
            if b"\x00" in chunk:
                at = lines + chunk[:chunk.index(b"\x00")].count(b"\n") + 1
                raise ValidationError(f"{path.name} is not a text CSV file (a NUL byte on line {at}).", "file")
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = lines + chunk[:exc.start].count(b"\n") + 1
                raise ValidationError(
                    f"{path.name} is not UTF-8 text: line {at} has the byte 0x{chunk[exc.start]:02X}, "
                    "which is not UTF-8 (probably Windows-1252 or Latin-1). In Excel use Save As > "
                    "'CSV UTF-8', or convert it with: iconv -f cp1252 -t utf-8 IN.csv > OUT.csv", "file") from None
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ValidationError(f"{path.name} is not UTF-8 text: it ends in the middle of a character.",
                                  "file") from None
    return lines


def _unescape(value: str) -> str:
    # undo our own export's protection: '=SUM(...) was =SUM(...)
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@":
        return value[1:]
    return value


class _Checker:
    """Turns one CSV row into the values to write, or problems."""

    def __init__(self, known: dict) -> None:
        self.buildings = known["buildings"]
        self.companies = known["companies"]
        self.types = CUSTOMER_TYPES | known["customer_types"]
        self.statuses = STATUSES | known["statuses"]

    def row(self, line: int, raw: dict[str, str], problems: list[RowProblem]) -> dict | None:
        before = len(problems)

        def bad(column: str, value: str, reason: str) -> None:
            problems.append(RowProblem(line, column, value, reason))

        out: dict = {}
        for col, value in raw.items():
            value = _unescape((value or "").strip(" "))
            if _CONTROL.search(value):
                bad(col, value, "has a control character (tab, line break or similar); remove it")
                continue
            value = value.strip()
            if len(value) > MAX_LENGTH[col]:
                bad(col, value, f"is {len(value)} characters long; at most {MAX_LENGTH[col]} fit")
                continue
            try:
                out[col] = getattr(self, col)(value)
            except ValueError as exc:
                bad(col, value, str(exc))
        if len(problems) > before:
            return None
        for code, id_col in _CODE_TO_ID.items():
            if code in out:
                out[id_col] = out.pop(code)
        return out

    # one method per column: the value to store, or ValueError(reason)
    def account_no(self, v: str) -> str:
        if not v:
            raise ValueError("is empty; every customer needs an account number")
        if not _ACCOUNT.match(v):
            raise ValueError("may hold only letters, digits and . _ / - (no spaces)")
        return v

    def name(self, v: str) -> str:
        if not v:
            raise ValueError("is empty; every customer needs a name")
        return v

    def customer_type(self, v: str) -> str:
        v = v.lower() or "residential"
        if v not in self.types:
            raise ValueError(f"is not a customer type; use one of {', '.join(sorted(self.types))}")
        return v

    def status(self, v: str) -> str:
        v = v.lower() or "active"
        if v not in self.statuses:
            raise ValueError(f"is not a status; use one of {', '.join(sorted(self.statuses))}")
        return v

    def company_code(self, v: str) -> int | None:
        if not v:
            return None
        if v.upper() not in self.companies:
            raise ValueError("is not a company code in this database (add the company first, or leave it empty)")
        return self.companies[v.upper()]

    def building_code(self, v: str) -> int | None:
        if not v:
            return None
        if v.upper() not in self.buildings:
            raise ValueError("is not a building code in this database (add the building first, or leave it empty)")
        return self.buildings[v.upper()]

    def preferred_delivery(self, v: str) -> str:
        v = v.lower() or "email"
        if v not in DELIVERY:
            raise ValueError("must be email, post or sms")
        return v

    def email(self, v: str) -> str | None:
        if not v:
            return None
        try:
            return validate_email(v, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(f"is not an email address: {exc}") from None

    def mobile(self, v: str) -> str | None:
        if not v:
            return None
        number = None
        if _PHONE_CHARS.match(v):  # no letters: phonenumbers would read 1800-FLOWERS as digits
            try:
                number = phonenumbers.parse(v, PHONE_REGION)
            except phonenumbers.NumberParseException:
                pass
        # the right length for its country; whether the range is in use is the SMS provider's word
        if number is None or not phonenumbers.is_possible_number(number):
            raise ValueError("is not a phone number (write it like 0412 345 678 or +61412345678)")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def sms_opt_in(self, v: str) -> bool:
        if v.lower() in _YES:
            return True
        if v.lower() in _NO:
            return False
        raise ValueError("must be yes or no")

    def _text(self, v: str) -> str | None:
        return v or None

    address_line1 = address_line2 = city = state = postcode = _text


def _header(fields: list[str] | None, report: ImportReport) -> list[str]:
    names = [(f or "").strip().lower() for f in (fields or [])]
    seen: set[str] = set()
    for name in names:
        if name not in COLUMNS:
            report.problems.append(RowProblem(1, name or "(blank)", name, "is not a column an import knows; the columns are "
                                              + ", ".join(COLUMNS)))
        elif name in seen:
            report.problems.append(RowProblem(1, name, name, "appears twice in the header"))
        seen.add(name)
    for name in REQUIRED:
        if name not in seen:
            report.problems.append(RowProblem(1, name, "", "is missing from the header (line 1); it is required"))
    report.header_ok = not report.problems
    return names


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, values) for each non-blank row."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, strict=True)
        line = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ValidationError(f"{path.name} is not a CSV file this can read: line {reader.line_num}: "
                                      f"{exc}.", "file") from None
            yield line, values
            line = reader.line_num + 1


@dataclass
class _Checked:
    report: ImportReport
    spool: object         # a temporary file of pickled chunks: [(line, values), ...]
    columns: list[str]    # the columns to write (from the header, codes turned into ids)


def _check(ctx: Context, path: Path, mode: ImportMode, strict: bool, dry_run: bool,
           progress: Progress | None) -> _Checked:
    path = Path(path).expanduser()
    total = max(_scan(path) - 1, 0)
    report = ImportReport(path=path, mode=mode, strict=strict, dry_run=dry_run)
    with ctx.db.connect() as con:
        checker = _Checker(import_store.lookups(con))
    rows = _rows(path)
    try:
        _, fields = next(rows)
    except StopIteration:
        raise ValidationError(f"{path.name} is empty: it needs a header line and customer rows.", "file") from None
    header = _header(fields, report)
    columns = [_CODE_TO_ID.get(c, c) for c in header]
    spool = tempfile.TemporaryFile()  # checked rows wait here, so a big file is never held in memory
    first_line: dict[str, int] = {}   # account -> the first line it is on
    repeated: dict[str, list[int]] = {}
    chunk: list[tuple[int, dict]] = []

    def flush() -> None:
        with ctx.db.connect() as con:
            there = import_store.existing_accounts(con, [v["account_no"] for _, v in chunk])
        for line, values in chunk:
            values["_existing"] = values["account_no"] in there
        pickle.dump(chunk, spool, protocol=pickle.HIGHEST_PROTOCOL)
        chunk.clear()

    try:
        for line, values in rows:
            if not any(v.strip() for v in values):
                continue  # a blank line (Excel leaves some at the end)
            report.rows += 1
            if not report.header_ok:
                continue
            if len(values) != len(header):
                report.problems.append(RowProblem(line, "", f"{len(values)} values",
                                                  f"has {len(values)} values but the header has {len(header)} "
                                                  "columns (a missing or extra comma?)"))
                continue
            out = checker.row(line, dict(zip(header, values)), report.problems)
            if out is None:
                continue
            account = out["account_no"]
            if account in first_line:
                repeated.setdefault(account, [first_line[account]]).append(line)
            else:
                first_line[account] = line
            chunk.append((line, out))
            if len(chunk) >= CHUNK:
                flush()
            if progress and report.rows % 5000 == 0:
                progress("checking", report.rows, max(total, report.rows))
        if chunk:
            flush()
        if not report.rows:
            raise ValidationError(f"{path.name} has a header but no customer rows.", "file")
    except BaseException:
        spool.close()
        raise
    for account, lines in repeated.items():
        for line in lines:
            others = ", ".join(str(x) for x in lines if x != line)
            report.problems.append(RowProblem(line, "account_no", account,
                                              f"is also on line {others}; keep one line per account"))
    report.problems.sort(key=lambda p: (p.line, COLUMNS.index(p.column) if p.column in COLUMNS else -1))
    spool.seek(0)
    bad = set(report.bad_lines)
    for part in _chunks(spool):  # what would happen, from the good rows only
        for line, values in part:
            if line not in bad:
                if values["_existing"]:
                    report.existing += 1
                else:
                    report.new += 1
    spool.seek(0)
    if progress:
        progress("checking", report.rows, report.rows)
    return _Checked(report, spool, columns)


def _chunks(spool) -> Iterator[list[tuple[int, dict]]]:
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


# -- the service actions -----------------------------------------------------------
def check_file(ctx: Context, user: User, path: Path | str, mode: ImportMode | str = ImportMode.ADD,
               progress: Progress | None = None) -> ImportReport:
    """The dry run: every problem a real import would refuse, and what it would add or update."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    checked = _check(ctx, Path(path), ImportMode(mode), strict=False, dry_run=True, progress=progress)
    checked.spool.close()
    return checked.report


def import_file(ctx: Context, user: User, path: Path | str, strict: bool = False,
                mode: ImportMode | str = ImportMode.ADD, progress: Progress | None = None) -> ImportReport:
    """Check the file, then write the good rows in chunked transactions (none if strict and any is bad)."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    mode = ImportMode(mode)
    checked = _check(ctx, Path(path), mode, strict=strict, dry_run=False, progress=progress)
    report, spool = checked.report, checked.spool
    try:
        if not report.header_ok or (strict and report.problems):
            return report
        bad = set(report.bad_lines)
        done = 0
        for part in _chunks(spool):
            good = [values for line, values in part if line not in bad]
            added, updated, skipped = ctx.db.run(lambda con, good=good: _write(con, good, checked.columns, mode))
            report.added += added
            report.updated += updated
            report.skipped += skipped
            done += len(part)
            if progress:
                progress("importing", done, report.rows)
        return report
    finally:
        spool.close()


def _write(con, good: list[dict], columns: list[str], mode: ImportMode) -> tuple[int, int, int]:
    # existence is asked again inside the transaction: someone may have added an account meanwhile
    there = import_store.existing_accounts(con, [v["account_no"] for v in good])
    new = [v for v in good if v["account_no"] not in there]
    old = [v for v in good if v["account_no"] in there]
    defaults = {"customer_type": "residential", "status": "active", "preferred_delivery": "email",
                "sms_opt_in": False}
    added = import_store.insert_many(con, {c: [v.get(c, defaults.get(c)) for v in new]
                                           for c in import_store.WRITE_COLUMNS})
    updated = 0
    if mode is ImportMode.UPDATE:
        updated = import_store.update_many(con, {c: [v[c] for v in old] for c in columns}, columns)
    return added, updated, 0 if mode is ImportMode.UPDATE else len(old)


# -- export ------------------------------------------------------------------------
def spreadsheet_safe(column: str, value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (see the module notes)."""
    if value.startswith(_FORMULA_START) and not (column == "mobile" and _E164.match(value)):
        return "'" + value
    return value


def _cell(column: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return spreadsheet_safe(column, str(value))


def export_customers(ctx: Context, user: User, flt: CustomerFilter, out: Path | str,
                     progress: Callable[[int], None] | None = None, page: int = 20_000) -> int:
    """Write the customers the filter finds to a CSV file, a page at a time; returns how many."""
    require(user, Permission.CUSTOMER_VIEW)
    out = Path(out).expanduser()
    if out.is_dir():
        raise ValidationError(f"{out} is a folder; give a file name such as customers.csv.", "out")
    if not out.parent.is_dir():
        raise ValidationError(f"The folder {out.parent} does not exist; create it or choose another.", "out")
    # written beside the target and renamed at the end: no half-written file is ever left behind
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    count, after = 0, None
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f, lineterminator="\r\n")
            writer.writerow(COLUMNS)
            while True:
                with ctx.db.connect() as con:  # one short open per page, so others are not kept waiting
                    rows = import_store.export_page(con, flt.text, after_account=after, limit=page,
                                                    **flt.as_kwargs())
                for row in rows:
                    writer.writerow([_cell(c, v) for c, v in zip(COLUMNS, row)])
                count += len(rows)
                if progress:
                    progress(count)
                if len(rows) < page:
                    break
                after = rows[-1][0]
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
