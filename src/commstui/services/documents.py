"""Quotes and invoices: list a customer's, print one as a PDF, and email it as a PDF
attachment to a checklist of recipients (seed 002).

The checklist is the customer's primary email first, then the contacts of the
document's service address who currently receive email (the address's "additional
communication" toggle is on). The operator may untick any of them and add one-off
addresses; those go with this email only and are never saved on the account.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from ..config import data_dir
from ..delivery import rendering
from ..delivery.document_pdf import DocumentParty, file_name, make_document_pdf
from ..delivery.email import new_message_id
from ..domain import Customer, Document, Message, Permission, User
from ..store import batches as batches_store
from ..store import customers as customers_store
from ..store import documents as store
from ..store import mail_servers as mail_store
from ..store import messages as messages_store
from ..store import notes as notes_store
from ..store import templates as templates_store
from .bulk import office_letterhead
from .context import Context, require
from .errors import NoMailServer, ValidationError
from .templates import office_today

PRIMARY, ADDRESS_CONTACT, EXTRA = "primary", "address_contact", "extra"
MAX_EXTRA = 20  # one-off addresses on one email: more is a mailing list, not a quote


@dataclass(frozen=True)
class DocumentRecipient:
    """One line of the email checklist."""

    email: str
    label: str     # "Primary email — Olivia Bennett", "Address contact — Daniel (12 Harbour St)"
    kind: str      # primary | address_contact | extra


@dataclass(frozen=True)
class DocumentView:
    """A document with what the screens show around it."""

    document: Document
    customer_name: str
    account_no: str
    address: str | None     # the service address, one line


def list_documents(ctx: Context, user: User, customer_id: int) -> list[Document]:
    """The customer's quotes and invoices, newest first."""
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        customers_store.get(con, customer_id)
        return store.for_customer(con, customer_id)


def get_document(ctx: Context, user: User, document_id: int) -> DocumentView:
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        document = store.get(con, document_id)
        customer = customers_store.get(con, document.customer_id)
        return DocumentView(document, customer.name, customer.account_no, store.address_line(con, document.address_id))


def _recipients(con, document: Document, customer: Customer) -> list[DocumentRecipient]:
    found: list[DocumentRecipient] = []
    seen: set[str] = set()

    def add(email: str | None, label: str, kind: str) -> None:
        email = (email or "").strip()
        if email and email.casefold() not in seen:
            seen.add(email.casefold())
            found.append(DocumentRecipient(email, label, kind))

    add(customer.email, f"Primary email — {customer.name}", PRIMARY)
    if document.address_id is not None:
        for name, email, street in store.receiving_contacts(con, document.address_id):
            add(email, f"Address contact — {name or email}" + (f" ({street})" if street else ""), ADDRESS_CONTACT)
    return found


def recipients(ctx: Context, user: User, document_id: int) -> list[DocumentRecipient]:
    """The email checklist: the primary email first, then the service address's receiving
    contacts; duplicates (ignoring case) appear once."""
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        document = store.get(con, document_id)
        return _recipients(con, document, customers_store.get(con, document.customer_id))


def check_address(text: str, field: str = "extra") -> str:
    """One email address, validated; the normalised address or a ValidationError naming it."""
    address = (text or "").strip()
    if "\r" in address or "\n" in address:
        raise ValidationError(f"{address.splitlines()[0] if address.splitlines() else 'The address'!r} "
                              "contains a line break; type one address on one line.", field)
    if not address:
        raise ValidationError("Type an email address first.", field)
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(f"{address!r} is not a valid email address: {exc}", field) from None


def _party(con, document: Document, customer: Customer) -> DocumentParty:
    address = store.address_line(con, document.address_id)
    lines = (address,) if address else customer.address_lines
    return DocumentParty(customer.name, customer.account_no, tuple(line for line in lines if line))


def _pdf(con, document: Document, customer: Customer) -> tuple[bytes, int]:
    return make_document_pdf(document, _party(con, document, customer), office_letterhead(con))


def write_pdf(ctx: Context, user: User, document_id: int, out_dir: Path | None = None) -> Path:
    """The document's PDF, written to a file for the operator to open or print."""
    require(user, Permission.CUSTOMER_VIEW)
    with ctx.db.connect() as con:
        document = store.get(con, document_id)
        pdf, _pages = _pdf(con, document, customers_store.get(con, document.customer_id))
    out_dir = Path(out_dir) if out_dir else data_dir() / "previews"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name(document)
    path.write_bytes(pdf)
    return path


def _body(con, user: User, document: Document, customer: Customer, office: str) -> tuple[str, bool]:
    """The sample "Quote"/"Invoice" template's body, merged in the sandbox; else a plain default."""
    template = templates_store.find_by_name(con, document.kind.label)
    if template is not None and template.supports("email"):
        row = templates_store.merge_row(con, customer_id=customer.id)
        row.update(recipient_name=customer.name, recipient_kind="customer", recipient_email=customer.email,
                   recipient_mobile=customer.mobile, sender_name=user.display_name,
                   sender_email=user.email or "", today=office_today(con))
        parts = {"text_body": template.text_body, "html_body": template.html_body}
        try:
            rendered = rendering.compile_parts(parts).render(rendering.context_for(row))
        except (rendering.TemplateError, rendering.RenderError) as exc:
            raise ValidationError(f"Template {template.name!r}: {exc}. Fix the template, or rename it to "
                                  "send the plain default text.", "template") from None
        if template.html_body.strip():
            return rendered["html_body"], True
        return rendered["text_body"], False
    kind = document.kind.label.lower()
    return (f"Dear {customer.name},\n\nPlease find attached {kind} {document.number} for account "
            f"{customer.account_no}.\n\nIf you have any questions, simply reply to this email.\n\n"
            f"Kind regards,\n{user.display_name}\n{office}\n"), False


def _chosen(known: list[DocumentRecipient], to: list[str], extra: list[str]) -> tuple[list[str], list[str]]:
    """(ticked addresses, one-off addresses), validated and without repeats (ignoring case)."""
    by_key = {r.email.casefold(): r.email for r in known}
    seen: set[str] = set()
    ticked: list[str] = []
    for raw in to:
        address = check_address(raw, "to")
        key = address.casefold()
        if key not in by_key:
            raise ValidationError(f"{address} is not on this document's recipient list; add it with "
                                  "Add email as a one-off address.", "to")
        if key not in seen:
            seen.add(key)
            ticked.append(by_key[key])
    if len(extra) > MAX_EXTRA:
        raise ValidationError(f"At most {MAX_EXTRA} one-off addresses can be added to one email.", "extra")
    once: list[str] = []
    for raw in extra:
        address = check_address(raw, "extra")
        if address.casefold() not in seen:
            seen.add(address.casefold())
            once.append(address)
    if not ticked and not once:
        raise ValidationError("Tick at least one recipient, or add an email address.", "to")
    return ticked, once


def email_document(ctx: Context, user: User, document_id: int, to: list[str],
                   extra: list[str] | None = None) -> Message:
    """Queue one email with the document's PDF attached to the ticked recipients (`to`,
    from the checklist) and one-off addresses (`extra`, never saved on the account), and
    note it on the account. Returns the queued message."""
    require(user, Permission.CUSTOMER_VIEW, Permission.CUSTOMER_EDIT)
    extra = list(extra or [])
    with ctx.db.connect() as con:   # the PDF is made outside the write transaction
        document = store.get(con, document_id)
        customer = customers_store.get(con, document.customer_id)
        ticked, once = _chosen(_recipients(con, document, customer), list(to), extra)
        office = office_letterhead(con).name
        body, is_html = _body(con, user, document, customer, office)
        pdf, pages = _pdf(con, document, customer)
    subject = f"{document.kind.label} {document.number} from {office}"
    name = file_name(document)

    def queue(con) -> Message:
        server = mail_store.active(con)
        if server is None:
            raise NoMailServer("No active mail server is configured: the email cannot be sent yet. "
                               "Ask an administrator to set one up (Mail settings).")
        mid = messages_store.insert(con, message_id=new_message_id(server.from_addr), customer_id=customer.id,
                                    to_addrs=ticked + once, subject=subject, body=body, is_html=is_html,
                                    created_by=user.username)
        attachment = batches_store.add_attachment(con, filename=name, content=pdf,
                                                  sha256=hashlib.sha256(pdf).hexdigest(), pages=pages,
                                                  created_by=user.username)
        batches_store.set_attachment(con, mid, attachment)
        note = f"{document.kind.label} {document.number} emailed as {name} by {user.username}"
        note += f" to {', '.join(ticked)}" if ticked else ""
        note += f"{'; and' if ticked else ' to'} one-off (not saved): {', '.join(once)}" if once else ""
        notes_store.add(con, customer.id, user.username, note + ".")
        return messages_store.get(con, mid)

    return ctx.db.run(queue)
