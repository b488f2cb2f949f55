"""Sign in and out, lock-out, session expiry, CSRF, error pages and security headers."""

from __future__ import annotations

from tests.conftest import POSTGRES_IN_SECOND_STEP
from tests.web.conftest import PASSWORD, Session, Web

# sign-in, CSRF and headers; sessions' rows on PostgreSQL are in test_sessions
pytestmark = POSTGRES_IN_SECOND_STEP


def test_sign_in_with_the_right_password_opens_the_inbox(web: Web) -> None:
    response = web.sign_in("cst")
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox")
    page = web.get("/inbox").get_data(as_text=True)
    assert "Inbox" in page and "cst (Community Safety Team)" in page


def test_pages_need_sign_in(web: Web) -> None:
    response = web.get("/inbox")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_a_wrong_password_is_refused_plainly(web: Web) -> None:
    response = web.sign_in("cst", "wrong-password-1")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The user name or password is not right" in page
    assert web.get("/inbox").status_code == 302


def test_repeated_failures_lock_the_account_even_for_the_right_password(web: Web) -> None:
    for _ in range(3):
        web.sign_in("cst", "wrong-password-1")
    response = web.sign_in("cst", PASSWORD)
    assert response.status_code == 400
    assert "locked for 15 minutes" in response.get_data(as_text=True)
    web.clock.advance(__import__("datetime").timedelta(minutes=16))
    assert web.sign_in("cst", PASSWORD).status_code == 302


def test_a_disabled_user_cannot_sign_in(web: Web) -> None:
    admin = web.as_user("admin")
    cst = web.as_user("cst")
    users = admin.get("/admin/users").get_data(as_text=True)
    import re

    user_id = re.search(r'/admin/users/(\d+)"[^>]*>\s*<input[^>]*>\s*<label[^>]*for="role-\1">Role of cst<', users)
    assert user_id
    response = admin.post(f"/admin/users/{user_id.group(1)}", {"role": "Community Safety Team", "agency": "",
                                                                "active": "0"})
    assert response.status_code == 302
    assert cst.get("/inbox").status_code == 302  # signed out at once
    assert web.sign_in("cst").status_code == 400


def test_an_idle_session_expires(web: Web, session_clock: Session) -> None:
    web.sign_in("cst")
    session_clock.now += 29 * 60
    assert web.get("/inbox").status_code == 200
    session_clock.now += 31 * 60
    response = web.get("/inbox")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert "had not done anything for a while" in web.get("/sign-in").get_data(as_text=True)


def test_sign_out(web: Web) -> None:
    web.sign_in("cst")
    assert web.post("/sign-out").status_code == 302
    assert web.get("/inbox").status_code == 302


def test_a_post_without_the_csrf_token_is_refused(web: Web) -> None:
    web.sign_in("cst")
    response = web.client.post("/sign-out")
    assert response.status_code == 400
    assert "Your form could not be sent" in response.get_data(as_text=True)
    assert web.get("/inbox").status_code == 200  # still signed in: nothing happened
    assert web.client.post("/sign-in", data={"username": "cst", "password": PASSWORD}).status_code == 400


def test_error_pages_are_plain_english(web: Web) -> None:
    web.sign_in("cst")
    response = web.get("/no-such-page")
    assert response.status_code == 404 and "Page not found" in response.get_data(as_text=True)
    response = web.get("/admin/users")
    assert response.status_code == 403
    assert "You do not have permission" in response.get_data(as_text=True)


def test_a_bug_shows_the_500_page_without_internals(web: Web) -> None:
    @web.app.route("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = web.get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in page and "secret internals" not in page


def test_security_headers_and_cookie(web: Web) -> None:
    response = web.sign_in("cst")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = web.get("/inbox")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"


def test_production_cookies_are_secure(db, clock) -> None:  # type: ignore[no-untyped-def]
    from engine.platform.settings import Settings, WebSettings
    from webforms import create_app

    app = create_app({"SETTINGS": Settings(database_url=db.url, env="production", secret_key="s" * 40,
                                           audit_key="k" * 40),
                      "WEB_SETTINGS": WebSettings(secure_cookies=None), "SESSIONS": db.sessions, "CLOCK": clock})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SECRET_KEY"] == "s" * 40


def test_vendor_files_are_served_from_node_modules(web: Web) -> None:
    assert web.get("/vendor/govuk-frontend/govuk-frontend.min.css").status_code == 200
    assert web.get("/vendor/bpmn-js/bpmn-modeler.production.min.js").status_code == 200
    assert web.get("/vendor/studio/studio.js").status_code == 200  # the studio's bundle, built by make setup
    assert web.get("/vendor/studio/../bpmn-js/package.json").status_code == 404
    assert web.get("/vendor/govuk-frontend/../../package.json").status_code == 404
    assert web.get("/vendor/left-pad/index.js").status_code == 404
