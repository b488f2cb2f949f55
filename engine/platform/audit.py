"""The append-only audit trail, chained by keyed hashes so that an edited or deleted row shows.

Each event's hash is an HMAC-SHA256, under a key kept outside the database (DHR_AUDIT_KEY), of its
content and the hash of the event before it. Someone who can write the database but does not hold the
key cannot recompute the chain after changing an event. Someone who holds both could, so the head is
also written down elsewhere from time to time (`dhr audit anchor`): `verify(anchor=...)` then proves
that nothing up to the anchored event changed, whoever holds the key.

Confidential form values are never stored here; `seal_value` gives the keyed hash that is stored
instead, with which an auditor who holds the key can confirm what a value was.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import exists, literal, select, update
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from .db import unit_of_work
from .errors import DhrError, FormDataInvalid
from .models import AuditEvent, AuditHead, CaseView
from .settings import audit_key

GENESIS = "0" * 64
_NEW = "dhr.audit.new"  # in session.info: events recorded, for take_new
_PENDING = "dhr.audit.pending"  # in session.info: (event, savepoint) recorded, not chained yet
_VIEWS = "dhr.audit.views"  # in session.info: case views recorded, written at commit
_SEAL_DUE = "dhr.audit.seal_due"  # in session.info: (transaction, when): views wait to be sealed
SEAL_AFTER = timedelta(minutes=1)  # a chained write seals the case views that waited longer
SEAL_BATCH = 10_000  # the most case views one seal covers
EDITED = "was changed after it was written"
SEALED = "confidential"  # the key of the marker that stands for a confidential value: {"confidential": HMAC}


class AuditType(enum.StrEnum):
    PROCESS_DEPLOYED = "PROCESS_DEPLOYED"
    CASE_STARTED = "CASE_STARTED"
    CASE_COMPLETED = "CASE_COMPLETED"
    CASE_STALLED = "CASE_STALLED"
    CASE_RESUMED = "CASE_RESUMED"
    CASE_RETRIED = "CASE_RETRIED"
    CASE_UPGRADED = "CASE_UPGRADED"
    CASE_MIGRATED = "CASE_MIGRATED"
    TASK_CREATED = "TASK_CREATED"
    TASK_COMPLETED = "TASK_COMPLETED"
    TASK_CANCELLED = "TASK_CANCELLED"
    TASK_CLAIMED = "TASK_CLAIMED"
    TASK_RELEASED = "TASK_RELEASED"
    TIMER_SET = "TIMER_SET"
    TIMER_RESCHEDULED = "TIMER_RESCHEDULED"
    TIMER_FIRED = "TIMER_FIRED"
    TIMER_CANCELLED = "TIMER_CANCELLED"
    TIMER_FAILED = "TIMER_FAILED"
    TIMER_STUCK = "TIMER_STUCK"
    TIMER_RETRIED = "TIMER_RETRIED"
    MESSAGE_RECEIVED = "MESSAGE_RECEIVED"
    USER_ADDED = "USER_ADDED"
    USER_CHANGED = "USER_CHANGED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    SESSIONS_ENDED = "SESSIONS_ENDED"
    SECOND_FACTOR_ENROLLED = "SECOND_FACTOR_ENROLLED"
    SECOND_FACTOR_RESET = "SECOND_FACTOR_RESET"
    RECOVERY_CODE_USED = "RECOVERY_CODE_USED"
    AGENCY_ADDED = "AGENCY_ADDED"
    MEMBER_ADDED = "MEMBER_ADDED"
    MEMBER_REMOVED = "MEMBER_REMOVED"
    CASE_VIEWED = "CASE_VIEWED"
    CLOCK_CHANGED = "CLOCK_CHANGED"
    RECOMMENDATION_ADDED = "RECOMMENDATION_ADDED"
    RECOMMENDATION_REVISED = "RECOMMENDATION_REVISED"
    RECOMMENDATION_REQUESTED = "RECOMMENDATION_REQUESTED"
    RECOMMENDATION_UPDATED = "RECOMMENDATION_UPDATED"
    RECOMMENDATION_WITHDRAWN = "RECOMMENDATION_WITHDRAWN"
    UPDATES_REQUESTED = "UPDATES_REQUESTED"
    MEETING_RECORDED = "MEETING_RECORDED"
    COST_ADDED = "COST_ADDED"
    COST_REMOVED = "COST_REMOVED"
    BUDGET_SET = "BUDGET_SET"
    DOCUMENT_UPLOADED = "DOCUMENT_UPLOADED"
    CONFIDENTIAL_VIEWED = "CONFIDENTIAL_VIEWED"
    AUDIT_REDACTED = "AUDIT_REDACTED"
    AUDIT_RESEALED = "AUDIT_RESEALED"
    VIEWS_SEALED = "VIEWS_SEALED"


def _plain(value: Any) -> Any:
    """Return `value` as JSON would give it back, so the stored row hashes as it was hashed."""
    return json.loads(json.dumps(value, default=str))


@lru_cache(maxsize=4)
def _keys(raw: bytes) -> tuple[bytes, bytes]:
    """Two keys derived from DHR_AUDIT_KEY: one chains events, one seals confidential values, so a
    value's seal can never pass for an event's hash or the other way round."""
    return (hmac.new(raw, b"dhr audit chain v1", hashlib.sha256).digest(),
            hmac.new(raw, b"dhr confidential value v1", hashlib.sha256).digest())


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def seal_value(case_id: int | None, field: str, value: Any) -> str:
    """The keyed hash kept in place of a confidential value: HMAC-SHA256 of the case, the field (its
    dotted path in the form, `*` for each item of a list) and the value, as canonical JSON."""
    return hmac.new(_keys(audit_key())[1], _canonical([case_id, field, value]), hashlib.sha256).hexdigest()


def sealed(value: Any) -> bool:
    """Whether a stored value is the marker of a confidential one."""
    return isinstance(value, dict) and set(value) == {SEALED}


def readable(value: Any, shown: str = "(confidential)") -> Any:
    """`value` (an event's details) with each confidential value's marker shown as `shown`, for people."""
    if sealed(value):
        return shown
    if isinstance(value, dict):
        return {k: readable(v, shown) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v, shown) for v in value]
    return value


def content(event: AuditEvent) -> dict[str, Any]:
    """What an event's hash covers: every column but the hashes."""
    return {"id": event.id, "at": event.at, "actor": event.actor, "type": event.event_type,
            "case": event.case_id, "task": event.task_id, "task_name": event.task_name, "details": event.details}


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """HMAC-SHA256, under the audit key, of the previous event's hash and this event's `content`."""
    return hmac.new(_keys(audit_key())[0], prev_hash.encode() + _body(fields), hashlib.sha256).hexdigest()


def unkeyed_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The plain SHA-256 the first releases chained with (anyone could recompute it): used only to
    check such a trail before it is sealed under the key."""
    return hashlib.sha256(prev_hash.encode() + _body(fields)).hexdigest()


def _body(fields: dict[str, Any]) -> bytes:
    return _canonical({**fields, "at": fields["at"].isoformat()})


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    return chain_hash(prev_hash, content(event))


def record(
    session: Session,
    event_type: AuditType,
    *,
    actor: str,
    at: datetime,
    case_id: int | None = None,
    task_id: str | None = None,
    task_name: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain (inside the caller's transaction).

    The event is chained when the transaction commits (`chain`, from the session's before-commit
    hook): only then is the head locked, the events of the unit of work numbered and hashed after
    it, and written. So a unit of work holds the chain's lock for the moment of its commit, not for
    its whole length, and the chain's order is the order of commit. Until then the event has no id.
    """
    event = AuditEvent(at=at, actor=actor, event_type=event_type.value, case_id=case_id, task_id=task_id,
                       task_name=task_name, details=_plain(details or {}), prev_hash="", hash="")
    recorded_in = session.get_nested_transaction()  # a savepoint rolled back forgets what was recorded in it
    session.info.setdefault(_PENDING, []).append((event, recorded_in))
    session.info.setdefault(_NEW, []).append(event)
    return event


def chain(session: Session) -> None:
    """Number and hash, after the chain's head, the events recorded in this transaction and not
    chained yet, and add them to the session. The commit does this; call it earlier only where an
    event's id is needed before the commit: the transaction then holds the chain's lock until it ends.
    """
    pending: list[tuple[AuditEvent, SessionTransaction | None]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    events = [event for event, _ in pending]
    head = _locked_head(session, now=max(e.at for e in events))
    for event in events:
        event.id, event.prev_hash = head.last_id + 1, head.last_hash
        event.hash = event_hash(head.last_hash, event)
        head.last_id, head.last_hash = event.id, event.hash
    session.add_all(events)


@sa_event.listens_for(Session, "before_commit")
def _at_commit(session: Session) -> None:
    """Write what this transaction logged: its case views, then its events, chained; and seal the
    waiting views if the lock's statement found them due. Nothing when only a savepoint is released.

    (Session.commit() releases any open savepoint first, so this runs once more for the transaction
    itself, with no savepoint open.)
    """
    if session.in_nested_transaction():
        return
    session.add_all(session.info.pop(_VIEWS, []))
    if session.info.get(_PENDING):
        session.flush()  # the rest first: a wait for another writer's rows is over before the chain is locked
    chain(session)
    due = session.info.pop(_SEAL_DUE, None)
    if due is not None and due[0] is session.get_transaction():
        seal_views(session, at=due[1], actor="system")


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, previous: SessionTransaction) -> None:
    """Events recorded in a transaction (or a savepoint) that was rolled back were never written:
    forget them."""
    if previous.parent is None:
        for key in (_PENDING, _NEW, _VIEWS, _SEAL_DUE):
            session.info.pop(key, None)
        return
    if not previous.nested or not session.info.get(_PENDING):
        return
    undone = {id(event) for event, recorded_in in session.info[_PENDING] if _within(recorded_in, previous)}
    if undone:
        session.info[_PENDING] = [(e, t) for e, t in session.info[_PENDING] if id(e) not in undone]
        session.info[_NEW] = [e for e in session.info.get(_NEW, []) if id(e) not in undone]


def _within(transaction: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    """Whether `transaction` is `savepoint` or a savepoint begun inside it."""
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


def take_new(session: Session) -> list[AuditEvent]:
    """Return the events recorded in this session since the last call, and forget them (they are
    chained, and get their ids, when the transaction commits)."""
    return list(session.info.pop(_NEW, []))


def _locked_head(session: Session, now: datetime | None = None) -> AuditHead:
    """The chain's head, locked once per transaction: concurrent writers queue here, never fork it.

    With `now`, the same statement asks whether case views have waited longer than SEAL_AFTER to
    be sealed; if so, this transaction seals them before it commits (it holds the lock already).
    """
    transaction = session.get_transaction()
    cached = session.info.get("audit_head")
    if cached is not None and cached[0] is transaction:
        return cached[1]
    waiting = (literal(False) if now is None else
               exists().where(CaseView.sealed_in.is_(None), CaseView.at <= now - SEAL_AFTER))
    head, seal_due = session.execute(
        select(AuditHead, waiting.label("seal_due")).where(AuditHead.id == 1)
        .with_for_update(of=AuditHead).execution_options(populate_existing=True)).one()
    if seal_due and now is not None:
        session.info[_SEAL_DUE] = (transaction, now)
    session.info["audit_head"] = (transaction, head)
    return head


# ---------------------------------------------------------------------------------------------
# Case views: a log of their own, sealed into the chain in batches


def record_view(session: Session, *, case_id: int, actor: str, role: str, page: str, at: datetime) -> None:
    """Log a read of a case's pages, written when the transaction commits (after the page's reads)
    and without the chain's lock: a page never waits for a writer's unit of work to log its view."""
    view = CaseView(at=at, actor=actor, case_id=case_id, page=page[:200], role=role, hash="", sealed_in=None)
    view.hash = view_hash(view)
    session.info.setdefault(_VIEWS, []).append(view)


def view_hash(view: CaseView) -> str:
    """HMAC-SHA256, under the audit key, of what a case view says (so an edit shows without the key)."""
    body = _canonical({"at": view.at.isoformat(), "actor": view.actor, "case": view.case_id, "page": view.page,
                       "role": view.role})
    return hmac.new(_keys(audit_key())[0], b"case view\x00" + body, hashlib.sha256).hexdigest()


class _ViewsDigest:
    """The keyed digest a seal keeps of the views it covers: their ids and hashes, in id order."""

    def __init__(self) -> None:
        self.count = 0
        self._mac = hmac.new(_keys(audit_key())[0], b"case views\x00", hashlib.sha256)

    def add(self, view_id: int, digest: str) -> None:
        self.count += 1
        self._mac.update(f"{view_id}:{digest};".encode())

    def hexdigest(self) -> str:
        return self._mac.hexdigest()


def seal_all_views(sessions: sessionmaker[Session], *, at: datetime, actor: str) -> int:
    """Seal every view waiting to be sealed, a batch per transaction (`dhr audit seal`, and the
    scheduler every sweep); no transaction at all when none waits. Return how many."""
    total = 0
    while True:
        with sessions() as probe:
            if probe.scalar(select(CaseView.id).where(CaseView.sealed_in.is_(None)).limit(1)) is None:
                return total
        with unit_of_work(sessions) as session:
            sealed = seal_views(session, at=at, actor=actor)
        total += sealed
        if sealed < SEAL_BATCH:
            return total


def seal_views(session: Session, *, at: datetime, actor: str, limit: int = SEAL_BATCH) -> int:
    """Seal the case views not sealed yet (oldest first, at most `limit`) into the chain: one
    VIEWS_SEALED event keeps how many and their keyed digest, and each view names it. Return how
    many. From then on `verify` finds any of them changed or deleted."""
    _locked_head(session)  # sealers queue here, so no view is sealed twice
    views = session.scalars(select(CaseView).where(CaseView.sealed_in.is_(None)).order_by(CaseView.id)
                            .limit(limit)).all()
    if not views:
        return 0
    digest = _ViewsDigest()
    for view in views:
        digest.add(view.id, view.hash)
    event = record(session, AuditType.VIEWS_SEALED, actor=actor, at=at,
                   details={"views": digest.count, "first": views[0].id, "last": views[-1].id,
                            "digest": digest.hexdigest()})
    chain(session)  # its id, which each view names (this transaction holds the chain's lock already)
    session.flush()
    session.execute(update(CaseView).where(CaseView.id.in_([v.id for v in views])).values(sealed_in=event.id)
                    .execution_options(synchronize_session=False))
    return len(views)


def _verify_views(session: Session, seals: dict[int, tuple[int, str]], batch: int) -> list[ChainProblem]:
    """Check every case view's own hash, and that each seal still covers exactly the views it sealed."""
    problems: list[ChainProblem] = []
    found: dict[int, _ViewsDigest] = {}
    last_id = 0
    while True:
        rows = session.execute(select(CaseView.id, CaseView.at, CaseView.actor, CaseView.case_id, CaseView.page,
                                      CaseView.role, CaseView.hash, CaseView.sealed_in)
                               .where(CaseView.id > last_id).order_by(CaseView.id).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            view = CaseView(at=row.at, actor=row.actor, case_id=row.case_id, page=row.page, role=row.role)
            if not hmac.compare_digest(view_hash(view), row.hash):
                problems.append(ChainProblem(row.id, EDITED, "case view"))
            if row.sealed_in is not None:
                found.setdefault(row.sealed_in, _ViewsDigest()).add(row.id, row.hash)
            last_id = row.id
    for event_id, (count, digest) in seals.items():
        there = found.pop(event_id, None)
        if there is None or there.count != count or not hmac.compare_digest(there.hexdigest(), digest):
            problems.append(ChainProblem(event_id, f"the case views it sealed were changed or deleted since ({count} "
                                                   f"sealed, {there.count if there else 0} there now)"))
    for event_id in found:
        problems.append(ChainProblem(event_id, "case views name it as their seal, but it sealed no such views"))
    return problems


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    message: str
    what: str = "event"  # or "case view": then `event_id` is the view's id

    def __str__(self) -> str:
        return f"{self.what} {self.event_id}: {self.message}"


@dataclass(frozen=True)
class Anchor:
    """An event's id and hash, written down outside the database (`dhr audit anchor`)."""

    event_id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.event_id}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """Read 'ID:HASH', as `dhr audit anchor` prints it.

        Raises:
            DhrError: it is not an event id, a colon and 64 hexadecimal digits.
        """
        event_id, _, digest = text.strip().partition(":")
        if not event_id.isdigit() or int(event_id) < 1 or len(digest) != 64 or not _is_hex(digest):
            raise DhrError(f"'{text}' is not an anchor: write it as 'ID:HASH', as 'dhr audit anchor' prints it "
                           "(an event number, a colon and 64 hexadecimal digits)")
        return cls(int(event_id), digest.lower())


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def head(session: Session) -> Anchor | None:
    """The newest event of the chain as an anchor; None while the trail is empty."""
    row = session.scalars(select(AuditHead).where(AuditHead.id == 1)).one()
    return Anchor(row.last_id, row.last_hash) if row.last_id else None


def verify(session: Session, batch: int = 1000, *, anchor: Anchor | None = None) -> tuple[int, list[ChainProblem]]:
    """Check every event's keyed hash and link, every case view's keyed hash and that each seal of
    views still covers exactly what it sealed, and the `anchor` if given; return how many events
    were read and what is wrong.

    Without the key nobody can re-chain events they changed; with an anchor kept elsewhere, not even
    someone holding the key can change anything up to the anchored event unnoticed.
    """
    problems: list[ChainProblem] = []
    prev_hash, expected_id, count = GENESIS, 1, 0
    last_id = 0
    anchored: str | None = None
    seals: dict[int, tuple[int, str]] = {}  # VIEWS_SEALED event -> (how many views, their digest)
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            count += 1
            if event.id != expected_id:
                problems.append(ChainProblem(expected_id, f"missing (the next event is {event.id})"))
            if event.prev_hash != prev_hash:
                problems.append(ChainProblem(event.id, "does not follow the event before it"))
            if event_hash(event.prev_hash, event) != event.hash:
                problems.append(ChainProblem(event.id, EDITED))
            if anchor is not None and event.id == anchor.event_id:
                anchored = event.hash
            if event.event_type == AuditType.VIEWS_SEALED.value:
                seals[event.id] = (int(event.details.get("views", -1)), str(event.details.get("digest", "")))
            prev_hash, expected_id, last_id = event.hash, event.id + 1, event.id
        session.expunge_all()
    problems.extend(_verify_views(session, seals, batch))
    head_row = session.scalars(select(AuditHead).where(AuditHead.id == 1)).one()
    if head_row.last_id != last_id or head_row.last_hash != prev_hash:
        problems.append(ChainProblem(head_row.last_id, "the newest event(s) are missing"))
    if anchor is not None:
        if anchored is None:
            problems.append(ChainProblem(anchor.event_id, "the anchored event is missing"))
        elif not hmac.compare_digest(anchored, anchor.hash):
            problems.append(ChainProblem(anchor.event_id, "does not have the anchored hash: the trail up to it was "
                                                          "re-written"))
    return count, problems


@dataclass(frozen=True)
class Check:
    """What checking the whole trail found (`check`)."""

    events: int
    problems: list[ChainProblem]
    head: Anchor | None  # the newest event, to write down as an anchor when nothing is wrong
    anchor: Anchor | None
    resealed: list[AuditEvent]  # re-sealings over problems found then (on record, not visible any more)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def wrong_key(self) -> bool:
        """No event matches: the trail was sealed under another key (or every event was re-written)."""
        return bool(self.events) and sum(p.message == EDITED for p in self.problems) == self.events


def check(session: Session, anchor_text: str = "") -> Check:
    """Verify every event's keyed hash and link (and an anchor, when one is given as 'ID:HASH').

    Raises:
        FormDataInvalid: the anchor is not written as 'dhr audit anchor' prints it (field "anchor").
    """
    try:
        anchor = Anchor.parse(anchor_text) if anchor_text.strip() else None
    except DhrError as exc:
        raise FormDataInvalid({"anchor": exc.message}) from exc
    count, problems = verify(session, anchor=anchor)
    return Check(count, problems, head(session), anchor, resealed_over(session))


def resealed_over(session: Session) -> list[AuditEvent]:
    """The events that record a re-sealing of the chain over problems found in it then (they are on
    record, but the re-sealed chain cannot show them any more)."""
    return [e for e in session.scalars(select(AuditEvent).where(
        AuditEvent.event_type == AuditType.AUDIT_RESEALED.value).order_by(AuditEvent.id))
        if (e.details or {}).get("problems_found")]


def events_for_case(session: Session, case_id: int) -> list[AuditEvent | CaseView]:
    """A case's history: its audit events and the reads of its pages (the view log), in time order."""
    events: list[AuditEvent | CaseView] = list(
        session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)))
    views = list(session.scalars(select(CaseView).where(CaseView.case_id == case_id).order_by(CaseView.id)))
    if not views:
        return events
    return sorted([*events, *views], key=lambda e: (e.at, isinstance(e, CaseView), e.id))


def task_closed_event(session: Session, task_id: str) -> AuditEvent | None:
    """The event that closed a task that is no longer open (completed or cancelled), if it was ever open."""
    return session.scalars(
        select(AuditEvent).where(AuditEvent.task_id == task_id, AuditEvent.event_type.in_(
            [AuditType.TASK_COMPLETED.value, AuditType.TASK_CANCELLED.value])).order_by(AuditEvent.id.desc())
    ).first()
