"""People who use the product: a role (a lane of the diagrams, or an office) and an agency."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .audit import AuditType, record
from .clock import Clock
from .errors import DhrError, NotFound
from .models import User

_hasher = PasswordHasher()
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
    if password is not None and len(password) < 10:
        raise DhrError("a password must have at least 10 characters")
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
    if not user.password_hash or not user.active:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
