"""Documents uploaded through task forms: held while a form is shown again, listed and downloaded.

The bytes live in the engine's document table (engine/platform/documents.py), never in a page or a
form: a form shown again names a file it keeps by its document id only.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort

from engine.bpmn import claims
from engine.platform import documents as stored
from engine.platform.errors import NotAllowed, NotFound
from engine.platform.models import Case

from . import schema_form, uow
from .auth import me


def hold(schema: dict[str, Any], state: dict[str, Any], task_id: str) -> dict[str, str]:
    """Store each new file in the form's state and check each kept one, so that the form (shown
    again, or saved as a draft) names files by document id only; return a message for each field
    whose file is refused or names no document of the task's case (such a field keeps nothing)."""
    uploads = schema_form.file_states(schema, state)
    values = {name: schema_form.file_value(upload) for name, upload in uploads}
    try:
        held, errors = claims.hold_uploads(uow.db(), task_id, {k: v for k, v in values.items() if v},
                                           user=me(), clock=uow.clock())
    except (NotAllowed, NotFound):  # the task closed meanwhile: the page says so when it is sent
        held, errors = {}, {}
    for name, upload in uploads:
        document = held.get(name)
        upload.update(data_url="", kept=str(document.id) if document else "", name=document.name if document else "")
        if upload.get("error"):  # refused by the form's own limits before it reached the engine
            errors.setdefault(name, upload["error"])
    return errors


def download(case: Case, document_id: int) -> Response:
    """A document of `case` as an attachment; 404 for an id that is not one of the case's."""
    found = stored.on_case(uow.db(), case.id, document_id)
    if found is None:
        abort(404)
    return attachment(stored.content_of(found), found.media_type, found.name)


def attachment(content: bytes, mimetype: str, filename: str) -> Response:
    """A download, never shown as a page; a text type says its charset (UTF-8) once."""
    # `mimetype` makes Werkzeug add "; charset=utf-8" to text types; a type that already says its
    # charset goes in as the whole Content-Type, or the charset would be given twice.
    response = (Response(content, content_type=mimetype) if "charset=" in mimetype.lower()
                else Response(content, mimetype=mimetype))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
