"""Who may see what: case membership, users' roles and agencies, and sign-in lock-out.

Lanes are roles (`runtime.may_complete`; the roles and what each may do are in `roles`). On top of
that, a user sees a case only if their role sees every case (`Power.SEE_ALL_CASES`: the offices and
the lanes that run every review) or they are a member of that case (panel members, action holders,
the review's chair, family liaison). Never imports Flask.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import audit, sessions
from .audit import AuditType, record
from .checks import refuse
from .errors import DhrError, NotFound
from .models import Base, Case, User
from .roles import Power, Role, in_lane, may, role_of


class CaseMember(Base):
    """A user who takes part in one case (panel member, action holder, chair, family liaison)."""

    __tablename__ = "case_member"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(120))


class Agency(Base):
    """An organisation users belong to (police, health, the council...)."""

    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]


def name_key(name: str) -> str:
    """An organisation's name as compared: case and spacing do not make another organisation."""
    return re.sub(r"\s+", " ", name).strip().casefold()


def tidy_name(name: str) -> str:
    """An organisation's name as kept: spacing collapsed, nothing else changed."""
    return re.sub(r"\s+", " ", name).strip()


class LoginThrottle(Base):
    """Failed sign-ins in a row for one user name, and until when it is locked."""

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]


def is_case_wide(user: User) -> bool:
    """Whether the user's role sees every case (not only the cases they are a member of)."""
    return may(user, Power.SEE_ALL_CASES)


_MEMBERS = "dhr.members"  # in session.info: (transaction, {(user id, case id): is a member})


def is_member(session: Session, user: User, case_id: int) -> bool:
    """Whether `user` is a member of the case (asked of the database once per transaction)."""
    known = _known_members(session)
    key = (user.id, case_id)
    if key not in known:
        known[key] = session.scalar(
            select(CaseMember.id).where(CaseMember.case_id == case_id, CaseMember.user_id == user.id)
        ) is not None
    return known[key]


def _known_members(session: Session) -> dict[tuple[int, int], bool]:
    transaction = session.get_transaction()
    cached = session.info.get(_MEMBERS)
    if cached is None or cached[0] is not transaction:
        cached = session.info[_MEMBERS] = (transaction, {})
    known: dict[tuple[int, int], bool] = cached[1]
    return known


def may_see_case(session: Session, user: User, case_id: int) -> bool:
    """Whether a user may open a case: a case-wide role, or a member of it."""
    return user.active and (is_case_wide(user) or is_member(session, user, case_id))


def not_member_reason(session: Session, user: User, case_id: int) -> str | None:
    """Why `user` may not work on the case's tasks because they may not see the case, or None."""
    if may_see_case(session, user, case_id):
        return None
    reference = session.scalar(select(Case.reference).where(Case.id == case_id))
    return (f"{user.username} is not a member of case {reference}, so may not work on its tasks; "
            "a Community Safety Team officer can add them to the case")


def member_case_ids(session: Session, user: User) -> set[int]:
    return set(session.scalars(select(CaseMember.case_id).where(CaseMember.user_id == user.id)))


def visible_case_ids(session: Session, viewer: User | None) -> set[int] | None:
    """The cases `viewer` may see (the rule of `may_see_case`, for lists); None means every case.

    `viewer` None is the operator at the command line, who sees every case. Every list of cases,
    tasks, timers and recommendations is filtered with this, inside the engine's read functions.
    """
    if viewer is None:
        return None
    if not viewer.active:
        return set()
    if is_case_wide(viewer):
        return None
    return member_case_ids(session, viewer)


def users_for_lane(session: Session, case_id: int, lane: str | None) -> list[User]:
    """Who can pick up a task in `lane` on this case: active users of that role who may see the case."""
    if lane is None:
        return []
    members_ = {u.id for u in members(session, case_id)}
    return [u for u in active_users(session) if in_lane(u, lane) and (is_case_wide(u) or u.id in members_)]


def member_candidates(session: Session, case_id: int) -> list[User]:
    """Who could be made a member of the case: active users who see only their own cases, not yet on it."""
    members_ = {u.id for u in members(session, case_id)}
    return [u for u in active_users(session) if not is_case_wide(u) and u.id not in members_]


def active_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.username)))


def members(session: Session, case_id: int) -> list[User]:
    return list(session.scalars(
        select(User).join(CaseMember, CaseMember.user_id == User.id)
        .where(CaseMember.case_id == case_id).order_by(User.role, User.username)
    ))


def add_member(session: Session, case: Case, user: User, *, actor: str, at: datetime) -> CaseMember:
    """Make `user` a member of `case`.

    Raises:
        DhrError: they are one already.
    """
    if is_member(session, user, case.id):
        raise DhrError(f"{user.username} is already a member of {case.reference}")
    member = CaseMember(case_id=case.id, user_id=user.id, added_at=at, added_by=actor)
    session.add(member)
    session.flush()
    _known_members(session)[(user.id, case.id)] = True
    record(session, AuditType.MEMBER_ADDED, actor=actor, at=at, case_id=case.id,
           details={"user": user.username, "role": user.role})
    return member


def remove_member(session: Session, case: Case, user: User, *, actor: str, at: datetime) -> None:
    """Raises: NotFound: the user is not a member."""
    result = session.execute(
        delete(CaseMember).where(CaseMember.case_id == case.id, CaseMember.user_id == user.id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"{user.username} is not a member of {case.reference}")
    _known_members(session)[(user.id, case.id)] = False
    record(session, AuditType.MEMBER_REMOVED, actor=actor, at=at, case_id=case.id,
           details={"user": user.username, "role": user.role})


def may_see_confidential(user: User, roles: tuple[str, ...]) -> bool:
    """Whether a user's role is one of those that need confidential values (DHR_CONFIDENTIAL_ROLES)."""
    return user.active and role_of(user) in {Role.named(role) for role in roles}


def record_view(session: Session, case: Case, user: User, page: str, *, at: datetime) -> None:
    """Audit a read of a case's pages by someone who is not a member of it (a case-wide role), in the
    case view log: without waiting for the audit chain's lock (see `audit.record_view`)."""
    if not is_member(session, user, case.id):
        audit.record_view(session, case_id=case.id, actor=user.username, role=user.role, page=page, at=at)


# ---------------------------------------------------------------------------------------------
# Users and agencies


def change_user(
    session: Session, user: User, *, role: str, agency: str | None, active: bool, actor: str, at: datetime
) -> None:
    """Change a user's role, agency and whether they may sign in, audited old -> new. Nobody
    disables themselves or changes their own role: the last administrator could lock everyone out.

    Raises: FormDataInvalid: on `role` (not a role, or the actor's own) or `active` (the actor).
    """
    problems: dict[str, str] = {}
    if wrong_role := Role.problem(role):
        problems["role"] = wrong_role
    elif actor == user.username and Role.parse(role) is not Role.named(user.role):
        problems["role"] = "You cannot change your own role"
    if actor == user.username and not active and user.active:
        problems["active"] = "You cannot disable yourself"
    refuse(problems)
    before = {"role": user.role, "agency": user.agency, "active": user.active}
    user.role, user.agency, user.active = Role.parse(role).value, agency or None, active
    after = {"role": user.role, "agency": user.agency, "active": user.active}
    changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if "active" in changed and not active:  # a disabled user is signed out everywhere at once
        sessions.end_all(session, user, at=at, reason=sessions.Ended.USER_DISABLED)
    if changed:
        record(session, AuditType.USER_CHANGED, actor=actor, at=at, details={"user": user.username, **changed})


def agencies(session: Session) -> list[Agency]:
    return list(session.scalars(select(Agency).order_by(Agency.name)))


def add_agency(session: Session, name: str, *, actor: str, at: datetime) -> Agency:
    """Raises: FormDataInvalid: on `name`, empty or taken."""
    name = name.strip()
    if not name or len(name) > 200:
        refuse({"name": "Enter the agency's name (up to 200 characters)"})
    if session.scalar(select(Agency.id).where(Agency.name == name)) is not None:
        refuse({"name": f"There is already an agency called '{name}'"})
    agency = Agency(name=name, created_at=at)
    session.add(agency)
    session.flush()
    record(session, AuditType.AGENCY_ADDED, actor=actor, at=at, details={"agency": name})
    return agency


# ---------------------------------------------------------------------------------------------
# Sign-in lock-out


def locked_until(session: Session, username: str, now: datetime) -> datetime | None:
    """When the user name's lock ends, if it is locked now."""
    row = session.get(LoginThrottle, username.casefold())
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    return None


def sign_in_failed(session: Session, username: str, now: datetime, *, limit: int, lock_for: timedelta) -> bool:
    """Count a failed sign-in; return True if it locked the user name."""
    key = username.casefold()[:120]
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(username=key, failures=0, locked_until=None)
        session.add(row)
    if row.locked_until is not None and row.locked_until <= now:
        row.failures, row.locked_until = 0, None
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + lock_for
    session.flush()
    return row.locked_until is not None


def sign_in_succeeded(session: Session, username: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == username.casefold()))
