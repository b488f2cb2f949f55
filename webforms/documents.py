"""Documents uploaded through task forms, found in a case's data, listed and downloaded."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from flask import Response

from engine.bpmn import runtime
from engine.platform.models import Case

from . import uow
from .schema_form import UPLOAD_TYPES, file_name


@dataclass(frozen=True)
class Document:
    key: str  # a stable id for the download link: nothing personal in the URL
    field: str
    name: str
    data_url: str

    def content(self) -> tuple[str, bytes]:
        """The document's media type and bytes.

        Raises:
            ValueError: the stored value is not a base64 data URL.
        """
        header, _, payload = self.data_url.partition(",")
        if not header.startswith("data:") or not header.endswith(";base64"):
            raise ValueError("not a base64 data URL")
        try:
            return header[5:].split(";", 1)[0] or "application/octet-stream", base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise ValueError("not base64") from exc


def case_documents(case: Case) -> list[Document]:
    """Every uploaded document in the case's current data, once each, in field order."""
    workflow = runtime.load_workflow(case, uow.db())
    runtime.WORKFLOWS.put(case.id, case.state, workflow)  # only read: keep it for the next writer
    found: dict[str, Document] = {}
    for task in workflow.get_tasks():
        _collect(task.data, "", found)
    for subprocess in workflow.subprocesses.values():
        for task in subprocess.get_tasks():
            _collect(task.data, "", found)
    return sorted(found.values(), key=lambda d: (d.field, d.name))


def _collect(value: Any, path: str, found: dict[str, Document]) -> None:
    if isinstance(value, str):
        name = file_name(value) if value.startswith("data:") else ""
        if name and ("." + name.rsplit(".", 1)[-1].lower()) in UPLOAD_TYPES:
            key = hashlib.sha256(value.encode()).hexdigest()[:20]
            found.setdefault(key, Document(key, path, name, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _collect(v, f"{path}.{k}" if path else str(k), found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, path, found)


def attachment(content: bytes, mimetype: str, filename: str) -> Response:
    """A download, never shown as a page; a text type says its charset (UTF-8) once."""
    # `mimetype` makes Werkzeug add "; charset=utf-8" to text types; a type that already says its
    # charset goes in as the whole Content-Type, or the charset would be given twice.
    response = (Response(content, content_type=mimetype) if "charset=" in mimetype.lower()
                else Response(content, mimetype=mimetype))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
