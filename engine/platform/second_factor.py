"""The second factor: a time-based code from an authenticator app (TOTP), and recovery codes.

A user enrols by scanning a secret and typing the code it shows; only then is the factor on, and
ten one-time recovery codes are made (shown once, kept as hashes). A code is accepted from the
30-second step before to the one after (phones' clocks drift) and each step only once, so a code
seen over someone's shoulder cannot be used again. An administrator can reset a user's factor
(a lost phone); that ends the user's sessions and is audited. Never imports Flask.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
from sqlalchemy import ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import sessions
from .audit import AuditType, record
from .errors import DhrError
from .models import Base, User

RECOVERY_CODES = 10
DRIFT_STEPS = 1  # steps either side of now that are accepted
_CODE = re.compile(r"^\d{6}$")


class SecondFactor(Base):
    """A user's authenticator secret; on once `confirmed_at` is set."""

    __tablename__ = "second_factor"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(Integer)  # the last time step used: not again


class RecoveryCode(Base):
    """A one-time code for when the authenticator app is lost: its SHA-256 only."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


def _factor(db: Session, user: User) -> SecondFactor | None:
    return db.get(SecondFactor, user.id)


def is_enrolled(db: Session, user: User) -> bool:
    factor = _factor(db, user)
    return factor is not None and factor.confirmed_at is not None


def begin(db: Session, user: User, *, at: datetime) -> str:
    """The secret to show a user who is setting up their app (made once, kept until confirmed).

    Raises: DhrError: the user has a second factor already (an administrator resets it first).
    """
    factor = _factor(db, user)
    if factor is not None and factor.confirmed_at is not None:
        raise DhrError("You have already set up your authenticator app")
    if factor is None:
        factor = SecondFactor(user_id=user.id, secret=pyotp.random_base32(), created_at=at, confirmed_at=None,
                              last_step=None)
        db.add(factor)
        db.flush()
    return factor.secret


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _matching_step(factor: SecondFactor, code: str, now: datetime) -> int | None:
    code = re.sub(r"\s", "", code)
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(factor.secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (factor.last_step or -1) < step:
            return step
    return None


def confirm(db: Session, user: User, code: str, *, now: datetime) -> list[str] | None:
    """Turn the factor on if `code` is right; return the new recovery codes (to show once), or None."""
    factor = _factor(db, user)
    if factor is None or factor.confirmed_at is not None:
        return None
    step = _matching_step(factor, code, now)
    if step is None:
        return None
    factor.confirmed_at, factor.last_step = now, step
    codes = _new_recovery_codes(db, user, at=now)
    record(db, AuditType.SECOND_FACTOR_ENROLLED, actor=user.username, at=now, details={"user": user.username})
    return codes


def verify(db: Session, user: User, code: str, *, now: datetime) -> bool:
    """Whether `code` is the user's current code, not used before."""
    factor = _factor(db, user)
    if factor is None or factor.confirmed_at is None:
        return False
    step = _matching_step(factor, code, now)
    if step is None:
        return False
    factor.last_step = step
    db.flush()
    return True


def _normal(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _hash(code: str) -> str:
    return hashlib.sha256(_normal(code).encode()).hexdigest()


def _new_recovery_codes(db: Session, user: User, *, at: datetime) -> list[str]:
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 80 random bits
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
        db.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw), created_at=at, used_at=None))
    db.flush()
    return codes


def use_recovery_code(db: Session, user: User, code: str, *, at: datetime) -> bool:
    """Accept an unused recovery code once; audited, so the user and administrator can see it."""
    if len(_normal(code)) != 16:
        return False
    row = db.scalars(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code), RecoveryCode.used_at.is_(None),
    ).with_for_update()).first()
    if row is None or not is_enrolled(db, user):
        return False
    row.used_at = at
    db.flush()
    record(db, AuditType.RECOVERY_CODE_USED, actor=user.username, at=at,
           details={"user": user.username, "left": recovery_codes_left(db, user)})
    return True


def recovery_codes_left(db: Session, user: User) -> int:
    return len(list(db.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))))


def reset(db: Session, user: User, *, actor: str, at: datetime) -> None:
    """Remove the user's second factor and recovery codes and end their sessions, audited.

    They set up their app again at their next sign-in (where a second factor is required).

    Raises: DhrError: the user has no second factor.
    """
    factor = _factor(db, user)
    if factor is None:
        raise DhrError(f"{user.username} has not set up an authenticator app")
    was_on = factor.confirmed_at is not None
    db.delete(factor)
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    ended = sessions.end_all(db, user, at=at, reason=sessions.Ended.SECOND_FACTOR_RESET)
    db.flush()
    record(db, AuditType.SECOND_FACTOR_RESET, actor=actor, at=at,
           details={"user": user.username, "was_on": was_on, "sessions_ended": ended})


def enrolled_user_ids(db: Session) -> set[int]:
    """The users whose second factor is on (for the administrators' list)."""
    return set(db.scalars(select(SecondFactor.user_id).where(SecondFactor.confirmed_at.is_not(None))))
