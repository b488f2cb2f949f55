"""Sign-in that tells nothing: the same argon2 work whether or not the user exists, and a limit on
failed attempts from one address, so rotating user names does not get round the lock-out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select

from engine.platform.clock import SettableClock
from engine.platform.db import unit_of_work
from engine.platform.models import User
from engine.platform.users import add_user
from tests.conftest import POSTGRES_IN_SECOND_STEP, Db
from tests.web.conftest import PASSWORD, Session, Web, make_app

# sign-in rules over rows the ORM writes alike; sign-in on PostgreSQL is in test_sessions
pytestmark = POSTGRES_IN_SECOND_STEP


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every call of argon2's real verify function, counted (it still runs)."""
    calls: list[str] = []
    real = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        calls.append("verify")
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    yield calls


def _attempt(web: Web, username: str, password: str, calls: list[str]) -> tuple[int, int]:
    before = len(calls)
    status = web.sign_in(username, password).status_code
    return status, len(calls) - before


def test_an_unknown_user_costs_the_same_argon2_work_as_a_wrong_password(web: Web, verifications: list[str]) -> None:
    with unit_of_work(web.db.sessions) as s:
        add_user(s, "no-password", role="Panel", agency=None, password=None, actor="test", clock=web.clock)
        s.scalars(select(User).where(User.username == "holder")).one().active = False
    wrong = _attempt(web, "cst", "wrong-password-1", verifications)
    unknown = _attempt(web, "nobody-of-that-name", "wrong-password-1", verifications)
    disabled = _attempt(web, "holder", PASSWORD, verifications)
    no_password = _attempt(web, "no-password", "wrong-password-1", verifications)
    assert wrong == unknown == disabled == no_password == (400, 1)
    assert _attempt(web, "CST", PASSWORD, verifications) == (302, 1)  # any case, as before


def test_the_refusal_reads_the_same_for_an_unknown_user(web: Web) -> None:
    real = web.sign_in("cst", "wrong-password-1").get_data(as_text=True)
    fake = web.sign_in("nobody-of-that-name", "wrong-password-1").get_data(as_text=True)
    assert "The user name or password is not right" in real and "The user name or password is not right" in fake


@pytest.fixture
def limited(app: Flask, db: Db, clock: SettableClock, session_clock: Session) -> Web:
    return Web(make_app(db, clock, session_clock, sign_in_limit="5 per 10 minutes", login_attempts=3), db, clock)


def _from(web: Web, address: str) -> Web:
    browser = Web(web.app, web.db, web.clock)
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def test_rotating_user_names_from_one_address_is_refused_after_the_limit(limited: Web) -> None:
    attacker = _from(limited, "192.0.2.10")
    for n in range(5):  # each name only once: the per-user lock-out never triggers
        assert attacker.sign_in(f"guess{n}", "Password1234").status_code == 400
    refused = attacker.sign_in("guess5", "Password1234")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "Too many attempts to sign in from your network" in page and 'class="govuk-template"' in page
    assert "Traceback" not in page and int(refused.headers["Retry-After"]) > 0
    # even the right password is refused from there for now, so guessing cannot go on
    assert attacker.sign_in("cst", PASSWORD).status_code == 429
    # another address is not affected
    assert _from(limited, "192.0.2.20").sign_in("cst", PASSWORD).status_code == 302


def test_successful_sign_ins_do_not_count_against_an_office(limited: Web) -> None:
    office = "192.0.2.30"
    for _ in range(8):
        browser = _from(limited, office)
        assert browser.sign_in("cst", PASSWORD).status_code == 302
        browser.post("/sign-out")
    assert _from(limited, office).sign_in("chair", PASSWORD).status_code == 302


def test_wrong_second_factor_codes_count_against_the_address(
        app: Flask, db: Db, clock: SettableClock, session_clock: Session) -> None:
    web = Web(make_app(db, clock, session_clock, sign_in_limit="3 per 10 minutes", login_attempts=10,
                       require_2fa=True), db, clock)
    browser = _from(web, "192.0.2.40")
    browser.sign_in("cst")
    browser.get("/sign-in/set-up")
    assert browser.post("/sign-in/set-up", {"code": "000000"}).status_code == 400  # a typo while setting up: free
    with unit_of_work(db.sessions) as s:
        from engine.platform import second_factor

        user = s.scalars(select(User).where(User.username == "cst")).one()
        factor = s.get(second_factor.SecondFactor, user.id)
        assert factor is not None
        factor.confirmed_at = clock.now()
    browser = _from(web, "192.0.2.40")
    browser.sign_in("cst")
    for code in ("000001", "000002", "000003"):
        assert browser.post("/sign-in/code", {"code": code}).status_code == 400
    assert browser.post("/sign-in/code", {"code": "000004"}).status_code == 429


def test_a_limit_setting_that_cannot_be_read_stops_the_app(db: Db, clock: SettableClock,
                                                           session_clock: Session) -> None:
    from engine.platform.errors import SettingsError

    with pytest.raises(SettingsError, match="DHR_SIGN_IN_LIMIT"):
        make_app(db, clock, session_clock, sign_in_limit="lots")
    with pytest.raises(SettingsError, match="DHR_RATE_LIMIT_STORAGE_URI"):
        make_app(db, clock, session_clock, rate_limit_storage_uri="nowhere://")


def test_behind_a_proxy_the_clients_address_is_counted(app: Flask, db: Db, clock: SettableClock,
                                                       session_clock: Session) -> None:
    web = Web(make_app(db, clock, session_clock, sign_in_limit="2 per 10 minutes", proxy_hops=1), db, clock)
    proxy = "192.0.2.1"
    first = _from(web, proxy)
    first.client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.1"
    for _ in range(2):
        first.sign_in("guess", "Password1234")
    assert first.sign_in("guess", "Password1234").status_code == 429
    second = _from(web, proxy)
    second.client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.2"
    assert second.sign_in("cst", PASSWORD).status_code == 302
