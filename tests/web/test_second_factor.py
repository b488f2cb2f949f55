"""The second factor: setting up an authenticator app, signing in with its code or a recovery code,
an administrator's reset. Codes are computed by pyotp from the secret the page shows, at the time
of the sign-in clock the app is given (no sleeping)."""

from __future__ import annotations

import re

import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from engine.cli import cli
from engine.platform.clock import SettableClock
from engine.platform.models import AuditEvent, User
from engine.platform.sessions import UserSession
from tests.conftest import POSTGRES_IN_SECOND_STEP, Db
from tests.web.conftest import Session, Web, make_app

# codes checked in Python over the user's row; sign-in on PostgreSQL is in test_sessions
pytestmark = POSTGRES_IN_SECOND_STEP


@pytest.fixture
def web(app: Flask, db: Db, clock: SettableClock, session_clock: Session) -> Web:
    """The app with a second factor required of everyone (as in production)."""
    return Web(make_app(db, clock, session_clock, require_2fa=True), db, clock)


def _secret(page: str) -> str:
    match = re.search(r'data-testid="secret">([A-Z2-7 ]+)<', page)
    assert match, "no secret on the page"
    return match.group(1).replace(" ", "")


def _code(secret: str, session_clock: Session) -> str:
    return pyotp.TOTP(secret).at(session_clock.now)


def _enrol(web: Web, session_clock: Session, username: str = "cst") -> tuple[str, list[str]]:
    """Sign in with the password, set up the app; return its secret and the recovery codes shown."""
    response = web.sign_in(username)
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-in/set-up")
    page = web.get("/sign-in/set-up").get_data(as_text=True)
    secret = _secret(page)
    done = web.post("/sign-in/set-up", {"code": _code(secret, session_clock)})
    assert done.status_code == 200, done.get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", done.get_data(as_text=True))
    return secret, codes


def _audit(web: Web, event_type: str) -> list[AuditEvent]:
    with web.db.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))


def _user_id(web: Web, username: str) -> int:
    with web.db.sessions() as s:
        return s.scalars(select(User.id).where(User.username == username)).one()


def _fresh(web: Web) -> Web:
    return Web(web.app, web.db, web.clock)


def test_a_user_sets_up_their_app_after_the_password_and_then_signs_in_with_its_code(
        web: Web, session_clock: Session) -> None:
    web.sign_in("cst")
    assert web.get("/inbox").status_code == 302  # the password alone opens nothing
    page = web.get("/sign-in/set-up").get_data(as_text=True)
    assert '<svg role="img" aria-label="QR code for your authenticator app"' in page
    wrong = web.post("/sign-in/set-up", {"code": "000000"})
    assert wrong.status_code == 400 and "The code is not right" in wrong.get_data(as_text=True)
    secret = _secret(wrong.get_data(as_text=True))  # the same secret until it is confirmed
    assert secret == _secret(page)
    done = web.post("/sign-in/set-up", {"code": _code(secret, session_clock)})
    text = done.get_data(as_text=True)
    assert "Save your recovery codes" in text and "only time the codes are shown" in text
    assert len(re.findall(r"<li><code>[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}</code></li>", text)) == 10
    assert web.get("/inbox").status_code == 200
    assert "Set up" in web.get("/account").get_data(as_text=True)
    assert [e.actor for e in _audit(web, "SECOND_FACTOR_ENROLLED")] == ["cst"]
    web.post("/sign-out")

    response = web.sign_in("cst")
    assert response.headers["Location"].endswith("/sign-in/code")
    assert web.get("/inbox").status_code == 302
    missing = web.post("/sign-in/code", {"code": ""})
    assert missing.status_code == 400
    assert 'href="#code">Enter the 6-digit code from your authenticator app' in missing.get_data(as_text=True)
    # the code used to set up the app is spent: the same 30 seconds' code is refused
    assert web.post("/sign-in/code", {"code": _code(secret, session_clock)}).status_code == 400
    session_clock.now += 30
    response = web.post("/sign-in/code", {"code": _code(secret, session_clock)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    assert web.get("/inbox").status_code == 200


def test_a_code_works_once(web: Web, session_clock: Session) -> None:
    secret, _codes = _enrol(web, session_clock)
    session_clock.now += 30
    code = _code(secret, session_clock)
    other = _fresh(web)
    other.sign_in("cst")
    assert other.post("/sign-in/code", {"code": code}).status_code == 302
    thief = _fresh(web)
    thief.sign_in("cst")
    refused = thief.post("/sign-in/code", {"code": code})
    assert refused.status_code == 400 and "The code is not right" in refused.get_data(as_text=True)


def test_a_code_from_the_step_before_or_after_is_accepted_for_a_drifting_phone(
        web: Web, session_clock: Session) -> None:
    secret, _codes = _enrol(web, session_clock)
    session_clock.now += 300
    web.post("/sign-out")
    web.sign_in("cst")
    late_phone = pyotp.TOTP(secret).at(session_clock.now - 30)
    assert web.post("/sign-in/code", {"code": late_phone}).status_code == 302
    web.post("/sign-out")
    web.sign_in("cst")
    far = pyotp.TOTP(secret).at(session_clock.now + 120)
    assert web.post("/sign-in/code", {"code": far}).status_code == 400


def test_wrong_codes_lock_the_user_name_like_wrong_passwords(web: Web, session_clock: Session) -> None:
    secret, _codes = _enrol(web, session_clock)
    web.post("/sign-out")
    web.sign_in("cst")
    assert web.post("/sign-in/code", {"code": "000001"}).status_code == 400
    assert web.post("/sign-in/code", {"code": "000002"}).status_code == 400
    locked = web.post("/sign-in/code", {"code": "000003"})  # the third failure (login_attempts=3)
    assert locked.status_code == 302 and locked.headers["Location"].endswith("/sign-in")
    assert "locked for 15 minutes" in web.get("/sign-in").get_data(as_text=True)
    session_clock.now += 30
    # the half-done sign-in has ended; and the right password and code are refused while locked
    assert web.post("/sign-in/code", {"code": _code(secret, session_clock)}).status_code == 302
    assert web.get("/inbox").status_code == 302
    assert web.sign_in("cst").status_code == 400


def test_a_recovery_code_signs_in_once(web: Web, session_clock: Session) -> None:
    _secret_, codes = _enrol(web, session_clock)
    web.post("/sign-out")
    web.sign_in("cst")
    assert 'href="/sign-in/recovery-code"' in web.get("/sign-in/code").get_data(as_text=True)
    wrong = web.post("/sign-in/recovery-code", {"recovery_code": "aaaa-bbbb-cccc-dddd"})
    assert wrong.status_code == 400 and "The recovery code is not right" in wrong.get_data(as_text=True)
    typed = codes[3].upper().replace("-", " ")  # as a person might type it
    response = web.post("/sign-in/recovery-code", {"recovery_code": typed})
    assert response.status_code == 302
    assert "You have 9 left" in web.get("/inbox").get_data(as_text=True)
    web.post("/sign-out")
    web.sign_in("cst")
    again = web.post("/sign-in/recovery-code", {"recovery_code": codes[3]})
    assert again.status_code == 400 and "has been used" in again.get_data(as_text=True)
    (used,) = _audit(web, "RECOVERY_CODE_USED")
    assert used.details == {"user": "cst", "left": 9}


def test_an_administrator_resets_a_lost_app_and_it_is_audited(web: Web, session_clock: Session) -> None:
    secret, codes = _enrol(web, session_clock)
    copy = web.client.get_cookie("dhr_session")
    assert copy is not None
    admin_browser = _fresh(web)
    admin_browser.sign_in("admin")
    _enrol(admin_browser, session_clock, "admin")
    users_page = admin_browser.get("/admin/users").get_data(as_text=True)
    assert 'data-testid="reset-cst"' in users_page
    confirm = admin_browser.get(f"/admin/users/{_user_id(web, 'cst')}/second-factor").get_data(as_text=True)
    assert "Reset the authenticator app of cst" in confirm
    assert admin_browser.post(f"/admin/users/{_user_id(web, 'cst')}/second-factor").status_code == 302
    assert "authenticator app has been reset" in admin_browser.get("/admin/users").get_data(as_text=True)
    (event,) = _audit(web, "SECOND_FACTOR_RESET")
    assert event.actor == "admin" and event.details == {"user": "cst", "was_on": True, "sessions_ended": 1}
    assert web.get("/inbox").status_code == 302  # signed out
    thief = _fresh(web)
    thief.client.set_cookie("dhr_session", copy.value)
    assert thief.get("/inbox").status_code == 302
    # the old app and recovery codes are gone: the next sign-in sets up a new app
    response = _fresh(web).sign_in("cst")
    assert response.headers["Location"].endswith("/sign-in/set-up")
    again = _fresh(web)
    again.sign_in("cst")
    assert again.post("/sign-in/recovery-code", {"recovery_code": codes[0]}).status_code == 302
    assert again.get("/inbox").status_code == 302  # redirected to start again: no factor to recover


def test_the_command_line_resets_a_second_factor(web: Web, session_clock: Session,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _enrol(web, session_clock)
    monkeypatch.setenv("DHR_DATABASE_URL", web.db.url)
    result = CliRunner().invoke(cli, ["users", "reset-2fa", "cst"])
    assert result.exit_code == 0 and "reset the authenticator app of cst" in result.output
    assert web.get("/inbox").status_code == 302
    assert [e.actor for e in _audit(web, "SECOND_FACTOR_RESET")] == ["cli"]
    result = CliRunner().invoke(cli, ["users", "reset-2fa", "cst"])
    assert result.exit_code == 1 and "cst has not set up an authenticator app" in result.output


def test_a_half_done_sign_in_expires(web: Web, session_clock: Session) -> None:
    secret, _codes = _enrol(web, session_clock)
    web.post("/sign-out")
    web.sign_in("cst")
    session_clock.now += 11 * 60
    response = web.post("/sign-in/code", {"code": _code(secret, session_clock)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-in")
    assert "Sign in again" in web.get("/sign-in").get_data(as_text=True)


def test_without_the_setting_a_password_is_enough_until_a_user_sets_up_an_app(
        app: Flask, db: Db, clock: SettableClock, session_clock: Session) -> None:
    web = Web(app, db, clock)  # require_2fa off, as in development and the demo
    assert web.sign_in("cst").headers["Location"].endswith("/inbox")
    page = web.get("/account/second-factor").get_data(as_text=True)
    secret = _secret(page)
    done = web.post("/account/second-factor", {"code": _code(secret, session_clock)})
    assert "Save your recovery codes" in done.get_data(as_text=True)
    web.post("/sign-out")
    assert web.sign_in("cst").headers["Location"].endswith("/sign-in/code")  # now asked for a code


def test_only_pending_sessions_reach_the_code_pages(web: Web) -> None:
    response = web.get("/sign-in/code")
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-in")
    assert web.post("/sign-in/set-up", {"code": "123456"}).status_code == 302


def test_a_signed_out_pending_session_cannot_be_finished(web: Web, session_clock: Session) -> None:
    web.sign_in("cst")
    with web.db.sessions() as s:
        assert [r.stage for r in s.scalars(select(UserSession))] == ["pending"]
    web.post("/sign-out")
    with web.db.sessions() as s:
        assert [r.ended_reason for r in s.scalars(select(UserSession))] == ["signed out"]

