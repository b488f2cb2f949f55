"""Sign in and out: argon2 passwords, lock-out after repeated failures, sessions that expire."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from engine.platform import access
from engine.platform.models import User
from engine.platform.roles import Power, may
from engine.platform.settings import WebSettings
from engine.platform.users import check_password

from . import uow

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
F = TypeVar("F", bound=Callable[..., Any])


class SignedIn:
    """The signed-in person as Flask-Login sees them; `.user` is the row, read fresh each request."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User) -> None:
        self.user = user

    @property
    def is_active(self) -> bool:
        return self.user.active

    def get_id(self) -> str:
        # The hash's tail changes with the password, which signs out every other session.
        return f"{self.user.id}:{(self.user.password_hash or '')[-12:]}"


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
    app.before_request(_expire_idle_session)


@login_manager.user_loader
def _load(user_id: str) -> SignedIn | None:
    number, _, tail = user_id.partition(":")
    if not number.isdigit():
        return None
    user = uow.db().get(User, int(number))
    if user is None or not user.active or (user.password_hash or "")[-12:] != tail:
        return None
    return SignedIn(user)


def me() -> User:
    """The signed-in user's row."""
    return cast(SignedIn, current_user).user


def _now_seconds() -> float:
    clock = current_app.config.get("SESSION_CLOCK")
    return float(clock()) if clock else time.time()


def _expire_idle_session() -> Response | None:
    """Sign out a session idle for longer than the session lifetime (checked on the server too)."""
    if "_user_id" not in session:
        return None
    lifetime: timedelta = current_app.config["PERMANENT_SESSION_LIFETIME"]
    now = _now_seconds()
    seen = session.get("seen")
    if seen is None or now - float(seen) > lifetime.total_seconds():
        logout_user()
        session.clear()
        flash("You were signed out because you had not done anything for a while. Sign in again.", "info")
        return redirect(url_for("auth.sign_in", next=request.path if request.method == "GET" else None))
    session["seen"] = now
    return None


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


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        web: WebSettings = current_app.config["DHR_WEB"]
        db, now = uow.db(), uow.clock().now()
        if not username or not password:
            error = "Enter your user name and password"
        elif access.locked_until(db, username, now) is not None:
            error = (f"You have entered the wrong details too many times. Your account is locked for "
                     f"{web.lockout_minutes} minutes; try again later or ask your administrator.")
        else:
            user = db.scalars(select(User).where(func.lower(User.username) == username.lower())).first()
            if user is not None and check_password(user, password):
                access.sign_in_succeeded(db, username)
                session.clear()
                session.permanent = True
                session["seen"] = _now_seconds()
                login_user(SignedIn(user))
                return redirect(_safe_next(request.args.get("next")))
            locked = access.sign_in_failed(db, username, now, limit=web.login_attempts,
                                           lock_for=timedelta(minutes=web.lockout_minutes))
            error = ("You have entered the wrong details too many times. Your account is locked for "
                     f"{web.lockout_minutes} minutes." if locked else "The user name or password is not right")
    return render_template("pages/sign_in.html", error=error, username=username), (400 if error else 200)


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"))
