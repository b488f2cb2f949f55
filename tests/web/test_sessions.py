"""Sessions kept on the server: a cookie copied before the session ended opens nothing afterwards.

Each test copies the browser's session cookie while it works, ends the session in one of the ways
a person would (signing out, an administrator disabling the user or signing them out everywhere,
a new password, the command line), then replays the copy in a fresh browser.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.cli import cli
from engine.platform.models import AuditEvent, User
from engine.platform.sessions import UserSession
from tests.web.conftest import PASSWORD, Session, Web

NEW_PASSWORD = "a-brand-new-password"


def _cookie(web: Web) -> str:
    cookie = web.client.get_cookie("dhr_session")
    assert cookie is not None
    return cookie.value


def _replay(web: Web, cookie: str) -> Web:
    """A new browser holding a copy of someone's session cookie."""
    thief = Web(web.app, web.db, web.clock)
    thief.client.set_cookie("dhr_session", cookie)
    return thief


def _signed_out(browser: Web, url: str) -> bool:
    response = browser.get(url)
    return response.status_code == 302 and "/sign-in" in response.headers["Location"]


def _user_id(web: Web, username: str) -> int:
    with web.db.sessions() as s:
        return s.scalars(select(User.id).where(User.username == username)).one()


def _audit(web: Web, event_type: str) -> list[AuditEvent]:
    with web.db.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))


@pytest.fixture
def case_page(web: Web) -> str:
    web.deploy()
    return f"/cases/{web.start()}"


def test_a_cookie_copied_before_sign_out_opens_nothing_after_it(web: Web, case_page: str) -> None:
    web.sign_in("cst")
    copy = _cookie(web)
    assert _replay(web, copy).get("/inbox").status_code == 200  # the copy works while the session is open
    assert _replay(web, copy).get(case_page).status_code == 200
    assert web.post("/sign-out").status_code == 302
    thief = _replay(web, copy)
    assert _signed_out(thief, "/inbox")
    assert _signed_out(_replay(web, copy), case_page)
    assert "You have been signed out" in thief.get("/sign-in").get_data(as_text=True)


def test_the_session_id_is_kept_only_as_a_hash(web: Web) -> None:
    web.sign_in("cst")
    with web.client.session_transaction() as sess:
        token = sess["_user_id"]
    with web.db.sessions() as s:
        rows = list(s.scalars(select(UserSession)))
    assert len(rows) == 1 and rows[0].token_hash != token and token not in rows[0].token_hash
    assert rows[0].stage == "signed_in" and rows[0].address == "127.0.0.1"


def test_disabling_a_user_ends_their_sessions(web: Web, case_page: str) -> None:
    cst = web.as_user("cst")
    copy = _cookie(cst)
    admin = web.as_user("admin")
    response = admin.post(f"/admin/users/{_user_id(web, 'cst')}",
                          {"role": "Community Safety Team", "agency": "", "active": "0"})
    assert response.status_code == 302
    assert _signed_out(_replay(web, copy), "/inbox")
    assert _signed_out(_replay(web, copy), case_page)
    with web.db.sessions() as s:
        assert [r.ended_reason for r in s.scalars(select(UserSession).where(
            UserSession.user_id == _user_id(web, "cst")))] == ["user disabled"]
    # enabled again, the old cookie stays dead: only a new sign-in opens pages
    admin.post(f"/admin/users/{_user_id(web, 'cst')}", {"role": "Community Safety Team", "agency": "", "active": "1"})
    assert _signed_out(_replay(web, copy), "/inbox")


def test_a_password_change_ends_every_other_session(web: Web, case_page: str) -> None:
    laptop, phone = web.as_user("cst"), web.as_user("cst")
    copy = _cookie(phone)
    page = laptop.post("/account/password", {"current_password": "wrong-password-1", "new_password": NEW_PASSWORD,
                                             "confirm_password": NEW_PASSWORD})
    assert page.status_code == 400 and "Your current password is not right" in page.get_data(as_text=True)
    assert phone.get("/inbox").status_code == 200  # nothing changed
    response = laptop.post("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                 "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert "signed out on every other device" in laptop.get("/account").get_data(as_text=True)
    assert laptop.get(case_page).status_code == 200  # this browser got a new session
    assert _signed_out(phone, "/inbox")
    assert _signed_out(_replay(web, copy), case_page)
    assert Web(web.app, web.db, web.clock).sign_in("cst").status_code == 400
    assert Web(web.app, web.db, web.clock).sign_in("cst", NEW_PASSWORD).status_code == 302
    (event,) = _audit(web, "PASSWORD_CHANGED")
    assert event.actor == "cst" and event.details["sessions_ended"] == 2


def test_the_password_form_says_what_is_wrong_by_each_field(web: Web) -> None:
    cst = web.as_user("cst")
    page = cst.post("/account/password", {"current_password": "", "new_password": "short",
                                          "confirm_password": ""})
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and 'class="govuk-error-summary"' in text
    assert 'href="#current_password">Enter your current password' in text
    assert 'href="#new_password">Enter a password of at least 10 characters' in text
    page = cst.post("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                          "confirm_password": NEW_PASSWORD + "x"})
    assert "Enter the same new password twice" in page.get_data(as_text=True)
    assert cst.get("/inbox").status_code == 200 and _audit(web, "PASSWORD_CHANGED") == []


def test_an_administrator_signs_a_user_out_everywhere(web: Web, case_page: str) -> None:
    first, second = web.as_user("chair"), web.as_user("chair")
    copy = _cookie(first)
    admin = web.as_user("admin")
    response = admin.post(f"/admin/users/{_user_id(web, 'chair')}/sign-out")
    assert response.status_code == 302
    assert "chair has been signed out everywhere (2 sessions ended)" in admin.get("/admin/users").get_data(as_text=True)
    assert _signed_out(first, "/inbox") and _signed_out(second, case_page)
    assert _signed_out(_replay(web, copy), "/inbox")
    assert admin.get("/admin/users").status_code == 200  # the administrator's own session is untouched
    (event,) = _audit(web, "SESSIONS_ENDED")
    assert (event.actor, event.details) == ("admin", {"user": "chair", "sessions": 2})
    assert web.as_user("chair").get("/inbox").status_code == 200  # they can sign in again


def test_only_an_administrator_signs_people_out(web: Web) -> None:
    chair = web.as_user("chair")
    assert web.as_user("cst").post(f"/admin/users/{_user_id(web, 'chair')}/sign-out").status_code == 403
    assert chair.get("/inbox").status_code == 200


def test_the_command_line_signs_out_and_sets_passwords(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHR_DATABASE_URL", web.db.url)
    runner = CliRunner()
    chair = web.as_user("chair")
    result = runner.invoke(cli, ["users", "sign-out", "chair"])
    assert result.exit_code == 0 and "signed out chair everywhere (1 session ended)" in result.output
    assert _signed_out(chair, "/inbox")
    chair = web.as_user("chair")
    result = runner.invoke(cli, ["users", "set-password", "chair", "--password-stdin"], input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert _signed_out(chair, "/inbox")
    assert Web(web.app, web.db, web.clock).sign_in("chair", NEW_PASSWORD).status_code == 302
    result = runner.invoke(cli, ["users", "set-password", "chair", "--password-stdin"], input="short\n")
    assert result.exit_code == 1 and "error: password: Enter a password of at least 10 characters" in result.output
    result = runner.invoke(cli, ["users", "sign-out", "nobody"])
    assert result.exit_code == 1 and "there is no user called 'nobody'" in result.output
    assert [e.actor for e in _audit(web, "SESSIONS_ENDED")] == ["cli"]


def test_a_session_ends_after_its_absolute_limit_however_busy(web: Web, session_clock: Session) -> None:
    web.sign_in("cst")
    for _ in range(28):  # busy every 25 minutes for 11 h 40 min
        session_clock.now += 25 * 60
        assert web.get("/inbox").status_code == 200
    session_clock.now += 25 * 60  # past 12 hours
    assert _signed_out(web, "/inbox")
    assert "signed in for a long time" in web.get("/sign-in").get_data(as_text=True)


def test_an_idle_session_is_ended_on_the_server(web: Web, session_clock: Session) -> None:
    web.sign_in("cst")
    copy = _cookie(web)
    session_clock.now += 31 * 60
    assert _signed_out(web, "/inbox")
    assert _signed_out(_replay(web, copy), "/inbox")
    with web.db.sessions() as s:
        assert [r.ended_reason for r in s.scalars(select(UserSession))] == ["idle"]


def test_the_account_page_counts_devices(web: Web) -> None:
    cst = web.as_user("cst")
    web.as_user("cst")
    page = cst.get("/account").get_data(as_text=True)
    assert "On 2 devices or browsers" in page
    assert re.search(r"Not set up", page)


def test_a_lockout_still_follows_wrong_passwords(web: Web) -> None:
    for _ in range(3):
        web.sign_in("cst", "wrong-password-1")
    assert "locked for 15 minutes" in web.sign_in("cst").get_data(as_text=True)
    web.clock.advance(timedelta(minutes=16))
    assert web.sign_in("cst").status_code == 302
