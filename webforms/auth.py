"""Sign in and out: password, then the second factor, into a session kept on the server.

The cookie carries only a random session id (and the CSRF token); the rules for sessions and the
second factor are the engine's (engine/platform/sessions.py, second_factor.py). Each request
checks its session there, so a session ended anywhere (signing out, disabling, a new password, a
reset second factor, "sign out everywhere") opens nothing from then on, even from a copied cookie.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from engine.platform import access, second_factor, sessions, users
from engine.platform.models import User
from engine.platform.roles import Power, may
from engine.platform.settings import WebSettings

from . import qr, throttle, uow

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])
_PENDING = "_pending"  # the flask-session key of a session waiting for its second factor
_NEXT = "_next"


class SignedIn:
    """The signed-in person as Flask-Login sees them: their row and their session's id."""

    is_authenticated = True
    is_anonymous = False
    is_active = True  # a disabled user's sessions are ended, so they never get this far

    def __init__(self, user: User, token: str, row: sessions.UserSession | None = None) -> None:
        self.user, self.token, self.row = user, token, row

    def get_id(self) -> str:
        return self.token


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
    app.before_request(_check_session)


def me() -> User:
    """The signed-in user's row."""
    return cast(SignedIn, current_user).user


def web_settings() -> WebSettings:
    web: WebSettings = current_app.config["DHR_WEB"]
    return web


def now() -> datetime:
    """The sign-in clock: real time (tests set SESSION_CLOCK), whatever the case clock says."""
    clock = current_app.config.get("SESSION_CLOCK")
    return datetime.fromtimestamp(float(clock()) if clock else time.time(), UTC)


def limits() -> sessions.Limits:
    web = web_settings()
    return sessions.Limits(idle=timedelta(minutes=web.session_minutes), absolute=timedelta(hours=web.session_max_hours))


def issuer() -> str:
    """The name an authenticator app shows beside the code."""
    return f"DHR ({web_settings().council_name})"


def second_factor_required() -> bool:
    return bool(current_app.config["DHR_REQUIRE_2FA"])


_SIGNED_OUT = "You have been signed out. Sign in again."
_ENDED_MESSAGES = {
    sessions.Ended.IDLE: "You were signed out because you had not done anything for a while. Sign in again.",
    sessions.Ended.EXPIRED: "You were signed out because you had been signed in for a long time. Sign in again.",
}


def _check_session() -> Response | None:
    """Let the request in only with a session the engine says is open; sign out any other."""
    token = session.get("_user_id")
    if token is None or request.endpoint in ("static", "vendor"):
        return None
    result = sessions.check(uow.db(), token, now=now(), limits=limits())
    if result.row is None or result.user is None:
        logout_user()
        session.clear()
        message = _ENDED_MESSAGES.get(result.ended, _SIGNED_OUT) if result.ended else _SIGNED_OUT
        flash(message, "info")
        return redirect(url_for("auth.sign_in", next=request.path if request.method == "GET" else None))
    g.signed_in = SignedIn(result.user, token, result.row)
    return None


@login_manager.user_loader
def _load(token: str) -> SignedIn | None:
    signed_in: SignedIn | None = g.get("signed_in")
    return signed_in if signed_in is not None and signed_in.token == token else None


def requires(power: Power) -> Callable[[F], F]:
    """Let only signed-in users whose role has `power` in; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not may(me(), power):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("inbox.index")


def start_session(user: User, *, pending: bool) -> str:
    _row, token = sessions.start(uow.db(), user, now=now(), limits=limits(),
                                 user_agent=request.headers.get("User-Agent", ""), address=throttle.address(),
                                 pending=pending)
    return token


def sign_in_with(user: User, token: str, target: str) -> Response:
    """Hand the browser its new session (a fresh cookie: nothing from before sign-in survives)."""
    access.sign_in_succeeded(uow.db(), user.username)
    session.clear()
    session.permanent = True
    login_user(SignedIn(user, token))
    return redirect(target)


def _locked_message() -> str:
    return (f"You have entered the wrong details too many times. Your account is locked for "
            f"{web_settings().lockout_minutes} minutes; try again later or ask your administrator.")


def _failed(username: str) -> bool:
    """Count a failed attempt against the user name and the address; True if the name is now locked."""
    web = web_settings()
    throttle.failed()
    return access.sign_in_failed(uow.db(), username, uow.clock().now(), limit=web.login_attempts,
                                 lock_for=timedelta(minutes=web.lockout_minutes))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    error = None
    username = ""
    if request.method == "POST":
        throttle.refuse_if_over()
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        db = uow.db()
        if not username or not password:
            error = "Enter your user name and password"
        elif access.locked_until(db, username, uow.clock().now()) is not None:
            throttle.failed()
            error = _locked_message()
        else:
            user = users.authenticate(db, username, password)
            if user is not None:
                return _after_password(user, _safe_next(request.args.get("next")))
            locked = _failed(username)
            error = _locked_message() if locked else "The user name or password is not right"
    return render_template("pages/sign_in.html", title="Sign in", error=error, username=username), \
        (400 if error else 200)


def _after_password(user: User, target: str) -> Response:
    """Sign in, or ask for the second factor (or to set one up, where it is required)."""
    enrolled = second_factor.is_enrolled(uow.db(), user)
    if not enrolled and not second_factor_required():
        return sign_in_with(user, start_session(user, pending=False), target)
    token = start_session(user, pending=True)
    session.clear()
    session[_PENDING], session[_NEXT] = token, target
    return redirect(url_for("auth.code" if enrolled else "auth.set_up"))


def _pending() -> sessions.Check:
    return sessions.check(uow.db(), session.get(_PENDING), now=now(), limits=limits(), stage=sessions.PENDING)


def _start_again() -> Response:
    session.clear()
    flash("Sign in again: the time to enter your code ran out, or you were signed out.", "info")
    return redirect(url_for("auth.sign_in"))


def _second_step_done(pending: sessions.Check) -> Response:
    assert pending.row is not None and pending.user is not None
    target = _safe_next(session.get(_NEXT))
    _row, token = sessions.promote(uow.db(), pending.row, now=now(), limits=limits())
    return sign_in_with(pending.user, token, target)


def _second_step_failed(pending: sessions.Check) -> str | Response:
    """Count a wrong code like a wrong password; at the limit the half-done sign-in ends."""
    assert pending.row is not None and pending.user is not None
    if _failed(pending.user.username):
        sessions.end(uow.db(), pending.row, at=now(), reason=sessions.Ended.SIGNED_OUT)
        session.clear()
        flash(_locked_message(), "info")
        return redirect(url_for("auth.sign_in"))
    return "The code is not right. Enter the code your app shows now"


def _second_step(field: str, enter: str, wrong: str, check: Callable[[User, str], bool],
                 template: str, title: str, done: Callable[[User], None] | None = None) -> Any:
    """The second step of signing in: `field` typed, `check`ed for the half-signed-in user; a wrong
    one counts like a wrong password. `done` runs once it is right (before the page moves on)."""
    pending = _pending()
    if pending.user is None or not second_factor.is_enrolled(uow.db(), pending.user):
        return _start_again()
    error = None
    if request.method == "POST":
        throttle.refuse_if_over()
        typed = request.form.get(field, "").strip()
        if not typed:
            error = enter
        elif check(pending.user, typed):
            user = pending.user
            response = _second_step_done(pending)
            if done is not None:
                done(user)
            return response
        else:
            failed = _second_step_failed(pending)
            if isinstance(failed, Response):
                return failed
            error = wrong
    return render_template(template, title=title, error=error), (400 if error else 200)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def code() -> Any:
    return _second_step(
        "code", "Enter the 6-digit code from your authenticator app",
        "The code is not right. Enter the code your app shows now",
        lambda user, typed: second_factor.verify(uow.db(), user, typed, now=now()),
        "pages/sign_in_code.html", "Enter your security code")


@bp.route("/sign-in/recovery-code", methods=["GET", "POST"])
def recovery_code() -> Any:
    def told(user: User) -> None:
        left = second_factor.recovery_codes_left(uow.db(), user)
        flash(f"You used a recovery code. You have {left} left; each works once. If you have lost your "
              "authenticator app, ask your administrator to reset it.", "info")

    return _second_step(
        "recovery_code", "Enter one of your recovery codes", "The recovery code is not right, or it has been used",
        lambda user, typed: second_factor.use_recovery_code(uow.db(), user, typed, at=now()),
        "pages/sign_in_recovery.html", "Enter a recovery code", told)


@bp.route("/sign-in/set-up", methods=["GET", "POST"])
def set_up() -> Any:
    """Set up an authenticator app before the first sign-in, where a second factor is required."""
    pending = _pending()
    if pending.user is None or second_factor.is_enrolled(uow.db(), pending.user):
        return _start_again()
    user, error = pending.user, None
    if request.method == "POST":
        throttle.refuse_if_over()
        typed = request.form.get("code", "").strip()
        codes = second_factor.confirm(uow.db(), user, typed, now=now()) if typed else None
        if codes is not None:
            response = _second_step_done(pending)
            return render_template("pages/recovery_codes.html", title="Save your recovery codes", codes=codes,
                                   next=response.location)
        error = ("Enter the 6-digit code from your authenticator app" if not typed else
                 "The code is not right. Check you scanned the QR code, then enter the code your app shows now")
    secret = second_factor.begin(uow.db(), user, at=now())
    return render_template("pages/set_up_second_factor.html", title="Set up your authenticator app",
                           qr=qr.svg(second_factor.provisioning_uri(user, secret, issuer())),
                           secret=qr.grouped(secret), error=error, action=url_for("auth.set_up"),
                           during_sign_in=True), (400 if error else 200)


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    signed_in: SignedIn | None = g.get("signed_in")
    if signed_in is not None and signed_in.row is not None:
        sessions.end(uow.db(), signed_in.row, at=now(), reason=sessions.Ended.SIGNED_OUT)
    pending = _pending()
    if pending.row is not None:
        sessions.end(uow.db(), pending.row, at=now(), reason=sessions.Ended.SIGNED_OUT)
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"))
