"""Uploaded documents in a table of their own, out of the cases' stored state.

Until now an uploaded file lived in the workflow state as a base64 data URL. This creates the
`document` table and moves every such file out: of each case's stored state (task data, workflow
data, wherever it is) and of open drafts. The state then holds a reference (document id, SHA-256,
name, media type, size) and a draft the document's id, as new uploads do
(engine/platform/documents.py). The same bytes on one case are stored once. With DHR_DOCUMENTS_DIR
set, the bytes go to that folder, named by SHA-256, as they would at run time.

Who uploaded a file, and when, is taken from the audit event of the task completion that first
submitted it; without one, "migration" at the case's last update. Old audit events keep what they
hold: rewriting them would break the hash chain, whose point is that they cannot be rewritten.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

import engine.platform.models
from engine.platform.settings import documents_dir

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = engine.platform.models.UTCDateTime
MOVED_BY = "migration"
_DATA_URL = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*?);base64,", re.ASCII)
_SPECS = ("spec", "subprocess_specs", "spec_patch")  # diagrams, not data: left alone
_REFERENCE_KEYS = {"document_id", "sha256", "name", "media_type", "size"}
_TYPES = {".pdf": "application/pdf", ".doc": "application/msword",
          ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          ".odt": "application/vnd.oasis.opendocument.text", ".rtf": "application/rtf", ".txt": "text/plain"}



def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(120), nullable=False),
        sa.Column("uploaded_at", UTC(), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("field", sa.String(300), nullable=True),
        sa.Column("attached_at", UTC(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
    ]


# The tables as this migration knows them (never the models, which will change after it).
document = sa.Table("document", sa.MetaData(), *_columns())
_cases = sa.table("case_instance", sa.column("id", sa.Integer()), sa.column("state", sa.Text()),
                  sa.column("updated_at", UTC()))
_drafts = sa.table("task_draft", sa.column("task_id", sa.String()), sa.column("username", sa.String()),
                   sa.column("case_id", sa.Integer()), sa.column("values", sa.JSON()),
                   sa.column("saved_at", UTC()))
_audit = sa.table("audit_event", sa.column("id", sa.Integer()), sa.column("case_id", sa.Integer()),
                  sa.column("event_type", sa.String()), sa.column("actor", sa.String()),
                  sa.column("at", UTC()), sa.column("task_id", sa.String()), sa.column("details", sa.JSON()))


def upgrade() -> None:
    op.create_table("document", *_columns(), sa.ForeignKeyConstraint(["case_id"], ["case_instance.id"]),
                    sa.UniqueConstraint("case_id", "sha256", name="uq_document_case_sha256"))
    op.create_index("ix_document_case_id", "document", ["case_id"], unique=False)
    move_embedded_documents(op.get_bind())


def downgrade() -> None:
    put_documents_back(op.get_bind())
    op.drop_index("ix_document_case_id", table_name="document")
    op.drop_table("document")


# ---------------------------------------------------------------------------------------------
# Moving files out


class _Mover:
    """Stores the files of one case (once per content) and says what takes their place."""

    def __init__(self, connection: sa.Connection, case_id: int, updated_at: Any) -> None:
        self.connection, self.case_id, self.updated_at = connection, case_id, updated_at
        self.submitted = _first_submissions(connection, case_id)
        self.moved = 0

    def store(self, value: str, task_id: str | None, field: str, *, attached: bool,
              by: tuple[str, Any] | None = None) -> dict[str, Any] | None:
        """The reference for a data URL, its bytes stored; None for one that is not base64."""
        match = _DATA_URL.match(value)
        if match is None:
            return None
        try:
            content = base64.b64decode(value[match.end():], validate=True)
        except (binascii.Error, ValueError):
            return None
        named = re.search(r";name=([^;,]*)", match.group(2))
        name = re.sub(r"[^A-Za-z0-9._ -]", "_", named.group(1))[-120:] if named and named.group(1) else ""
        extension = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
        media_type = _TYPES.get(extension) or match.group(1) or "application/octet-stream"
        name = name or "document"
        digest = hashlib.sha256(content).hexdigest()
        row = self.connection.execute(sa.select(document.c.id, document.c.attached_at).where(
            document.c.case_id == self.case_id, document.c.sha256 == digest)).first()
        actor, at, first_task = self.submitted.get(value, (None, None, None))
        if by is not None and actor is None:
            actor, at = by
        if row is None:
            folder = documents_dir()
            if folder is not None:
                _write_file(folder, digest, content)
            document_id = self.connection.execute(document.insert().values(
                case_id=self.case_id, sha256=digest, name=name, media_type=media_type, size=len(content),
                uploaded_by=actor or MOVED_BY, uploaded_at=at or self.updated_at, task_id=first_task or task_id,
                field=field or None, attached_at=(at or self.updated_at) if attached else None,
                content=None if folder is not None else content,
            )).inserted_primary_key[0]  # type: ignore[index]
        else:
            document_id = row.id
            if attached and row.attached_at is None:
                self.connection.execute(document.update().where(document.c.id == row.id)
                                        .values(attached_at=at or self.updated_at))
        self.moved += 1
        return {"document_id": document_id, "sha256": digest, "name": name, "media_type": media_type,
                "size": len(content)}


def move_embedded_documents(connection: sa.Connection) -> int:
    """Move every data URL out of the cases' stored states and open drafts into the document table;
    return how many values were replaced."""
    moved = 0
    case_ids = [row.id for row in connection.execute(sa.select(_cases.c.id).order_by(_cases.c.id))]
    for case_id in case_ids:  # one at a time: a state can be large
        row = connection.execute(sa.select(_cases.c.state, _cases.c.updated_at).where(_cases.c.id == case_id)).one()
        mover = _Mover(connection, case_id, row.updated_at)
        if "base64," in row.state:
            state = json.loads(row.state)
            for key in sorted(state, key=lambda k: k not in ("tasks", "subprocesses")):  # tasks name their fields
                if key not in _SPECS:
                    state[key] = _replace(state[key], [key], mover)
            if mover.moved:
                connection.execute(_cases.update().where(_cases.c.id == case_id).values(state=json.dumps(state)))
        for draft in connection.execute(sa.select(_drafts).where(_drafts.c.case_id == case_id)).all():
            values = _replace_in_draft(draft.values, [], mover, draft)
            if values != draft.values:
                connection.execute(_drafts.update().where(_drafts.c.task_id == draft.task_id,
                                                          _drafts.c.username == draft.username)
                                   .values(values=values))
        moved += mover.moved
    return moved


def _replace(value: Any, path: list[str], mover: _Mover) -> Any:
    """`value` with each data URL in it replaced by its reference (the file stored)."""
    if isinstance(value, str):
        if not value.startswith("data:"):
            return value
        task_id, field = _where(path)
        return mover.store(value, task_id, field, attached=True) or value
    if isinstance(value, dict):
        return {k: _replace(v, [*path, str(k)], mover) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, [*path, str(i)], mover) for i, v in enumerate(value)]
    return value


def _where(path: list[str]) -> tuple[str | None, str]:
    """The task (the key after the nearest "tasks") and the field (the path in its data) of a value."""
    task_id = next((path[i + 1] for i in range(len(path) - 2, -1, -1) if path[i] == "tasks"), None)
    start = next((i + 1 for i, key in enumerate(path) if key in ("data", "updates")), len(path))
    return task_id, ".".join(path[start:])


def _replace_in_draft(value: Any, path: list[str], mover: _Mover, draft: Any) -> Any:
    """A draft's form state with its files held by document id (as a form shown again holds them)."""
    by = (draft.username, draft.saved_at)
    if isinstance(value, dict):
        if isinstance(value.get("data_url"), str) and value["data_url"].startswith("data:"):
            ref = mover.store(value["data_url"], draft.task_id, ".".join(path), attached=False, by=by)
            if ref is not None:
                return {"data_url": "", "kept": str(ref["document_id"]), "name": ref["name"], "error": ""}
        return {k: _replace_in_draft(v, [*path, str(k)], mover, draft) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_in_draft(v, [*path, str(i)], mover, draft) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith("data:"):
        return mover.store(value, draft.task_id, ".".join(path), attached=False, by=by) or value
    return value


def _first_submissions(connection: sa.Connection, case_id: int) -> dict[str, tuple[str, Any, str | None]]:
    """Each data URL a completed task of the case submitted: who, when and which task, the first time."""
    found: dict[str, tuple[str, Any, str | None]] = {}
    events = connection.execute(sa.select(_audit.c.actor, _audit.c.at, _audit.c.task_id, _audit.c.details)
                                .where(_audit.c.case_id == case_id, _audit.c.event_type == "TASK_COMPLETED")
                                .order_by(_audit.c.id))
    for event in events:
        changed = (event.details or {}).get("changed") or {}
        for pair in changed.values():
            new = pair[1] if isinstance(pair, list) and len(pair) == 2 else None
            for value in _strings(new):
                if value.startswith("data:"):
                    found.setdefault(value, (event.actor, event.at, event.task_id))
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _write_file(folder: Path, digest: str, content: bytes) -> None:
    target = folder / digest
    if target.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    os.replace(temporary, target)


# ---------------------------------------------------------------------------------------------
# Putting them back (downgrade)


def put_documents_back(connection: sa.Connection) -> None:
    """Put every referenced document back into the states and drafts as a data URL (the old format)."""
    for case_id in [row.id for row in connection.execute(sa.select(_cases.c.id).order_by(_cases.c.id))]:
        row = connection.execute(sa.select(_cases.c.state).where(_cases.c.id == case_id)).one()
        data_url = _DataUrls(connection, case_id)
        state = json.loads(row.state)
        embedded = {k: (v if k in _SPECS else _embed(v, data_url)) for k, v in state.items()}
        if embedded != state:
            connection.execute(_cases.update().where(_cases.c.id == case_id).values(state=json.dumps(embedded)))
        for draft in connection.execute(sa.select(_drafts).where(_drafts.c.case_id == case_id)).all():
            values = _embed_in_draft(draft.values, data_url)
            if values != draft.values:
                connection.execute(_drafts.update().where(_drafts.c.task_id == draft.task_id,
                                                          _drafts.c.username == draft.username)
                                   .values(values=values))


class _DataUrls:
    """A document of one case as the data URL the old format held."""

    def __init__(self, connection: sa.Connection, case_id: int) -> None:
        self.connection, self.case_id = connection, case_id

    def __call__(self, document_id: Any, name: str | None = None) -> str | None:
        found = self.connection.execute(sa.select(document).where(
            document.c.id == int(document_id), document.c.case_id == self.case_id)).first()
        if found is None:
            return None
        content = found.content
        if content is None:
            folder = documents_dir()
            content = (folder / found.sha256).read_bytes() if folder is not None else b""
        encoded = base64.b64encode(content).decode()
        return f"data:{found.media_type};name={name or found.name};base64,{encoded}"


def _embed(value: Any, data_url: Callable[..., str | None]) -> Any:
    if isinstance(value, dict):
        if set(value) == _REFERENCE_KEYS:
            return data_url(value["document_id"], value["name"]) or value
        return {k: _embed(v, data_url) for k, v in value.items()}
    if isinstance(value, list):
        return [_embed(v, data_url) for v in value]
    return value


def _embed_in_draft(value: Any, data_url: Callable[..., str | None]) -> Any:
    if isinstance(value, dict):
        if str(value.get("kept", "")).isdigit() and not value.get("data_url"):
            return {"data_url": data_url(value["kept"]) or "", "error": ""}
        return {k: _embed_in_draft(v, data_url) for k, v in value.items()}
    if isinstance(value, list):
        return [_embed_in_draft(v, data_url) for v in value]
    return _embed(value, data_url)
