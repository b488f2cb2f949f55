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
from .checks import refuse
from .clock import Clock
from .errors import FormDataInvalid, NotFound
from .models import User
from .roles import Role

_hasher = PasswordHasher()
_dummy_hash: str | None = None
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, or None: the one password rule."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Enter a password of at least {MIN_PASSWORD_LENGTH} characters"
    return None


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
    """Add a user; without a password (None) they cannot sign in to the web pages. The role is
    stored as the role's own name, however it was typed.

    Raises:
        FormDataInvalid: on `username` (empty or taken), `role` (not a role: the message lists
        them), `password` (too short) and `email`, every problem at once.
    """
    username = username.strip()
    problems: dict[str, str] = {}
    if not username:
        problems["username"] = "Enter a user name"
    elif len(username) > 120:
        problems["username"] = "A user name can have at most 120 characters"
    elif session.scalars(select(User).where(User.username == username)).first() is not None:
        problems["username"] = f"There is already a user called '{username}'"
    if wrong_role := Role.problem(role):
        problems["role"] = wrong_role
    if password is not None and (wrong := password_problem(password)):
        problems["password"] = wrong
    if email is not None and not _EMAIL.match(email):
        problems["email"] = f"'{email}' is not an e-mail address"
    refuse(problems)
    found = Role.parse(role)
    user = User(
        username=username, role=found.value, agency=agency, email=email, active=True, created_at=clock.now(),
        password_hash=_hasher.hash(password) if password else None,
    )
    session.add(user)
    session.flush()
    record(session, AuditType.USER_ADDED, actor=actor, at=user.created_at,
           details={"user": username, "role": found.value, "agency": agency})
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

    Raises: FormDataInvalid: the password breaks the password rule (`password_problem`).
    """
    if wrong := password_problem(password):
        raise FormDataInvalid({"password": wrong})
    user.password_hash = _hasher.hash(password)
    ended = sessions.end_all(session, user, at=at, reason=sessions.Ended.PASSWORD_CHANGED)
    record(session, AuditType.PASSWORD_CHANGED, actor=actor, at=at,
           details={"user": user.username, "sessions_ended": ended})
