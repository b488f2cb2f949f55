"""People who use the product: a role (a lane of the diagrams, or an office) and an agency."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import AuditType, record
from .checks import refuse
from .clock import Clock
from .errors import NotFound
from .models import User
from .roles import Role

_hasher = PasswordHasher()
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


def check_password(user: User, password: str) -> bool:
    if not user.password_hash or not user.active:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
