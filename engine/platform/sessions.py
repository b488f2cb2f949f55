"""Signed-in sessions kept on the server, so that they can be ended.

The browser holds only a random session id; the table keeps its SHA-256 (a stolen copy of the
table opens nothing). A session is `pending` between the password and the second factor, then
`signed_in`. Signing out, disabling a user, a password change, a second-factor reset and an
administrator's "sign out everywhere" end sessions at once: the next request with the old cookie
finds its row ended. Times here are the sign-in clock's (the real time in production, whatever the
case clock says), passed in by the caller. Never imports Flask.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .audit import AuditType, record
from .models import Base, User

PENDING = "pending"  # the password was right; the second factor is still to come
SIGNED_IN = "signed_in"
# last_seen is written at most this often, so that reading a page does not write on every request.
TOUCH_EVERY = timedelta(minutes=1)
# Ended sessions are kept this long (who signed in from where, for an investigation), then deleted.
KEEP_ENDED = timedelta(days=90)


class Ended(enum.StrEnum):
    """Why a session ended."""

    SIGNED_OUT = "signed out"
    IDLE = "idle"
    EXPIRED = "expired"
    USER_DISABLED = "user disabled"
    PASSWORD_CHANGED = "password changed"
    SECOND_FACTOR_RESET = "second factor reset"
    SIGNED_OUT_EVERYWHERE = "signed out everywhere"
    REPLACED = "replaced"  # the pending session became a signed-in one with a new id


class UserSession(Base):
    """One browser's sign-in: the hash of its id, whose it is, and when it was used and ends."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute limit, however busy the session is
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Limits:
    """How long a session lives: idle, in all, and between password and second factor."""

    idle: timedelta
    absolute: timedelta
    pending: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class Check:
    """What a session id opens: its row and user, or why it opens nothing."""

    row: UserSession | None
    user: User | None
    ended: Ended | None  # set when the session was open until this request found it ended


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    db: Session, user: User, *, now: datetime, limits: Limits, user_agent: str, address: str, pending: bool
) -> tuple[UserSession, str]:
    """Open a session for `user`; return its row and the id to give the browser (shown only here)."""
    db.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                         UserSession.ended_at < now - KEEP_ENDED))
    token = secrets.token_urlsafe(32)
    lifetime = limits.pending if pending else limits.absolute
    row = UserSession(
        token_hash=_hash(token), user_id=user.id, stage=PENDING if pending else SIGNED_IN, created_at=now,
        last_seen_at=now, expires_at=now + lifetime, ended_at=None, ended_reason=None,
        user_agent=(user_agent or "")[:200], address=(address or "")[:64],
    )
    db.add(row)
    db.flush()
    return row, token


def check(db: Session, token: str | None, *, now: datetime, limits: Limits, stage: str = SIGNED_IN) -> Check:
    """Find the open session of `token` at `stage`; end it here if it has run out.

    A session of a disabled user, one idle for longer than `limits.idle` or past its absolute end
    opens nothing; its row is ended so the reason is recorded once.
    """
    if not token:
        return Check(None, None, None)
    found = db.execute(select(UserSession, User).outerjoin(User, User.id == UserSession.user_id)
                       .where(UserSession.token_hash == _hash(token))).first()  # one round trip a request
    row, user = found if found is not None else (None, None)
    if row is None or row.ended_at is not None or row.stage != stage:
        return Check(None, None, None)
    reason = None
    if user is None or not user.active:
        reason = Ended.USER_DISABLED
    elif now >= row.expires_at:
        reason = Ended.EXPIRED
    elif now - row.last_seen_at > limits.idle:
        reason = Ended.IDLE
    if reason is not None:
        end(db, row, at=now, reason=reason)
        return Check(None, None, reason)
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return Check(row, user, None)


def promote(db: Session, row: UserSession, *, now: datetime, limits: Limits) -> tuple[UserSession, str]:
    """Turn a pending session into a signed-in one under a new id (the second factor was right)."""
    user = db.get(User, row.user_id)
    assert user is not None
    end(db, row, at=now, reason=Ended.REPLACED)
    return start(db, user, now=now, limits=limits, user_agent=row.user_agent, address=row.address, pending=False)


def end(db: Session, row: UserSession, *, at: datetime, reason: Ended) -> None:
    """End one session (signing out)."""
    if row.ended_at is None:
        row.ended_at, row.ended_reason = at, reason.value
        db.flush()


def end_all(db: Session, user: User, *, at: datetime, reason: Ended) -> int:
    """End every open session of `user`, on every device; return how many were open."""
    result = db.execute(
        update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=at, ended_reason=reason.value)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def open_sessions(db: Session, user: User, *, now: datetime, limits: Limits) -> list[UserSession]:
    """The user's signed-in sessions that would still open pages at `now`, newest first."""
    rows = db.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None),
                                  UserSession.stage == SIGNED_IN, UserSession.expires_at > now)
        .order_by(UserSession.last_seen_at.desc())
    )
    return [r for r in rows if now - r.last_seen_at <= limits.idle]


def sign_out_everywhere(db: Session, user: User, *, actor: str, at: datetime) -> int:
    """End every session of `user` at an administrator's request, audited; return how many."""
    count = end_all(db, user, at=at, reason=Ended.SIGNED_OUT_EVERYWHERE)
    record(db, AuditType.SESSIONS_ENDED, actor=actor, at=at, details={"user": user.username, "sessions": count})
    return count
