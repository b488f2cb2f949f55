"""In Debian's chromium: set up an authenticator app after the password, save the recovery codes,
sign out, sign in again with a code; every page passes axe and is photographed at 1280 and 390 px
(DHR_SCREENSHOTS keeps the pictures to look at)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from flask import Flask
from werkzeug.serving import make_server

from engine.platform.clock import SettableClock
from tests.conftest import SQLITE_ONLY, Db
from tests.web.conftest import PASSWORD, Session, make_app, screenshot
from tests.web.test_browser import _axe, page  # noqa: F401  (the chromium page fixture)

pytestmark = SQLITE_ONLY  # the browser path is backend-blind
WIDTHS = (1280, 390)


@pytest.fixture
def server(app: Flask, db: Db, clock: SettableClock, session_clock: Session) -> Iterator[str]:
    web_app = make_app(db, clock, session_clock, require_2fa=True)
    httpd = make_server("127.0.0.1", 0, web_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def _photograph(page: Any, name: str) -> None:  # noqa: F811
    """At each width the page must not scroll sideways; screenshots of it ($DHR_SCREENSHOTS)."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"{name}-{width}", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_person_sets_up_an_authenticator_app_and_signs_in_with_a_code(
        server: str, page: Any, session_clock: Session) -> None:  # noqa: F811
    page.goto(f"{server}/sign-in")
    page.get_by_test_id("username").fill("cst")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("sign-in").click()

    page.get_by_test_id("set-up-form").wait_for()
    assert page.get_by_test_id("qr").locator("svg").count() == 1
    assert _axe(page) == []
    page.get_by_text("I cannot scan the QR code").click()
    secret = page.get_by_test_id("secret").inner_text().replace(" ", "")
    _photograph(page, "set-up")
    page.get_by_test_id("code").fill("123456" if pyotp.TOTP(secret).at(session_clock.now) != "123456" else "654321")
    page.get_by_test_id("continue").click()
    page.get_by_test_id("error-summary").wait_for()
    assert "The code is not right" in page.get_by_test_id("error-code").inner_text()
    assert _axe(page) == []
    _photograph(page, "set-up-error")
    page.get_by_test_id("code").fill(pyotp.TOTP(secret).at(session_clock.now))
    page.get_by_test_id("continue").click()

    codes = page.get_by_test_id("recovery-codes").locator("li")
    codes.first.wait_for()
    assert codes.count() == 10
    assert _axe(page) == []
    _photograph(page, "recovery-codes")
    page.get_by_test_id("continue").click()
    page.get_by_test_id("signed-in-as").wait_for()
    page.get_by_test_id("sign-out").click()

    session_clock.now += 30  # the next 30 seconds' code
    page.get_by_test_id("username").fill("cst")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("code-form").wait_for()
    assert _axe(page) == []
    _photograph(page, "code")
    page.get_by_test_id("code").fill(pyotp.TOTP(secret).at(session_clock.now))
    page.get_by_test_id("continue").click()
    page.get_by_test_id("signed-in-as").wait_for()
    assert "cst (Community Safety Team)" in page.get_by_test_id("signed-in-as").inner_text()

    page.get_by_test_id("signed-in-as").click()
    page.get_by_test_id("second-factor-status").wait_for()
    assert "Set up" in page.get_by_test_id("second-factor-status").inner_text()
    assert _axe(page) == []
    _photograph(page, "account")

    # an administrator sees who has set up an app, and can reset it or sign someone out everywhere
    page.get_by_test_id("sign-out").click()
    page.get_by_test_id("username").fill("admin")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("set-up-form").wait_for()
    page.get_by_text("I cannot scan the QR code").click()
    admin_secret = page.get_by_test_id("secret").inner_text().replace(" ", "")
    page.get_by_test_id("code").fill(pyotp.TOTP(admin_secret).at(session_clock.now))
    page.get_by_test_id("continue").click()
    page.get_by_test_id("recovery-codes").wait_for()
    page.get_by_test_id("continue").click()
    page.get_by_test_id("signed-in-as").wait_for()
    page.goto(f"{server}/admin/users")
    assert "App set up" in page.get_by_test_id("second-factor-cst").inner_text()
    assert _axe(page) == []
    _photograph(page, "users")
    page.get_by_test_id("reset-cst").click()
    assert _axe(page) == []
    _photograph(page, "reset")
    page.get_by_test_id("confirm-reset").click()
    assert "authenticator app has been reset" in page.get_by_test_id("flash").inner_text()
    assert "No app" in page.get_by_test_id("second-factor-cst").inner_text()
