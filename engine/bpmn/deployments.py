"""The deployed process versions, as the process owners' pages and `dhr processes list` show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..platform.errors import NotFound
from ..platform.models import Case, ProcessFile, ProcessVersion


@dataclass(frozen=True)
class VersionRow:
    """A deployed version and the cases on it (without its files)."""

    id: int
    content_hash: str
    process_ids: list[Any]
    deployed_at: datetime
    deployed_by: str
    cases: int  # every case started on it
    open_cases: int  # those still running on it


def versions(session: Session) -> list[VersionRow]:
    """Every deployed version, newest first, with how many cases run (and ran) on it."""
    counts: dict[int, int] = {}
    running: dict[int, int] = {}
    for version_id, status, count in session.execute(
            select(Case.version_id, Case.status, func.count()).group_by(Case.version_id, Case.status)):
        counts[version_id] = counts.get(version_id, 0) + count
        if status == "open":
            running[version_id] = count
    query = select(ProcessVersion.id, ProcessVersion.content_hash, ProcessVersion.process_ids,
                   ProcessVersion.deployed_at, ProcessVersion.deployed_by).order_by(ProcessVersion.id.desc())
    return [VersionRow(v.id, v.content_hash, v.process_ids, v.deployed_at, v.deployed_by, counts.get(v.id, 0),
                       running.get(v.id, 0)) for v in session.execute(query)]


def previous_version_id(session: Session, version_id: int) -> int | None:
    """The version deployed just before `version_id` (to show what changed since), if any."""
    return session.scalar(select(func.max(ProcessVersion.id)).where(ProcessVersion.id < version_id))


_HASHES = "dhr.version_hashes"  # in session.info: (transaction, {version id: content hash})


def content_hashes(session: Session, *, wanted: int | None = None) -> dict[int, str]:
    """Every deployed version's content hash by id, read once per transaction (versions never change;
    read again if `wanted` is not among them: deployed since, by this transaction or another)."""
    transaction = session.get_transaction()
    cached = session.info.get(_HASHES)
    if cached is not None and cached[0] is transaction and (wanted is None or wanted in cached[1]):
        found: dict[int, str] = cached[1]
        return found
    rows = session.execute(select(ProcessVersion.id, ProcessVersion.content_hash))
    found = {row.id: row.content_hash for row in rows}
    session.info[_HASHES] = (transaction, found)
    return found


def forget_content_hashes(session: Session) -> None:
    """Read the versions again at the next `content_hashes` (this transaction deployed one)."""
    session.info.pop(_HASHES, None)


def version_files(session: Session, version_id: int) -> dict[str, str]:
    """A deployed version's files, path -> text.

    Raises:
        NotFound: no such version.
    """
    if session.get(ProcessVersion, version_id) is None:
        raise NotFound(f"process version {version_id} does not exist")
    return {f.path: f.content for f in session.scalars(select(ProcessFile).where(ProcessFile.version_id == version_id))}
