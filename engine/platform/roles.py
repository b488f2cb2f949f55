"""The roles people have, and what each may do: the one place that says it.

A role is a lane of the diagrams (CSP Chair, Panel...) or an office (Process Owner, Auditor,
Administrator). Roles are stored by name in `user_account.role`; a name is read the same way
everywhere (`Role.named`: case and spacing aside), so "csp chair" typed at the command line is the
CSP Chair. What a role may do beyond its lane's tasks is a `Power`; the engine, the web pages and
the command line ask `may(user, power)` and nothing else.
"""

from __future__ import annotations

import re
from enum import Enum, StrEnum

from .errors import FormDataInvalid
from .models import User


class Role(StrEnum):
    """Every role a user can have; the value is the name people see and diagrams use as a lane."""

    CSP_CHAIR = "CSP Chair"
    COMMUNITY_SAFETY_TEAM = "Community Safety Team"
    INDEPENDENT_CHAIR = "Independent Chair"
    PANEL = "Panel"
    FAMILY_LIAISON = "Family Liaison"
    STEERING_GROUP = "Steering Group"
    ACTION_HOLDER = "Action Holder"
    PROCESS_OWNER = "Process Owner"
    AUDITOR = "Auditor"
    ADMINISTRATOR = "Administrator"

    @classmethod
    def named(cls, name: str | None) -> Role | None:
        """The role called `name` (case and spacing aside), or None."""
        return _BY_KEY.get(_key(name or ""))

    @classmethod
    def problem(cls, name: str | None) -> str | None:
        """Why `name` is no role (the message lists the roles there are), or None if it is one."""
        if cls.named(name) is not None:
            return None
        listing = ", ".join(r.value for r in cls)
        if name and name.strip():
            return f"'{name.strip()}' is not a role; choose one of: {listing}"
        return f"Select a role (one of: {listing})"

    @classmethod
    def parse(cls, name: str | None) -> Role:
        """The role called `name`.

        Raises:
            FormDataInvalid: on `role`, listing the roles there are.
        """
        role = cls.named(name)
        if role is None:
            raise FormDataInvalid({"role": cls.problem(name) or ""})
        return role

    @property
    def powers(self) -> frozenset[Power]:
        return POWERS[self]

    @property
    def is_office(self) -> bool:
        """An office (no lane of the diagrams is for it): process owner, auditor, administrator."""
        return self in OFFICES


class Power(Enum):
    """What a role may do beyond the tasks of its lane; the value says it in words."""

    SEE_ALL_CASES = "see every case (others see the cases they are members of)"
    START_CASES = "start a case (record a new notification)"
    MANAGE_MEMBERS = "add people to a case and remove them"
    SEE_DASHBOARD = "see the dashboard"
    SEE_REPORTS = "see the Steering Group's report"
    REQUEST_UPDATES = "ask every action holder for an update"
    SEE_MEETINGS = "see the Steering Group's meetings"
    RECORD_MEETINGS = "record a Steering Group meeting"
    SEE_COSTS = "see the costs of reviews"
    RECORD_COSTS = "record and remove the costs of a review"
    SET_BUDGET = "set the budget"
    DEPLOY_DIAGRAMS = "see, edit and deploy the diagrams"
    RETRY_CASES = "run a stalled case again (and be told when a case stalls)"
    MIGRATE_CASES = "move running cases onto a newer version of their process"
    RETRY_TIMERS = "let a stuck timer fire again"
    RELEASE_ANY_CLAIM = "release a task someone else has claimed"
    MANAGE_USERS = "add users and agencies, change a user's role, agency and status"
    VERIFY_AUDIT = "check that the audit trail is intact"


OFFICES = frozenset({Role.PROCESS_OWNER, Role.AUDITOR, Role.ADMINISTRATOR})

_STEERING_PAGES = {Power.SEE_REPORTS, Power.SEE_MEETINGS, Power.SEE_COSTS}
POWERS: dict[Role, frozenset[Power]] = {
    Role.CSP_CHAIR: frozenset({Power.SEE_ALL_CASES, Power.SEE_DASHBOARD, *_STEERING_PAGES, Power.SET_BUDGET}),
    Role.COMMUNITY_SAFETY_TEAM: frozenset({
        Power.SEE_ALL_CASES, Power.START_CASES, Power.MANAGE_MEMBERS, Power.SEE_DASHBOARD, *_STEERING_PAGES,
        Power.REQUEST_UPDATES, Power.RECORD_MEETINGS, Power.RECORD_COSTS, Power.SET_BUDGET}),
    Role.INDEPENDENT_CHAIR: frozenset(),
    Role.PANEL: frozenset(),
    Role.FAMILY_LIAISON: frozenset(),
    Role.STEERING_GROUP: frozenset({Power.SEE_ALL_CASES, Power.SEE_DASHBOARD, *_STEERING_PAGES,
                                    Power.REQUEST_UPDATES, Power.RECORD_MEETINGS}),
    Role.ACTION_HOLDER: frozenset(),
    Role.PROCESS_OWNER: frozenset({Power.SEE_ALL_CASES, Power.DEPLOY_DIAGRAMS, Power.RETRY_CASES,
                                   Power.MIGRATE_CASES, Power.RETRY_TIMERS}),
    Role.AUDITOR: frozenset({Power.SEE_ALL_CASES, *_STEERING_PAGES, Power.VERIFY_AUDIT}),
    Role.ADMINISTRATOR: frozenset({Power.MANAGE_USERS, Power.RETRY_TIMERS, Power.RELEASE_ANY_CLAIM}),
}


def _key(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip().casefold()


_BY_KEY = {_key(role.value): role for role in Role}


def role_of(user: User) -> Role | None:
    """The user's role (None for a name stored before roles were checked that is no role)."""
    return Role.named(user.role)


def may(user: User, power: Power) -> bool:
    """Whether `user` (signed in, not disabled) may do what `power` says."""
    role = role_of(user)
    return user.active and role is not None and power in role.powers


def having(power: Power) -> list[Role]:
    """The roles that may do what `power` says."""
    return [role for role in Role if power in role.powers]


def in_lane(user: User, lane: str | None) -> bool:
    """Whether the user's role is `lane` (a lane of a diagram, compared as role names are)."""
    role = role_of(user)
    return user.active and role is not None and lane is not None and Role.named(lane) is role
