"""The engine's rules for sessions, the second factor and sign-in, without the web pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.platform import access, second_factor, sessions, users
from engine.platform.clock import SettableClock
from engine.platform.db import unit_of_work
from engine.platform.errors import DhrError
from engine.platform.models import AuditEvent, User

from .conftest import Db

LIMITS = sessions.Limits(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
PASSWORD = "correct-horse-battery"
_HASH = PasswordHasher().hash(PASSWORD)


@pytest.fixture
def s(db: Db, clock: SettableClock) -> Iterator[Session]:
    with unit_of_work(db.sessions) as session:
        for name in ("ann", "bob"):
            user = users.add_user(session, name, role="Panel", agency=None, password=None, actor="test", clock=clock)
            user.password_hash = _HASH
        yield session


def _user(s: Session, name: str) -> User:
    return users.find_user(s, name)


def _start(s: Session, name: str, clock: SettableClock, pending: bool = False) -> str:
    _row, token = sessions.start(s, _user(s, name), now=clock.now(), limits=LIMITS, user_agent="test", address="::1",
                                 pending=pending)
    return token


def test_a_session_is_open_until_idle_expired_or_ended(s: Session, clock: SettableClock) -> None:
    token = _start(s, "ann", clock)
    assert sessions.check(s, token, now=clock.now(), limits=LIMITS).user is _user(s, "ann")
    assert sessions.check(s, token + "x", now=clock.now(), limits=LIMITS).row is None
    idle = sessions.check(s, token, now=clock.now() + timedelta(minutes=31), limits=LIMITS)
    assert (idle.row, idle.ended) == (None, sessions.Ended.IDLE)
    assert sessions.check(s, token, now=clock.now(), limits=LIMITS).row is None  # ended for good

    token = _start(s, "ann", clock)
    at = clock.now()
    for _ in range(25):  # used every 29 minutes, it still ends at 12 hours
        at += timedelta(minutes=29)
        result = sessions.check(s, token, now=at, limits=LIMITS)
        if result.row is None:
            break
    assert result.ended == sessions.Ended.EXPIRED and at - clock.now() >= timedelta(hours=12)


def test_ending_all_of_a_users_sessions_leaves_others_alone(s: Session, clock: SettableClock) -> None:
    ann1, ann2, bob = _start(s, "ann", clock), _start(s, "ann", clock), _start(s, "bob", clock)
    assert len(sessions.open_sessions(s, _user(s, "ann"), now=clock.now(), limits=LIMITS)) == 2
    assert sessions.sign_out_everywhere(s, _user(s, "ann"), actor="admin", at=clock.now()) == 2
    assert [sessions.check(s, t, now=clock.now(), limits=LIMITS).row is None for t in (ann1, ann2, bob)] == \
        [True, True, False]
    s.commit()  # audit events join the chain as their unit of work commits
    event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "SESSIONS_ENDED")).one()
    assert event.details == {"user": "ann", "sessions": 2}


def test_disabling_and_a_new_password_end_sessions(s: Session, clock: SettableClock) -> None:
    token = _start(s, "ann", clock)
    access.change_user(s, _user(s, "ann"), role="Panel", agency=None, active=False, actor="admin", at=clock.now())
    assert sessions.check(s, token, now=clock.now(), limits=LIMITS).row is None
    token = _start(s, "bob", clock)
    users.set_password(s, _user(s, "bob"), "another-good-password", actor="bob", at=clock.now())
    assert sessions.check(s, token, now=clock.now(), limits=LIMITS).row is None
    with pytest.raises(DhrError, match="at least 10 characters"):
        users.set_password(s, _user(s, "bob"), "short", actor="bob", at=clock.now())


def test_a_pending_session_opens_no_pages_until_promoted(s: Session, clock: SettableClock) -> None:
    token = _start(s, "ann", clock, pending=True)
    assert sessions.check(s, token, now=clock.now(), limits=LIMITS).row is None
    pending = sessions.check(s, token, now=clock.now(), limits=LIMITS, stage=sessions.PENDING)
    assert pending.row is not None
    _row, new = sessions.promote(s, pending.row, now=clock.now(), limits=LIMITS)
    assert new != token
    assert sessions.check(s, new, now=clock.now(), limits=LIMITS).row is not None
    assert sessions.check(s, token, now=clock.now(), limits=LIMITS, stage=sessions.PENDING).row is None
    late = _start(s, "ann", clock, pending=True)
    assert sessions.check(s, late, now=clock.now() + timedelta(minutes=11), limits=LIMITS,
                          stage=sessions.PENDING).ended == sessions.Ended.EXPIRED


def test_old_ended_sessions_are_deleted_at_the_next_sign_in(s: Session, clock: SettableClock) -> None:
    old = _start(s, "ann", clock)
    sessions.end_all(s, _user(s, "ann"), at=clock.now(), reason=sessions.Ended.SIGNED_OUT)
    clock.advance(timedelta(days=91))
    _start(s, "ann", clock)
    hashes = list(s.scalars(select(sessions.UserSession.token_hash)))
    assert len(hashes) == 1 and sessions._hash(old) not in hashes


def test_totp_codes_work_once_and_recovery_codes_once(s: Session, clock: SettableClock) -> None:
    ann = _user(s, "ann")
    secret = second_factor.begin(s, ann, at=clock.now())
    assert second_factor.begin(s, ann, at=clock.now()) == secret
    assert not second_factor.is_enrolled(s, ann)
    assert second_factor.confirm(s, ann, "12345", now=clock.now()) is None
    codes = second_factor.confirm(s, ann, pyotp.TOTP(secret).at(clock.now()), now=clock.now())
    assert codes is not None and len(set(codes)) == 10 and second_factor.is_enrolled(s, ann)
    with pytest.raises(DhrError):
        second_factor.begin(s, ann, at=clock.now())
    assert not second_factor.verify(s, ann, pyotp.TOTP(secret).at(clock.now()), now=clock.now())  # spent
    later = clock.now() + timedelta(seconds=30)
    assert second_factor.verify(s, ann, pyotp.TOTP(secret).at(later), now=later)
    assert not second_factor.verify(s, ann, pyotp.TOTP(secret).at(later), now=later)
    assert not second_factor.verify(s, _user(s, "bob"), pyotp.TOTP(secret).at(later), now=later)
    assert second_factor.use_recovery_code(s, ann, codes[0], at=later)
    assert not second_factor.use_recovery_code(s, ann, codes[0], at=later)
    assert not second_factor.use_recovery_code(s, _user(s, "bob"), codes[1], at=later)
    assert second_factor.recovery_codes_left(s, ann) == 9
    stored = list(s.scalars(select(second_factor.RecoveryCode.code_hash)))
    assert not any(c.replace("-", "") in h for c in codes for h in stored)


def test_a_reset_removes_the_factor_ends_sessions_and_is_audited(s: Session, clock: SettableClock) -> None:
    ann = _user(s, "ann")
    with pytest.raises(DhrError, match="has not set up"):
        second_factor.reset(s, ann, actor="admin", at=clock.now())
    secret = second_factor.begin(s, ann, at=clock.now())
    codes = second_factor.confirm(s, ann, pyotp.TOTP(secret).at(clock.now()), now=clock.now())
    assert codes is not None
    token = _start(s, "ann", clock)
    second_factor.reset(s, ann, actor="admin", at=clock.now())
    assert not second_factor.is_enrolled(s, ann)
    assert sessions.check(s, token, now=clock.now(), limits=LIMITS).row is None
    assert not second_factor.use_recovery_code(s, ann, codes[1], at=clock.now())
    s.commit()  # audit events join the chain as their unit of work commits
    event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "SECOND_FACTOR_RESET")).one()
    assert (event.actor, event.details) == ("admin", {"user": "ann", "was_on": True, "sessions_ended": 1})
    assert second_factor.enrolled_user_ids(s) == set()


def test_authenticate_verifies_once_whoever_is_named(s: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        calls.append(1)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    _user(s, "bob").active = False
    for name, password, expected in [("ann", PASSWORD, "ann"), ("ANN", PASSWORD, "ann"), ("ann", "wrong", None),
                                     ("nobody", PASSWORD, None), ("bob", PASSWORD, None)]:
        before = len(calls)
        user = users.authenticate(s, name, password)
        assert (user.username if user else None) == expected
        assert len(calls) - before == 1, name
