"""Uploaded documents: kept in a table of their own, once per case and content, never in a case's state.

A workflow's state is rewritten on every save, read by every case page and its changes hashed into
the audit trail, so the bytes of an upload must not live there. A task's data (and the audit event
of its completion) hold a small *reference* instead: the document's id, SHA-256, name, media type
and size. The same bytes uploaded twice on a case are stored once.

What a task form submits for a file field, by every door (the web form, `dhr tasks complete
--data`): a base64 data URL (`data:<type>;name=<name>;base64,<bytes>`) for a new document, or
`document:<id>` to keep a document already on the case. `take_uploads` turns both into references,
with the same limits on type and size for everyone.

This module is generic (a case's files, whatever the process): it lives in `engine/platform`,
below the BPMN runtime that calls it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .audit import AuditType, record
from .errors import DhrError, FormDataInvalid
from .models import Base
from .settings import documents_dir

# The documents a form accepts, by extension, and the media type each is stored and sent with.
UPLOAD_TYPES = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".rtf": "application/rtf",
    ".txt": "text/plain",
}
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
KEPT_PREFIX = "document:"
_DATA_URL = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*?);base64,", re.ASCII)
_REFERENCE_KEYS = {"document_id", "sha256", "name", "media_type", "size"}


class Document(Base):
    """An uploaded file of a case; its bytes here, or (DHR_DOCUMENTS_DIR) in a file named by SHA-256."""

    __tablename__ = "document"
    __table_args__ = (UniqueConstraint("case_id", "sha256", name="uq_document_case_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(120))
    uploaded_at: Mapped[datetime]
    task_id: Mapped[str | None] = mapped_column(String(36))  # the task whose form it was uploaded into
    field: Mapped[str | None] = mapped_column(String(300))  # that form's field, a dotted path
    # When a completed task's data first named it; None while it is only in a draft or in a form
    # shown again with its errors (the case page lists only documents with a time here).
    attached_at: Mapped[datetime | None]
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # None: in DHR_DOCUMENTS_DIR


class UploadRefused(DhrError):
    """An upload that is not a document the forms accept, or names no document of the case."""


# ---------------------------------------------------------------------------------------------
# What a form submits


@dataclass(frozen=True)
class Upload:
    """A new document, as submitted: its (safe) file name, media type and bytes."""

    name: str
    media_type: str
    content: bytes


def safe_name(filename: str) -> str:
    """A file name with nothing but letters, digits and `._ -`, at most 120 characters."""
    return re.sub(r"[^A-Za-z0-9._ -]", "_", filename)[-120:]


def upload_problem(filename: str, size: int) -> str | None:
    """Why a file of this name and size is not accepted (the forms' own messages), or None."""
    extension = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    if extension not in UPLOAD_TYPES:
        return "The selected file must be a PDF, Word, ODT, RTF or text document"
    if size > MAX_UPLOAD_BYTES:
        return f"The selected file must be smaller than {MAX_UPLOAD_BYTES // 1048576} MB"
    if size == 0:
        return "The selected file is empty"
    return None


def media_type_of(filename: str) -> str:
    return UPLOAD_TYPES.get("." + filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def is_data_url(value: Any) -> bool:
    return isinstance(value, str) and _DATA_URL.match(value) is not None


def parse_data_url(value: str) -> Upload:
    """Read a submitted data URL, held to the forms' limits on type and size.

    Its `name=` parameter gives the file name; without one, the media type must be one the forms
    accept and the name is made from it. The media type stored is the one of the name's extension.

    Raises:
        UploadRefused: not a base64 data URL, or not a document the forms accept.
    """
    match = _DATA_URL.match(value)
    if match is None:
        raise UploadRefused("The file must be given as a base64 data URL (data:<type>;name=<file>;base64,...)")
    header_type, params = match.group(1).lower(), match.group(2)
    named = re.search(r";name=([^;,]*)", params)
    name = safe_name(named.group(1)) if named and named.group(1) else ""
    if not name:
        extension = next((ext for ext, kind in UPLOAD_TYPES.items() if kind == header_type), "")
        name = f"document{extension}" if extension else ""
    payload = value[match.end():]
    if len(payload) > (MAX_UPLOAD_BYTES + 2) // 3 * 4 + 4:  # refused before it is decoded
        raise UploadRefused(upload_problem(name, MAX_UPLOAD_BYTES + 1) or "")
    try:
        content = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UploadRefused("The file's data URL is not valid base64") from exc
    problem = upload_problem(name, len(content))
    if problem:
        raise UploadRefused(problem)
    return Upload(name, media_type_of(name), content)


def kept_id(value: Any) -> int | None:
    """The document id in a `document:<id>` value, or None if the value is not one."""
    if isinstance(value, str) and value.startswith(KEPT_PREFIX) and value[len(KEPT_PREFIX):].isdigit():
        return int(value[len(KEPT_PREFIX):])
    return None


# ---------------------------------------------------------------------------------------------
# References: what task data and the audit trail hold


def reference(document: Document, name: str | None = None) -> dict[str, Any]:
    """The small value task data holds for a document (never its bytes)."""
    return {"document_id": document.id, "sha256": document.sha256, "name": name or document.name,
            "media_type": document.media_type, "size": document.size}


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == _REFERENCE_KEYS


# ---------------------------------------------------------------------------------------------
# Storing and reading


def store(session: Session, case_id: int, upload: Upload, *, uploaded_by: str, at: datetime,
          task_id: str | None = None, field: str | None = None, attach: bool = False) -> Document:
    """Store an upload on a case, once per content: the same bytes again give the stored document.

    `attach`: a completed task's data names it (so the case page lists it). A new document is
    audited (DOCUMENT_UPLOADED, with its reference).
    """
    digest = hashlib.sha256(upload.content).hexdigest()
    found = _on_case_by_hash(session, case_id, digest)
    if found is None:
        folder = documents_dir()
        if folder is not None:
            _write_file(folder, digest, upload.content)
        document = Document(case_id=case_id, sha256=digest, name=upload.name, media_type=upload.media_type,
                            size=len(upload.content), uploaded_by=uploaded_by, uploaded_at=at, task_id=task_id,
                            field=field, attached_at=at if attach else None,
                            content=None if folder is not None else upload.content)
        try:
            with session.begin_nested():  # another writer may store the same bytes on the case first
                session.add(document)
        except IntegrityError:
            found = _on_case_by_hash(session, case_id, digest)
            if found is None:
                raise
        else:
            record(session, AuditType.DOCUMENT_UPLOADED, actor=uploaded_by, at=at, case_id=case_id,
                   task_id=task_id, details={"field": field, "document": reference(document)})
            return document
    if attach and found.attached_at is None:
        found.attached_at = at
    return found


def _on_case_by_hash(session: Session, case_id: int, digest: str) -> Document | None:
    return session.scalars(select(Document).where(Document.case_id == case_id, Document.sha256 == digest)).first()


def _write_file(folder: Path, digest: str, content: bytes) -> None:
    """Write the bytes to `folder/<sha256>` (whole or not at all); content-addressed, so an existing
    file is already right and a file left by a rolled-back unit of work does no harm."""
    target = folder / digest
    if target.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def content_of(document: Document) -> bytes:
    """The document's bytes, from the table or from DHR_DOCUMENTS_DIR, checked against its SHA-256.

    Raises:
        DhrError: the file is missing or its bytes are not the ones stored (a fault of the file store).
    """
    content = document.content
    if content is None:
        folder = documents_dir()
        if folder is None:
            raise DhrError(f"document {document.id} is in a folder, but DHR_DOCUMENTS_DIR is not set")
        try:
            content = (folder / document.sha256).read_bytes()
        except FileNotFoundError as exc:
            raise DhrError(f"document {document.id} is missing from DHR_DOCUMENTS_DIR") from exc
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise DhrError(f"document {document.id} does not match its SHA-256: the stored file was changed")
    return content


def on_case(session: Session, case_id: int, document_id: int) -> Document | None:
    """The document, if it is one of this case's (so an id from elsewhere names nothing)."""
    document = session.get(Document, document_id)
    return document if document is not None and document.case_id == case_id else None


def for_case(session: Session, case_id: int) -> list[Document]:
    """The documents completed tasks of the case have named, oldest first (their bytes not read)."""
    return list(session.scalars(select(Document).where(Document.case_id == case_id,
                                                       Document.attached_at.is_not(None))
                                .order_by(Document.uploaded_at, Document.id)))


# ---------------------------------------------------------------------------------------------
# A task's submitted data


def file_values(schema: dict[str, Any], data: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Each file field (`format: data-url`) given in `data`: its dotted path (as form errors name
    fields), the dict or list holding it and its key there; into objects and arrays of them."""
    if not isinstance(data, dict):
        return
    for key, node in (schema.get("properties") or {}).items():
        if key not in data:
            continue
        path, value = prefix + key, data[key]
        if node.get("format") == "data-url":
            yield path, data, key
        elif node.get("type") == "object" or "properties" in node:
            yield from file_values(node, value, f"{path}.")
        elif node.get("type") == "array" and isinstance(value, list):
            items = node.get("items") or {}
            for index, item in enumerate(value):
                if items.get("format") == "data-url":
                    yield f"{path}.{index}", value, index
                else:
                    yield from file_values(items, item, f"{path}.{index}.")


def resolve(session: Session, case_id: int, value: Any) -> Upload | Document:
    """What a file field's submitted value names: a new upload, or a document already on the case.

    Raises:
        UploadRefused: a value that is neither (a kept id of another case's document, say).
    """
    if is_data_url(value):
        return parse_data_url(value)
    document_id = kept_id(value)
    document = on_case(session, case_id, document_id) if document_id is not None else None
    if document is None:
        raise UploadRefused("The file uploaded before could not be found on this case: choose the file again")
    return document


def take_uploads(session: Session, case_id: int, schema: dict[str, Any] | None, data: dict[str, Any], *,
                 uploaded_by: str, at: datetime, task_id: str) -> dict[str, Any]:
    """Store the files a task's data submits and put references in their place; all or nothing.

    Raises:
        FormDataInvalid: a field's file is refused (type, size, not base64, a document not on the case).
    """
    data = copy.deepcopy(data)  # the caller's copy keeps what was typed (strings are shared, not copied)
    fields = list(file_values(schema or {}, data))
    found: dict[str, Upload | Document] = {}
    errors: dict[str, str] = {}
    for path, holder, key in fields:
        try:
            found[path] = resolve(session, case_id, holder[key])
        except UploadRefused as exc:
            errors[path] = exc.message
    if errors:
        raise FormDataInvalid(errors)
    for path, holder, key in fields:
        named = found[path]
        if isinstance(named, Upload):
            document = store(session, case_id, named, uploaded_by=uploaded_by, at=at, task_id=task_id, field=path,
                             attach=True)
            holder[key] = reference(document, named.name)
        else:
            if named.attached_at is None:
                named.attached_at = at
            holder[key] = reference(named)
    return data
