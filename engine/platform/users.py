"""People who use the product: a role (a lane of the diagrams, or an office) and an agency."""

from __future__ import annotations

import contextlib
import re
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import sessions
from .audit import AuditType, record
from .clock import Clock
from .errors import DhrError, NotFound
from .models import User

_hasher = PasswordHasher()
_dummy_hash: str | None = None
MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def add_user(
    session: Session,
    username: str,
    *,
    role: str,
    agency: str | None,
    password: str | None,
    actor: str,
    clock: Clock,
    email: str | None = None,
) -> User:
    """Add a user; without a password they cannot sign in to the web pages.

    Raises:
        DhrError: the name is taken or empty, or the password is too short.
    """
    username, role = username.strip(), role.strip()
    if not username or not role:
        raise DhrError("a user needs a name and a role")
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise DhrError(f"there is already a user called '{username}'")
    if password is not None and len(password) < MIN_PASSWORD:
        raise DhrError(f"a password must have at least {MIN_PASSWORD} characters")
    if email is not None and not _EMAIL.match(email):
        raise DhrError(f"'{email}' is not an e-mail address")
    user = User(
        username=username, role=role, agency=agency, email=email, active=True, created_at=clock.now(),
        password_hash=_hasher.hash(password) if password else None,
    )
    session.add(user)
    session.flush()
    record(session, AuditType.USER_ADDED, actor=actor, at=user.created_at,
           details={"user": username, "role": role, "agency": agency})
    return user


def find_user(session: Session, username: str) -> User:
    """Raises: NotFound."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"there is no user called '{username}'")
    return user


def for_sign_in(session: Session, username: str) -> User | None:
    """The user a sign-in names (user names are matched whatever their capitalisation), if any."""
    return session.scalars(select(User).where(func.lower(User.username) == username.lower())).first()


def all_users(session: Session) -> list[User]:
    """Every user, active or not, by name (the administrators' list)."""
    return list(session.scalars(select(User).order_by(User.username)))


def check_password(user: User, password: str) -> bool:
    """Whether `password` is the user's; a user without one, or disabled, pays the same argon2 work."""
    matches = _verify(user.password_hash, password)
    return matches and user.active


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user whose name (any case) and password these are, or None.

    Exactly one argon2 verification runs whether or not the user exists, has a password or is
    disabled, so the time taken tells nothing about which user names exist.
    """
    user = session.scalars(select(User).where(func.lower(User.username) == username.strip().lower())).first()
    if user is None:
        _verify(None, password)
        return None
    return user if check_password(user, password) else None


def _verify(password_hash: str | None, password: str) -> bool:
    global _dummy_hash
    if not password_hash:
        # Work as hard for nobody as for somebody: verify against a hash of a random password.
        _dummy_hash = _dummy_hash or _hasher.hash(secrets.token_urlsafe(16))
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher.verify(_dummy_hash, password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(session: Session, user: User, password: str, *, actor: str, at: datetime) -> None:
    """Give `user` a new password and end every session they have, audited.

    Raises: DhrError: the password is too short.
    """
    if len(password) < MIN_PASSWORD:
        raise DhrError(f"a password must have at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)
    ended = sessions.end_all(session, user, at=at, reason=sessions.Ended.PASSWORD_CHANGED)
    record(session, AuditType.PASSWORD_CHANGED, actor=actor, at=at,
           details={"user": user.username, "sessions_ended": ended})
